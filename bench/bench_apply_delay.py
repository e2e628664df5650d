"""Benchmark: how long after a change the SIP core routes by it (issue target: under 1 s).

A change is committed through the services (as the API and ``config apply`` do); the SIP core
routes by the snapshot file its poller rewrites, which Kamailio's workers re-read on the next
request. Measured: from the change's commit to the new snapshot in place, for a small and a
10,000-extension directory, with Kamailio running.

Run: .venv/bin/python bench/bench_apply_delay.py [--extensions 10,10000] [--changes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_config_apply import document

from klapka.domain.references import Kind
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore
from klapka.store.migrate import upgrade


def measure(n: int, changes: int, port: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/klapka.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(document(n))
        core = SipCore(pbx, Path(tmp) / "data", "127.0.0.1", port, port)
        core.start()
        try:
            assert core.wait_ready(), "kamailio did not start"
            number = "10001"
            delays = []
            for i in range(changes):
                target = "10002" if i % 2 == 0 else "10003"
                patch = {
                    "presence_settings": {
                        "available": {"internal": {"always": {"extension": target}}}
                    }
                }
                Objects(pbx).patch(Kind.EXTENSION, number, patch)
                committed = time.perf_counter()
                from klapka.services.telephony.sip_directory import directory_version

                wanted = directory_version(pbx)
                while core.version < wanted:  # set by the poller once the snapshot is written
                    time.sleep(0.005)
                delays.append(time.perf_counter() - committed)
            # A group change touches every member's view (2,000 of the 10,000): every view is
            # rebuilt, the changed ones are written.
            full = []
            for i in range(3):
                members = ["10001", "10002"] if i % 2 else ["10001"]
                Objects(pbx).patch(Kind.GROUP, "Everyone", {"members": members})
                committed = time.perf_counter()
                wanted = directory_version(pbx)
                while core.version < wanted:
                    time.sleep(0.005)
                full.append(time.perf_counter() - committed)
            print(
                f"{n:>6} extensions: a group change (every view rebuilt): max {max(full) * 1000:.0f} ms"
            )
            return delays
        finally:
            core.stop()
            pbx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extensions", default="10,10000")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--port", type=int, default=25060)
    args = parser.parse_args()
    for n in (int(x) for x in args.extensions.split(",")):
        delays = sorted(measure(n, args.changes, args.port))
        p50 = statistics.median(delays)
        print(
            f"{n:>6} extensions: change -> SIP core routes by it: median {p50 * 1000:.0f} ms, "
            f"max {delays[-1] * 1000:.0f} ms over {len(delays)} changes"
        )


if __name__ == "__main__":
    main()
