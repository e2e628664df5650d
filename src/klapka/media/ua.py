"""The media service's SIP user agent (UDP): server transactions for INVITE (100, then the
final answer retransmitted until ACK), CANCEL (487), BYE, INFO (DTMF) and OPTIONS; client
transactions for the BYE and NOTIFY it sends, retransmitted until answered (RFC 3261 timers).

Calls come from Kamailio on loopback; the application decides what each one does
(``on_invite``): answer, reject, play, record, read digits, hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from klapka.media import sdp
from klapka.media.rtp import Clock, RtpStream
from klapka.media.sipmsg import (
    SipError,
    SipMessage,
    display_name_of,
    new_branch,
    new_tag,
    parse,
    response,
    uri_of,
    user_of,
)

log = logging.getLogger("klapka.media")

T1, T2 = 0.5, 4.0
TRANSACTION_LIFETIME = 32.0  # 64*T1: how long answers are kept for retransmitted requests
RECEIVE_BUFFER = 4 * 1024 * 1024
ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS, NOTIFY"

Address = tuple[str, int]


class CallEnded(Exception):
    """The other side hung up (or never acknowledged the answer)."""


class Call:
    """One incoming call: its INVITE, dialog, RTP stream and DTMF digits."""

    def __init__(self, ua: UserAgent, invite: SipMessage, source: Address, offer: sdp.Offer):
        self.ua = ua
        self.invite = invite
        self.source = source
        self.offer = offer
        self.local_tag = new_tag()
        self.rtp: RtpStream | None = None
        self.answered = False
        self.acked = asyncio.Event()
        self.ended = asyncio.Event()
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.cseq = itertools.count(1)
        self.started = time.time()

    # --- who and what ----------------------------------------------------------------

    @property
    def target(self) -> str:
        """The user part of the request URI: ``vm-101``, ``vmr-101``, ``greet-101``."""
        return user_of(self.invite.uri)

    def header(self, name: str) -> str | None:
        for key, value in self.invite.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def caller_number(self) -> str:
        return self.header("X-Klapka-Caller") or user_of(uri_of(self.invite.get("From") or ""))

    @property
    def caller_name(self) -> str:
        return self.header("X-Klapka-Caller-Name") or display_name_of(self.invite.get("From") or "")

    @property
    def media_address(self) -> str:
        """Where the caller sends audio: the RTP address, or (RTP on every address) the PBX
        address the call came in on, as Kamailio reports it."""
        if self.ua.rtp_host not in ("0.0.0.0", "::"):
            return self.ua.rtp_host
        local = self.header("X-Klapka-Local") or ""
        return local if local and local not in ("0.0.0.0", "::") else "127.0.0.1"

    # --- answering and ending --------------------------------------------------------

    async def answer(self) -> None:
        codec = sdp.choose_codec(self.offer)
        if codec is None:
            self.reject(488, "Not Acceptable Here (PCMU or PCMA only)")
            raise CallEnded()
        loop = asyncio.get_running_loop()
        _transport, stream = await loop.create_datagram_endpoint(
            lambda: RtpStream(codec, self.offer.telephone_event),
            local_addr=(self.ua.rtp_host, 0),
        )
        stream.remote = (self.offer.address, self.offer.port)
        stream.on_digit = self.digits.put_nowait
        self.rtp = stream
        port = stream.transport.get_extra_info("sockname")[1] if stream.transport else 0
        body = sdp.answer(
            self.media_address, port, codec, self.offer.telephone_event, int(self.started)
        ).encode()
        ok = response(
            self.invite, 200, "OK", self.local_tag,
            [("Contact", f"<{self.ua.contact_uri}>"), ("Allow", ALLOW),
             ("Content-Type", "application/sdp")],
            body,
        )  # fmt: skip
        self.answered = True
        self.ua.send_response(self.invite, ok, self.source)
        self.ua.clock.streams.add(stream)
        self.ua.dialogs[self.invite.call_id] = self
        asyncio.get_running_loop().create_task(self._retransmit_ok(ok))

    async def _retransmit_ok(self, ok: SipMessage) -> None:
        interval, waited = T1, 0.0
        while waited < TRANSACTION_LIFETIME:
            try:
                await asyncio.wait_for(self.acked.wait(), interval)
                return
            except TimeoutError:
                pass
            if self.ended.is_set():
                return
            waited += interval
            self.ua.send(ok, self.source)
            interval = min(interval * 2, T2)
        log.warning("call %s: no ACK for the answer; hanging up", self.invite.call_id)
        await self.hangup()

    def reject(self, code: int, reason: str) -> None:
        self.ua.send_response(
            self.invite, response(self.invite, code, reason, self.local_tag), self.source
        )
        self.ua.pending.pop(self.invite.branch, None)
        self._end()

    async def hangup(self, wait: bool = True) -> None:
        """Send BYE (if the call is still up) and end it; ``wait``: until it is answered
        (retransmitting), else sent once (the service is stopping)."""
        if self.ended.is_set():
            return
        if not self.answered:
            self.reject(480, "Temporarily Unavailable")
            return
        self._end()
        invite = self.invite
        bye = SipMessage(f"BYE {uri_of(invite.get('Contact') or invite.get('From') or '')} SIP/2.0")
        bye.headers += [
            ("Via", f"SIP/2.0/UDP {self.ua.host}:{self.ua.port};branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
        ]
        bye.headers += [("Route", r) for r in invite.get_all("Record-Route")]
        to = invite.get("To") or ""
        bye.headers += [
            ("From", to if ";tag=" in to else f"{to};tag={self.local_tag}"),
            ("To", invite.get("From") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{next(self.cseq)} BYE"),
        ]
        if wait:
            await self.ua.request(bye, self.source)
        else:
            self.ua.send(bye, self.source)

    def _end(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
        if self.rtp is not None:
            self.ua.clock.streams.discard(self.rtp)
            self.rtp.close()
        self.ua.pending.pop(self.invite.branch, None)
        self.ua.loop.call_later(
            TRANSACTION_LIFETIME, self.ua.dialogs.pop, self.invite.call_id, None
        )

    # --- media ------------------------------------------------------------------------

    def check(self) -> None:
        if self.ended.is_set():
            raise CallEnded()

    async def play(self, pcm: bytes, interrupt: str = "") -> str | None:
        """Play ``pcm``; a digit in ``interrupt`` stops it and is returned."""
        self.check()
        assert self.rtp is not None
        if interrupt and not self.digits.empty():
            digit = self.digits.get_nowait()
            if digit in interrupt:
                return digit
        played = self.rtp.play(pcm)
        waiters: set[asyncio.Future[Any]] = {played, asyncio.ensure_future(self.ended.wait())}
        digit_task = asyncio.ensure_future(self.digits.get()) if interrupt else None
        if digit_task is not None:
            waiters.add(digit_task)
        try:
            while True:
                done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                self.check()
                if digit_task is not None and digit_task in done:
                    digit = digit_task.result()
                    if digit in interrupt:
                        self.rtp.stop_playing()
                        return digit
                    waiters.discard(digit_task)
                    digit_task = asyncio.ensure_future(self.digits.get())
                    waiters.add(digit_task)
                    continue
                if played in done:
                    return None
        finally:
            for w in waiters:
                if w is not played and not w.done():
                    w.cancel()

    async def digit(self, timeout: float) -> str | None:
        """The next digit, or None after ``timeout`` seconds."""
        self.check()
        get = asyncio.ensure_future(self.digits.get())
        ended = asyncio.ensure_future(self.ended.wait())
        done, _ = await asyncio.wait({get, ended}, timeout=timeout, return_when="FIRST_COMPLETED")
        for f in (get, ended):
            if not f.done():
                f.cancel()
        if get in done:
            return get.result()
        self.check()
        return None

    async def read_digits(self, timeout: float, first: str | None = None, end: str = "#") -> str:
        """Digits until ``end`` or a pause of ``timeout`` seconds."""
        out = first or ""
        if out == end:
            return ""
        while True:
            digit = await self.digit(timeout)
            if digit is None or digit == end:
                return out
            out += digit

    async def record(self, sink: Callable[[bytes], None], seconds: float, stop: str) -> str:
        """Feed received audio to ``sink`` until a digit in ``stop`` (returned), the
        time limit ("timeout") or the caller hangs up ("hangup")."""
        self.check()
        assert self.rtp is not None
        self.rtp.on_audio = sink
        try:
            deadline = time.monotonic() + seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                try:
                    digit = await self.digit(left)
                except CallEnded:
                    return "hangup"
                if digit is not None and digit in stop:
                    return digit
        finally:
            self.rtp.on_audio = None

    def info_digit(self, request: SipMessage) -> None:
        kind = (request.get("Content-Type") or "").lower()
        text = request.body.decode(errors="replace")
        if "dtmf-relay" in kind:
            match = re.search(r"Signal\s*=\s*([0-9*#A-Da-d])", text)
            if match:
                self.digits.put_nowait(match.group(1).upper())
        elif "application/dtmf" in kind and text.strip()[:1] in "0123456789*#ABCD":
            self.digits.put_nowait(text.strip()[:1])


class UserAgent(asyncio.DatagramProtocol):
    def __init__(
        self,
        host: str,
        rtp_host: str,
        on_invite: Callable[[Call], Awaitable[None]],
        clock: Clock,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_event = on_event  # JSON datagrams from the SIP core (loopback): missed calls
        self.host = host
        self.rtp_host = rtp_host
        self.port = 0
        self.on_invite = on_invite
        self.clock = clock
        self.loop = asyncio.get_event_loop()
        self.transport: asyncio.DatagramTransport | None = None
        self.answers: dict[tuple[str, str], tuple[SipMessage, float]] = {}
        self.pending: dict[str, Call] = {}  # INVITE branch -> call not yet ended
        self.dialogs: dict[str, Call] = {}  # Call-ID -> answered call
        self.client: dict[str, asyncio.Future[SipMessage]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.lost = asyncio.Event()  # the socket closed under it

    @property
    def contact_uri(self) -> str:
        return f"sip:vm@{self.host}:{self.port}"

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # a burst of INVITEs must not overflow it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    # --- sending ----------------------------------------------------------------------

    def send(self, msg: SipMessage, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(msg.to_bytes(), addr)

    def send_response(self, request: SipMessage, msg: SipMessage, addr: Address) -> None:
        """Send, and keep it for retransmissions of the request."""
        self.answers[(request.branch, request.method)] = (msg, time.monotonic())
        self.send(msg, addr)

    async def request(self, msg: SipMessage, addr: Address) -> SipMessage | None:
        """Send a non-INVITE request until a final response comes (or 32 s pass)."""
        branch = msg.branch
        future: asyncio.Future[SipMessage] = self.loop.create_future()
        self.client[branch] = future
        interval, waited = T1, 0.0
        try:
            while waited < TRANSACTION_LIFETIME:
                self.send(msg, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), interval)
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
            return None
        finally:
            self.client.pop(branch, None)

    # --- receiving --------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if data.strip() == b"":
            return  # keep-alive
        if data[:1] == b"{" and addr[0] == "127.0.0.1":
            self._event(data)
            return
        try:
            msg = parse(data)
        except SipError as e:
            log.debug("dropped a datagram from %s: %s", addr, e)
            return
        try:
            if msg.is_request:
                self._request(msg, addr)
            else:
                future = self.client.get(msg.branch)
                if future is not None and not future.done() and msg.status >= 200:
                    future.set_result(msg)
        except Exception:
            log.exception("could not handle %s from %s", msg.first_line, addr)

    def _event(self, data: bytes) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            return
        if self.on_event is not None and isinstance(event, dict):
            self.on_event(event)

    def _request(self, msg: SipMessage, addr: Address) -> None:
        method = msg.method
        if method == "ACK":
            call = self.dialogs.get(msg.call_id)
            if call is not None:
                call.acked.set()
            return
        known = self.answers.get((msg.branch, method))
        if known is not None:
            self.send(known[0], addr)  # a retransmission: the same answer again
            return
        if method == "INVITE":
            self._invite(msg, addr)
        elif method == "CANCEL":
            self._cancel(msg, addr)
        elif method == "BYE":
            call = self.dialogs.get(msg.call_id)
            if call is None:
                self.send_response(msg, response(msg, 481, "Call Does Not Exist"), addr)
                return
            self.send_response(msg, response(msg, 200, "OK"), addr)
            call._end()
        elif method == "INFO":
            call = self.dialogs.get(msg.call_id)
            if call is None:
                self.send_response(msg, response(msg, 481, "Call Does Not Exist"), addr)
                return
            call.info_digit(msg)
            self.send_response(msg, response(msg, 200, "OK"), addr)
        elif method == "OPTIONS":
            headers = [("Allow", ALLOW), ("Accept", "application/sdp")]
            self.send_response(msg, response(msg, 200, "OK", new_tag(), headers), addr)
        else:
            self.send_response(
                msg, response(msg, 405, "Method Not Allowed", new_tag(), [("Allow", ALLOW)]), addr
            )
        self._expire()

    def _invite(self, msg: SipMessage, addr: Address) -> None:
        if msg.to_tag:  # a re-INVITE (hold, a new address): same media, same answer
            call = self.dialogs.get(msg.call_id)
            if call is None or call.rtp is None:
                self.send_response(msg, response(msg, 481, "Call Does Not Exist"), addr)
                return
            try:
                offer = sdp.parse_offer(msg.body.decode(errors="replace"))
                call.rtp.remote = (offer.address, offer.port)
            except sdp.SdpError:
                pass
            port = call.rtp.transport.get_extra_info("sockname")[1] if call.rtp.transport else 0
            body = sdp.answer(call.media_address, port, call.rtp.codec,
                              call.rtp.telephone_event, int(call.started)).encode()  # fmt: skip
            ok = response(msg, 200, "OK", "", [("Contact", f"<{self.contact_uri}>"),
                                               ("Content-Type", "application/sdp")], body)  # fmt: skip
            self.send_response(msg, ok, addr)
            return
        self.send_response(msg, response(msg, 100, "Trying"), addr)
        try:
            offer = sdp.parse_offer(msg.body.decode(errors="replace"))
        except (sdp.SdpError, ValueError) as e:
            self.send_response(
                msg, response(msg, 488, f"Not Acceptable Here ({e})", new_tag()), addr
            )
            return
        call = Call(self, msg, addr, offer)
        self.pending[msg.branch] = call
        task = self.loop.create_task(self._run(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, call: Call) -> None:
        try:
            await self.on_invite(call)
        except CallEnded:
            pass
        except asyncio.CancelledError:
            await call.hangup(wait=False)  # the service stops: say goodbye once
            raise
        except Exception:
            log.exception("call %s failed", call.invite.call_id)
            if not call.answered and not call.ended.is_set():
                call.reject(500, "Server Error")
        finally:
            await call.hangup()

    def _cancel(self, msg: SipMessage, addr: Address) -> None:
        call = self.pending.get(msg.branch)
        if call is None:
            self.send_response(msg, response(msg, 481, "Call Does Not Exist"), addr)
            return
        self.send_response(msg, response(msg, 200, "OK"), addr)
        if not call.answered:
            call.reject(487, "Request Terminated")

    def _expire(self) -> None:
        if len(self.answers) < 256:
            return
        horizon = time.monotonic() - TRANSACTION_LIFETIME
        self.answers = {k: v for k, v in self.answers.items() if v[1] > horizon}
