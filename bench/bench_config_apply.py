"""Benchmark: ``config apply`` of a 10,000-extension document into SQLite (target < 15 s).

Run: .venv/bin/python bench/bench_config_apply.py [--extensions N] [--database-url URL]
Prints the seconds for: parse+validate, first apply (create all), re-apply (no changes),
apply with 1 % changed, and export.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from klapka.services.directory.config import ConfigService
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade


def document(n: int) -> dict:
    exts = []
    for i in range(n):
        number = str(10000 + i)
        ext: dict = {
            "number": number,
            "first_name": f"User{i}",
            "last_name": f"Surname{i % 977}",
            "email": f"user{i}@example.com",
            "mobile": f"+420777{i:06d}",
        }
        if i % 3 == 0 and i + 1 < n:
            ext["presence_settings"] = {
                "available": {
                    "ring_timeout": 20,
                    "internal": {"busy": {"extension": str(10001 + i)}},
                },
                "away": {"external": {"no_answer": {"mobile_number": True}}},
            }
        if i % 10 == 0:
            ext["features"] = {"caller_rules": [{"pattern": "0090.", "action": {"hangup": True}}]}
        exts.append(ext)
    return {
        "version": 1,
        "system": {"timezone": "Europe/Prague", "country_code": "420"},
        "business_hours": {
            "weekly": {d: ["08:00-16:30"] for d in ("mon", "tue", "wed", "thu", "fri")}
        },
        "extensions": exts,
        "groups": [{"name": "Everyone", "members": [e["number"] for e in exts[:2000]]}],
        "ring_groups": [{"number": "6300", "members": [e["number"] for e in exts[:20]]}],
        "queues": [{"number": "6400", "members": [e["number"] for e in exts[20:60]]}],
        "trunks": [
            {"name": "provider", "type": "register", "host": "sip.example.net", "username": "u"}
        ],
        "outbound_routes": [
            {"name": "national", "patterns": ["NXXXXXXXX"], "trunks": ["provider"]}
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extensions", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        service = ConfigService(Pbx.from_url(url))
        text = dump_yaml(document(args.extensions))
        print(f"document: {args.extensions} extensions, {len(text) / 1e6:.1f} MB of YAML")

        t0 = time.perf_counter()
        data = load_yaml(text)
        t1 = time.perf_counter()
        result = service.apply(data)
        t2 = time.perf_counter()
        print(f"yaml load: {t1 - t0:.2f} s")
        print(f"config apply (empty PBX, {result.summary['created']} created): {t2 - t1:.2f} s")
        print(f"  total incl. YAML parse: {t2 - t0:.2f} s")

        t0 = time.perf_counter()
        result = service.apply(data)
        print(
            f"config apply (no changes): {time.perf_counter() - t0:.2f} s, {len(result.changes)} changes"
        )

        for ext in data["extensions"][::100]:
            ext["first_name"] = ext["first_name"] + "X"
        t0 = time.perf_counter()
        result = service.apply(data)
        print(f"config apply (1 % changed): {time.perf_counter() - t0:.2f} s, {result.summary}")

        t0 = time.perf_counter()
        exported = service.export()
        print(
            f"config export: {time.perf_counter() - t0:.2f} s, {len(exported['extensions'])} extensions"
        )


if __name__ == "__main__":
    main()
