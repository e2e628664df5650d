"""No open relay: a request that only pretends to be within a dialog (a To-tag and a Route
naming a trunk or klapka itself) is refused at its first pass and never reaches a trunk;
a new request's preloaded Route is ignored. Requests within a real dialog still pass."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from pbx4sip import Pbx4Sip
from sipp import free_udp_port
from test_transfer import SDP, Message, RawPhone, answered, reply

PASSWORDS = {"101": "Secret101ab", "102": "Secret102ab"}
PASSWORDS3 = ("101", "102", "103")


class Listener:
    """A UDP socket that only listens: the trunk's provider, counting what reaches it."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)

    def received(self, within: float = 1.5) -> list[str]:
        got, deadline = [], time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                got.append(self.sock.recv(65535).decode(errors="replace").split("\r\n")[0])
        return got


@pytest.fixture
def trunk(sip: Pbx4Sip) -> Iterator[Listener]:
    provider = Listener()
    sip.apply(
        {
            "version": 1,
            "extensions": [{"number": n, "sip_password": p} for n, p in PASSWORDS.items()],
            "trunks": [
                {"name": "carrier", "type": "peer", "host": "127.0.0.1", "port": provider.port}
            ],
            "outbound_routes": [{"name": "all", "patterns": ["X."], "trunks": ["carrier"]}],
        }
    )
    yield provider
    provider.sock.close()


