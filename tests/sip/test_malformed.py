"""Malformed SIP never crashes or stalls the server: after each broken message, over UDP
and TCP, Kamailio is alive and a valid OPTIONS and REGISTER still get their answers within
a second."""

from __future__ import annotations

import os
import socket
import time

import pytest
from pbx4sip import Pbx4Sip

from klapka.kemi import load
from klapka.services.telephony.sip_rpc import RpcError

DOC = {"version": 1, "extensions": [{"number": "101", "sip_password": "Secret1234a"}]}


def request(
    method: str = "OPTIONS",
    uri: str = "sip:klapka",
    drop: tuple[str, ...] = (),
    cseq: str | None = None,
    extra: str = "",
    body: str = "",
    length: str | None = None,
    n: int = 1,
) -> bytes:
    headers = {
        "Via": f"SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-mal-{n}-{time.monotonic_ns()};rport",
        "From": f"<sip:101@klapka>;tag=mal{n}",
        "To": "<sip:101@klapka>",
        "Call-ID": f"malformed-{n}-{time.monotonic_ns()}@127.0.0.1",
        "CSeq": cseq if cseq is not None else f"{n} {method}",
        "Contact": "<sip:101@127.0.0.1:5999>",
        "Max-Forwards": "70",
    }
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k not in drop]
    if extra:
        lines.append(extra)
    lines.append(f"Content-Length: {length if length is not None else len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

CASES: dict[str, bytes] = {
    "no Via": request(drop=("Via",)),
    "no From": request(drop=("From",)),
    "no To": request(drop=("To",)),
    "no Call-ID": request(drop=("Call-ID",)),
    "no CSeq": request(drop=("CSeq",)),
    "REGISTER without Via": request("REGISTER", drop=("Via",)),
    "REGISTER without From and To": request("REGISTER", drop=("From", "To")),
    "REGISTER without Contact": request("REGISTER", drop=("Contact",)),
    "INVITE without Call-ID": request("INVITE", "sip:102@klapka", drop=("Call-ID",), body=SDP),
    "INVITE without Contact": request("INVITE", "sip:102@klapka", drop=("Contact",), body=SDP),
    "CSeq not a number": request(cseq="abc OPTIONS"),
    "CSeq number too big": request(cseq="99999999999999999999 OPTIONS"),
    "CSeq method mismatch": request(cseq="1 INVITE"),
    "CSeq without method": request("REGISTER", cseq="1"),
    "negative CSeq": request("REGISTER", cseq="-5 REGISTER"),
    "huge header (60 KB)": request(extra="X-Huge: " + "a" * 60_000),
    "huge Via (60 KB)": request(extra="Via: SIP/2.0/UDP " + "b" * 60_000),
    "many headers": request(extra="\r\n".join(f"X-H{i}: {i}" for i in range(3000))),
    "garbage bytes": os.urandom(1500),
    "printable garbage": b"HELLO THERE this is not SIP at all\r\n\r\n",
    "truncated request line": b"INVITE sip:102@kla",
    "truncated headers": request("INVITE", "sip:102@klapka", body=SDP)[:120],
    "Content-Length bigger than the body": request(
        "INVITE", "sip:102@klapka", body=SDP, length="5000"
    ),
    "Content-Length smaller than the body": request(
        "INVITE", "sip:102@klapka", body=SDP, length="3"
    ),
    "negative Content-Length": request(length="-1"),
    "Content-Length not a number": request(length="lots"),
    "NUL-filled": b"\x00" * 1400,
    "NULs inside headers": request().replace(b"From:", b"Fr\x00m:"),
    "bad request URI": request(uri="sip:@@@::::"),
    "unknown method": request("FROBNICATE"),
    "bad SIP version": request().replace(b"SIP/2.0\r\n", b"SIP/7.3\r\n", 1),
    "stray response": b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-x\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n",
    "bad Authorization": request(
        "REGISTER", extra='Authorization: Digest username="101", realm=, nonce="\x01\x02'
    ),
    "Authorization for an unknown user": request(
        "REGISTER",
        extra='Authorization: Digest username="' + "z" * 3000 + '", realm="klapka", '
        'nonce="n", uri="sip:klapka", response="00"',
    ),
    "Max-Forwards zero": request().replace(b"Max-Forwards: 70", b"Max-Forwards: 0"),
    "Max-Forwards not a number": request().replace(b"Max-Forwards: 70", b"Max-Forwards: x"),
    "INVITE with a To tag to nowhere": request(
        "INVITE", "sip:102@klapka", extra="Route: <sip:127.0.0.1;lr>", body=SDP
    ).replace(b"To: <sip:101@klapka>", b"To: <sip:101@klapka>;tag=nothere"),
    "ACK out of nowhere": request("ACK", cseq="1 ACK"),
    "CANCEL out of nowhere": request("CANCEL", cseq="1 CANCEL"),
    "BYE out of nowhere": request("BYE").replace(
        b"To: <sip:101@klapka>", b"To: <sip:101@klapka>;tag=t"
    ),
}


def answer(data: bytes, transport: str, port: int, timeout: float = 1.0) -> bytes:
    """Send ``data`` on a new socket and return the first answer (b"" when none came)."""
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(timeout)
        if transport == "udp":
            s.bind(("127.0.0.1", 0))
            s.sendto(data, ("127.0.0.1", port))
        else:
            s.connect(("127.0.0.1", port))
            s.sendall(data)
        try:
            return s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return b""


def register_probe(sip: Pbx4Sip, transport: str) -> bytes:
    """A REGISTER without credentials: the server must challenge it."""
    data = request("REGISTER").replace(b"SIP/2.0/UDP", f"SIP/2.0/{transport.upper()}".encode())
    return answer(data, transport, sip.port)


def shedding(sip: Pbx4Sip) -> bool:
    """Whether the SIP core sheds new requests (``load``): its flag in Kamailio."""
    try:
        return bool(int(sip.rpc.call("htable.get", "load", "shed")["item"]["value"]))
    except (OSError, RpcError, KeyError, TypeError, ValueError):
        return False  # not told yet: nothing is shed


def settle(sip: Pbx4Sip, timeout: float = 10.0) -> None:
    """Wait until the SIP core has worked off what was sent: its UDP receive queue empty and
    no load shedding, on readings more than a poll of the supervisor apart (so a decision to
    shed taken on the queue just drained has been told to Kamailio). On a loaded machine with
    Linux's default receive buffer (``net.core.rmem_max`` 212992) a burst can make it shed, and
    then a valid OPTIONS gets 503: load, not a broken message's doing."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while True:
        backlog, shed = load.udp_backlog(sip.port), shedding(sip)
        now = time.monotonic()
        if backlog or shed:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since > 1.5 * load.POLL_SECONDS:
            return
        if now > deadline:
            raise AssertionError(
                f"the SIP core did not settle within {timeout} s: {backlog} bytes waiting, "
                f"{'shedding' if shed else 'not shedding'}"
            )
        time.sleep(0.05)


def drained(sip: Pbx4Sip, timeout: float = 5.0) -> None:
    """Wait (bounded) until the SIP core's UDP receive queue is empty: at once, mostly."""
    deadline = time.monotonic() + timeout
    while load.udp_backlog(sip.port) and time.monotonic() < deadline:
        time.sleep(0.01)


def alive(sip: Pbx4Sip, transport: str) -> str | None:
    """None when Kamailio runs and answers a valid OPTIONS and REGISTER within a second."""
    if sip.core.process is None or sip.core.process.poll() is not None:
        return "kamailio is not running"
    options = request().replace(b"SIP/2.0/UDP", f"SIP/2.0/{transport.upper()}".encode())
    started = time.monotonic()
    reply = answer(options, transport, sip.port)
    if not reply.startswith(b"SIP/2.0 200"):
        return f"OPTIONS got {reply[:40]!r}"
    reply = register_probe(sip, transport)
    if not reply.startswith(b"SIP/2.0 401"):
        return f"REGISTER was not challenged: got {reply[:40]!r}"
    if time.monotonic() - started > 1.0:
        return "answers took more than a second"
    return None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_malformed_messages_never_crash_or_stall_the_server(sip: Pbx4Sip, transport: str) -> None:
    sip.apply(DOC)
    assert alive(sip, transport) is None
    problems = {}
    held: list[socket.socket] = []
    try:
        for name, data in CASES.items():
            if transport == "udp" and len(data) > 65000:
                continue
            if transport == "tcp":
                # Also leave the connection open: a peer that never finishes its message
                # must not hold anyone else up.
                s = socket.create_connection(("127.0.0.1", sip.port), timeout=1)
                s.sendall(data)
                held.append(s)
            else:
                answer(data, transport, sip.port, timeout=0.05)
                drained(sip)
            problem = alive(sip, transport)
            if problem is not None and "503" in problem:
                # Shed: a 60 KB datagram on a loaded machine with a small receive buffer can
                # make the SIP core shed for a second. Load, not the message: once it is over,
                # the server must answer at once.
                settle(sip)
                problem = alive(sip, transport)
            if problem:
                problems[name] = problem
    finally:
        for s in held:
            s.close()
    assert problems == {}
    assert sip.sipp.register("101", "Secret1234a").ok
    log = sip.core.paths.log.read_text(errors="replace")
    assert "route failed" not in log, [line for line in log.splitlines() if "route failed" in line]
    assert sip.core.restarts == 0


def test_a_header_that_is_not_utf8_gets_400_and_names_it(sip: Pbx4Sip) -> None:
    """SIP text is UTF-8: a header the adapter reads that is not (here a SUBSCRIBE's Event,
    a Windows-1252 quote in it) is the sender's mistake, answered 400 with the reason, not
    a server error."""
    sip.apply(DOC)
    data = request("SUBSCRIBE", "sip:101@klapka", extra="Event: di\x93alog").replace(
        "di\x93alog".encode(), b"di\x93alog"
    )
    got = answer(data, "udp", sip.port)
    assert got.startswith(b"SIP/2.0 400 Bad Request (not UTF-8)"), got[:80]
    log = sip.core.paths.log.read_text(errors="replace")
    assert "route failed" not in log
