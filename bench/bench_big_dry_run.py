"""Benchmark: is the API still answering while a big configuration document is dry-run?

Starts the app with uvicorn on a free port over a fresh SQLite database, sends a YAML
document of about 5 MB (``--extensions``) to ``PUT /api/v1/config?dry_run=true`` and, while
that runs, asks ``GET /api/v1/health`` and ``GET /api/v1/extensions?limit=1`` again and again.
Prints how long the dry run took and the slowest and median answers of the others: when the
body is parsed on the event loop, every request waits for the whole parse (6.5 s for 5 MB
before the fix); parsed in the thread pool, they are answered meanwhile.

Run: .venv/bin/python bench/bench_big_dry_run.py [--extensions N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from bench_config_apply import document
from served import served

from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.yamlfmt import dump_yaml
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extensions", type=int, default=25_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/klapka.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        token = Tokens(pbx).create(name="bench")
        with served(pbx) as address:
            base = "http://{}:{}".format(*address)
            headers = {"Authorization": f"Bearer {token}"}

            text = dump_yaml(document(args.extensions))
            print(f"document: {len(text) / 1e6:.1f} MB, {args.extensions} extensions")

            done = threading.Event()
            took: dict[str, float] = {}

            def dry_run() -> None:
                start = time.perf_counter()
                with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                    answer = client.put(
                        "/api/v1/config?dry_run=true",
                        content=text.encode(),
                        headers={"Content-Type": "application/yaml"},
                    )
                took["dry_run"] = time.perf_counter() - start
                took["status"] = answer.status_code
                done.set()

            others: list[float] = []
            worker = threading.Thread(target=dry_run)
            worker.start()
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                while not done.is_set():
                    for path in ("/api/v1/health", "/api/v1/extensions?limit=1"):
                        start = time.perf_counter()
                        client.get(path)
                        others.append(time.perf_counter() - start)
                    time.sleep(0.05)
            worker.join()
        pbx.close()

    print(f"dry run: HTTP {took['status']:.0f} in {took['dry_run']:.2f} s")
    print(
        f"other requests meanwhile: {len(others)}, median {statistics.median(others) * 1000:.0f}"
        f" ms, slowest {max(others) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
