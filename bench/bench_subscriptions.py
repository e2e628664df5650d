"""Benchmark: SIP subscriptions (BLF) in klapka's SIP core, on 127.0.0.1.

1. NOTIFY latency: 1,000 BLF subscriptions (10 watcher extensions x 100 watched
   extensions, one asyncio process) while calls go from 101 to the watched extensions at
   --rate calls/s for --seconds. The watched extensions' phone (the same process) answers
   each INVITE with 180, 200 100 ms later, and gets the caller's BYE 300 ms after that.
   Latency = the phone getting the INVITE (ringing: klapka publishes it as it relays the
   INVITE, so it may arrive first: negative) / sending its 200 (in a call) / receiving the
   BYE (idle: the first NOTIFY that no longer lists the call) -> each watcher getting the
   NOTIFY with that state of that call. p50/p99/max.
2. Calls per second of plain calls (101 -> --callees unwatched extensions, sipp, as
   bench_sip.py) with 1,000 subscriptions active, side by side with none: at each offered
   rate one run without subscriptions, then one with the 1,000 (subscribed just before,
   removed after). Prints the calls/s and Kamailio's CPU per call of both.

  .venv/bin/python bench/bench_subscriptions.py [--rate 20] [--seconds 10]
      [--rates 600,900,1200] [--cps-seconds 4] [--callees 500] [--children 4]

The machine is shared: numbers are upper bounds of the cost, lower bounds of the speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import bench_sip
from bench_sip import CALLER, PASSWORD, Bench, Target, run_load, sipp
from sip_udp import UA, Message, build, digest, parse, reply, uri_of

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore, kamailio_binary
from klapka.store.migrate import upgrade

WATCHED = [str(n) for n in range(200, 300)]  # 100 extensions with BLF lamps on them
WATCHERS = [str(n) for n in range(300, 310)]  # 10 phones, each watching all 100
_DIALOG = re.compile(r'<dialog [^>]*call-id="([^"]+)"[^>]*>\s*<state>(\w+)</state>')


class BodyUA(UA):
    """A UA whose requests reach ``on_request`` with their body."""

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return
        msg = parse(data)
        if msg.is_request and self.on_request is not None:
            body = (
                data.split(b"\r\n\r\n", 1)[1].decode(errors="replace")
                if b"\r\n\r\n" in data
                else ""
            )
            self.on_request(self, msg, addr, body)
            return
        super().datagram_received(data, addr)


class Watchers:
    """1,000 dialog subscriptions: each watcher account subscribes to every watched one."""

    def __init__(self, port: int) -> None:
        self.server = ("127.0.0.1", port)
        self.uas: list[BodyUA] = []
        self.subs: list[tuple[BodyUA, str, str, str]] = []  # (ua, call-id, tag, target)
        # (subscription call-id, call's call-id, state) -> when first notified
        self.seen: dict[tuple[str, str, str], float] = {}
        self.live: dict[str, set[str]] = {}  # subscription call-id -> calls it lists now
        self.notifies = 0

    def on_notify(self, ua: UA, msg: Message, addr: tuple[str, int], body: str) -> None:
        now = time.perf_counter()
        ua.send(reply(msg, 200, "OK"), addr)
        if msg.method != "NOTIFY":
            return
        self.notifies += 1
        sub = msg.get("call-id")
        listed = set()
        for call_id, state in _DIALOG.findall(body):
            self.seen.setdefault((sub, call_id, state), now)
            listed.add(call_id)
        # A call no longer listed (klapka removes its state when it ends): idle again.
        for call_id in self.live.get(sub, set()) - listed:
            self.seen.setdefault((sub, call_id, "terminated"), now)
        self.live[sub] = listed

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in WATCHERS:
            _, ua = await loop.create_datagram_endpoint(
                lambda: BodyUA(self.server, self.on_notify), local_addr=("127.0.0.1", 0)
            )
            self.uas.append(ua)

    async def subscribe_all(self, expires: int = 3600) -> int:
        """Subscribe (or with 0: unsubscribe) every pair; returns how many were accepted."""
        if expires:
            self.subs = [
                (ua, f"blf-{w}-{t}-{os.urandom(3).hex()}", os.urandom(4).hex(), t)
                for ua, w in zip(self.uas, WATCHERS, strict=True)
                for t in WATCHED
            ]
        sem = asyncio.Semaphore(100)

        async def one(i: int) -> bool:
            ua, call_id, tag, target = self.subs[i]
            watcher = WATCHERS[self.uas.index(ua)]
            async with sem:
                return await self._subscribe(ua, watcher, target, call_id, tag, expires)

        results = await asyncio.gather(*(one(i) for i in range(len(self.subs))))
        if not expires:
            self.subs = []
        return sum(results)

    async def _subscribe(self, ua: BodyUA, watcher: str, target: str, call_id: str, tag: str,
                         expires: int) -> bool:  # fmt: skip
        ruri = f"sip:{target}@127.0.0.1:{self.server[1]}"
        extra: list[tuple[str, str]] = []
        for cseq in (1, 2):
            data = build(
                f"SUBSCRIBE {ruri} SIP/2.0",
                [
                    ("Via", ua.via()),
                    ("From", f"<sip:{watcher}@127.0.0.1>;tag={tag}"),
                    ("To", f"<sip:{target}@127.0.0.1>"),
                    ("Call-ID", call_id),
                    ("CSeq", f"{cseq} SUBSCRIBE"),
                    ("Contact", f"<sip:{watcher}@127.0.0.1:{ua.port}>"),
                    ("Max-Forwards", "70"),
                    ("Event", "dialog"),
                    ("Accept", "application/dialog-info+xml"),
                    ("Expires", str(expires)),
                    *extra,
                ],
            )
            try:
                answer = await ua.transaction(data, call_id, f"{cseq} SUBSCRIBE", 10)
            except TimeoutError:
                return False
            if answer.status == 407 and cseq == 1:
                value = digest(
                    answer.get("proxy-authenticate"), "SUBSCRIBE", ruri, watcher, PASSWORD
                )
                extra = [("Proxy-Authorization", value)]
                continue
            return answer.status < 300
        return False


class Background:
    """An asyncio loop in a thread: the watchers keep answering NOTIFYs while sipp runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def start_core(work: Path, callees: range, children: int) -> tuple[SipCore, Target]:
    binary = kamailio_binary()
    assert binary and bench_sip.SIPP, "kamailio and sipp are needed"
    url = f"sqlite:///{work / 'k.db'}"
    upgrade(url)
    pbx = Pbx.from_url(url)
    numbers = [CALLER, *WATCHED, *WATCHERS, *(str(c) for c in callees)]
    ConfigService(pbx).apply(
        {"version": 1, "extensions": [{"number": n, "sip_password": PASSWORD} for n in numbers]}
    )
    bench_sip.supervisor.render = bench_sip.functools.partial(  # type: ignore[attr-defined]
        bench_sip.render, children=children
    )
    port = bench_sip.free_udp_port()
    core = SipCore(pbx, work / "data", "127.0.0.1", port, port)
    core.start()
    assert core.wait_ready(), "klapka's kamailio did not start"
    assert core.process is not None
    assert core.subscriptions is not None, "Kamailio's presence modules are not installed"
    return core, Target("klapka", port, core.process.pid, True)


