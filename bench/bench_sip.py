"""Benchmark: klapka's Kamailio (KEMI + routing engine, digest authentication of the caller)
next to minimal native Kamailio configurations, in the same run, on 127.0.0.1.

Targets (each its own Kamailio with the same number of worker processes):
  klapka       klapka's generated configuration and KEMI adapter (SipCore)
  native       plain registrar lookup and relay, no authentication (the issue's baseline)
  native-auth  the same plus a digest challenge of every INVITE and REGISTER (407/401 then
               the authenticated request, like klapka): the fair baseline for klapka
  klapka-floor (only when asked for) klapka's configuration and adapter with the routing
               decision left out: the INVITE is authenticated, tracked as a dialog and
               relayed to the callee's contacts (lookup), as native-auth does. klapka minus
               klapka-floor is what the routing engine's decision and its ring step cost.
  klapka-no-history (only when asked for) klapka with the call journal not written (no
               call history, no call events): klapka / klapka-no-history is what the call
               history costs the SIP core.

Calls per second (default): sipp calls 101 -> one of --callees registered extensions (one
sipp UAS answers them all): INVITE (407, ACK, INVITE with credentials), 180, 200, ACK, BYE,
200. Every target first calls each callee once (warm-up, 500 calls/s), then each offered rate
in --rates runs for --seconds per target, targets interleaved. A rate passes with 0 failed
calls. Prints the achieved calls/s, the Kamailio CPU time per call
(all its processes, from /proc: less sensitive to other load on the machine than the
rate) and the best passing rate of each target, with klapka's ratio to both baselines.

  .venv/bin/python bench/bench_sip.py [--rates 400,600,800,1000] [--seconds 4] [--children 4]
      [--memory tlsf] [--targets klapka,native,native-auth] [--callees 2000]

--children sets the Kamailio UDP workers of every target; --memory runs every Kamailio with
that memory manager (-x; default tlsf, what klapka runs, so every target uses the same).

Call setup latency (--latency): a caller and a callee in one asyncio process (bench/sip_udp.py)
at --latency-rate calls/s for --seconds; latency = the authenticated INVITE sent by the
caller -> that INVITE arriving at the callee (Kamailio's whole request processing plus two
loopback hops). Prints p50 / p90 / p99 / max per target.

  .venv/bin/python bench/bench_sip.py --latency [--latency-rate 100] [--seconds 20]

The machine is shared: numbers are upper bounds of the cost, lower bounds of the speed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "sip"))
from sip_udp import UA, Message, build, digest, reply, uri_of
from sipp import _ANSWER, _INVITE, _RINGING, SDP, SIPP, free_udp_port, register_scenario, scenario

import klapka.sip.supervisor as supervisor
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.sip.kamailio_cfg import entry_script, render
from klapka.sip.supervisor import SipCore, kamailio_binary
from klapka.store.migrate import upgrade

PASSWORD = "Bench1234ab"
CALLER = "101"

NATIVE_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children={children}
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
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK") && t_check_trans()) {{ t_relay(); exit; }}
        sl_send_reply("404", "Not here"); exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) t_relay(); exit; }}
    if (is_method("ACK")) {{ if (t_check_trans()) t_relay(); exit; }}
    t_check_trans();
{auth}    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (is_method("INVITE")) {{ record_route(); }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"""

# native-auth: one password for everybody (klapka looks the account up in its snapshot).
NATIVE_AUTH = f"""    if (!pv_auth_check("klapka", "{PASSWORD}", "0", "0")) {{
        auth_challenge("klapka", "0"); exit;
    }}
    consume_credentials();
"""

# klapka-floor: the adapter's INVITE without the routing decision (authenticate, track the
# dialog, relay to the registered contacts).
FLOOR_ADAPTER = """
import KSR
from klapka.kemi import adapter as _adapter


class FloorAdapter(Adapter):
    def _invite(self, source):
        account = self._authenticate(source, self.snapshot.fresh())
        if account is None or not _adapter._own_transaction():
            return
        _adapter._track_call()
        if KSR.registrar.lookup("location") < 0:
            KSR.sl.send_reply(404, "Not Found")
            return
        KSR.tm.t_relay()


Adapter = FloorAdapter  # noqa: F811
"""


# klapka-no-history: klapka's adapter with the call journal's writes left out.
NO_HISTORY = """
from klapka.kemi import journal as _journal

_journal.emit = lambda *_args, **_fields: None
"""


def no_history_entry_script(*args: Any, **kwargs: Any) -> str:
    return entry_script(*args, **kwargs).replace("\ndef mod_init", NO_HISTORY + "\n\ndef mod_init")


