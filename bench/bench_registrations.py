"""Benchmark: 10,000 extensions registering with klapka's SIP core, each with its own digest
credentials (REGISTER, 401, REGISTER with Authorization, 200), on 127.0.0.1.

Creates the extensions with ``config apply`` (SQLite, passwords known to the benchmark),
starts the SIP core (SipCore: Kamailio + KEMI adapter) and lets one sipp register them all,
the credentials injected per registration from a CSV file (a field holding sipp's
``[authentication username=... password=...]`` keyword). Prints the total time, the rate,
the failed registrations, and the count of registered extensions read back from Kamailio's
usrloc (``ul.dump`` over its RPC FIFO).

  .venv/bin/python bench/bench_registrations.py [--extensions 10000] [--rate 2000]
      [--concurrency 500] [--children 4]

--rate is the offered REGISTER transactions per second (sipp -r), --concurrency the most
registrations in progress at once (sipp -l). The machine is shared: the time is an upper bound.
"""

from __future__ import annotations

import argparse
import functools
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "sip"))
from sipp import SIPP, free_udp_port, register_scenario, scenario

import klapka.sip.supervisor as supervisor
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.telephony.sip_rpc import KamailioFifoRpc
from klapka.sip.kamailio_cfg import render
from klapka.sip.supervisor import SipCore, kamailio_binary
from klapka.store.migrate import upgrade

FIRST = 100000  # extension numbers FIRST .. FIRST + N - 1

REGISTER = register_scenario(
    "[field0]", "sip:[field0]@[local_ip]:[local_port]", "klapka-bench",
    credentials="[field1]", expires=3600,
)  # fmt: skip


def password(number: int) -> str:
    return f"Reg{number}pass"  # digits, upper and lower case: a valid SIP password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extensions", type=int, default=10000)
    parser.add_argument("--rate", type=int, default=2000, help="offered registrations/s")
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--children", type=int, default=4, help="Kamailio UDP workers")
    args = parser.parse_args()
    assert SIPP and kamailio_binary(), "kamailio and sipp are needed"
    numbers = range(FIRST, FIRST + args.extensions)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'k.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        t0 = time.perf_counter()
        ConfigService(pbx).apply(
            {
                "version": 1,
                "extensions": [{"number": str(n), "sip_password": password(n)} for n in numbers],
            }
        )
        print(f"config apply of {len(numbers)} extensions: {time.perf_counter() - t0:.1f} s")
        supervisor.render = functools.partial(render, children=args.children)  # type: ignore[assignment]
        port = free_udp_port()
        core = SipCore(pbx, work / "data", "127.0.0.1", port, port)
        t0 = time.perf_counter()
        core.start()
        try:
            assert core.wait_ready(30), "klapka's kamailio did not start"
            print(
                f"SIP core ready (snapshot written, Kamailio up): {time.perf_counter() - t0:.1f} s"
            )
            csv = work / "users.csv"
            csv.write_text(
                "SEQUENTIAL\n"
                + "".join(
                    f"{n};[authentication username={n} password={password(n)}]\n" for n in numbers
                )
            )
            xml = work / "register.xml"
            xml.write_text(scenario(REGISTER))
            errors = work / "errors.log"
            cmd = [
                SIPP, "-sf", str(xml), "-inf", str(csv), "-nostdin", "-i", "127.0.0.1",
                "-p", str(free_udp_port()), "-m", str(len(numbers)), "-r", str(args.rate),
                "-l", str(args.concurrency), "-timeout", "300s", "-recv_timeout", "10000",
                "-trace_err", "-error_file", str(errors), f"127.0.0.1:{port}",
            ]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
            elapsed = time.perf_counter() - t0
            out = proc.stdout + proc.stderr
            ok = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out)
            bad = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)
            done, failed = int(ok.group(1)) if ok else 0, int(bad.group(1)) if bad else 0
            retrans = re.search(r"Retransmissions\s*\|\s*\d+\s*\|\s*(\d+)", out)
            print(
                f"{done} registered, {failed} failed, in {elapsed:.1f} s "
                f"({done / elapsed:.0f} registrations/s; offered {args.rate}/s, "
                f"at most {args.concurrency} at once, {args.children} Kamailio workers)"
                + (f"; {retrans.group(1)} retransmissions" if retrans else "")
            )
            if failed and errors.exists():
                print("first errors:", errors.read_text(errors="replace")[:1500])
            t0 = time.perf_counter()
            dump = KamailioFifoRpc(core.paths.rpc_fifo, timeout=60).call("ul.dump")
            live = {
                aor["Info"]["AoR"]: [
                    c for c in aor["Info"]["Contacts"] if c["Contact"].get("Expires") != "expired"
                ]
                for domain in dump["Domains"]
                for aor in domain["Domain"]["AoRs"]
            }
            registered = sum(1 for n in numbers if live.get(str(n)))
            print(
                f"usrloc (ul.dump): {registered} of {len(numbers)} extensions registered "
                f"({sum(len(c) for c in live.values())} live contacts; "
                f"dump {time.perf_counter() - t0:.1f} s)"
            )
        finally:
            core.stop()
            pbx.close()


if __name__ == "__main__":
    main()