def forged(method: str, uri: str, route: str, n: int, port: int) -> bytes:
    """``method`` with a To-tag and a Route, from an address nobody registered."""
    body = SDP if method == "INVITE" else ("hello" if method == "MESSAGE" else "")
    kind = {"INVITE": "application/sdp", "MESSAGE": "text/plain"}.get(method)
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bK-forged-{n}-{time.monotonic_ns()}\r\n"
        f"Route: {route}\r\n"
        f"From: <sip:attacker@127.0.0.2>;tag=forged{n}\r\n"
        f"To: <{uri}>;tag=x{n}\r\n"
        f"Call-ID: forged-{n}-{time.monotonic_ns()}@127.0.0.2\r\n"
        f"CSeq: 1 {method}\r\nContact: <sip:attacker@127.0.0.2:{port}>\r\nMax-Forwards: 70\r\n"
        + (f"Content-Type: {kind}\r\n" if kind else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def answers(sock: socket.socket, within: float = 1.5) -> list[Message]:
    got, deadline = [], time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            got.append(Message(sock.recv(65535)))
    return got


@pytest.fixture
def attacker() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def test_a_request_pretending_to_be_within_a_dialog_never_reaches_the_trunk(
    sip: Pbx4Sip, trunk: Listener, attacker: socket.socket
) -> None:
    port = attacker.getsockname()[1]
    route = f"<sip:127.0.0.1:{trunk.port};lr>"
    cases = [
        ("INVITE", f"sip:00441234567890@127.0.0.1:{trunk.port}"),
        ("INVITE", f"sip:+441234567890@127.0.0.1:{trunk.port}"),
        ("MESSAGE", f"sip:00441234567890@127.0.0.1:{trunk.port}"),
        ("BYE", f"sip:00441234567890@127.0.0.1:{trunk.port}"),
    ]
    for n, (method, uri) in enumerate(cases):
        attacker.sendto(forged(method, uri, route, n, port), ("127.0.0.1", sip.port))
        got = [m for m in answers(attacker, 1.0) if m.code >= 200]
        assert [m.code for m in got] == [481], f"{method} {uri}: {[m.first for m in got]}"
    # ...and the same with klapka's own Record-Route as the Route (what a real dialog has).
    own = f"<sip:127.0.0.1:{sip.port};lr;ftag=forged9;did=abc.1>"
    attacker.sendto(forged("INVITE", cases[0][1], own, 9, port), ("127.0.0.1", sip.port))
    assert [m.code for m in answers(attacker, 1.0) if m.code >= 200] == [481]
    assert trunk.received(0.5) == [], "a forged request reached the trunk"


def test_a_route_back_to_klapka_is_refused_at_the_first_pass(
    sip: Pbx4Sip, trunk: Listener, attacker: socket.socket
) -> None:
    """It used to loop through klapka until Max-Forwards ran out (483 after 70 passes)."""
    port = attacker.getsockname()[1]
    me = f"127.0.0.1:{sip.port}"
    attacker.sendto(
        forged("INVITE", f"sip:0044123@{me}", f"<sip:{me};lr>", 1, port), ("127.0.0.1", sip.port)
    )
    got = [m for m in answers(attacker) if m.code >= 200]
    assert [m.code for m in got] == [481]
    refused = sip.core.paths.log.read_text().count("within no known dialog refused")
    assert refused == 1, "the request passed klapka more than once"


def test_a_preloaded_route_on_a_new_call_is_ignored(
    sip: Pbx4Sip, trunk: Listener, attacker: socket.socket
) -> None:
    """A new INVITE (no To-tag) with a Route to the trunk is challenged like any other call
    from outside; the Route does not carry it anywhere."""
    port = attacker.getsockname()[1]
    message = forged("INVITE", f"sip:00441234567890@127.0.0.1:{sip.port}",
                     f"<sip:127.0.0.1:{trunk.port};lr>", 1, port)  # fmt: skip
    message = message.replace(b";tag=x1", b"")
    attacker.sendto(message, ("127.0.0.1", sip.port))
    assert [m.code for m in answers(attacker) if m.code >= 200] == [407]
    assert trunk.received(0.5) == []


def test_requests_within_a_real_dialog_still_pass_and_forged_tags_do_not(
    sip: Pbx4Sip, trunk: Listener
) -> None:
    caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
    callee.register()
    caller.call("102", "real-call")
    invite = callee.wait("INVITE")
    to = invite.get("to") + ";tag=callee102"
    callee.send(reply(invite.raw, "200 OK", callee.contact, SDP, to_tag="callee102"))
    ok = caller.wait("SIP/2.0 200")
    routes = "".join(f"Route: {r}\r\n" for r in reversed(ok.all("record-route")))
    target = ok.get("contact").strip("<>")

    def bye(from_header: str, to_header: str) -> None:
        caller.send(
            f"BYE {target} SIP/2.0\r\nVia: {caller.via()}\r\n{routes}"
            f"From: {from_header}\r\nTo: {to_header}\r\n"
            f"Call-ID: {invite.get('call-id')}\r\nCSeq: 3 BYE\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )

    # The right Call-ID, but tags nobody used: someone who only saw the Call-ID.
    sender = invite.get("from").split(";tag=")[0]
    bye(f"{sender};tag=guessed", invite.get("to") + ";tag=someone-else")
    assert caller.wait("SIP/2.0 4").code == 481
    bye(invite.get("from"), to)
    received = callee.wait("BYE")
    callee.send(reply(received.raw, "200 OK", callee.contact))
    assert caller.wait("SIP/2.0 200").code == 200
    assert trunk.received(0.2) == []


def test_when_two_phones_answer_one_call_the_second_is_acked_and_hung_up_through_klapka(
    sip: Pbx4Sip,
) -> None:
    """A ring group rings 102 and 103; both answer at once. The caller keeps the first and
    ends the second with ACK and BYE, which reach it (the dialog module knows only the
    first answer)."""
    sip.apply(
        {
            "version": 1,
            "extensions": [{"number": n, "sip_password": f"Secret{n}ab"} for n in PASSWORDS3],
            "ring_groups": [{"number": "6300", "members": ["102", "103"]}],
        }
    )
    caller = RawPhone(sip.port, "101")
    first, second = RawPhone(sip.port, "102"), RawPhone(sip.port, "103")
    first.register()
    second.register()
    caller.call("6300", "two-answers")
    invites = {p.user: p.wait("INVITE") for p in (first, second)}
    for phone in (first, second):
        phone.send(reply(invites[phone.user].raw, "200 OK", phone.contact, SDP,
                         to_tag=f"answer{phone.user}"))  # fmt: skip
    answers = [caller.wait("SIP/2.0 200"), caller.wait("SIP/2.0 200")]
    by_callee = {a.get("to").rsplit("answer", 1)[1]: a for a in answers}
    original = invites["102"]
    caller_invite = Message(original.raw.encode())
    for n, callee in enumerate((first, second)):
        answer = by_callee[callee.user]
        caller.within("ACK", answer, caller_invite, 2)
        assert callee.wait("ACK").get("call-id") == original.get("call-id")
        caller.within("BYE", answer, caller_invite, 3 + n)
        bye = callee.wait("BYE")
        callee.send(reply(bye.raw, "200 OK", callee.contact))
        assert caller.wait("SIP/2.0 200").code == 200


def test_a_notify_after_the_call_has_ended_still_reaches_the_transferor(sip: Pbx4Sip) -> None:
    """A blind transfer's last NOTIFY often comes after the BYE (RFC 5057): it still
    passes once the dialog is gone from the dialog module."""
    sip.apply(
        {
            "version": 1,
            "extensions": [{"number": n, "sip_password": p} for n, p in PASSWORDS.items()],
        }
    )
    caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
    invite, ok = answered(caller, callee, "notify-after-bye")
    caller.within("BYE", ok, invite, 3)
    bye = callee.wait("BYE")
    callee.send(reply(bye.raw, "200 OK", callee.contact))
    assert caller.wait("SIP/2.0 200").code == 200
    deadline = time.monotonic() + 20
    while sip.rpc.call("dlg.list") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not sip.rpc.call("dlg.list"), "the dialog module still has the call"
    # The transferee (callee) tells the transferor (caller) how the transfer went.
    routes = "".join(f"Route: {r}\r\n" for r in invite.all("record-route"))
    callee.send(
        f"NOTIFY {invite.get('contact').strip('<>')} SIP/2.0\r\nVia: {callee.via()}\r\n"
        f"{routes}From: {invite.get('to')};tag=callee102\r\nTo: {invite.get('from')}\r\n"
        f"Call-ID: {invite.get('call-id')}\r\nCSeq: 7 NOTIFY\r\nMax-Forwards: 70\r\n"
        "Event: refer\r\nSubscription-State: terminated;reason=noresource\r\n"
        "Content-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n"
    )
    notify = caller.wait("NOTIFY")
    assert notify.get("event") == "refer"
