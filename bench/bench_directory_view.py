"""Benchmark: building the routing engine's view of a 10,000-extension directory.

What ``klapka serve`` does on a full snapshot refresh (``load_directory``, then the
snapshot's JSON) and what a Kamailio worker does after one (decode every extension's view).

Times are CPU seconds of this process (best of R rounds): steadier than the wall clock on a
shared machine, and the work is all in this process (SQLite included).

Run: .venv/bin/python bench/bench_directory_view.py [--extensions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_config_apply import document

from klapka.routing.snapshot import extension_from_json, extension_to_json, to_json
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.store.directory_view import load_directory
from klapka.store.migrate import upgrade


def best(rounds: int, f: object) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        f()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/klapka.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(document(args.extensions))

        def load() -> object:
            with pbx.tx() as repo:
                return load_directory(repo.conn)

        t0 = time.process_time()
        directory = load()
        t_first = time.process_time() - t0
        n = len(directory.extensions)
        t_load = best(args.rounds, load)
        t_one = best(args.rounds, lambda: [load_one(pbx) for _ in range(100)]) / 100
        encoded = [json.dumps(extension_to_json(e)) for e in directory.extensions.values()]
        t_encode = best(
            args.rounds,
            lambda: (
                [extension_to_json(e) for e in directory.extensions.values()],
                to_json(directory),
            ),
        )
        t_decode = best(args.rounds, lambda: [extension_from_json(json.loads(s)) for s in encoded])
        print(f"{n} extensions")
        print(f"load_directory, first (nothing kept): {t_first * 1000:7.0f} ms")
        print(f"load_directory, whole directory:      {t_load * 1000:7.0f} ms")
        print(f"load_directory, one extension:        {t_one * 1000:7.2f} ms")
        print(f"encode every view to JSON:            {t_encode * 1000:7.0f} ms")
        print(
            f"decode every extension view (worker): {t_decode * 1000:7.0f} ms "
            f"({t_decode / n * 1e6:.0f} us each)"
        )
        pbx.close()


def load_one(pbx: Pbx) -> object:
    with pbx.tx() as repo:
        return load_directory(repo.conn, ["10001"])


if __name__ == "__main__":
    main()
