"""Benchmark: concurrent voicemail deposits the media service carries.

The media service runs in this process (its own thread, as ``klapka serve`` runs it) over a
throwaway SQLite database; the callers run in a child process (so their CPU is not counted
as the service's). For each count in --streams, that many calls dial ``vm-101`` directly,
skip the greeting (#) and send G.711 audio for --seconds while the service records it and
sends its 20 ms RTP back. Measured:

  late      packets from the service that arrived more than 5 ms after their time: the
            kernel's receive timestamps (SO_TIMESTAMP) against each stream's RTP timestamps,
            anchored at the earliest arrival of the second before
  ticks>5ms the service's 20 ms send clock starting a tick more than 5 ms late (service side)
  cpu/stream the service process's CPU time (user+system, getrusage) over the streaming
            window, per stream, as % of one core
  kept      messages stored (each must be)

  .venv/bin/python bench/bench_voicemail.py [--streams 10,50,100,200] [--seconds 8] [--nice -10]

--nice sets the media thread's nice value as ``klapka serve`` does (-10, when permitted).

The machine is shared with other work: numbers are upper bounds of the cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import resource
import secrets
import selectors
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from klapka.media import g711
from klapka.media.rtp import parse_rtp, rtp_packet
from klapka.media.sdp import parse_offer
from klapka.media.sipmsg import SipMessage, parse

LATE = 0.005


# --- the callers (child process) -------------------------------------------------------------


class Caller(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.responses: asyncio.Queue[SipMessage] = asyncio.Queue()
        self.ack: bytes | None = None  # sent again for each retransmitted 200

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        msg = parse(data)
        if msg.is_request:
            return
        if msg.status == 200 and msg.cseq[1] == "INVITE" and self.ack is not None:
            self.transport.sendto(self.ack, addr)
            return
        self.responses.put_nowait(msg)


SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux: the kernel's receive time


class RtpReceiver(threading.Thread):
    """Reads every stream's RTP with the kernel's receive timestamps (SO_TIMESTAMP), so the
    lateness measured is the service's and the network's, not this process's scheduling."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()

    def add(self, sock: socket.socket, stream: Stream) -> None:
        self.selector.register(sock, selectors.EVENT_READ, stream)

    def run(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self.selector.select(0.1):
                sock, stream = key.fileobj, key.data
                while True:
                    try:
                        data, ancillary, _flags, _addr = sock.recvmsg(2048, 64)  # type: ignore[union-attr]
                    except (BlockingIOError, OSError):
                        break
                    at = None
                    for level, kind, value in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                            sec, usec = struct.unpack("qq", value[:16])
                            at = sec + usec / 1e6
                    parsed = parse_rtp(data)
                    if at is not None and parsed is not None and parsed[0] == 0:
                        stream.arrivals.append((at, parsed[3]))


class Stream:
    """One caller: its dialog and RTP, set up by ``dial``."""

    def __init__(self, port: int, receiver: RtpReceiver) -> None:
        self.port = port
        self.receiver = receiver
        self.arrivals: list[tuple[float, int]] = []  # (kernel receive time, RTP timestamp)
        self.call_id = secrets.token_hex(8)
        self.ssrc, self.seq, self.ts = secrets.randbits(32), 0, 0
        self.tag = ""

    def request(self, method: str, cseq: int, content: bytes = b"") -> bytes:
        msg = SipMessage(f"{method} sip:vm-101@127.0.0.1:{self.port} SIP/2.0")
        msg.headers += [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.my_sip};branch=z9hG4bK{secrets.token_hex(6)}"),
            ("From", f"<sip:bench@klapka>;tag={self.call_id[:6]}"),
            ("To", "<sip:vm-101@klapka>" + (f";tag={self.tag}" if self.tag else "")),
            ("Call-ID", self.call_id), ("CSeq", f"{cseq} {method}"),
            ("X-Klapka-Caller", "bench"), ("Contact", f"<sip:bench@127.0.0.1:{self.my_sip}>"),
        ]  # fmt: skip
        if content:
            msg.headers.append(("Content-Type", "application/sdp"))
        msg.body = content
        return msg.to_bytes()

    async def dial(self) -> bool:
        loop = asyncio.get_running_loop()
        self.sip_t, self.sip = await loop.create_datagram_endpoint(
            Caller, local_addr=("127.0.0.1", 0)
        )
        self.rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp_sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self.rtp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.rtp_sock.bind(("127.0.0.1", 0))
        self.rtp_sock.setblocking(False)
        self.receiver.add(self.rtp_sock, self)
        self.my_sip = self.sip_t.get_extra_info("sockname")[1]
        my_rtp = self.rtp_sock.getsockname()[1]
        body = (f"v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {my_rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
                f"a=rtpmap:101 telephone-event/8000\r\n").encode()  # fmt: skip
        invite = self.request("INVITE", 1, body)
        interval = 0.5
        while True:  # retransmitted until the first answer, as a SIP client does
            self.sip_t.sendto(invite, ("127.0.0.1", self.port))
            try:
                answer = await asyncio.wait_for(self.sip.responses.get(), interval)
                break
            except TimeoutError:
                interval = min(interval * 2, 4.0)
        while answer.status < 200:
            answer = await asyncio.wait_for(self.sip.responses.get(), 60)
        if answer.status != 200:
            return False
        self.tag = answer.to_tag
        self.sip.ack = self.request("ACK", 1)
        self.sip_t.sendto(self.sip.ack, ("127.0.0.1", self.port))
        remote = parse_offer(answer.body.decode())
        self.target = (remote.address, remote.port)
        for end in (0, 0, 0x80, 0x80, 0x80):  # "#" as an RFC 4733 event: skip the greeting
            self.rtp_sock.sendto(rtp_packet(101, self.seq == 0, self.seq, 0, self.ssrc,
                                         bytes([11, end | 10, 3, 32])), self.target)  # fmt: skip
            self.seq += 1
        self.ts = 800
        return True

    def send(self, payload: bytes) -> None:
        self.rtp_sock.sendto(rtp_packet(0, False, self.seq & 0xFFFF, self.ts, self.ssrc, payload),
                          self.target)  # fmt: skip
        self.seq += 1
        self.ts += 160

    async def hang_up(self) -> None:
        self.sip_t.sendto(self.request("BYE", 2), ("127.0.0.1", self.port))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sip.responses.get(), 10)
        self.sip_t.close()

    def late(self, since: float) -> tuple[int, int]:
        """Packets after ``since`` more than 5 ms later than their time: the stream's own
        timeline (RTP timestamp / 8000 s) anchored at the earliest arrival of the second
        before (so one stall counts its own packets, not every packet after it)."""
        arrivals = [(t, ts) for t, ts in self.arrivals if t >= since]
        if not arrivals:
            return 0, 0
        t0, ts0 = arrivals[0]
        offsets = [t - t0 - ((s - ts0) & 0xFFFFFFFF) / 8000 for t, s in arrivals]
        late = 0
        for i, offset in enumerate(offsets):
            if offset - min(offsets[max(0, i - 50) : i + 1]) > LATE:
                late += 1
        return late, len(offsets)


