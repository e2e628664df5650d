"""Benchmark: concurrent voicemail deposits the media service carries.

The media service runs in this process (its own thread, as ``klapka serve`` runs it) over a
throwaway SQLite database; the callers run in a child process (so their CPU is not counted
as the service's). For each count in --streams, that many calls dial ``vm-101`` directly,
skip the greeting (#) and send G.711 audio for --seconds while the service records it and
sends its 20 ms RTP back. Measured:

  late      packets from the service that arrived more than 5 ms after their time (the time
            from each stream's RTP timestamps, anchored at its earliest packet), as the
            callers see them: this includes the callers' own scheduling
  ticks>5ms the service's 20 ms send clock starting a tick more than 5 ms late (service side)
  cpu/stream the service process's CPU time (user+system, getrusage) over the streaming
            window, per stream, as % of one core
  kept      messages stored (each must be)

  .venv/bin/python bench/bench_voicemail.py [--streams 10,50,100,200] [--seconds 8]

The machine is shared with other work: numbers are upper bounds of the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import resource
import secrets
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

from klapka.media import g711
from klapka.media.rtp import parse_rtp, rtp_packet
from klapka.media.sdp import parse_offer
from klapka.media.sipmsg import SipMessage, parse

LATE = 0.005


# --- the callers (child process) -------------------------------------------------------------


class Caller(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.responses: asyncio.Queue[SipMessage] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        msg = parse(data)
        if not msg.is_request:
            self.responses.put_nowait(msg)


class RtpIn(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        parsed = parse_rtp(data)
        if parsed is not None and parsed[0] == 0:
            self.arrivals.append((time.perf_counter(), parsed[3]))


async def one_call(port: int, seconds: float, start_gate: asyncio.Event) -> tuple[int, int, bool]:
    loop = asyncio.get_running_loop()
    sip_t, sip = await loop.create_datagram_endpoint(Caller, local_addr=("127.0.0.1", 0))
    rtp_t, rtp = await loop.create_datagram_endpoint(RtpIn, local_addr=("127.0.0.1", 0))
    my_sip = sip_t.get_extra_info("sockname")[1]
    my_rtp = rtp_t.get_extra_info("sockname")[1]
    call_id = secrets.token_hex(8)
    body = (f"v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {my_rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:101 telephone-event/8000\r\n").encode()  # fmt: skip

    def request(method: str, cseq: int, to_tag: str = "", content: bytes = b"") -> bytes:
        msg = SipMessage(f"{method} sip:vm-101@127.0.0.1:{port} SIP/2.0")
        msg.headers += [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{my_sip};branch=z9hG4bK{secrets.token_hex(6)}"),
            ("From", f"<sip:bench@klapka>;tag={call_id[:6]}"),
            ("To", "<sip:vm-101@klapka>" + (f";tag={to_tag}" if to_tag else "")),
            ("Call-ID", call_id), ("CSeq", f"{cseq} {method}"), ("X-Klapka-Caller", "bench"),
            ("Contact", f"<sip:bench@127.0.0.1:{my_sip}>"),
        ]  # fmt: skip
        if content:
            msg.headers.append(("Content-Type", "application/sdp"))
        msg.body = content
        return msg.to_bytes()

    sip_t.sendto(request("INVITE", 1, content=body), ("127.0.0.1", port))
    while True:
        answer = await asyncio.wait_for(sip.responses.get(), 30)
        if answer.status >= 200:
            break
    if answer.status != 200:
        return 0, 0, False
    tag = answer.to_tag
    sip_t.sendto(request("ACK", 1, tag), ("127.0.0.1", port))
    remote = parse_offer(answer.body.decode())
    target = (remote.address, remote.port)
    ssrc, seq, ts = secrets.randbits(32), 0, 0
    for end in (0, 0, 0x80, 0x80, 0x80):  # "#" as an RFC 4733 event
        rtp_t.sendto(rtp_packet(101, end == 0 and seq == 0, seq, ts, ssrc,
                                bytes([11, end | 10, 3, 32])), target)  # fmt: skip
        seq += 1
    ts += 800
    await start_gate.wait()
    tone = g711.encode(struct.pack("<160h", *(int(8000 * math.sin(i / 3)) for i in range(160))), 0)
    due = loop.time()
    frames = int(seconds / 0.02)
    for _ in range(frames):
        rtp_t.sendto(rtp_packet(0, False, seq & 0xFFFF, ts, ssrc, tone), target)
        seq += 1
        ts += 160
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))
    sip_t.sendto(request("BYE", 2, tag), ("127.0.0.1", port))
    await asyncio.wait_for(sip.responses.get(), 10)
    sip_t.close()
    rtp_t.close()
    # Late packets: arrival against the stream's own timeline (timestamp / 8000 s),
    # anchored at its earliest packet; only the streaming window counts.
    arrivals = rtp.arrivals[25:]  # the greeting interrupted and the tone: after 0.5 s
    if not arrivals:
        return 0, 0, True
    t0, ts0 = arrivals[0]
    offsets = [t - t0 - ((s - ts0) & 0xFFFFFFFF) / 8000 for t, s in arrivals]
    base = min(offsets)
    late = sum(1 for o in offsets if o - base > LATE)
    return late, len(offsets), True


async def callers(port: int, count: int, seconds: float) -> tuple[int, int, int]:
    gate = asyncio.Event()
    tasks = [asyncio.create_task(one_call(port, seconds, gate)) for _ in range(count)]
    await asyncio.sleep(1.5 + count * 0.005)  # every call answered, greeting skipped
    gate.set()
    results = await asyncio.gather(*tasks)
    return (sum(r[0] for r in results), sum(r[1] for r in results),
            sum(1 for r in results if r[2]))  # fmt: skip


def run_callers(port: int, count: int, seconds: float, out: multiprocessing.Queue) -> None:
    out.put(asyncio.run(callers(port, count, seconds)))


# --- the service (this process) --------------------------------------------------------------


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="10,50,100,150,200")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    from klapka.media.prompts import Prompts
    from klapka.media.service import MediaService
    from klapka.services.config import ConfigService
    from klapka.services.pbx import Pbx
    from klapka.store.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="klapka-bench-vm-"))
    try:
        url = f"sqlite:///{tmp}/klapka.db"
        upgrade(url)
        pbx = Pbx.from_url(url)
        ConfigService(pbx).apply({"version": 1, "extensions": [{
            "number": "101", "sip_password": "Secret101ab",
            "voicemail": {"max_messages": 1000, "min_message_seconds": 0},
        }]})  # fmt: skip
        Prompts(tmp / "data" / "voicemail" / "prompts").generate()
        service = MediaService(pbx, tmp / "data", email_poll=60)
        service.start()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"media service on udp/{service.port}; {os.cpu_count()} CPUs, load average "
              f"{load}; {args.seconds:.0f} s of audio per call", flush=True)  # fmt: skip
        clean = 0
        print(f"{'streams':>8} {'late>5ms':>9} {'packets':>8} {'ticks>5ms':>9} "
              f"{'cpu total':>9} {'cpu/stream':>10} {'kept':>5}")  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        for count in (int(n) for n in args.streams.split(",")):
            before = len(service.store.messages("101"))
            out: multiprocessing.Queue = ctx.Queue()
            child = ctx.Process(target=run_callers, args=(service.port, count, args.seconds, out))
            child.start()
            time.sleep(1.5 + count * 0.005)
            ticks_late, cpu0, t0 = service.clock.late_ticks, cpu(), time.monotonic()
            time.sleep(args.seconds * 0.9)
            cpu_used, wall = cpu() - cpu0, time.monotonic() - t0
            ticks_late = service.clock.late_ticks - ticks_late
            late, packets, answered = out.get(timeout=120)
            child.join(30)
            deadline = time.monotonic() + 20
            while (
                len(service.store.messages("101")) - before < answered
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            kept = len(service.store.messages("101")) - before
            share = 100 * cpu_used / wall
            print(f"{count:>8} {late:>9} {packets:>8} {ticks_late:>9} {share:>8.1f}% "
                  f"{share / count:>9.2f}% {kept:>5}", flush=True)  # fmt: skip
            if late == 0 and ticks_late == 0 and kept == count:
                clean = max(clean, count)
        print(f"most streams with no packet late over 5 ms and every message kept: {clean}")
        service.stop()
        pbx.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
