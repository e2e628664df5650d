"""RTP for one call: G.711 out at 20 ms pacing, G.711 in decoded to PCM, RFC 4733
telephone-events in as DTMF digits.

Every stream of the service is paced by one ``Clock`` task: each 20 ms tick sends the next
frame of every call, so a thousand streams cost one timer, not a thousand.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
from collections.abc import Callable
from typing import Any

from klapka.media import g711

log = logging.getLogger("klapka.media")

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2  # of 16-bit PCM
TICK = 0.020
EVENTS = "0123456789*#ABCD"


def parse_rtp(data: bytes) -> tuple[int, int, int, int, bytes] | None:
    """(payload type, marker, sequence number, timestamp, payload) or None if not RTP v2."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    cc = data[0] & 0x0F
    offset = 12 + 4 * cc
    if data[0] & 0x10:  # a header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if data[0] & 0x20:  # padding
        end -= data[-1]
    if offset > end:
        return None
    seq, ts = struct.unpack_from("!HI", data, 2)
    return data[1] & 0x7F, data[1] >> 7, seq, ts, data[offset:end]


def rtp_packet(pt: int, marker: bool, seq: int, ts: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload


class RtpStream(asyncio.DatagramProtocol):
    """One call's RTP socket. Audio to send is queued PCM (``play``); audio received goes to
    ``on_audio`` as PCM (missing packets filled with silence); digits go to ``on_digit``."""

    def __init__(self, codec: int, telephone_event: int | None) -> None:
        self.codec = codec
        self.telephone_event = telephone_event
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts = secrets.randbits(32)
        self.marker = True
        self.outgoing = bytearray()  # PCM waiting to be sent
        self.played: asyncio.Future[None] | None = None
        self.on_audio: Callable[[bytes], None] | None = None
        self.on_digit: Callable[[str], None] | None = None
        self._silence = g711.silence(codec, FRAME_SAMPLES)
        self._last_seq: int | None = None
        self._last_event_ts: int | None = None
        self.received = 0
        self.sent = 0

    # --- asyncio ----------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        parsed = parse_rtp(data)
        if parsed is None:
            return
        pt, _marker, seq, ts, payload = parsed
        self.received += 1
        if pt == self.telephone_event:
            self._event(ts, payload)
        elif pt == self.codec:
            if self._last_seq is not None:
                gap = (seq - self._last_seq) & 0xFFFF
                if gap == 0 or gap > 0x8000:
                    return  # a duplicate or a late packet: its time has passed
                if 1 < gap <= 50 and self.on_audio is not None:  # lost packets: keep time
                    self.on_audio(bytes(FRAME_BYTES * (gap - 1)))
            self._last_seq = seq
            if self.on_audio is not None:
                self.on_audio(g711.decode(payload, self.codec))

    def _event(self, ts: int, payload: bytes) -> None:
        if len(payload) < 4 or payload[0] >= len(EVENTS):
            return
        if ts == self._last_event_ts:
            return  # the same key press: its updates and its three end packets
        self._last_event_ts = ts
        if self.on_digit is not None:
            self.on_digit(EVENTS[payload[0]])

    # --- sending (called by the Clock) ------------------------------------------------

    def play(self, pcm: bytes) -> asyncio.Future[None]:
        """Queue ``pcm``; the future is done when the last of it has been sent."""
        self.stop_playing()
        self.outgoing = bytearray(pcm)
        self.played = asyncio.get_running_loop().create_future()
        if not pcm:
            self.played.set_result(None)
        return self.played

    def stop_playing(self) -> None:
        self.outgoing = bytearray()
        if self.played is not None and not self.played.done():
            self.played.set_result(None)

    def tick(self) -> None:
        if self.outgoing:
            frame = bytes(self.outgoing[:FRAME_BYTES])
            del self.outgoing[:FRAME_BYTES]
            if len(frame) < FRAME_BYTES:
                frame += bytes(FRAME_BYTES - len(frame))
            payload = g711.encode(frame, self.codec)
            if not self.outgoing and self.played is not None and not self.played.done():
                self.played.set_result(None)
        else:
            payload = self._silence
        if self.transport is not None and self.remote is not None:
            packet = rtp_packet(self.codec, self.marker, self.seq, self.ts, self.ssrc, payload)
            self.transport.sendto(packet, self.remote)
            self.sent += 1
        self.marker = False
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + FRAME_SAMPLES) & 0xFFFFFFFF

    def close(self) -> None:
        self.stop_playing()
        if self.transport is not None:
            self.transport.close()


class Clock:
    """Sends one frame of every stream every 20 ms, on an absolute schedule (no drift)."""

    def __init__(self) -> None:
        self.streams: set[RtpStream] = set()
        self.task: asyncio.Task[None] | None = None
        self.late_ticks = 0  # ticks that started more than 5 ms after their time
        self.ticks = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += TICK
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness = loop.time() - due
            if lateness > 0.005:
                self.late_ticks += 1
            if lateness > 0.2:  # the loop was stalled: start a new schedule, don't burst
                due = loop.time()
            self.ticks += 1
            for stream in list(self.streams):
                try:
                    stream.tick()
                except Exception:
                    log.exception("RTP send failed")
                    self.streams.discard(stream)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
