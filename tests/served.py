"""The REST API served by a real uvicorn on a free port of localhost, in a thread: for tests
and benchmarks that need real HTTP (raw sockets, schemathesis, concurrent clients)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from klapka.api.app import create_app
from klapka.services.pbx import Pbx


@contextmanager
def served(pbx: Pbx) -> Iterator[tuple[str, int]]:
    """The app of ``pbx`` served until the block ends; yields its (host, port)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(pbx), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        threading.Event().wait(0.01)
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
