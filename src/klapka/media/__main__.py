"""``python -m klapka.media``: the media service on its own (``klapka serve`` runs it in a
thread; this is for benchmarks and restart tests). Database and data directory as for
``klapka`` (KLAPKA_DATABASE_URL, KLAPKA_DATA_DIR); prints its SIP port, stops on SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from klapka.media.service import MediaService
from klapka.services.pbx import Pbx
from klapka.store.database import PRIVATE_UMASK, data_dir, database_url


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m klapka.media")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.umask(PRIVATE_UMASK)  # voicemail audio is for klapka's user only
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = MediaService(Pbx.from_url(database_url()), data_dir(), args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    print(f"port {service.port}", flush=True)
    stop.wait()
    service.stop()


if __name__ == "__main__":
    main()
