"""Registration as a user expects it: a new desk phone at the limit replaces the oldest, the
extension's transport, NAT and qualify settings act, and a tightened restriction removes the
registrations it no longer allows at once."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import free_udp_port
from test_tls import TlsPhone, digest, tls_sip  # noqa: F401  (tls_sip: a fixture)

from klapka.kemi.registration_rules import (
    address_allowed,
    agent_allowed,
    rules_of,
    transport_refused,
)
from klapka.services.pbx import Pbx
from klapka.services.telephony.registrations import contact_allowed
from klapka.sip.supervisor import SipCore

PING_SECONDS = 2

DOC: dict[str, Any] = {
    "version": 1,
    "extensions": [
        {"number": "101", "sip_password": "Secret1234a"},
        {"number": "102", "sip_password": "Secret1234b", "concurrent_registrations": 2},
        {"number": "103", "sip_password": "Secret1234c", "advanced": {"transport": "tcp"}},
        {"number": "104", "sip_password": "Secret1234d", "advanced": {"transport": "tls"}},
        {"number": "105", "sip_password": "Secret1234e", "advanced": {"nat": False}},
        {"number": "106", "sip_password": "Secret1234f", "advanced": {"qualify": False}},
    ],
}
PASSWORDS = {e["number"]: e["sip_password"] for e in DOC["extensions"]}


class RawPhone:
    """A phone on its own UDP socket or TCP connection, writing its REGISTER by hand.
    ``advertised``: the address it puts in its Via and Contact (a private one, as a phone
    behind NAT does), else its real one."""

    def __init__(
        self, server_port: int, transport: str = "udp", advertised: str | None = None
    ) -> None:
        self.transport = transport
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.settimeout(3)
        self.server = ("127.0.0.1", server_port)
        if transport == "udp":
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock.connect(self.server)
        self.port = self.sock.getsockname()[1]
        self.address = advertised or f"127.0.0.1:{self.port}"
        self.buffer = b""

    def _send(self, text: str) -> None:
        if self.transport == "udp":
            self.sock.sendto(text.encode(), self.server)
        else:
            self.sock.sendall(text.encode())

    def receive(self) -> str:
        """The next message Kamailio sends here."""
        if self.transport == "udp":
            return self.sock.recv(65536).decode(errors="replace")
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, rest = self.buffer.split(b"\r\n\r\n", 1)
        length = next(
            (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
             if line.lower().startswith(b"content-length")),
            0,
        )  # fmt: skip
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buffer = rest[length:]
        return (head + b"\r\n\r\n" + rest[:length]).decode(errors="replace")

    def _response(self) -> str:
        while True:
            text = self.receive()
            if text.startswith("SIP/2.0 "):
                return text

    def _register(self, user: str, cseq: int, agent: str, authorization: str) -> str:
        auth = f"Authorization: {authorization}\r\n" if authorization else ""
        params = "" if self.transport == "udp" else f";transport={self.transport}"
        self._send(
            f"REGISTER sip:klapka SIP/2.0\r\n"
            f"Via: SIP/2.0/{self.transport.upper()} {self.address};branch=z9hG4bK-r{cseq};rport\r\n"
            f"From: <sip:{user}@klapka>;tag=r1\r\nTo: <sip:{user}@klapka>\r\n"
            f"Call-ID: rules-{self.port}@phone\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{user}@{self.address}{params}>\r\n{auth}"
            f"Max-Forwards: 70\r\nUser-Agent: {agent}\r\nExpires: 300\r\n"
            f"Content-Length: 0\r\n\r\n"
        )
        return self._response()

    def register(self, user: str, agent: str = "raw-phone") -> str:
        """The status line of the answer to the authenticated REGISTER."""
        challenge_answer = self._register(user, 1, agent, "")
        assert challenge_answer.startswith("SIP/2.0 401"), challenge_answer
        challenge = next(
            line.split(":", 1)[1]
            for line in challenge_answer.split("\r\n")
            if line.startswith("WWW-Authenticate")
        )
        answer = self._register(user, 2, agent, digest(user, PASSWORDS[user], challenge))
        return answer.split("\r\n", 1)[0]

    def pings(self, seconds: float) -> list[str]:
        """The OPTIONS Kamailio sent here within ``seconds`` (each answered 200)."""
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                text = self.receive()
            except (TimeoutError, ConnectionError):
                break
            if text.startswith("OPTIONS "):
                seen.append(text)
                headers = [
                    line
                    for line in text.split("\r\n")
                    if line.split(":", 1)[0].lower() in ("via", "from", "to", "call-id", "cseq")
                ]
                self._send(
                    "SIP/2.0 200 OK\r\n" + "\r\n".join(headers) + "\r\nContent-Length: 0\r\n\r\n"
                )
        return seen

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def phones(sip: Pbx4Sip) -> Iterator[Callable[..., RawPhone]]:
    made: list[RawPhone] = []

    def make(transport: str = "udp", advertised: str | None = None) -> RawPhone:
        made.append(RawPhone(sip.port, transport, advertised))
        return made[-1]

    yield make
    for phone in made:
        phone.close()


@pytest.fixture
def fast_pings(database_url: str, tmp_path: Path) -> Iterator[Pbx4Sip]:
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, natping_interval=PING_SECONDS)
    with running(pbx, core, tmp_path / "sipp") as sip:
        yield sip


def changed(number: str, **settings: Any) -> dict[str, Any]:
    """DOC with these settings of extension ``number`` changed."""
    extensions = [{**e, **settings} if e["number"] == number else e for e in DOC["extensions"]]
    return {**DOC, "extensions": extensions}


def addresses(sip: Pbx4Sip, number: str) -> list[str]:
    return sorted(c["Address"] for c in sip.contacts(number))


def wait_until(check: Callable[[], bool], seconds: float = 3) -> bool:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    return check()


# --- the desk phone limit ------------------------------------------------------------


def test_a_new_desk_phone_at_the_limit_replaces_the_old_one(sip: Pbx4Sip) -> None:
    """Limit 1: phone B registers while A is registered; B is in, A is gone. A (rebooted,
    say) registers again and replaces B: nobody is ever locked out."""
    sip.apply(DOC)
    assert sip.sipp.register("101", "Secret1234a", contact_port=5901, agent="Phone A").ok
    second = sip.sipp.register("101", "Secret1234a", contact_port=5902, agent="Phone B")
    assert second.ok, second.output
    assert addresses(sip, "101") == ["sip:101@127.0.0.1:5902"]
    again = sip.sipp.register("101", "Secret1234a", contact_port=5901, agent="Phone A")
    assert again.ok, again.output
    assert [c["User-Agent"] for c in sip.contacts("101")] == ["Phone A"]
    log = sip.core.paths.log.read_text()
    assert "101: sip:101@127.0.0.1:5901 replaced by a newer desk phone" in log


def test_the_desk_phone_registered_longest_ago_is_replaced(sip: Pbx4Sip) -> None:
    """Limit 2: A and B register, A refreshes its registration, C arrives: B goes (the
    least recently registered), A and C stay. The apps keep their places."""
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b", agent="klapka Mobile 2.1").ok
    assert sip.sipp.register("102", "Secret1234b", contact_port=5911).ok
    time.sleep(1.1)  # usrloc keeps the time of a registration in seconds
    assert sip.sipp.register("102", "Secret1234b", contact_port=5912).ok
    time.sleep(1.1)
    assert sip.sipp.register("102", "Secret1234b", contact_port=5911).ok  # A refreshes
    time.sleep(1.1)
    third = sip.sipp.register("102", "Secret1234b", contact_port=5913)
    assert third.ok, third.output
    desks = sorted(
        c["Address"] for c in sip.contacts("102") if c["User-Agent"] != "klapka Mobile 2.1"
    )
    assert desks == ["sip:102@127.0.0.1:5911", "sip:102@127.0.0.1:5913"]
    assert len(sip.contacts("102")) == 3


def test_a_desk_phone_refreshing_after_the_limit_was_lowered_is_not_refused(
    sip: Pbx4Sip,
) -> None:
    """Two desk phones of 102 (limit 2); the limit goes down to 1. The next to register
    again keeps its place and the other goes."""
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b", contact_port=5921).ok
    assert sip.sipp.register("102", "Secret1234b", contact_port=5922).ok
    sip.apply(changed("102", concurrent_registrations=1))
    again = sip.sipp.register("102", "Secret1234b", contact_port=5921)
    assert again.ok, again.output
    assert addresses(sip, "102") == ["sip:102@127.0.0.1:5921"]


# --- transport -----------------------------------------------------------------------


def test_a_tcp_only_extension_registers_over_tcp_not_udp(
    sip: Pbx4Sip, phones: Callable[..., RawPhone]
) -> None:
    sip.apply(DOC)
    refused = phones("udp").register("103")
    assert refused == "SIP/2.0 403 Transport UDP not allowed for this extension (TCP)"
    assert sip.contacts("103") == []
    assert phones("tcp").register("103") == "SIP/2.0 200 OK"
    contacts = sip.contacts("103")
    assert len(contacts) == 1 and contacts[0]["Socket"].startswith("tcp:"), contacts


def test_a_tls_only_extension_refuses_udp_and_tcp(
    sip: Pbx4Sip, phones: Callable[..., RawPhone]
) -> None:
    sip.apply(DOC)
    assert phones("udp").register("104") == (
        "SIP/2.0 403 Transport UDP not allowed for this extension (TLS)"
    )
    assert phones("tcp").register("104") == (
        "SIP/2.0 403 Transport TCP not allowed for this extension (TLS)"
    )
    assert sip.contacts("104") == []
    assert phones("tcp").register("101") == "SIP/2.0 200 OK"  # udp: any transport


def test_a_tls_only_extension_registers_over_tls(tls_sip: Pbx4Sip) -> None:  # noqa: F811
    tls_sip.apply(DOC)
    assert tls_sip.core.tls_port is not None
    phone = TlsPhone(tls_sip.core.tls_port, tls_sip.core.tls_files.certificate)
    try:
        code, headers = phone.register("104", 1)
        assert code == 401
        code, _ = phone.register(
            "104", 2, digest("104", "Secret1234d", headers["www-authenticate"])
        )
        assert code == 200
        assert tls_sip.contacts("104")[0]["Socket"].startswith("tls:")
    finally:
        phone.close()


def test_a_call_over_a_transport_not_allowed_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    phone = sip.sipp.phone("101", "Secret1234a", "answer")
    try:
        refused = sip.sipp.call("103", "Secret1234c", "101", expect=403)
        assert refused.ok, refused.output
    finally:
        phone.stop()


# --- NAT and qualify -----------------------------------------------------------------


def test_nat_off_stores_the_contact_as_the_phone_sent_it(
    sip: Pbx4Sip, phones: Callable[..., RawPhone]
) -> None:
    """A phone announcing a private address: with NAT on (101) it is reached where its
    REGISTER came from; with NAT off (105) its contact is kept as sent."""
    sip.apply(DOC)
    natted = phones("udp", advertised="10.0.0.5:5060")
    assert natted.register("101") == "SIP/2.0 200 OK"
    assert sip.contacts("101")[0]["Received"] == f"sip:127.0.0.1:{natted.port}"
    assert phones("udp", advertised="10.0.0.6:5060").register("105") == "SIP/2.0 200 OK"
    [contact] = sip.contacts("105")
    assert contact["Address"] == "sip:105@10.0.0.6:5060"
    assert contact["Received"] == "[not set]", contact


def test_qualify_off_sends_no_options_to_a_phone_behind_nat(fast_pings: Pbx4Sip) -> None:
    """Behind NAT, 101 (qualify on) is pinged with OPTIONS; 106 (qualify off) is reached
    where it came from too, but never pinged (nor removed for not answering pings)."""
    sip = fast_pings
    sip.apply(DOC)
    pinged = RawPhone(sip.port, advertised="10.0.0.5:5060")
    quiet = RawPhone(sip.port, advertised="10.0.0.7:5060")
    try:
        assert pinged.register("101") == "SIP/2.0 200 OK"
        assert quiet.register("106") == "SIP/2.0 200 OK"
        assert sip.contacts("106")[0]["Received"] == f"sip:127.0.0.1:{quiet.port}"
        assert len(pinged.pings(2.5 * PING_SECONDS)) >= 2
        assert quiet.pings(PING_SECONDS) == []
    finally:
        pinged.close()
        quiet.close()


# --- tightened restrictions ----------------------------------------------------------


def test_tightening_the_allowed_addresses_through_the_api_removes_registrations(
    sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from klapka.api.app import create_app
    from klapka.services.accounts.tokens import Tokens

    sip.apply(DOC)
    assert sip.sipp.register("101", "Secret1234a").ok
    assert sip.sipp.register("102", "Secret1234b").ok
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(sip.core.paths.root.parent))
    token = Tokens(sip.pbx).create()
    client = TestClient(create_app(sip.pbx), headers={"Authorization": f"Bearer {token}"})
    # 102: its phone's address is still allowed; 101: no longer.
    answer = client.patch("/api/v1/extensions/102/security", json={"allowed_ips": ["127.0.0.0/8"]})
    assert answer.status_code == 200, answer.text
    answer = client.patch("/api/v1/extensions/101/security", json={"allowed_ips": ["192.0.2.0/24"]})
    assert answer.status_code == 200, answer.text
    assert wait_until(lambda: sip.contacts("101") == [])
    time.sleep(0.5)  # a refresh or two later
    assert len(sip.contacts("102")) == 1
    assert client.get("/api/v1/extensions/101/registrations").json() == []


def test_tightening_the_user_agent_prefix_removes_the_other_phones(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b", agent="Yealink SIP-T46S").ok
    assert sip.sipp.register("102", "Secret1234b", agent="klapka Mobile 2.1").ok
    assert len(sip.contacts("102")) == 2
    sip.apply(changed("102", security={"user_agent_prefix": "Yealink"}))
    assert wait_until(lambda: len(sip.contacts("102")) == 1)
    assert [c["User-Agent"] for c in sip.contacts("102")] == ["Yealink SIP-T46S"]


def test_tightening_the_transport_removes_the_udp_registrations(
    sip: Pbx4Sip, phones: Callable[..., RawPhone]
) -> None:
    sip.apply(DOC)
    assert phones("udp").register("101") == "SIP/2.0 200 OK"
    sip.apply(changed("101", concurrent_registrations=2))
    assert phones("tcp").register("101") == "SIP/2.0 200 OK"
    assert len(sip.contacts("101")) == 2
    sip.apply(changed("101", concurrent_registrations=2, advanced={"transport": "tcp"}))
    assert wait_until(lambda: len(sip.contacts("101")) == 1)
    assert sip.contacts("101")[0]["Socket"].startswith("tcp:")


# --- the rules themselves (no SIP core) ----------------------------------------------


@pytest.mark.parametrize(
    ("rule", "proto", "refused"),
    [
        ("udp", "udp", ""),
        ("udp", "wss", ""),
        (None, "udp", ""),
        ("tcp", "udp", "Transport UDP not allowed for this extension (TCP)"),
        ("tcp", "tcp", ""),
        ("tcp", "tls", ""),
        ("tcp", "ws", ""),
        ("tls", "tcp", "Transport TCP not allowed for this extension (TLS)"),
        ("tls", "ws", "Transport WS not allowed for this extension (TLS)"),
        ("tls", "tls", ""),
        ("tls", "wss", ""),
    ],
)
def test_the_transport_rule(rule: str | None, proto: str, refused: str) -> None:
    assert transport_refused(rule, proto) == refused


def test_the_address_and_user_agent_rules() -> None:
    assert address_allowed("203.0.113.9", [])
    assert address_allowed("192.0.2.7", ["192.0.2.0/24"])
    assert not address_allowed("127.0.0.1", ["192.0.2.0/24"])
    assert address_allowed("[2001:db8::1]", ["2001:db8::/32"])
    assert not address_allowed("phone.invalid", ["192.0.2.0/24"])  # cannot be shown allowed
    assert agent_allowed("Yealink SIP-T46S", "Yealink") and agent_allowed("x", None)
    assert not agent_allowed("klapka Mobile 2.1", "Yealink")


def test_only_a_restricted_account_has_rules() -> None:
    assert rules_of({"clients_off": [], "allowed_ips": [], "transport": "udp"}) == ()
    assert rules_of({"transport": "tcp"}) != ()
    assert rules_of({"allowed_ips": ["192.0.2.0/24"]}) != rules_of(
        {"allowed_ips": ["192.0.2.0/25"]}
    )


SIP_SETTINGS = {"mobile_app_user_agents": ["klapka Mobile"], "desktop_app_user_agents": []}


def contact(**fields: str) -> dict[str, str]:
    """A contact as ul.lookup gives it."""
    base = {
        "Address": "sip:101@192.0.2.7:5060",
        "Received": "[not set]",
        "Socket": "udp:192.0.2.1:5060",
        "User-Agent": "Yealink SIP-T46S",
    }
    return {**base, **fields}


def test_which_registered_contacts_an_account_allows() -> None:
    def allowed(c: dict[str, str], **account: Any) -> bool:
        return contact_allowed(c, account, SIP_SETTINGS)

    assert allowed(contact())
    assert allowed(contact(), allowed_ips=["192.0.2.0/24"])
    assert not allowed(contact(), allowed_ips=["198.51.100.0/24"])
    # Behind NAT: where it registered from counts, not the private address it announced.
    natted = contact(Address="sip:101@10.0.0.5:5060", Received="sip:198.51.100.9:40000")
    assert allowed(natted, allowed_ips=["198.51.100.0/24"])
    assert not allowed(natted, allowed_ips=["10.0.0.0/8"])
    assert allowed(contact(), user_agent_prefix="Yealink")
    assert not allowed(contact(), user_agent_prefix="Snom")
    assert not allowed(contact(), transport="tcp")
    assert allowed(contact(Socket="tcp:192.0.2.1:5060"), transport="tcp")
    assert not allowed(contact(Socket="tcp:192.0.2.1:5060"), transport="tls")
    browser = contact(
        Address="sip:x@df7jal23ls0d.invalid;transport=ws", Socket="tls:192.0.2.1:8089"
    )
    assert allowed(browser, transport="tls")  # wss
    assert not allowed(contact(**{"User-Agent": "klapka Mobile 2.1"}), clients_off=["mobile_app"])


def _headers_of(message: str, *names: str) -> list[str]:
    return [line for line in message.split("\r\n")[1:] if line.split(":", 1)[0].lower() in names]


def _header(message: str, name: str) -> str:
    return _headers_of(message, name.lower())[0].split(":", 1)[1].strip()


def _call_answered_then_reinvited(
    sip: Pbx4Sip, phones: Callable[..., RawPhone], caller: str, callee: str, source: str = ""
) -> tuple[str, str, str]:
    """``caller`` calls ``callee``, whose phone (on ``source``, else the loopback) answers,
    then sends a re-INVITE (hold); both announce ``PRIVATE`` in their Contact. The Contact
    of the 200 and of the re-INVITE as the calling phone gets them, and the call's dialog
    variable ``kl_nat_off`` meanwhile."""
    phone = phones("udp")
    if source:  # the phone's own address, as it registers (reachable there)
        phone.sock.close()
        phone.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        phone.sock.settimeout(3)
        phone.sock.bind((source, 0))
        phone.port = phone.sock.getsockname()[1]
        phone.address = f"{source}:{phone.port}"
    assert phone.register(callee) == "SIP/2.0 200 OK"
    calling = phones("udp")
    uri = f"sip:{callee}@klapka"

    def invite(cseq: int, auth: str) -> None:
        calling._send(
            f"INVITE {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {calling.address};branch=z9hG4bK-i{cseq};rport\r\n"
            f"From: <sip:{caller}@klapka>;tag=c1\r\nTo: <{uri}>\r\n"
            f"Call-ID: nat-{calling.port}@phone\r\nCSeq: {cseq} INVITE\r\n"
            f"Contact: <sip:{caller}@{calling.address}>\r\n{auth}"
            f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )

    invite(1, "")
    challenge = calling._response()
    assert challenge.startswith("SIP/2.0 407"), challenge
    proxy_auth = _header(challenge, "Proxy-Authenticate")
    invite(
        2,
        f"Proxy-Authorization: {digest(caller, PASSWORDS[caller], proxy_auth, uri, 'INVITE')}\r\n",
    )
    request = phone.receive()
    assert request.startswith("INVITE "), request
    copied = _headers_of(request, "via", "record-route", "from", "call-id", "cseq")
    to = _header(request, "to") + ";tag=a1"
    phone._send(
        "SIP/2.0 200 OK\r\n" + "\r\n".join(copied) + f"\r\nTo: {to}\r\n"
        f"Contact: <sip:{callee}@{PRIVATE}>\r\nContent-Length: 0\r\n\r\n"
    )
    ok = calling._response()
    while ok.startswith("SIP/2.0 1"):
        ok = calling._response()
    assert ok.startswith("SIP/2.0 200"), ok
    [dialog] = [
        d for d in sip.rpc.call("dlg.list") if d.get("call-id") == _header(request, "call-id")
    ]
    variables = {k: v for var in dialog.get("variables") or [] for k, v in var.items()}
    # The re-INVITE from the answering phone, along the call's route (its Record-Route).
    routes = [line.split(":", 1)[1].strip() for line in _headers_of(request, "record-route")]
    phone._send(
        f"INVITE sip:{caller}@{calling.address} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {phone.address};branch=z9hG4bK-h1;rport\r\n"
        + "".join(f"Route: {r}\r\n" for r in routes)
        + f"From: {to}\r\nTo: {_header(request, 'from')}\r\n"
        f"Call-ID: {_header(request, 'call-id')}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:{callee}@{PRIVATE}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    reinvite = calling.receive()
    while not reinvite.startswith("INVITE "):
        reinvite = calling.receive()
    return _header(ok, "contact"), _header(reinvite, "contact"), variables.get("kl_nat_off", "")


PRIVATE = "10.0.0.6:5060"


def test_nat_off_is_remembered_for_the_call_of_its_phones(
    sip: Pbx4Sip, phones: Callable[..., RawPhone]
) -> None:
    """A phone behind NAT answers from a public address (here the loopback) with a private
    address in its Contact: with NAT on (102) its answer's and re-INVITE's Contact are
    rewritten to where they came from, or the caller's ACK and BYE would go to an address
    nobody reaches. A call records which of its parties has NAT off (the caller by its
    account, the answering phone by its extension): with NAT off (105) they arrive as sent."""
    sip.apply(DOC)
    since = sip.core.paths.log.stat().st_size
    answer, reinvite, off = _call_answered_then_reinvited(sip, phones, "101", "102")
    assert answer.startswith("<sip:102@127.0.0.1:") and reinvite.startswith(
        "<sip:102@127.0.0.1:"
    ), (answer, reinvite)
    assert off == ""
    sent = f"<sip:105@{PRIVATE}>"
    assert _call_answered_then_reinvited(sip, phones, "101", "105") == (sent, sent, "callee")
    answer, reinvite, off = _call_answered_then_reinvited(sip, phones, "105", "102")
    assert answer.startswith("<sip:102@127.0.0.1:") and reinvite.startswith(
        "<sip:102@127.0.0.1:"
    ), (answer, reinvite)
    assert off == "caller"
    log = sip.core.paths.log.read_bytes()[since:].decode(errors="replace")
    assert "route failed" not in log, log[-3000:]


@pytest.fixture
def private_source() -> Iterator[str]:
    """An address of a private network (RFC 1918) on this machine (one side of a veth pair,
    as tests/sip/test_netns.py makes them), for a phone whose packets come from it."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a private address needs root and the ip command (iproute2)")
    name = f"kln{uuid.uuid4().hex[:6]}"
    address = f"10.213.{int(name[3:5], 16)}.1"
    try:
        for args in (
            ("link", "add", f"{name}a", "type", "veth", "peer", "name", f"{name}b"),
            ("addr", "add", f"{address}/32", "dev", f"{name}a"),
            ("link", "set", f"{name}a", "up"),
            ("link", "set", f"{name}b", "up"),
        ):
            subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)
    except (subprocess.CalledProcessError, OSError) as e:
        subprocess.run(["ip", "link", "del", f"{name}a"], capture_output=True, timeout=10)
        pytest.skip(f"cannot add a private address here: {e}")
    yield address
    subprocess.run(["ip", "link", "del", f"{name}a"], capture_output=True, timeout=10)


def test_nat_off_leaves_the_answering_phones_contact_as_sent(
    sip: Pbx4Sip, phones: Callable[..., RawPhone], private_source: str
) -> None:
    """A phone in a private network (nat_uac_test 32) answering, then sending a re-INVITE,
    with another address in its Contact: with NAT on (102) its Contact is rewritten to
    where it came from; with NAT off (105) it goes on as the phone sent it."""
    sip.apply(DOC)
    answer, reinvite, _ = _call_answered_then_reinvited(sip, phones, "101", "102", private_source)
    assert answer.startswith(f"<sip:102@{private_source}:"), answer
    assert reinvite.startswith(f"<sip:102@{private_source}:"), reinvite
    expected = f"<sip:105@{PRIVATE}>"
    assert _call_answered_then_reinvited(sip, phones, "101", "105", private_source) == (
        expected, expected, "callee"
    )  # fmt: skip
