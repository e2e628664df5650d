"""Benchmark: the media relay (klapka's supervised rtpengine) under simultaneous anchored
calls, next to the same streams sent directly, in the same run, on 127.0.0.1.

For each call two endpoints (A, B) are set up through the relay with the control protocol
(offer, answer: what Kamailio's rtpengine module sends), then every endpoint sends 20 ms
G.711 packets (160 bytes of payload, 50 a second) for ``--seconds``. The same streams are
then sent straight from A to B. Printed: packets lost, the RFC 3550 interarrival jitter
(p50/p99 over streams) and the one-way delay (p50/p99 over packets) with and without the
relay, the relay's CPU per stream, and the time of an offer + answer (what anchoring adds
to a call's setup).

    .venv/bin/python bench/bench_media.py [--calls 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from klapka.kemi.anchor import answer_flags, interface_name
from klapka.sip.media_relay import MediaRelay, rtpengine_binary

PTIME = 0.020
PAYLOAD = 160
GROUPS = 10  # the streams are spread over the 20 ms in this many groups


def bencode(x: Any) -> bytes:
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(x.items())) + b"e"


def bdecode(s: bytes, i: int = 0) -> tuple[Any, int]:
    c = s[i : i + 1]
    if c == b"i":
        j = s.index(b"e", i)
        return int(s[i + 1 : j]), j + 1
    if c in (b"l", b"d"):
        i += 1
        items = []
        while s[i : i + 1] != b"e":
            v, i = bdecode(s, i)
            items.append(v)
        if c == b"l":
            return items, i + 1
        return {items[k].decode(): items[k + 1] for k in range(0, len(items), 2)}, i + 1
    j = s.index(b":", i)
    n = int(s[i:j])
    return s[j + 1 : j + 1 + n], j + 1 + n


class Ng:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2)
        self.address = ("127.0.0.1", port)

    def __call__(self, command: dict[str, Any]) -> dict[str, Any]:
        cookie = secrets.token_hex(4).encode()
        self.sock.sendto(cookie + b" " + bencode(command), self.address)
        while True:
            data = self.sock.recv(65535)
            if data.startswith(cookie + b" "):
                answer: dict[str, Any] = bdecode(data.split(b" ", 1)[1])[0]
                if answer.get("result") != b"ok":
                    raise RuntimeError(f"rtpengine: {answer}")
                return answer


def sdp(port: int) -> str:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    )


def media_port(text: bytes) -> int:
    for line in text.decode().split("\r\n"):
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise ValueError(text)


class Stream:
    """One direction of one call: who sends where, what arrived."""

    def __init__(self, sender: socket.socket, to: tuple[str, int], ssrc: int) -> None:
        self.sender, self.to, self.ssrc = sender, to, ssrc
        self.seq = 0
        self.arrivals: list[tuple[float, float]] = []  # (sent at, arrived at)

    def send(self) -> None:
        now = time.perf_counter()
        header = struct.pack("!BBHII", 0x80, 8, self.seq & 0xFFFF, self.seq * 160, self.ssrc)
        body = struct.pack("!d", now) + bytes(PAYLOAD - 8)
        self.sender.sendto(header + body, self.to)
        self.seq += 1


class Receiver(asyncio.DatagramProtocol):
    def __init__(self, streams: dict[int, Stream]) -> None:
        self.streams = streams

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.perf_counter()
        ssrc = struct.unpack("!I", data[8:12])[0]
        stream = self.streams.get(ssrc)
        if stream is not None and len(data) >= 20:
            stream.arrivals.append((struct.unpack("!d", data[12:20])[0], now))


def jitter(arrivals: list[tuple[float, float]]) -> float:
    """RFC 3550 interarrival jitter (seconds) at the end of the stream."""
    j = 0.0
    for (s0, r0), (s1, r1) in itertools.pairwise(arrivals):
        d = (r1 - r0) - (s1 - s0)
        j += (abs(d) - j) / 16
    return j


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send_for(streams: list[Stream], seconds: float) -> None:
    groups = [streams[i::GROUPS] for i in range(GROUPS)]
    start = time.perf_counter()
    tick = 0
    while True:
        at = start + tick * PTIME / GROUPS
        if at - start >= seconds:
            break
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        for stream in groups[tick % GROUPS]:
            stream.send()
        tick += 1
    await asyncio.sleep(0.3)  # the last packets arrive


async def run_phases(
    pid: int, phases: list[list[tuple[Stream, Stream]]], receivers: list[socket.socket],
    seconds: float,
) -> tuple[list[list[Stream]], list[float]]:  # fmt: skip
    """Send each phase's streams in turn; the streams and the relay's CPU (cores) of each."""
    loop = asyncio.get_running_loop()
    by_ssrc = {s.ssrc: s for phase in phases for pair in phase for s in pair}
    transports = []
    for sock in receivers:
        transport, _ = await loop.create_datagram_endpoint(lambda: Receiver(by_ssrc), sock=sock)
        transports.append(transport)
    done, cpus = [], []
    for phase in phases:
        streams = [s for pair in phase for s in pair]
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        await send_for(streams, seconds)
        cpus.append((cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0))
        done.append(streams)
    for transport in transports:
        transport.close()
    return done, cpus


def report(name: str, streams: list[Stream], seconds: float) -> dict[str, float]:
    expected = sum(s.seq for s in streams)
    received = sum(len(s.arrivals) for s in streams)
    jitters = [jitter(s.arrivals) * 1000 for s in streams if len(s.arrivals) > 1]
    delays = [(r - t) * 1000 for s in streams for t, r in s.arrivals]
    out = {
        "lost": expected - received,
        "loss_pct": 100 * (expected - received) / max(1, expected),
        "jitter_p50": percentile(jitters, 50),
        "jitter_p99": percentile(jitters, 99),
        "delay_p50": percentile(delays, 50),
        "delay_p99": percentile(delays, 99),
    }
    print(f"  {name:<8} {len(streams)} streams x {seconds:.0f} s: {expected} sent, "
          f"{out['lost']} lost ({out['loss_pct']:.3f} %), jitter p50 {out['jitter_p50']:.2f} ms "
          f"p99 {out['jitter_p99']:.2f} ms, one-way delay p50 {out['delay_p50']:.2f} ms "
          f"p99 {out['delay_p99']:.2f} ms")  # fmt: skip
    return out


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if rtpengine_binary() is None:
        sys.exit("rtpengine is not installed (rtpengine-daemon)")
    with tempfile.TemporaryDirectory(prefix="klapka-bench-media-") as tmp:
        relay = MediaRelay(Path(tmp), 30000, 30000 + 8 * args.calls)
        if not relay.start(("127.0.0.1",)):
            sys.exit(f"rtpengine did not start: {(Path(tmp) / 'rtpengine.log').read_text()}")
        try:
            bench(relay, args.calls, args.seconds)
        finally:
            relay.stop()


def bench(relay: MediaRelay, calls: int, seconds: float) -> None:
    assert relay.process is not None
    ng = Ng(relay.ng_port)
    side = interface_name("127.0.0.1")
    setups, anchored, direct, receivers = [], [], [], []
    for i in range(calls):
        a, b = udp(), udp()
        receivers += [a, b]
        pa, pb = a.getsockname()[1], b.getsockname()[1]
        started = time.perf_counter()
        offer = ng({"command": "offer", "call-id": f"bench-{i}", "from-tag": f"a{i}",
                    "sdp": sdp(pa), "flags": [], "replace": ["origin", "session-connection"],
                    "direction": [side, side]})  # fmt: skip
        answer = ng({"command": "answer", "call-id": f"bench-{i}", "from-tag": f"a{i}",
                     "to-tag": f"b{i}", "sdp": sdp(pb),
                     "replace": ["origin", "session-connection"]})  # fmt: skip
        setups.append((time.perf_counter() - started) * 1000)
        to_b, to_a = media_port(offer["sdp"]), media_port(answer["sdp"])
        anchored.append((Stream(a, ("127.0.0.1", to_a), 2 * i + 1),
                         Stream(b, ("127.0.0.1", to_b), 2 * i + 2)))  # fmt: skip
        direct.append((Stream(a, ("127.0.0.1", pb), 100000 + 2 * i + 1),
                       Stream(b, ("127.0.0.1", pa), 100000 + 2 * i + 2)))  # fmt: skip
    assert answer_flags()  # the adapter's answer flags: the same replace flags as here
    print(f"bench_media: {calls} calls ({2 * calls} streams of 50 packets/s) through klapka's "
          f"rtpengine (userspace forwarding), {os.cpu_count()} cores shared")  # fmt: skip
    print(f"  setup through the relay (offer + answer): p50 {percentile(setups, 50):.2f} ms, "
          f"p99 {percentile(setups, 99):.2f} ms")  # fmt: skip
    (through, around), (cpu, _) = asyncio.run(
        run_phases(relay.process.pid, [anchored, direct], receivers, seconds)
    )
    relayed = report("relayed", through, seconds)
    straight = report("direct", around, seconds)
    print(f"  added by the relay: jitter p99 {relayed['jitter_p99'] - straight['jitter_p99']:+.2f} "
          f"ms, one-way delay p99 {relayed['delay_p99'] - straight['delay_p99']:+.2f} ms, "
          f"{relayed['lost'] - straight['lost']:+d} packets lost")  # fmt: skip
    print(f"  relay CPU: {100 * cpu:.1f} % of a core, {1000 * cpu / (2 * calls):.3f} ms CPU per "
          f"stream-second ({1e6 * cpu / (2 * calls * 50):.1f} us per packet)")  # fmt: skip


if __name__ == "__main__":
    main()
