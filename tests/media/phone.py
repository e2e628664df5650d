"""A small real SIP phone for the tests (asyncio, UDP): dials with digest authentication,
sends G.711 audio paced at 20 ms, DTMF as RFC 4733 events or SIP INFO, hangs up, answers
the other side's BYE, and keeps what it hears (decoded) with arrival times."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from klapka.media import g711
from klapka.media.rtp import EVENTS, parse_rtp, rtp_packet
from klapka.media.sdp import parse_offer
from klapka.media.sipmsg import SipMessage, parse, response, uri_of


def digest(user: str, password: str, challenge: str, method: str, uri: str) -> str:
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    qop = fields.get("qop")
    if qop:
        nc, cnonce = "00000001", secrets.token_hex(4)
        resp = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{resp}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')  # fmt: skip
    resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", algorithm=MD5')  # fmt: skip


class _Sip(asyncio.DatagramProtocol):
    def __init__(self, phone: Phone) -> None:
        self.phone = phone

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.phone._sip(parse(data), addr)


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, phone: Phone) -> None:
        self.phone = phone

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.phone._rtp(data)


@dataclass
class Phone:
    user: str
    password: str
    server: tuple[str, int]
    codec: int = g711.PCMU
    event_pt: int = 101
    heard: bytearray = field(default_factory=bytearray)
    arrivals: list[float] = field(default_factory=list)
    responses: asyncio.Queue[SipMessage] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[SipMessage] = field(default_factory=list)
    rings: bool = False  # a call to this phone rings (else it is busy)
    ringing: SipMessage | None = None

    async def open(self) -> Phone:
        loop = asyncio.get_running_loop()
        self.sip, _ = await loop.create_datagram_endpoint(lambda: _Sip(self),
                                                          local_addr=("127.0.0.1", 0))  # fmt: skip
        self.rtp, _ = await loop.create_datagram_endpoint(lambda: _Rtp(self),
                                                          local_addr=("127.0.0.1", 0))  # fmt: skip
        self.sip_port = self.sip.get_extra_info("sockname")[1]
        self.rtp_port = self.rtp.get_extra_info("sockname")[1]
        self.call_id = secrets.token_hex(8) + "@klapka-test"
        self.tag = secrets.token_hex(4)
        self.cseq = 0
        self.seq, self.ts, self.ssrc = 1000, 5000, secrets.randbits(32)
        self.remote_rtp: tuple[str, int] | None = None
        self.dialog: SipMessage | None = None
        return self

    def close(self) -> None:
        self.sip.close()
        self.rtp.close()

    # --- SIP ------------------------------------------------------------------------

    def _sip(self, msg: SipMessage, addr: Any) -> None:
        if msg.is_request:
            self.requests.append(msg)
            if msg.method == "BYE":
                self.sip.sendto(response(msg, 200, "OK").to_bytes(), addr)
                self.ended.set()
            elif msg.method == "INVITE" and self.rings:  # rings until cancelled
                self.ringing = msg
                self.sip.sendto(response(msg, 180, "Ringing", "ring1").to_bytes(), addr)
            elif msg.method == "CANCEL" and self.ringing is not None:
                self.sip.sendto(response(msg, 200, "OK").to_bytes(), addr)
                self.sip.sendto(
                    response(self.ringing, 487, "Request Terminated", "ring1").to_bytes(), addr
                )
            elif msg.method == "INVITE":  # a call to this phone: it is busy
                self.sip.sendto(response(msg, 486, "Busy Here", "busy1").to_bytes(), addr)
            elif msg.method != "ACK":
                self.sip.sendto(response(msg, 200, "OK").to_bytes(), addr)
        else:
            self.responses.put_nowait(msg)

    def _request(self, method: str, uri: str, to: str, extra: list[tuple[str, str]],
                 body: bytes = b"", cseq: int | None = None) -> SipMessage:  # fmt: skip
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        msg = SipMessage(f"{method} {uri} SIP/2.0")
        msg.headers += [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.sip_port};branch=z9hG4bK{secrets.token_hex(6)};rport"),
            ("Max-Forwards", "70"),
            ("From", f'"Test {self.user}" <sip:{self.user}@klapka>;tag={self.tag}'),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:{self.user}@127.0.0.1:{self.sip_port}>"),
        ]  # fmt: skip
        msg.headers += extra
        msg.body = body
        return msg

    async def final(self, timeout: float = 10) -> SipMessage:
        deadline = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.responses.get(), deadline - time.monotonic())
            if msg.status >= 200:
                return msg

    def sdp(self, codecs: tuple[int, ...]) -> bytes:
        pts = " ".join(str(c) for c in (*codecs, self.event_pt))
        names = "".join(f"a=rtpmap:{c} {g711.NAMES[c]}/8000\r\n" for c in codecs)
        return (f"v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {self.rtp_port} RTP/AVP {pts}\r\n{names}"
                f"a=rtpmap:{self.event_pt} telephone-event/8000\r\na=fmtp:{self.event_pt} 0-16\r\n"
                ).encode()  # fmt: skip

    async def dial(self, number: str, codecs: tuple[int, ...] = (g711.PCMU, g711.PCMA),
                   extra: list[tuple[str, str]] | None = None, uri: str | None = None,
                   timeout: float = 60, until_ringing: bool = False) -> SipMessage:  # fmt: skip
        """INVITE (authenticating if challenged); returns the final response (ACKed), or
        with ``until_ringing`` the 180 (the call stays up: ``cancel()`` it)."""
        uri = uri or f"sip:{number}@{self.server[0]}:{self.server[1]}"
        to = f"<sip:{number}@klapka>"
        headers = [("Content-Type", "application/sdp"), *(extra or [])]
        invite = self._request("INVITE", uri, to, headers, self.sdp(codecs))
        self.sip.sendto(invite.to_bytes(), self.server)
        final = await self.final(timeout)
        if final.status in (401, 407):
            self._ack_failure(invite, final)
            name = "Proxy-Authorization" if final.status == 407 else "Authorization"
            challenge = final.get(
                "Proxy-Authenticate" if final.status == 407 else "WWW-Authenticate"
            )
            headers.append((name, digest(self.user, self.password, challenge or "", "INVITE", uri)))
            invite = self._request("INVITE", uri, to, headers, self.sdp(codecs))
            self.sip.sendto(invite.to_bytes(), self.server)
            if until_ringing:
                self.invite = invite
                while True:
                    ringing = await asyncio.wait_for(self.responses.get(), timeout)
                    if ringing.status == 180 or ringing.status >= 200:
                        return ringing
            final = await self.final(timeout)
        self.invite = invite
        if final.status == 200:
            self.dialog = final
            offer = parse_offer(final.body.decode())
            self.remote_rtp = (offer.address, offer.port)
            self.codec = next(p for p in offer.payload_types if p in (0, 8))
            self.event_pt = offer.telephone_event or self.event_pt
            routes = list(reversed(final.get_all("Record-Route")))
            ack = self._in_dialog("ACK", cseq=int(invite.cseq[0]))
            ack.headers += [("Route", r) for r in routes]
            self.sip.sendto(ack.to_bytes(), self.server)
        else:
            self._ack_failure(invite, final)
        return final

    async def register(self) -> SipMessage:
        """REGISTER this phone's SIP port as the extension's contact (digest auth)."""
        uri = f"sip:{self.server[0]}:{self.server[1]}"
        to = f"<sip:{self.user}@klapka>"
        extra = [("Expires", "300"), ("User-Agent", "klapka-test-phone")]
        request = self._request("REGISTER", uri, to, extra)
        self.sip.sendto(request.to_bytes(), self.server)
        final = await self.final()
        if final.status == 401:
            challenge = final.get("WWW-Authenticate") or ""
            auth = digest(self.user, self.password, challenge, "REGISTER", uri)
            request = self._request("REGISTER", uri, to, [*extra, ("Authorization", auth)])
            self.sip.sendto(request.to_bytes(), self.server)
            final = await self.final()
        return final

    def _ack_failure(self, invite: SipMessage, final: SipMessage) -> None:
        ack = SipMessage(f"ACK {invite.uri} SIP/2.0")
        ack.headers += [("Via", invite.get("Via") or ""), ("Max-Forwards", "70"),
                        ("From", invite.get("From") or ""), ("To", final.get("To") or ""),
                        ("Call-ID", invite.call_id), ("CSeq", f"{invite.cseq[0]} ACK")]  # fmt: skip
        self.sip.sendto(ack.to_bytes(), self.server)

    def _in_dialog(self, method: str, cseq: int | None = None, body: bytes = b"",
                   extra: list[tuple[str, str]] | None = None) -> SipMessage:  # fmt: skip
        assert self.dialog is not None
        target = uri_of(self.dialog.get("Contact") or "")
        msg = self._request(method, target, self.dialog.get("To") or "", extra or [], body, cseq)
        msg.headers = [h for h in msg.headers if h[0] != "Contact" or method == "INVITE"]
        msg.headers += [("Route", r) for r in reversed(self.dialog.get_all("Record-Route"))]
        return msg

    def cancel(self) -> None:
        """CANCEL the INVITE in progress (sent with ``dial(..., wait=False)``)."""
        invite = self.invite
        cancel = SipMessage(f"CANCEL {invite.uri} SIP/2.0")
        cancel.headers += [("Via", invite.get("Via") or ""), ("Max-Forwards", "70"),
                           ("From", invite.get("From") or ""), ("To", invite.get("To") or ""),
                           ("Call-ID", invite.call_id), ("CSeq", f"{invite.cseq[0]} CANCEL")]  # fmt: skip
        self.sip.sendto(cancel.to_bytes(), self.server)

    async def bye(self) -> SipMessage:
        self.sip.sendto(self._in_dialog("BYE").to_bytes(), self.server)
        return await self.final()

    async def info(self, digit: str) -> SipMessage:
        body = f"Signal={digit}\r\nDuration=160\r\n".encode()
        msg = self._in_dialog("INFO", body=body,
                              extra=[("Content-Type", "application/dtmf-relay")])  # fmt: skip
        self.sip.sendto(msg.to_bytes(), self.server)
        return await self.final()

    # --- RTP ------------------------------------------------------------------------

    def _rtp(self, data: bytes) -> None:
        parsed = parse_rtp(data)
        if parsed is None or parsed[0] != self.codec:
            return
        self.arrivals.append(time.monotonic())
        self.heard += g711.decode(parsed[4], self.codec)

    def _send(self, pt: int, payload: bytes, marker: bool = False, ts: int | None = None) -> None:
        assert self.remote_rtp is not None
        packet = rtp_packet(pt, marker, self.seq, self.ts if ts is None else ts, self.ssrc, payload)
        self.rtp.sendto(packet, self.remote_rtp)
        self.seq = (self.seq + 1) & 0xFFFF

    async def send_audio(self, pcm: bytes) -> None:
        """Send 16-bit PCM as G.711, one 20 ms packet every 20 ms."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        for start in range(0, len(pcm), 320):
            frame = pcm[start : start + 320].ljust(320, b"\0")
            self._send(self.codec, g711.encode(frame, self.codec))
            self.ts = (self.ts + 160) & 0xFFFFFFFF
            due += 0.02
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def dtmf(self, digits: str, gap: float = 0.25) -> None:
        """RFC 4733 events: each key 100 ms (updates, then the end packet three times)."""
        for digit in digits:
            event = EVENTS.index(digit)
            ts = self.ts
            for i, duration in enumerate((160, 480, 800)):
                self._send(self.event_pt, bytes([event, 10]) + duration.to_bytes(2, "big"),
                           marker=i == 0, ts=ts)  # fmt: skip
                await asyncio.sleep(0.02)
            for _ in range(3):
                self._send(self.event_pt, bytes([event, 0x80 | 10]) + (800).to_bytes(2, "big"),
                           ts=ts)  # fmt: skip
            self.ts = (self.ts + 800) & 0xFFFFFFFF
            await asyncio.sleep(gap)
