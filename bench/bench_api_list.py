"""Benchmark: list pages and searches at 10,000 extensions through HTTP (targets: median
< 20 ms, p95 < 50 ms).

Starts ``klapka serve`` on a free port against a fresh SQLite database filled with
10,000 extensions by ``config apply``, then times real HTTP requests with httpx.
Run: .venv/bin/python bench/bench_api_list.py [--extensions N] [--requests N]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_config_apply import document

from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


def report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<45} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'klapka.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(document(args.extensions))
        token = Tokens(pbx).create("bench")
        pbx.close()
        port = free_port()
        env = dict(os.environ, KLAPKA_DATABASE_URL=url, KLAPKA_DATA_DIR=tmp)
        server = subprocess.Popen(
            [sys.executable, "-m", "klapka.cli", "serve", "--no-sip", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}/api/v1"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
                for _ in range(100):
                    try:
                        if client.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                timed(client, "/extensions", 20)  # warm up
                n = args.requests
                print(f"{args.extensions} extensions, SQLite, uvicorn on 127.0.0.1:{port}")
                report("list page 1 (50 rows, by number)", timed(client, "/extensions?limit=50", n))
                report(
                    "list page 100 (50 rows, by name)",
                    timed(client, "/extensions?limit=50&offset=4950&sort=name", n),
                )
                report("search 'surname12' (name)", timed(client, "/extensions?q=surname12", n))
                report("search 'user777@' (email)", timed(client, "/extensions?q=user777@", n))
                report("search '1234' (number)", timed(client, "/extensions?q=1234", n))
                report("one extension (full settings)", timed(client, "/extensions/10500", n))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