async def callers(port: int, count: int, seconds: float) -> tuple[int, int, int]:
    receiver = RtpReceiver()
    receiver.start()
    streams = [Stream(port, receiver) for _ in range(count)]
    dialled = await asyncio.gather(*(s.dial() for s in streams), return_exceptions=True)
    live = [s for s, ok in zip(streams, dialled, strict=True) if ok is True]
    for problem in {repr(d) for d in dialled if d is not True}:
        print(f"a call failed: {problem}", file=sys.stderr)
    await asyncio.sleep(1.0)  # the tone after the skipped greeting
    tone = g711.encode(struct.pack("<160h", *(int(8000 * math.sin(i / 3)) for i in range(160))), 0)
    loop = asyncio.get_running_loop()
    since = time.time()  # the kernel's timestamps are wall-clock time
    due = loop.time()
    for _ in range(int(seconds / 0.02)):  # one timer for every stream, as the service does
        for stream in live:
            stream.send(tone)
        due += 0.02
        await asyncio.sleep(max(0.0, due - loop.time()))
    await asyncio.sleep(0.2)
    receiver.stopping.set()
    receiver.join(2)
    results = [s.late(since) for s in live]
    await asyncio.gather(*(s.hang_up() for s in live))
    return sum(r[0] for r in results), sum(r[1] for r in results), len(live)


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
    parser.add_argument("--nice", type=int, default=None,
                        help="the media thread's nice value (klapka serve uses -10)")  # fmt: skip
    args = parser.parse_args()

    from klapka.media.prompts import Prompts
    from klapka.media.service import MediaService
    from klapka.services.directory.config import ConfigService
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
        service = MediaService(pbx, tmp / "data", email_poll=60, nice=args.nice)
        service.start()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"media service on udp/{service.port}; {os.cpu_count()} CPUs, load average "
              f"{load}; {args.seconds:.0f} s of audio per call", flush=True)  # fmt: skip
        clean = 0
        print(f"{'streams':>8} {'late>5ms':>9} {'packets':>8} {'ticks>5ms':>9} "
              f"{'cpu total':>9} {'cpu/stream':>10} {'kept':>5} {'failed':>6}")  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        for count in (int(n) for n in args.streams.split(",")):
            before = len(service.store.messages("101"))
            out: multiprocessing.Queue = ctx.Queue()
            child = ctx.Process(target=run_callers, args=(service.port, count, args.seconds, out))
            child.start()
            time.sleep(2.0 + count * 0.005)  # dialled, greeting skipped: streaming
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
                  f"{share / count:>9.2f}% {kept:>5} {count - answered:>6}", flush=True)  # fmt: skip
            if late == 0 and ticks_late == 0 and kept == count:
                clean = max(clean, count)
        print(f"most streams with no packet late over 5 ms and every message kept: {clean}")
        service.stop()
        pbx.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
