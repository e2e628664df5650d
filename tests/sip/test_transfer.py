"""A blind transfer through the PBX: the REFER passes within the dialog, and the call the
transferred phone makes next has the path `transferred`, even without a Referred-By."""

from __future__ import annotations

import socket
import time

from parity import assert_parity, mark
from pbx4sip import Pbx4Sip
from test_calls import BOSS, NUMBERS, PASSWORDS, doc
from test_tls import digest

from klapka.services.call_history import CallFilter, CallHistory

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def reply(request: str, status: str, contact: str, body: str = "", to_tag: str = "") -> str:
    """A response to ``request`` (its Via, From, To, Call-ID, CSeq, Record-Route copied)."""
    lines = []
    for line in request.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name == "to" and to_tag and ";tag=" not in line:
            line += f";tag={to_tag}"
        if name in ("via", "from", "to", "call-id", "cseq", "record-route"):
            lines.append(line)
    extra = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"SIP/2.0 {status}\r\n" + "\r\n".join(lines) + f"\r\nContact: <{contact}>\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    )


class Message:
    def __init__(self, data: bytes) -> None:
        self.raw = data.decode()
        head, _, self.body = self.raw.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.first = lines[0]
        self.headers = [(n.strip().lower(), v.strip()) for n, _, v in
                        (line.partition(":") for line in lines[1:])]  # fmt: skip

    def get(self, name: str) -> str:
        return next((v for n, v in self.headers if n == name), "")

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    @property
    def code(self) -> int:
        return int(self.first.split()[1]) if self.first.startswith("SIP/2.0") else 0


class RawPhone:
    """A phone on a UDP socket that writes each SIP message itself."""

    def __init__(self, server_port: int, user: str) -> None:
        self.user, self.password = user, PASSWORDS[user]
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.server = ("127.0.0.1", server_port)
        self.contact = f"sip:{user}@127.0.0.1:{self.port}"
        self.branches = 0

    def via(self) -> str:
        self.branches += 1
        return f"SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK-{self.user}-{self.branches};rport"

    def send(self, text: str) -> None:
        self.sock.sendto(text.encode(), self.server)

    def wait(self, wanted: str, timeout: float = 10) -> Message:
        """The next message whose first line starts with ``wanted`` (e.g. "INVITE",
        "SIP/2.0 200"); what comes before (100 Trying, 180) is skipped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = Message(self.sock.recv(65535))
            if message.first.startswith(wanted):
                return message
        raise AssertionError(f"{self.user} got no {wanted}")

    def request(self, method: str, uri: str, call_id: str, cseq: int, extra: str = "") -> None:
        body = SDP if method == "INVITE" else ""
        kind = "Content-Type: application/sdp\r\n" if body else ""
        self.send(
            f"{method} {uri} SIP/2.0\r\nVia: {self.via()}\r\n"
            f"From: <sip:{self.user}@klapka>;tag={self.user}-{call_id}\r\n"
            f"To: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <{self.contact}>\r\nMax-Forwards: 70\r\n{extra}{kind}"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        )

    def within(self, method: str, answer: Message, invite: Message, cseq: int) -> str:
        """``method`` from the caller within the call that ``answer`` (the 200 it received)
        set up for ``invite`` (as the callee got it), along the call's route set; returns
        the message sent."""
        routes = "".join(f"Route: {r}\r\n" for r in reversed(answer.all("record-route")))
        text = (
            f"{method} {answer.get('contact').strip('<>')} SIP/2.0\r\nVia: {self.via()}\r\n"
            f"{routes}From: {invite.get('from')}\r\nTo: {answer.get('to')}\r\n"
            f"Call-ID: {invite.get('call-id')}\r\nCSeq: {cseq} {method}\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        self.send(text)
        return text

    def register(self) -> None:
        self.request("REGISTER", "sip:klapka", f"reg-{self.user}", 1, "Expires: 300\r\n")
        challenge = self.wait("SIP/2.0 401").get("www-authenticate")
        answer = digest(self.user, self.password, challenge)
        self.request("REGISTER", "sip:klapka", f"reg-{self.user}", 2,
                     f"Expires: 300\r\nAuthorization: {answer}\r\n")  # fmt: skip
        assert self.wait("SIP/2.0 200").code == 200

    def call(self, number: str, call_id: str) -> None:
        """An INVITE to ``number``, answering the proxy's challenge."""
        uri = f"sip:{number}@klapka"
        self.request("INVITE", uri, call_id, 1)
        challenge = self.wait("SIP/2.0 407").get("proxy-authenticate")
        answer = digest(self.user, self.password, challenge, uri, "INVITE")
        self.request("INVITE", uri, call_id, 2, f"Proxy-Authorization: {answer}\r\n")


def answered(caller: RawPhone, callee: RawPhone, call_id: str) -> tuple[Message, Message]:
    """``callee`` registers, ``caller`` calls it, it answers (To-tag ``callee<number>``):
    the INVITE as the callee got it and the 200 as the caller got it."""
    callee.register()
    caller.call(callee.user, call_id)
    invite = callee.wait("INVITE")
    callee.send(reply(invite.raw, "200 OK", callee.contact, SDP, to_tag=f"callee{callee.user}"))
    return invite, caller.wait("SIP/2.0 200")


def test_the_call_after_a_blind_transfer_rings_the_target_as_transferred(sip: Pbx4Sip) -> None:
    """103 calls the boss 101 and reaches the secretary 102, who answers and transfers 103
    to 101 with a REFER (no Referred-By); 103's next call to 101 rings the boss."""
    sip.apply(doc(BOSS))
    boss = sip.sipp.phone("101", PASSWORDS["101"], "answer")
    secretary = RawPhone(sip.port, "102")
    caller = RawPhone(sip.port, "103")
    try:
        secretary.register()
        caller.call("101", "first-call")
        invite = secretary.wait("INVITE")  # the secretary routing
        to = invite.get("to") + ";tag=sec102"
        secretary.send(reply(invite.raw, "200 OK", secretary.contact, SDP, to_tag="sec102"))
        caller.wait("SIP/2.0 200")
        # The blind transfer: a REFER within the dialog, along its route set.
        caller_contact = invite.get("contact").strip("<>")
        routes = "".join(f"Route: {r}\r\n" for r in invite.all("record-route"))
        secretary.send(
            f"REFER {caller_contact} SIP/2.0\r\nVia: {secretary.via()}\r\n{routes}"
            f"From: {to}\r\nTo: {invite.get('from')}\r\nCall-ID: {invite.get('call-id')}\r\n"
            f"CSeq: 1 REFER\r\nContact: <{secretary.contact}>\r\n"
            f"Refer-To: <sip:101@klapka>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        assert caller.wait("REFER").get("refer-to") == "<sip:101@klapka>"
        since = mark(sip)
        caller.call("101", "after-transfer")
        assert caller.wait("SIP/2.0 200", timeout=15).code == 200
    finally:
        boss.stop()
        secretary.sock.close()
        caller.sock.close()
    assert_parity(sip, since, "103", "101", NUMBERS, {"path": "transferred", "answer": ["101"]})
    # The call history tells the new call from a direct one.
    deadline = time.monotonic() + 10
    while True:
        found = CallHistory(sip.pbx).search(CallFilter(number="103"), limit=5).items
        record = next((c for c in found if c["call_id"] == "after-transfer"), None)
        if record is not None:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    assert (record["path"], record["caller"], record["dialled"]) == ("transferred", "103", "101")
