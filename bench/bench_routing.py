"""Benchmark: routing decisions at 10,000 extensions (targets: direct call median < 50 us,
p99 < 200 us; 5-hop forward chain median < 200 us; directory view from the DB < 1 s).

Run: .venv/bin/python bench/bench_routing.py [--extensions N] [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from bench_config_apply import document

from klapka.routing.engine import decide
from klapka.routing.model import Call, Endpoint, Runtime
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.store.directory_view import load_directory
from klapka.store.migrate import upgrade


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    p99 = s[int(len(s) * 0.99) - 1]
    return f"median {statistics.median(s):7.1f} us   p99 {p99:7.1f} us   (n={len(s)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    n = args.extensions
    doc = document(n)
    # A 5-hop forward chain: 90000 -> 90001 -> ... -> 90005 (always rules).
    chain = [str(90000 + i) for i in range(6)]
    for i, number in enumerate(chain):
        ext: dict = {"number": number}
        if i < 5:
            ext["presence_settings"] = {
                "available": {"internal": {"always": {"extension": chain[i + 1]}}}
            }
        doc["extensions"].append(ext)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(doc)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            with pbx.tx() as repo:
                directory = load_directory(repo.conn)
            times.append(time.perf_counter() - t0)
        print(f"{len(directory.extensions)} extensions in the directory view")
        print(f"build directory view from SQLite: median {statistics.median(times):.3f} s")

    runtime = Runtime(registered={x: (Endpoint("desk", "desk"),) for x in directory.extensions})
    at = datetime(2027, 3, 1, 10, 0, tzinfo=ZoneInfo("Europe/Prague"))
    numbers = [str(10000 + i) for i in range(n)]

    def measure(make_call: object, count: int) -> list[float]:
        samples = []
        for i in range(count):
            call = make_call(i)  # type: ignore[operator]
            t0 = time.perf_counter_ns()
            decide(call, directory, runtime)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        return samples

    for _ in range(2000):  # warm up
        decide(Call(numbers[1], numbers[2], at, "internal"), directory, runtime)
    direct = measure(
        lambda i: Call(numbers[i % n], numbers[(i * 7919 + 1) % n], at, "internal"), args.calls
    )
    print(f"direct internal call decision:     {percentiles(direct)}")
    external = measure(
        lambda i: Call("+420601000000", numbers[(i * 7919 + 1) % n], at, "external"), args.calls
    )
    print(f"direct external call (no route):   {percentiles(external)}")
    chained = measure(lambda i: Call(numbers[i % n], chain[0], at, "internal"), args.calls)
    print(f"5-hop forward chain decision:      {percentiles(chained)}")


if __name__ == "__main__":
    main()
