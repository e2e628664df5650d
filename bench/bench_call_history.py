"""Benchmark: call history queries over 1,000,000 calls, on SQLite and PostgreSQL.

Fills ``call_history`` and ``call_parties`` with --calls calls over a year (500 extensions,
each call with a caller, a callee and sometimes a forward target), then times the admin's
query of one extension's calls in one month (the first page and its total, as
``GET /api/v1/call-history?extension=...&since=...&until=...`` runs it), for --queries random
extensions and months. Prints p50/p95/max per backend.

  .venv/bin/python bench/bench_call_history.py [--calls 1000000] [--queries 200]
      [--backends sqlite,postgresql]

PostgreSQL: a throwaway cluster (initdb/pg_ctl, as the tests start one).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from klapka.services.call_history import CallFilter, CallHistory
from klapka.services.pbx import Pbx
from klapka.store import tables as t
from klapka.store.migrate import upgrade

EXTENSIONS = [str(n) for n in range(100, 600)]
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 20_000


def fill(pbx: Pbx, calls: int) -> float:
    rnd = random.Random(7)
    started = time.perf_counter()
    next_id = 1
    while next_id <= calls:
        rows, parties = [], []
        for i in range(next_id, min(calls, next_id + BATCH - 1) + 1):
            at = YEAR + timedelta(seconds=rnd.randrange(365 * 86400))
            caller, callee = rnd.sample(EXTENSIONS, 2)
            forward = rnd.choice(EXTENSIONS) if rnd.random() < 0.2 else None
            answered = rnd.random() < 0.7
            rows.append({
                "id": i, "call_id": f"c{i}", "started_at": at, "ended_at": at + timedelta(seconds=90),
                "answered_at": at + timedelta(seconds=8) if answered else None,
                "direction": "internal", "path": "direct", "caller": caller, "caller_name": "",
                "caller_extension": caller, "dialled": callee,
                "answered_by": (forward or callee) if answered else None,
                "outcome": "answered" if answered else "no_answer", "ring_seconds": 8,
                "talk_seconds": 82 if answered else None,
                "steps": [{"owner": callee, "rung": [callee]}], "forwards": [callee],
                "trunk_attempts": [],
            })  # fmt: skip
            for ext in {caller, callee, forward} - {None}:
                parties.append({"call": i, "extension": ext, "started_at": at})
        with pbx.tx() as repo:
            repo.conn.execute(insert(t.call_history), rows)
            repo.conn.execute(insert(t.call_parties), parties)
        next_id += len(rows)
    return time.perf_counter() - started


def query(pbx: Pbx, queries: int) -> list[float]:
    rnd = random.Random(11)
    history = CallHistory(pbx)
    times = []
    for _ in range(queries):
        month = rnd.randrange(12)
        since = datetime(2026, month + 1, 1, tzinfo=UTC)
        until = datetime(2026 + (month == 11), (month + 1) % 12 + 1, 1, tzinfo=UTC)
        f = CallFilter(since=since, until=until, extension=rnd.choice(EXTENSIONS))
        t0 = time.perf_counter()
        page = history.search(f, limit=50)
        times.append((time.perf_counter() - t0) * 1000)
        assert page.total > 0 and len(page.items) == min(50, page.total)
    return times


def run(name: str, url: str, calls: int, queries: int) -> None:
    upgrade(url)
    pbx = Pbx.from_url(url)
    try:
        took = fill(pbx, calls)
        print(f"{name}: {calls:,} calls written in {took:.0f} s", flush=True)
        query(pbx, 5)  # warm up
        ms = sorted(query(pbx, queries))
        q = statistics.quantiles(ms, n=100, method="inclusive")
        print(f"{name}: one extension's month, first page + total, {queries} queries: "
              f"p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  max {ms[-1]:.1f} ms", flush=True)  # fmt: skip
    finally:
        pbx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="klapka-bench-") as tmp:
        if "sqlite" in backends:
            run("SQLite", f"sqlite:///{tmp}/history.db", args.calls, args.queries)
        if "postgresql" in backends:
            from pgcluster import PostgresCluster

            with PostgresCluster() as cluster:
                cluster.create_database("history")
                run("PostgreSQL", cluster.url("history"), args.calls, args.queries)


if __name__ == "__main__":
    main()
