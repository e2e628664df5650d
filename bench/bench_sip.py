"""Benchmark: calls per second through klapka's Kamailio (KEMI + routing engine, digest
authentication of the caller) next to a minimal native Kamailio configuration doing plain
registrar lookup and relay, in the same run; and the sipp round-trip time of call setup (INVITE to 180) in sipp's rtt CSV files.

Run: .venv/bin/python bench/bench_sip.py [--calls N] [--rates 100,200,400]
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "sip"))
from sipp import _ANSWER, _INVITE, _RINGING, SIPP, free_udp_port, scenario

from klapka.services.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore, kamailio_binary
from klapka.store.migrate import upgrade

# Calls go round-robin to 50 extensions registered at one sipp UAS: a phone already in a
# call is left out of ringing (CALL-ROUTING.md rule 10), so a single callee would be busy.
CALLEES = range(20000, 20050)

NATIVE_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=4
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "siputils.so"
loadmodule "textops.so"
modparam("usrloc", "db_mode", 0)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK") && t_check_trans()) {{ t_relay(); exit; }}
        sl_send_reply("404", "Not here"); exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) t_relay(); exit; }}
    t_check_trans();
    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (is_method("INVITE")) {{ record_route(); }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""

PLAIN_REGISTER = """
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{user}@[local_ip]:{contact_port}>
      Max-Forwards: 70
      Expires: 3600
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""

PLAIN_INVITE = """
  <send retrans="500" start_rtd="setup"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true" rtd="setup"/>
"""

BYE = """
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: [cseq] ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: [cseq] BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""


def sipp(
    xml: str, workdir: Path, target: int, extra: list[str], wait: bool = True
) -> subprocess.Popen[str] | str:
    path = workdir / f"s{time.monotonic_ns()}.xml"
    path.write_text(xml)
    assert SIPP is not None
    cmd = [SIPP, "-sf", str(path), "-nostdin", "-i", "127.0.0.1", *extra, f"127.0.0.1:{target}"]
    if not wait:
        return subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=workdir
        )
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    return proc.stdout + proc.stderr


def stats(out: str) -> tuple[int, int]:
    ok = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    bad = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", out)
    return int(ok.group(1)) if ok else 0, int(bad.group(1)) if bad else 0


def run_load(
    name: str, port: int, caller_xml: str, auth: list[str], calls: int, rate: int, workdir: Path
) -> float:
    t0 = time.monotonic()
    out = sipp(
        caller_xml,
        workdir,
        port,
        [
            *auth,
            "-inf",
            str(workdir / "callees.csv"),
            "-r",
            str(rate),
            "-m",
            str(calls),
            "-timeout",
            "120s",
            "-l",
            "2000",
            "-trace_rtt",
            "-rtt_freq",
            "1",
            "-trace_err",
            "-error_file",
            str(workdir / f"{name}-{rate}.err"),
        ],
    )
    elapsed = time.monotonic() - t0
    ok, bad = stats(str(out))
    if bad:
        errors = (workdir / f"{name}-{rate}.err").read_text(errors="replace")
        print("   first errors:", errors[:1500].replace("\n", "\n   "))
    cps = ok / elapsed if elapsed else 0
    print(
        f"  {name:<8} offered {rate:>4} calls/s: {ok} ok, {bad} failed in {elapsed:.1f} s -> {cps:.0f} calls/s"
    )
    return cps if bad == 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rates", default="100,200,400")
    args = parser.parse_args()
    binary = kamailio_binary()
    assert binary and SIPP, "kamailio and sipp are needed"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'k.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(
            {
                "version": 1,
                "extensions": [
                    {"number": "101", "sip_password": "Bench1234ab"},
                    *({"number": str(c), "sip_password": "Bench1234ab"} for c in CALLEES),
                ],
            }
        )
        port = free_udp_port()
        core = SipCore(pbx, work / "data", "127.0.0.1", port, port)
        core.start()
        native_port = free_udp_port()
        (work / "native.cfg").write_text(NATIVE_CFG.format(port=native_port))
        native = subprocess.Popen(
            [binary, "-DD", "-E", "-f", str(work / "native.cfg"), "-m", "256", "-Y", str(work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert core.wait_ready(), "klapka's kamailio did not start"
            time.sleep(1)
            uas_k, uas_n = free_udp_port(), free_udp_port()
            uas = scenario(
                _RINGING.format(user="102", wait_ms=60000), _ANSWER.format(user="102", ring_ms=0)
            )
            servers = [
                sipp(
                    uas,
                    work,
                    p,
                    [
                        "-p",
                        str(uas_k if p == port else uas_n),
                        "-m",
                        str(10**7),
                        "-timeout",
                        "600s",
                    ],
                    wait=False,
                )
                for p in (port, native_port)
            ]
            time.sleep(0.5)
            from sipp import _REGISTER

            for callee in CALLEES:
                reg = scenario(
                    _REGISTER.format(
                        user=callee, agent="bench", expect=200, optional="", contact_port=uas_k
                    )
                )
                sipp(reg, work, port, ["-au", str(callee), "-ap", "Bench1234ab", "-m", "1"])
                plain = scenario(PLAIN_REGISTER.format(user=callee, contact_port=uas_n))
                sipp(plain, work, native_port, ["-m", "1"])
            callees = work / "callees.csv"
            callees.write_text("SEQUENTIAL\n" + "".join(f"{c}\n" for c in CALLEES))
            klapka_call = scenario(
                _INVITE.format(user="101", dialled="[field0]"),
                BYE.format(user="101", dialled="[field0]"),
            )
            native_call = scenario(
                PLAIN_INVITE.format(user="101", dialled="[field0]"),
                BYE.format(user="101", dialled="[field0]"),
            )
            print(f"calls: {args.calls} per run, 2 cores, 4 Kamailio workers each")
            best = {"klapka": 0.0, "native": 0.0}
            for rate in [int(r) for r in args.rates.split(",")]:
                best["klapka"] = max(
                    best["klapka"],
                    run_load(
                        "klapka",
                        port,
                        klapka_call,
                        ["-au", "101", "-ap", "Bench1234ab"],
                        args.calls,
                        rate,
                        work,
                    ),
                )
                best["native"] = max(
                    best["native"],
                    run_load("native", native_port, native_call, [], args.calls, rate, work),
                )
            ratio = best["klapka"] / best["native"] if best["native"] else 0
            print(
                f"best with 0 failed calls: klapka {best['klapka']:.0f} calls/s, native {best['native']:.0f} calls/s ({ratio:.0%} of native)"
            )
            for proc in servers:
                if isinstance(proc, subprocess.Popen):
                    proc.kill()
        finally:
            native.terminate()
            core.stop()


if __name__ == "__main__":
    main()
