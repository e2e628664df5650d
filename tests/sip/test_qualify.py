"""Qualify: contacts behind NAT are pinged with SIP OPTIONS (keeping the NAT binding open)
and removed when they stop answering."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import free_udp_port
from test_tls import digest

from klapka.services.pbx import Pbx
from klapka.services.telephony.registrations import Registrations
from klapka.sip.supervisor import SipCore

DOC = {"version": 1, "extensions": [{"number": "101", "sip_password": "Secret1234a"}]}
PING_SECONDS = 2  # the keepalive timeout is 4 of them: room for a loaded machine


@pytest.fixture
def fast_pings(database_url: str, tmp_path: Path) -> Iterator[Pbx4Sip]:
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, natping_interval=PING_SECONDS)
    with running(pbx, core, tmp_path / "sipp") as sip:
        yield sip


class UdpPhone:
    """A phone on a UDP socket; ``behind_nat``: it announces a private address in its Via and
    Contact (10.0.0.5:5060), as a phone behind NAT does; else its real address."""

    def __init__(self, server_port: int, behind_nat: bool) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.port = self.sock.getsockname()[1]
        self.server = ("127.0.0.1", server_port)
        self.address = "10.0.0.5:5060" if behind_nat else f"127.0.0.1:{self.port}"

    def _register(self, cseq: int, authorization: str = "") -> tuple[int, str]:
        auth = f"Authorization: {authorization}\r\n" if authorization else ""
        self.sock.sendto(
            (
                f"REGISTER sip:klapka SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.address};branch=z9hG4bK-q{cseq};rport\r\n"
                f"From: <sip:101@klapka>;tag=q1\r\nTo: <sip:101@klapka>\r\n"
                f"Call-ID: qualify-{self.port}@phone\r\nCSeq: {cseq} REGISTER\r\n"
                f"Contact: <sip:101@{self.address}>\r\n{auth}"
                f"Max-Forwards: 70\r\nUser-Agent: nat-phone\r\nExpires: 300\r\n"
                f"Content-Length: 0\r\n\r\n"
            ).encode(),
            self.server,
        )
        text = self.sock.recv(65536).decode()
        challenge = next(
            (line.split(":", 1)[1] for line in text.split("\r\n") if line.startswith("WWW-")), ""
        )
        return int(text.split(" ", 2)[1]), challenge

    def register(self, password: str) -> int:
        code, challenge = self._register(1)
        assert code == 401
        return self._register(2, digest("101", password, challenge))[0]

    def pings(self, seconds: float, answer: bool) -> list[str]:
        """The requests Kamailio sent here within ``seconds``, answered 200 if ``answer``."""
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                break
            text = data.decode(errors="replace")
            seen.append(text)
            if answer and text.startswith("OPTIONS "):
                headers = [
                    line
                    for line in text.split("\r\n")
                    if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")
                ]
                reply = (
                    "SIP/2.0 200 OK\r\n" + "\r\n".join(headers) + "\r\nContent-Length: 0\r\n\r\n"
                )
                self.sock.sendto(reply.encode(), peer)
        return seen

    def close(self) -> None:
        self.sock.close()


def test_a_contact_behind_nat_is_qualified_with_options_and_removed_when_silent(
    fast_pings: Pbx4Sip,
) -> None:
    sip = fast_pings
    sip.apply(DOC)
    phone = UdpPhone(sip.port, behind_nat=True)
    try:
        assert phone.register("Secret1234a") == 200
        contacts = sip.contacts("101")
        assert len(contacts) == 1
        # Reached at the address it came from, not the private one it announced.
        assert contacts[0]["Received"] == f"sip:127.0.0.1:{phone.port}"
        pings = phone.pings(3 * PING_SECONDS, answer=True)
        options = [p for p in pings if p.startswith("OPTIONS ")]
        assert len(options) >= 2, pings
        assert "From: <sip:keepalive@klapka>" in options[0] or "sip:keepalive@klapka" in options[0]
        # It answers: it stays registered.
        phone.pings(3 * PING_SECONDS, answer=True)
        assert len(sip.contacts("101")) == 1
        # It goes silent: after the keepalive timeout (4 pings) it is no longer registered
        # (usrloc marks it expired at once and drops it on its next timer run).
        registrations = Registrations(sip.pbx, sip.core.paths)
        assert len(registrations.of("101")) == 1
        silent_since = time.monotonic()
        while registrations.of("101") and time.monotonic() < silent_since + 40:
            phone.pings(0.5, answer=False)
        assert registrations.of("101") == []
        assert time.monotonic() - silent_since < 4 * PING_SECONDS + 20
        left = sip.contacts("101")
        assert all(c["Expires"] in ("expired", 0) for c in left), left  # or gone
        # Calls no longer ring it: nothing reaches the phone.
        sip.apply(
            {
                "version": 1,
                "extensions": [
                    *DOC["extensions"],
                    {"number": "102", "sip_password": "Secret1234b"},
                ],
            }
        )
        call = sip.sipp.call("102", "Secret1234b", "101", expect=480)
        assert call.ok, call.output
        assert [p for p in phone.pings(0.5, answer=False) if p.startswith("INVITE")] == []
    finally:
        phone.close()


def test_a_contact_not_behind_nat_is_not_pinged(fast_pings: Pbx4Sip) -> None:
    sip = fast_pings
    sip.apply(DOC)
    phone = UdpPhone(sip.port, behind_nat=False)
    try:
        assert phone.register("Secret1234a") == 200
        assert len(sip.contacts("101")) == 1
        assert [
            p for p in phone.pings(2 * PING_SECONDS, answer=True) if p.startswith("OPTIONS")
        ] == []
    finally:
        phone.close()
