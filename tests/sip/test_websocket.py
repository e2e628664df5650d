"""SIP over WebSocket (RFC 7118): browser clients register as the `web` endpoint class and
are rung on their WebSocket."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from parity import assert_parity, mark
from pbx4sip import Pbx4Sip, running
from sipp import free_udp_port
from test_tls import digest, free_tcp_port
from test_transfer import SDP, reply

from klapka.services.pbx import Pbx
from klapka.services.telephony.registrations import Registrations
from klapka.sip.media_relay import rtpengine_binary
from klapka.sip.supervisor import SipCore
from klapka.sip.tls import (
    TlsFiles,
    ensure_certificate,
    tls_module_available,
    websocket_module_available,
)

websockets_sync = pytest.importorskip("websockets.sync.client")


def rtpengine_available() -> bool:
    return rtpengine_binary() is not None


pytestmark = pytest.mark.slow

PASSWORDS = {"101": "Secret1234a", "102": "Secret1234b"}
DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": pw} for n, pw in PASSWORDS.items()],
}
HOST = "df7jal23ls0d.invalid"  # what browser SIP stacks (JsSIP, SIP.js) put in Via and Contact


@pytest.fixture
def ws_sip(database_url: str, tmp_path: Path) -> Iterator[Pbx4Sip]:
    if not websocket_module_available():
        pytest.skip("kamailio-websocket-modules is needed (scripts/setup-env.sh installs it)")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, ws_port=free_tcp_port())
    with running(pbx, core, tmp_path / "sipp") as sip:
        assert core.ws_port and not core.warnings
        yield sip


@pytest.fixture
def wss_sip(database_url: str, tmp_path: Path) -> Iterator[Pbx4Sip]:
    if not (websocket_module_available() and tls_module_available()):
        pytest.skip("kamailio-websocket-modules and kamailio-tls-modules are needed")
    data = tmp_path / "data"
    ensure_certificate(TlsFiles(data / "tls"), "pbx.test")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(
        pbx, data, "127.0.0.1", port, port, tls_port=free_tcp_port(), wss_port=free_tcp_port()
    )
    with running(pbx, core, tmp_path / "sipp") as sip:
        assert core.wss_port and not core.warnings
        yield sip


class BrowserPhone:
    """A browser's SIP stack: SIP messages as WebSocket text frames, subprotocol `sip`."""

    def __init__(self, port: int, user: str, certificate: Path | None = None) -> None:
        self.user = user
        self.stack = ExitStack()
        if certificate is None:
            connection = websockets_sync.connect(f"ws://127.0.0.1:{port}", subprotocols=["sip"])
        else:  # wss: the browser trusts the PBX's certificate (it names pbx.test)
            context = ssl.create_default_context(cafile=str(certificate))
            context.check_hostname = False
            connection = websockets_sync.connect(
                f"wss://127.0.0.1:{port}", subprotocols=["sip"], ssl=context
            )
        self.ws = self.stack.enter_context(connection)
        self.contact = f"sip:{user}x7@{HOST};transport=ws"

    def send(self, text: str) -> None:
        self.ws.send(text.replace("\n", "\r\n"))

    def receive(self, timeout: float = 10) -> tuple[str, dict[str, str], str]:
        """(first line, headers by lower-case name, the raw message)."""
        raw = str(self.ws.recv(timeout=timeout))
        head = raw.split("\r\n\r\n", 1)[0].split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        return head[0], headers, raw

    def register(self, cseq: int, authorization: str = "") -> tuple[str, dict[str, str], str]:
        auth = f"Authorization: {authorization}\n" if authorization else ""
        self.send(
            f"REGISTER sip:klapka SIP/2.0\n"
            f"Via: SIP/2.0/WS {HOST};branch=z9hG4bK-ws-{cseq}\n"
            f"From: <sip:{self.user}@klapka>;tag=ws1\n"
            f"To: <sip:{self.user}@klapka>\n"
            f"Call-ID: ws-register-{self.user}\n"
            f"CSeq: {cseq} REGISTER\n"
            f"Contact: <{self.contact}>;expires=300\n"
            f"{auth}Max-Forwards: 70\nUser-Agent: JsSIP 3.10.1\n"
            f"Content-Length: 0\n\n"
        )
        return self.receive()

    def register_with_password(self, password: str) -> str:
        first, headers, _ = self.register(1)
        assert first.startswith("SIP/2.0 401"), first
        answer = digest(self.user, password, headers["www-authenticate"])
        return self.register(2, answer)[0]

    def close(self) -> None:
        self.stack.close()