async def latency(port: int, rate: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = ("127.0.0.1", port)
    watchers = Watchers(port)
    await watchers.start()
    events: dict[tuple[str, str], float] = {}  # (call-id, state) -> when it happened

    def on_phone_request(ua: UA, msg: Message, addr: tuple[str, int], _body: str) -> None:
        call_id = msg.get("call-id")
        if msg.method == "INVITE":
            if (call_id, "early") in events:
                return  # a retransmission
            user = uri_of(msg.first.split(" ")[1])
            events[(call_id, "early")] = time.perf_counter()
            ua.send(reply(msg, 180, "Ringing", "phone", f"<{user}>"), addr)

            def answer() -> None:
                events[(call_id, "confirmed")] = time.perf_counter()
                ua.send(reply(msg, 200, "OK", "phone", f"<{user}>"), addr)

            loop.call_later(0.1, answer)
        elif msg.method == "BYE":
            events.setdefault((call_id, "terminated"), time.perf_counter())
            ua.send(reply(msg, 200, "OK"), addr)
        elif msg.method in ("OPTIONS", "NOTIFY"):
            ua.send(reply(msg, 200, "OK"), addr)

    _, phone = await loop.create_datagram_endpoint(
        lambda: BodyUA(server, on_phone_request), local_addr=("127.0.0.1", 0)
    )
    _, caller = await loop.create_datagram_endpoint(lambda: UA(server), local_addr=("127.0.0.1", 0))
    codes = await asyncio.gather(*(phone.register(n, PASSWORD, phone.port) for n in WATCHED))
    assert all(c == 200 for c in codes), f"registration answers {set(codes)}"
    t0 = time.monotonic()
    accepted = await watchers.subscribe_all()
    print(f"{accepted} of {len(WATCHERS) * len(WATCHED)} BLF subscriptions accepted in "
          f"{time.monotonic() - t0:.1f} s", flush=True)  # fmt: skip
    await asyncio.sleep(1)  # the initial NOTIFYs
    failures: list[str] = []

    async def call(i: int) -> None:
        dialled = WATCHED[i % len(WATCHED)]
        call_id, tag = f"call-{i}-{os.urandom(4).hex()}", f"t{i}"
        ruri = f"sip:{dialled}@127.0.0.1:{port}"
        base = [("From", f"<sip:{CALLER}@127.0.0.1>;tag={tag}"), ("To", f"<sip:{dialled}@127.0.0.1>"),
                ("Call-ID", call_id)]  # fmt: skip
        contact = ("Contact", f"<sip:{CALLER}@127.0.0.1:{caller.port}>")
        extra: list[tuple[str, str]] = []
        try:
            for cseq in (1, 2):
                via = caller.via()
                invite = build(f"INVITE {ruri} SIP/2.0", [("Via", via), *base, ("CSeq", f"{cseq} INVITE"),
                               contact, ("Max-Forwards", "70"), *extra])  # fmt: skip
                answer = await caller.transaction(invite, call_id, f"{cseq} INVITE", 8)
                if answer.status == 407 and cseq == 1:
                    ack = [("Via", via), base[0], ("To", answer.get("to")), base[2]]
                    caller.send(build(f"ACK {ruri} SIP/2.0", [*ack, ("CSeq", "1 ACK")]))
                    value = digest(
                        answer.get("proxy-authenticate"), "INVITE", ruri, CALLER, PASSWORD
                    )
                    extra = [("Proxy-Authorization", value)]
                    continue
                break
            if answer.status != 200:
                failures.append(str(answer.status))
                return
            routes = [("Route", r) for r in reversed(answer.all("record-route"))]
            target_uri = uri_of(answer.get("contact"))
            dialog = [base[0], ("To", answer.get("to")), base[2], *routes]
            caller.send(build(f"ACK {target_uri} SIP/2.0",
                              [("Via", caller.via()), *dialog, ("CSeq", f"{cseq} ACK")]))  # fmt: skip
            await asyncio.sleep(0.3)
            bye = build(f"BYE {target_uri} SIP/2.0",
                        [("Via", caller.via()), *dialog, ("CSeq", f"{cseq + 1} BYE")])  # fmt: skip
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
    await asyncio.sleep(2)  # the last NOTIFYs
    print(f"{total} calls to the watched extensions at {rate}/s, {len(failures)} failed "
          f"{failures[:5]}; {watchers.notifies} NOTIFYs received", flush=True)  # fmt: skip
    for state in ("early", "confirmed", "terminated"):
        ms = sorted(
            1000 * (at - events[(call_id, s)])
            for (_sub, call_id, s), at in watchers.seen.items()
            if s == state and (call_id, s) in events
        )
        expected = sum(1 for (_c, s) in events if s == state) * len(WATCHERS)
        if len(ms) < 2:
            print(f"  {state:<10} {len(ms)} NOTIFYs of {expected} expected")
            continue
        q = statistics.quantiles(ms, n=100, method="inclusive")
        print(f"  {state:<10} {len(ms):>5} of {expected} NOTIFYs: p50 {q[49]:.1f} ms  "
              f"p99 {q[98]:.1f} ms  max {ms[-1]:.1f} ms", flush=True)  # fmt: skip
    await watchers.subscribe_all(0)


def cps(work: Path, target: Target, core: SipCore, callees: range, rates: list[int],
        seconds: float) -> None:  # fmt: skip
    """Plain calls with no subscription, then with 1,000, at each rate."""
    bench = Bench(work, callees, 0, ["klapka"])
    bench.targets = {"klapka": target}
    uas = bench_sip.scenario(bench_sip._RINGING.format(user="callee", wait_ms=600000),
                             bench_sip.UAS_ANSWER)  # fmt: skip
    uas_port = bench_sip.free_udp_port()
    server = sipp(uas, work, target.port, ["-p", str(uas_port), "-m", str(10**7), "-timeout",
                                           "3600s"], wait=False)  # fmt: skip
    background = Background()
    watchers = Watchers(target.port)
    background.run(watchers.start())
    try:
        time.sleep(0.3)
        bench.register_callees(target, uas_port)
        (work / "callees.csv").write_text("SEQUENTIAL\n" + "".join(f"{c}\n" for c in callees))
        run_load(bench, target, len(callees), min(500, len(callees)), "warm-up")
        results: dict[str, list[tuple[int, float, bool, float]]] = {"none": [], "1000": []}
        for rate in rates:
            for label in ("none", "1000"):
                if label == "1000":
                    accepted = background.run(watchers.subscribe_all())
                    print(f"  ({accepted} subscriptions active)", flush=True)
                time.sleep(2)  # the NOTIFYs of (un)subscribing sent and their transactions gone
                cpu0 = bench_sip.cpu_seconds(target.pgid)
                achieved, passed = run_load(bench, target, int(rate * seconds), rate,
                                            f"subs {label:>4}")  # fmt: skip
                cpu = 1000 * (bench_sip.cpu_seconds(target.pgid) - cpu0) / (rate * seconds)
                results[label].append((rate, achieved, passed, cpu))
                if label == "1000":
                    background.run(watchers.subscribe_all(0))
        for label, rows in results.items():
            best = max((r for r, _a, ok, _c in rows if ok), default=0)
            cpu_ms = statistics.median(c for *_x, c in rows)
            print(f"subscriptions {label:>4}: highest offered rate with 0 failed calls {best}/s, "
                  f"Kamailio CPU per call (median) {cpu_ms:.2f} ms")  # fmt: skip
        for (rate, a0, _p0, c0), (_r, a1, _p1, c1) in zip(results["none"], results["1000"],
                                                         strict=True):  # fmt: skip
            print(f"  offered {rate}/s: with 1,000 subscriptions {a1 / a0:.0%} of the calls/s "
                  f"without, CPU per call {c1 / c0:.0%}")  # fmt: skip
    finally:
        background.stop()
        if not isinstance(server, str):
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=20, help="calls/s to watched extensions")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="600,900,1200", help="CPS: offered calls/s")
    parser.add_argument("--cps-seconds", type=float, default=4)
    parser.add_argument("--callees", type=int, default=500, help="CPS: unwatched callees")
    parser.add_argument("--children", type=int, default=4, help="Kamailio UDP workers")
    parser.add_argument("--skip", default="", help="latency or cps: leave that part out")
    args = parser.parse_args()
    callees = range(20000, 20000 + args.callees)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        core, target = start_core(work, callees, args.children)
        try:
            if args.skip != "latency":
                print(f"NOTIFY latency: {len(WATCHERS) * len(WATCHED)} BLF watchers of "
                      f"{len(WATCHED)} extensions", flush=True)  # fmt: skip
                asyncio.run(latency(target.port, args.rate, args.seconds))
            if args.skip != "cps":
                print("calls per second of plain calls, without and with 1,000 subscriptions",
                      flush=True)  # fmt: skip
                cps(work, target, core, callees, [int(r) for r in args.rates.split(",")],
                    args.cps_seconds)  # fmt: skip
            log = core.paths.log.read_text(errors="replace")
            kinds: dict[str, int] = {}
            for line in log.splitlines():
                if "ERROR:" in line:  # without the process, Call-ID and numbers
                    kind = re.sub(r"\d+", "N", line.split("ERROR:", 1)[1].split("}", 1)[-1])
                    kinds[kind.strip()[:160]] = kinds.get(kind.strip()[:160], 0) + 1
            print(f"klapka's Kamailio logged {sum(kinds.values())} errors")
            for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
                print(f"  {n:>7}x {kind}")
        finally:
            core.stop()


if __name__ == "__main__":
    main()
