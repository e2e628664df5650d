"""Benchmark: write latency with 50 clients writing at once (issue 12: p99 < 500 ms).

Starts ``klapka serve --no-sip`` on a free port against a fresh database with the demo
company (15 extensions), then runs ``--clients`` concurrent HTTP clients; each does
``--writes`` writes, alternating between the two writes people make all day: a presence
change (``PUT /extensions/{n}/presence``) and a settings change
(``PATCH /extensions/{n}/presence/available``). Clients share the 15 extensions, so some
write the same row at the same time. Prints p50/p95/p99/max of every write, from sending
the request to the whole response, and the answers by status (and transport errors).

By default each client sends its next write as soon as the last is answered: the server is
saturated, and the mean latency is the number of clients over the writes per second it
manages (Little's law). ``--interval 0.5`` paces each client to one write every 0.5 s
(100 writes/s offered by 50 clients): the latency is then what a write waits for.

The machine's other load moves the numbers a lot (the server and the clients share its
CPUs); run it a few times, and compare runs made one after another.

Run: .venv/bin/python bench/bench_concurrent_writes.py [--clients 50] [--writes 20]
     [--interval 0.5] [--database-url postgresql://...]   (default: SQLite, temporary)
     .venv/bin/python bench/bench_concurrent_writes.py --in-threads 40   (no HTTP)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import aiohttp  # comes with nicegui
import httpx

from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.config import ConfigService
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade

STATUSES = ["available", "away", "lunch_break", "business_trip", "off_work", "available"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(ms: list[float], p: float) -> float:
    ms = sorted(ms)
    return ms[max(0, min(len(ms) - 1, round(len(ms) * p / 100) - 1))]


async def client(
    http: aiohttp.ClientSession,
    base: str,
    i: int,
    clients: int,
    numbers: list[str],
    writes: int,
    interval: float,
    start: asyncio.Event,
) -> tuple[list[float], Counter[int | str]]:
    await start.wait()
    took: list[float] = []
    codes: Counter[int | str] = Counter()
    number = numbers[i % len(numbers)]
    began = time.perf_counter() + interval * i / clients  # paced clients start spread out
    for w in range(writes):
        if interval:
            await asyncio.sleep(max(0.0, began + w * interval - time.perf_counter()))
        t0 = time.perf_counter()
        try:
            if w % 2 == 0:
                status = STATUSES[(i + w) % len(STATUSES)]
                request = http.put(f"{base}/extensions/{number}/presence", json={"status": status})
            else:
                request = http.patch(
                    f"{base}/extensions/{number}/presence/available",
                    json={"ring_timeout": 10 + (i * 7 + w) % 50},
                )
            async with request as r:
                await r.read()
                codes[r.status] += 1
        except aiohttp.ClientError as e:
            codes[type(e).__name__] += 1
        took.append((time.perf_counter() - t0) * 1000)
    return took, codes


async def run(
    base: str, token: str, numbers: list[str], clients: int, writes: int, interval: float
) -> None:
    # aiohttp, not httpx: with 50 requests at once httpx's client spent more time than the
    # server, and the latencies measured were mostly its own.
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as http:
        for _ in range(20):  # warm up: imports, caches
            warm = http.patch(f"{base}/extensions/{numbers[0]}/presence", json={"note": "warm"})
            async with warm as r:
                r.raise_for_status()
        start = asyncio.Event()
        tasks = [
            asyncio.create_task(client(http, base, i, clients, numbers, writes, interval, start))
            for i in range(clients)
        ]
        t0 = time.perf_counter()
        start.set()
        done = await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    took = [ms for d in done for ms in d[0]]
    codes: Counter[int | str] = Counter()
    for d in done:
        codes.update(d[1])
    pace = f", each one every {interval:g} s" if interval else ", each as fast as answered"
    print(
        f"{clients} clients x {writes} writes{pace} = {len(took)} writes in {wall:.1f} s "
        f"({len(took) / wall:.0f} writes/s)"
    )
    print(
        f"latency  p50 {statistics.median(took):7.1f} ms   p95 {percentile(took, 95):7.1f} ms"
        f"   p99 {percentile(took, 99):7.1f} ms   max {max(took):7.1f} ms"
    )
    print("answers  " + "  ".join(f"{code}: {n}" for code, n in sorted(codes.items(), key=str)))


def in_threads(pbx: Pbx, token: str, numbers: list[str], threads: int, writes: int) -> None:
    """The same writes without HTTP: ``threads`` threads (the API's thread pool has 40)
    each check the token and write through the services, as a request's handler does.
    What is left of the latency is the database's, and the GIL's."""
    from datetime import UTC, datetime

    from klapka.domain.references import Kind
    from klapka.domain.values import PresenceStatus
    from klapka.services.accounts.credentials import Credentials
    from klapka.services.directory.objects import Objects

    credentials = Credentials(pbx, lambda: datetime.now(UTC))
    took: list[float] = []
    start = threading.Barrier(threads)

    def writer(i: int) -> None:
        number = numbers[i % len(numbers)]
        start.wait()
        for w in range(writes):
            t0 = time.perf_counter()
            found = credentials.token(token, "127.0.0.1")
            assert found is not None
            objects = Objects(pbx, found.principal)
            if w % 2 == 0:
                objects.set_presence(number, PresenceStatus(STATUSES[(i + w) % len(STATUSES)]))
            else:
                objects.patch_part(
                    Kind.EXTENSION,
                    number,
                    "presence_settings.available",
                    {"ring_timeout": 10 + (i * 7 + w) % 50},
                )
            took.append((time.perf_counter() - t0) * 1000)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - t0
    print(
        f"{threads} threads x {writes} writes, no HTTP = {len(took)} writes in {wall:.1f} s "
        f"({len(took) / wall:.0f} writes/s)"
    )
    print(
        f"latency  p50 {statistics.median(took):7.1f} ms   p95 {percentile(took, 95):7.1f} ms"
        f"   p99 {percentile(took, 99):7.1f} ms   max {max(took):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--writes", type=int, default=20, help="writes per client")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.0,
        help="seconds from one write of a client to its next (0: the next when answered)",
    )
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temporary)")
    parser.add_argument(
        "--in-threads",
        type=int,
        metavar="N",
        help="no server: N threads write through the services (the database's share)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'klapka.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        demo = resources.files("klapka.demo").joinpath("demo.yaml").read_text("utf-8")
        ConfigService(pbx).apply(load_yaml(demo))
        numbers = [e["number"] for e in load_yaml(demo)["extensions"]]
        token = Tokens(pbx).create("bench")
        if args.in_threads:
            backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
            print(f"{len(numbers)} extensions (demo), {backend}, in this process")
            in_threads(pbx, token, numbers, args.in_threads, args.writes)
            pbx.close()
            return
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
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
            print(f"{len(numbers)} extensions (demo), {backend}, uvicorn on 127.0.0.1:{port}")
            asyncio.run(run(base, token, numbers, args.clients, args.writes, args.interval))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