def test_a_browser_registers_over_websocket_as_a_web_client(ws_sip: Pbx4Sip) -> None:
    ws_sip.apply(DOC)
    assert ws_sip.core.ws_port is not None
    phone = BrowserPhone(ws_sip.core.ws_port, "102")
    try:
        assert phone.register_with_password(PASSWORDS["102"]).startswith("SIP/2.0 200")
    finally:
        phone.close()
    (registration,) = Registrations(ws_sip.pbx, ws_sip.core.paths).of("102")
    assert registration["endpoint"] == "web"
    assert registration["transport"] == "ws"
    assert registration["user_agent"] == "JsSIP 3.10.1"


def test_plain_http_on_the_websocket_port_is_not_found(ws_sip: Pbx4Sip) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{ws_sip.core.ws_port}/", timeout=5)
    assert refused.value.code == 404


def test_the_sip_tcp_port_does_not_open_websockets(ws_sip: Pbx4Sip) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        websockets_sync.connect(f"ws://127.0.0.1:{ws_sip.core.tcp_port}", subprotocols=["sip"])
    assert refused.value.response.status_code == 404


def test_a_call_rings_the_browser_on_its_websocket(ws_sip: Pbx4Sip) -> None:
    """101 (a UDP phone) calls 102, registered only in a browser: the INVITE arrives on the
    browser's WebSocket, the browser answers, 101 hangs up; the simulator predicted it."""
    ws_sip.apply(DOC)
    assert ws_sip.core.ws_port is not None
    phone = BrowserPhone(ws_sip.core.ws_port, "102")
    seen: list[str] = []

    def answer() -> None:
        while True:
            first, _, raw = phone.receive(timeout=20)
            seen.append(first)
            if first.startswith("INVITE"):
                phone.ws.send(reply(raw, "180 Ringing", phone.contact, to_tag="ws102"))
                phone.ws.send(reply(raw, "200 OK", phone.contact, SDP, to_tag="ws102"))
            elif first.startswith("BYE"):
                phone.ws.send(reply(raw, "200 OK", phone.contact))
                return

    try:
        assert phone.register_with_password(PASSWORDS["102"]).startswith("SIP/2.0 200")
        browser = threading.Thread(target=answer, daemon=True)
        browser.start()
        since = mark(ws_sip)
        call = ws_sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        browser.join(timeout=20)
    finally:
        phone.close()
    assert [re.split(r"\s", s)[0] for s in seen] == ["INVITE", "ACK", "BYE"]
    assert_parity(ws_sip, since, "101", "102", list(PASSWORDS), {"answer": ["102"]})


def test_a_browser_registers_over_secure_websocket(wss_sip: Pbx4Sip) -> None:
    wss_sip.apply(DOC)
    assert wss_sip.core.wss_port is not None
    certificate = wss_sip.core.tls_files.certificate
    phone = BrowserPhone(wss_sip.core.wss_port, "102", certificate)
    try:
        assert phone.register_with_password(PASSWORDS["102"]).startswith("SIP/2.0 200")
    finally:
        phone.close()
    (registration,) = Registrations(wss_sip.pbx, wss_sip.core.paths).of("102")
    assert (registration["endpoint"], registration["transport"]) == ("web", "wss")