def floor_entry_script(*args: Any, **kwargs: Any) -> str:
    return entry_script(*args, **kwargs).replace(
        "\ndef mod_init", FLOOR_ADAPTER + "\n\ndef mod_init"
    )


# Every callee registers the one contact sip:callee@<the UAS> (with its own credentials).
REGISTER_AUTH = register_scenario(
    "[field0]", "sip:callee@[local_ip]:{contact_port}", "klapka-bench",
    credentials="[field1]", expires=3600,
)  # fmt: skip

REGISTER_PLAIN = """
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:callee@[local_ip]:{contact_port}>
      Max-Forwards: 70
      Expires: 3600
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""

PLAIN_INVITE = (
    """
  <send retrans="500"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[call_number]
      To: <sip:{dialled}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

"""
    + SDP
    + """
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""
)

# The 180 may arrive after the 200 (two Kamailio workers relay them): optional at the end.
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
  <recv response="180" optional="true"/>
  <recv response="200"/>
"""


# The callee rings 5 ms, then answers: a 180 and a 200 sent back to back are relayed by two
# Kamailio workers and may arrive swapped, which fails the call in sipp. Likewise the ACK and
# the BYE: the ACK is optional. A loaded Kamailio that has not read the 180 within 0.5 s
# retransmits the INVITE: taken in silence (sipp would abort the call), the answers are on
# their way.
UAS_ANSWER = _ANSWER.format(user="callee", ring_ms=5).replace(
    '<recv request="ACK"/>',
    '<recv request="INVITE" optional="true"/>\n  <recv request="ACK" optional="true"/>',
)


@dataclass
class Target:
    name: str
    port: int
    pgid: int  # Kamailio's process group (all its processes)
    auth: bool


def sipp(
    xml: str, workdir: Path, target: int, extra: list[str], wait: bool = True
) -> subprocess.Popen[str] | str:
    path = workdir / f"s{time.monotonic_ns()}.xml"
    path.write_text(xml)
    assert SIPP is not None
    if "-p" not in extra:
        extra = ["-p", str(free_udp_port()), *extra]  # not sipp's default 5060: shared machine
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


def udp_drops() -> int:
    """Datagrams the kernel dropped, all sockets (a full receive buffer): /proc/net/snmp."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    head, values = [row for row in lines if row[0] == "Udp:"][:2]
    return int(values[head.index("RcvbufErrors")])


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in the group (Kamailio's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is the process group (5th field of stat)
            total += int(fields[11]) + int(fields[12])
    return total / tick


class Bench:
    """The database, klapka's SIP core and the native Kamailios, started for one run."""

    def __init__(
        self, work: Path, callees: range, children: int, targets: list[str], memory: str = ""
    ) -> None:
        self.work = work
        self.callees = callees
        self.children = children
        self.memory = memory  # Kamailio's memory manager (-x): "" is its default, qm
        self.names = targets
        self.procs: list[subprocess.Popen[bytes]] = []
        self.core: SipCore | None = None
        self.cores: list[SipCore] = []
        self.targets: dict[str, Target] = {}
        self.cpu: dict[str, list[float]] = {}  # Kamailio CPU ms per call, per measured run

    def start(self) -> None:
        binary = kamailio_binary()
        assert binary and SIPP, "kamailio and sipp are needed"
        if self.memory:  # every Kamailio, klapka's too, through a wrapper that adds -x
            wrapper = self.work / "kamailio"
            wrapper.write_text(f'#!/bin/sh\nexec {binary} -x {self.memory} "$@"\n')
            wrapper.chmod(0o755)
            binary = str(wrapper)
            supervisor.kamailio_binary = lambda: binary  # type: ignore[assignment]
        url = f"sqlite:///{self.work / 'k.db'}"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply(
            {
                "version": 1,
                "extensions": [
                    {"number": CALLER, "sip_password": PASSWORD},
                    *({"number": str(c), "sip_password": PASSWORD} for c in self.callees),
                ],
            }
        )
        supervisor.render = functools.partial(render, children=self.children)  # type: ignore[assignment]
        scripts = {"klapka": entry_script, "klapka-floor": floor_entry_script,
                   "klapka-no-history": no_history_entry_script}  # fmt: skip
        for name, script in scripts.items():
            if name not in self.names:
                continue
            floor = name != "klapka"
            supervisor.entry_script = script  # type: ignore[assignment]
            port = free_udp_port()
            core = SipCore(pbx, self.work / f"data-{name}", "127.0.0.1", port, port)
            core.start()
            assert core.wait_ready(), f"{name}'s kamailio did not start"
            assert core.process is not None
            self.cores.append(core)
            if not floor:
                self.core = core
            self.targets[name] = Target(name, port, core.process.pid, True)
        supervisor.entry_script = entry_script  # type: ignore[assignment]
        for name in ("native", "native-auth"):
            if name not in self.names:
                continue
            port = free_udp_port()
            cfg = self.work / f"{name}.cfg"
            auth = NATIVE_AUTH if name == "native-auth" else ""
            cfg.write_text(NATIVE_CFG.format(port=port, children=self.children, auth=auth))
            proc = subprocess.Popen(
                [binary, "-DD", "-E", "-f", str(cfg), "-m", "256", "-Y", str(self.work)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.procs.append(proc)
            self.targets[name] = Target(name, port, proc.pid, name == "native-auth")
        time.sleep(1)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)
        for core in self.cores:
            core.stop()

    def register_callees(self, target: Target, contact_port: int) -> None:
        """Every callee registers its contact at ``contact_port`` (one sipp run, credentials
        injected per call from a CSV file)."""
        csv = self.work / "regs.csv"
        csv.write_text(
            "SEQUENTIAL\n"
            + "".join(
                f"{c};[authentication username={c} password={PASSWORD}]\n" for c in self.callees
            )
        )
        xml = scenario(
            (REGISTER_AUTH if target.auth else REGISTER_PLAIN).format(contact_port=contact_port)
        )
        extra = ["-inf", str(csv), "-m", str(len(self.callees)), "-r", "1000", "-timeout", "60s"]
        extra += ["-trace_err", "-error_file", str(self.work / "regs.err")]
        ok, bad = stats(str(sipp(xml, self.work, target.port, extra)))
        if ok != len(self.callees) or bad:
            errors = (self.work / "regs.err").read_text(errors="replace")[:2000]
            raise AssertionError(f"{target.name}: {ok} registered, {bad} failed: {errors}")


def run_load(
    bench: Bench, target: Target, calls: int, rate: int, label: str = ""
) -> tuple[float, bool]:
    work = bench.work
    if target.auth:
        xml = scenario(
            _INVITE.format(user=CALLER, dialled="[field0]", headers=""),
            BYE.format(user=CALLER, dialled="[field0]"),
        )
        auth = ["-au", CALLER, "-ap", PASSWORD]
    else:
        xml = scenario(
            PLAIN_INVITE.format(user=CALLER, dialled="[field0]"),
            BYE.format(user=CALLER, dialled="[field0]"),
        )
        auth = []
    errors = work / f"{target.name}-{rate}.err"
    cpu0, drops0 = cpu_seconds(target.pgid), udp_drops()
    t0 = time.monotonic()
    out = sipp(
        xml,
        work,
        target.port,
        [
            *auth,
            *("-inf", str(work / "callees.csv"), "-r", str(rate), "-m", str(calls)),
            *("-timeout", f"{calls // rate * 3 + 20}s", "-l", "5000", "-recv_timeout", "5000"),
            *("-trace_err", "-error_file", str(errors)),
        ],
    )
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(target.pgid) - cpu0
    drops = udp_drops() - drops0
    ok, bad = stats(str(out))
    cps = ok / elapsed if elapsed else 0
    if not label and ok + bad:
        bench.cpu.setdefault(target.name, []).append(1000 * cpu / (ok + bad))
    print(
        f"  {target.name:<12} {label or 'offered'} {rate:>5}/s: {ok:>6} ok {bad:>5} failed  {elapsed:5.1f} s"
        f"  -> {cps:5.0f} calls/s   Kamailio CPU {1000 * cpu / max(ok + bad, 1):.2f} ms/call"
        + (f"  ({drops} UDP datagrams dropped on the machine)" if drops else ""),
        flush=True,
    )
    if bad and errors.exists():
        text = errors.read_text(errors="replace")
        reasons = re.findall(
            r"(?:received|while expecting) '?(SIP/2.0 \d+ [^\n]*|[^\n]{0,60})", text
        )
        counts: dict[str, int] = {}
        for r in reasons:
            counts[r.strip()] = counts.get(r.strip(), 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:4]
        print("     failures:", "; ".join(f"{n}x {r}" for r, n in top))
    return cps, bad == 0 and ok == calls


def calls_per_second(bench: Bench, rates: list[int], seconds: float) -> None:
    # Every callee registers the contact sip:callee@<the UAS>, which the UAS answers with:
    # klapka then knows who answered (the callee is in a call until the BYE), like a phone.
    uas = scenario(_RINGING.format(user="callee", wait_ms=600000), UAS_ANSWER)
    servers = []
    best = dict.fromkeys(bench.targets, 0)
    failing = dict.fromkeys(bench.targets, 0)
    try:
        for target in bench.targets.values():
            uas_port = free_udp_port()
            servers.append(
                sipp(
                    uas,
                    bench.work,
                    target.port,
                    ["-p", str(uas_port), "-m", str(10**7), "-timeout", "3600s"],
                    wait=False,
                )
            )
            time.sleep(0.3)
            bench.register_callees(target, uas_port)
        (bench.work / "callees.csv").write_text(
            "SEQUENTIAL\n" + "".join(f"{c}\n" for c in bench.callees)
        )
        for target in bench.targets.values():
            # Steady state: every callee called once (klapka's workers read an extension's
            # routing view at its first call and keep it until the directory changes).
            calls = len(bench.callees)
            run_load(bench, target, calls, min(500, calls), "warm-up")
        print(
            f"{seconds:g} s per rate and target, {len(bench.callees)} callees, "
            f"{bench.children} Kamailio UDP workers each, {os.cpu_count()} cores (shared)",
            flush=True,
        )
        for rate in rates:
            for target in bench.targets.values():
                if failing[target.name] >= 2:
                    continue  # failed at two rates in a row: stop offering it more
                _, passed = run_load(bench, target, int(rate * seconds), rate)
                if passed:
                    best[target.name] = max(best[target.name], rate)
                    failing[target.name] = 0
                else:
                    failing[target.name] += 1
    finally:
        for proc in servers:
            if isinstance(proc, subprocess.Popen):
                proc.kill()
                proc.wait()
    line = ", ".join(f"{name} {rate}" for name, rate in best.items())
    print(f"highest offered rate with 0 failed calls (calls/s): {line}")
    for base in ("native", "native-auth", "klapka-floor", "klapka-no-history"):
        if best.get("klapka") and best.get(base):
            print(f"  klapka / {base}: {best['klapka'] / best[base]:.0%}")
    cpu = {name: statistics.median(ms) for name, ms in bench.cpu.items() if ms}
    print(
        "Kamailio CPU per call, median of the runs:",
        ", ".join(f"{n} {ms:.2f} ms" for n, ms in cpu.items()),
    )
    for base in ("native", "native-auth", "klapka-floor", "klapka-no-history"):
        if "klapka" in cpu and base in cpu:
            print(
                f"  calls per CPU second, klapka / {base}: {cpu[base] / cpu['klapka']:.0%}"
                " (the ratio of rates when Kamailio has the CPU to itself)"
            )


# --- call setup latency ------------------------------------------------------------------


async def latency_run(target: Target, callees: range, rate: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = ("127.0.0.1", target.port)
    arrived: dict[str, float] = {}

    def on_callee_request(ua: UA, msg: Message, addr: tuple[str, int]) -> None:
        call_id = msg.get("call-id")
        if msg.method == "INVITE":
            arrived.setdefault(call_id, time.perf_counter())
            user = uri_of(msg.first.split(" ")[1])
            ua.send(reply(msg, 200, "OK", "callee", f"<{user}>"), addr)
        elif msg.method in ("BYE", "OPTIONS"):
            ua.send(reply(msg, 200, "OK"), addr)

    _, callee = await loop.create_datagram_endpoint(
        lambda: UA(server, on_callee_request), local_addr=("127.0.0.1", 0)
    )
    _, caller = await loop.create_datagram_endpoint(lambda: UA(server), local_addr=("127.0.0.1", 0))
    codes = await asyncio.gather(*(callee.register(str(c), PASSWORD, callee.port) for c in callees))
    assert all(c == 200 for c in codes), f"{target.name}: registration answers {set(codes)}"

    sent: dict[str, float] = {}
    failures: list[str] = []

    async def call(i: int) -> None:
        dialled = str(callees[i % len(callees)])
        call_id, tag = f"lat-{i}-{os.urandom(4).hex()}", f"t{i}"
        ruri = f"sip:{dialled}@127.0.0.1:{target.port}"
        base = [
            ("From", f"<sip:{CALLER}@127.0.0.1>;tag={tag}"),
            ("To", f"<sip:{dialled}@127.0.0.1>"),
            ("Call-ID", call_id),
        ]
        contact = ("Contact", f"<sip:{CALLER}@127.0.0.1:{caller.port}>")
        extra: list[tuple[str, str]] = []
        try:
            for cseq in (1, 2):
                via = caller.via()
                invite = build(
                    f"INVITE {ruri} SIP/2.0",
                    [
                        ("Via", via),
                        *base,
                        ("CSeq", f"{cseq} INVITE"),
                        contact,
                        ("Max-Forwards", "70"),
                        *extra,
                    ],
                )
                sent[call_id] = time.perf_counter()
                answer = await caller.transaction(invite, call_id, f"{cseq} INVITE", 8)
                if answer.status == 407 and cseq == 1:
                    ack = [("Via", via), base[0], ("To", answer.get("to")), base[2]]
                    caller.send(build(f"ACK {ruri} SIP/2.0", [*ack, ("CSeq", "1 ACK")]))
                    challenge = answer.get("proxy-authenticate")
                    value = digest(challenge, "INVITE", ruri, CALLER, PASSWORD)
                    extra = [("Proxy-Authorization", value)]
                    continue
                break
            if answer.status != 200:
                failures.append(str(answer.status))
                return
            routes = [("Route", r) for r in reversed(answer.all("record-route"))]
            target_uri = uri_of(answer.get("contact"))
            dialog = [base[0], ("To", answer.get("to")), base[2], *routes]
            caller.send(
                build(
                    f"ACK {target_uri} SIP/2.0",
                    [("Via", caller.via()), *dialog, ("CSeq", f"{cseq} ACK")],
                )
            )
            bye = build(
                f"BYE {target_uri} SIP/2.0",
                [("Via", caller.via()), *dialog, ("CSeq", f"{cseq + 1} BYE")],
            )
            answer = await caller.transaction(bye, call_id, f"{cseq + 1} BYE", 8)
            if answer.status != 200:
                failures.append(f"BYE {answer.status}")
        except TimeoutError:
            failures.append("timeout")

    total = int(rate * seconds)
    start = loop.time()
    tasks = []
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(i)))
    await asyncio.gather(*tasks)
    ms = sorted(1000 * (arrived[c] - sent[c]) for c in arrived if c in sent)
    if not ms:
        print(f"  {target.name:<12} no call reached the callee; failures {failures[:5]}")
        return
    q = statistics.quantiles(ms, n=100, method="inclusive")
    print(
        f"  {target.name:<12} {len(ms):>5} calls, {len(failures)} failed:"
        f"  p50 {q[49]:.2f} ms  p90 {q[89]:.2f} ms  p99 {q[98]:.2f} ms  max {ms[-1]:.2f} ms",
        flush=True,
    )
    # Unregister, so that a later run on the same Kamailio starts clean.
    await asyncio.gather(*(callee.register(str(c), PASSWORD, callee.port, 0) for c in callees))


def latency(bench: Bench, rate: int, seconds: float) -> None:
    print(
        f"call setup latency, authenticated INVITE sent -> INVITE at the callee, {rate} calls/s "
        f"for {seconds:g} s, {len(bench.callees)} callees, {bench.children} workers",
        flush=True,
    )
    for target in bench.targets.values():
        asyncio.run(latency_run(target, bench.callees, rate, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="400,600,800,1000")
    parser.add_argument("--seconds", type=float, default=4, help="per rate and target")
    parser.add_argument(
        "--callees", type=int, help="registered callees (default 2,000; 200 with --latency)"
    )
    parser.add_argument("--children", type=int, default=4, help="Kamailio UDP workers")
    parser.add_argument("--targets", default="klapka,native,native-auth")
    parser.add_argument(
        "--memory", default="tlsf", help="Kamailio memory manager for all targets (qm, fm, tlsf)"
    )
    parser.add_argument("--latency", action="store_true", help="measure call setup latency")
    parser.add_argument("--latency-rate", type=int, default=100)
    args = parser.parse_args()
    callees = range(20000, 20000 + (args.callees or (200 if args.latency else 2000)))
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), callees, args.children, args.targets.split(","), args.memory)
        try:
            bench.start()
            if args.latency:
                latency(bench, args.latency_rate, args.seconds)
            else:
                calls_per_second(bench, [int(r) for r in args.rates.split(",")], args.seconds)
            if bench.core is not None:
                log = bench.core.paths.log.read_text(errors="replace")
                errors = [line for line in log.splitlines() if "ERROR" in line]
                if errors:
                    print(f"klapka's Kamailio logged {len(errors)} errors:")
                    kinds: dict[str, int] = {}
                    for line in errors:  # without the process, Call-ID and numbers
                        kind = re.sub(r"\d+", "N", line.split("ERROR:", 1)[1].split("}", 1)[-1])
                        kinds[kind[:160]] = kinds.get(kind[:160], 0) + 1
                    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
                        print(f"  {n:>7}x {kind.strip()}")
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
