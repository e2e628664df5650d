"""Benchmark: CSV import of 10,000 extensions into a fresh SQLite database (target < 15 s).

Run: .venv/bin/python bench/bench_csv_import.py [--rows N] [--database-url URL]
Prints the seconds for: the first import (create all), importing the same file again
(update all), and the export.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

from klapka.domain.references import Kind
from klapka.services.directory.extension_csv import COLUMNS, ExtensionCsv
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade


def csv_text(n: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(n):
        writer.writerow(
            [
                str(10000 + i),  # number
                f"User{i}",
                f"Surname{i % 977}",
                f"user{i}@example.com",
                f"+420777{i:06d}",
                "",  # caller_id_name
                "",  # caller_id_number
                "",  # sip_username
                "" if i % 2 else f"Secret{i:06d}x",  # sip_password: half generated
                str(1 + i % 3),
                "admin" if i % 100 == 0 else "user",
                "yes",
                "true" if i % 4 else "false",
                "",  # voicemail_pin: generated
                "with_attachment" if i % 5 == 0 else "",
                str(20 + i % 30),
                "Sales" if i % 2 else "Sales;Support",
            ]
        )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        for name in ("Sales", "Support"):
            Objects(pbx).create(Kind.GROUP, {"name": name})
        text = csv_text(args.rows)
        service = ExtensionCsv(pbx)

        start = time.perf_counter()
        result = service.import_csv(text)
        first = time.perf_counter() - start
        assert result.ok and result.created == args.rows, result.errors[:5]
        print(f"import {args.rows} rows (create): {first:.2f} s")

        start = time.perf_counter()
        result = service.import_csv(text)
        again = time.perf_counter() - start
        assert result.ok and result.updated == args.rows, result.errors[:5]
        print(f"import {args.rows} rows (update): {again:.2f} s")

        start = time.perf_counter()
        exported = service.export_csv()
        print(f"export {args.rows} rows: {time.perf_counter() - start:.2f} s")
        assert exported.count("\n") == args.rows + 1
        pbx.close()


if __name__ == "__main__":
    main()