def test_a_websocket_port_held_by_another_program_turns_websocket_off_not_the_sip_core(
    database_url: str, tmp_path: Path
) -> None:
    import socket

    if not websocket_module_available():
        pytest.skip("kamailio-websocket-modules is needed (scripts/setup-env.sh installs it)")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, ws_port=busy)
        with running(pbx, core, tmp_path / "sipp") as sip:
            assert core.ws_port is None
            assert core.warnings == [
                f"SIP over WebSocket is off: port {busy} is in use on 127.0.0.1"
            ]
            sip.apply(DOC)
            assert sip.sipp.register("101", PASSWORDS["101"]).ok


def test_a_browsers_reinvite_keeps_the_dialog_reachable(ws_sip: Pbx4Sip) -> None:
    """A browser that answered re-INVITEs (hold, session timer) with its made-up .invalid
    Contact: the caller sees a Contact that reaches the browser, and its BYE does."""
    from test_calls import doc
    from test_transfer import Message, RawPhone

    ws_sip.apply(doc())
    assert ws_sip.core.ws_port is not None
    browser = BrowserPhone(ws_sip.core.ws_port, "102")
    caller = RawPhone(ws_sip.port, "101")
    try:
        assert browser.register_with_password(caller_password("102")).startswith("SIP/2.0 200")
        caller.call("102", "reinvite-call")
        _, _, raw = browser.receive()
        invite = Message(raw.encode())
        assert invite.first.startswith("INVITE")
        browser.ws.send(reply(raw, "200 OK", browser.contact, SDP, to_tag="ws102"))
        answered = caller.wait("SIP/2.0 200")
        # The browser puts the call on hold: a re-INVITE along the dialog's route set.
        routes = "".join(f"Route: {r}\r\n" for r in invite.all("record-route"))
        browser.send(
            f"INVITE {invite.get('contact').strip('<>')} SIP/2.0\n"
            f"Via: SIP/2.0/WS {HOST};branch=z9hG4bK-ws-hold\n{routes}"
            f"From: {invite.get('to')};tag=ws102\nTo: {invite.get('from')}\n"
            f"Call-ID: {invite.get('call-id')}\nCSeq: 1 INVITE\nContact: <{browser.contact}>\n"
            f"Max-Forwards: 70\nContent-Type: application/sdp\nContent-Length: {len(SDP)}\n\n"
            + SDP.replace("\r\n", "\n")
        )
        hold = caller.wait("INVITE")
        assert ".invalid" not in hold.get("contact") and "transport=ws" in hold.get("contact")
        caller.send(reply(hold.raw, "200 OK", caller.contact))
        while (answer := browser.receive()[0]).startswith("SIP/2.0 100"):
            pass  # Trying, from the proxy
        assert answer.startswith("SIP/2.0 200"), answer
        # The caller hangs up: to the Contact the re-INVITE gave, along the route set.
        back = "".join(f"Route: {r}\r\n" for r in reversed(answered.all("record-route")))
        caller.send(
            f"BYE {hold.get('contact').strip('<>')} SIP/2.0\r\nVia: {caller.via()}\r\n{back}"
            f"From: {answered.get('from')}\r\nTo: {answered.get('to')}\r\n"
            f"Call-ID: {answered.get('call-id')}\r\nCSeq: 3 BYE\r\nMax-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n"
        )
        assert browser.receive()[0].startswith("BYE")
    finally:
        browser.close()
        caller.sock.close()


def caller_password(number: str) -> str:
    from test_calls import PASSWORDS as CALL_PASSWORDS

    return CALL_PASSWORDS[number]


WEBRTC_OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 51000 typ host generation 0\r\n"
    "a=ice-ufrag:Yx3p\r\na=ice-pwd:2vVd7IsaBNXxhGNLqKx6MrHO\r\na=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 0B:DE:5A:96:8D:90:07:1C:08:8A:6B:8B:7F:2D:E0:1B:3C:7E:0D:6A:11:"
    "2D:33:3C:B7:9C:4F:6A:0E:2E:4B:1D\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n"
)


@pytest.mark.skipif(not rtpengine_available(), reason="rtpengine is not installed")
def test_a_browser_is_offered_webrtc_media_by_the_relay_and_a_phone_plain_rtp(
    ws_sip: Pbx4Sip,
) -> None:
    """Browsers speak WebRTC (ICE, DTLS-SRTP), phones plain RTP: a call between them is
    anchored. 101 (a phone) calls 102 (a browser): the browser's INVITE carries the relay's
    ICE candidates and DTLS fingerprint; its WebRTC answer reaches 101 as plain RTP. And
    the browser calling 103: 103 gets plain RTP, without ICE."""
    from test_calls import doc
    from test_transfer import Message, RawPhone

    ws_sip.apply(doc())
    assert ws_sip.core.ws_port is not None
    browser = BrowserPhone(ws_sip.core.ws_port, "102")
    caller = RawPhone(ws_sip.port, "101")
    try:
        assert browser.register_with_password(caller_password("102")).startswith("SIP/2.0 200")
        caller.call("102", "webrtc-call")
        _, _, raw = browser.receive()
        invite = Message(raw.encode())
        assert invite.first.startswith("INVITE")
        assert "UDP/TLS/RTP/SAVPF" in invite.body and "a=candidate:" in invite.body, invite.body
        assert "a=fingerprint:" in invite.body and "a=ice-ufrag:" in invite.body
        mid = re.search(r"^a=mid:(\S+)", invite.body, re.MULTILINE)
        answer_sdp = WEBRTC_OFFER.replace("actpass", "active").replace(
            "a=mid:0", f"a=mid:{mid.group(1) if mid else '0'}"
        )
        browser.ws.send(reply(raw, "200 OK", browser.contact, answer_sdp, to_tag="ws102"))
        answered = caller.wait("SIP/2.0 200")
        assert re.search(r"^m=audio \d+ RTP/AVP ", answered.body, re.MULTILINE), answered.body
        assert "a=candidate" not in answered.body and "a=fingerprint" not in answered.body
        # The browser calls 103 (101 is busy in the call above).
        callee = RawPhone(ws_sip.port, "103")
        callee.register()
        invite_101 = (
            "INVITE sip:103@klapka SIP/2.0\n"
            f"Via: SIP/2.0/WS {HOST};branch=z9hG4bK-ws-out{{n}}\n"
            "From: <sip:102@klapka>;tag=wsout\nTo: <sip:103@klapka>\n"
            "Call-ID: webrtc-out\nCSeq: {n} INVITE\n"
            f"Contact: <{browser.contact}>\nMax-Forwards: 70\n{{auth}}"
            f"Content-Type: application/sdp\nContent-Length: {len(WEBRTC_OFFER)}\n\n"
        )
        browser.send(invite_101.format(n=1, auth="") + WEBRTC_OFFER.replace("\r\n", "\n"))
        while not (got := browser.receive())[0].startswith("SIP/2.0 407"):
            pass
        answer = digest("102", caller_password("102"), got[1]["proxy-authenticate"],
                        "sip:103@klapka", "INVITE")  # fmt: skip
        browser.send(
            invite_101.format(n=2, auth=f"Proxy-Authorization: {answer}\n")
            + WEBRTC_OFFER.replace("\r\n", "\n")
        )
        rung = callee.wait("INVITE")
        callee.sock.close()
        assert re.search(r"^m=audio \d+ RTP/AVP ", rung.body, re.MULTILINE), rung.body
        assert "a=candidate" not in rung.body and "a=fingerprint" not in rung.body
        assert "a=ice-ufrag" not in rung.body
    finally:
        browser.close()
        caller.sock.close()
