"""A minimal SIP-over-UDP toolkit for the SIP benchmarks (not a benchmark itself).

Just enough SIP for loopback load: parse a datagram, build requests and answers, and
compute a digest (MD5, qop=auth or none) answer to a 401/407 challenge. Used by
``bench_sip.py --latency`` (a caller and a callee in one asyncio process, each INVITE
timestamped when sent and when it reaches the callee).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass, field


@dataclass
class Message:
    first: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_request(self) -> bool:
        return not self.first.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.first.split(" ", 1)[0]

    @property
    def status(self) -> int:
        return int(self.first.split(" ", 2)[1]) if not self.is_request else 0

    def get(self, name: str) -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return ""

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
}


def parse(data: bytes) -> Message:
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    lines = head.split("\r\n")
    msg = Message(lines[0])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        msg.headers.append((_COMPACT.get(key, key), value.strip()))
    return msg


def build(first: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first, *(f"{k}: {v}" for k, v in headers), "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def reply(request: Message, code: int, reason: str, to_tag: str = "", contact: str = "") -> bytes:
    headers = [("Via", v) for v in request.all("via")]
    headers += [("Record-Route", v) for v in request.all("record-route")]
    to = request.get("to")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    headers += [
        ("From", request.get("from")),
        ("To", to),
        ("Call-ID", request.get("call-id")),
        ("CSeq", request.get("cseq")),
    ]
    if contact:
        headers.append(("Contact", contact))
    return build(f"SIP/2.0 {code} {reason}", headers)


def branch() -> str:
    return "z9hG4bK" + os.urandom(6).hex()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


def digest(challenge: str, method: str, uri: str, username: str, password: str) -> str:
    """The Authorization / Proxy-Authorization value answering ``challenge``."""
    params = {m[0].lower(): m[1] or m[2] for m in _PARAM.findall(challenge)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    value = f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
        cnonce, nc = os.urandom(4).hex(), "00000001"
        response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        value += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    value += f', response="{response}", algorithm=MD5'
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    return value


def uri_of(header: str) -> str:
    """The URI inside a name-addr (``"x" <sip:a@b>;tag=1`` -> ``sip:a@b``)."""
    start, end = header.find("<"), header.find(">")
    return header[start + 1 : end] if start >= 0 and end > start else header.split(";")[0]


class UA(asyncio.DatagramProtocol):
    """One UDP socket: answers are matched to waiting requests by (Call-ID, CSeq);
    requests go to ``on_request(message, raw, address)``."""

    def __init__(self, server: tuple[str, int], on_request=None) -> None:  # type: ignore[no-untyped-def]
        self.server = server
        self.on_request = on_request
        self.waiting: dict[tuple[str, str], asyncio.Future[Message]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # keepalive
        msg = parse(data)
        if msg.is_request:
            if self.on_request is not None:
                self.on_request(self, msg, addr)
            return
        if msg.status < 200:
            return
        future = self.waiting.get((msg.get("call-id"), msg.get("cseq")))
        if future is not None and not future.done():
            future.set_result(msg)

    def send(self, data: bytes, addr: tuple[str, int] | None = None) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr or self.server)

    async def transaction(self, data: bytes, call_id: str, cseq: str, timeout: float) -> Message:
        """Send a request (retransmitted every 0.5 s) and wait for its final answer."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.waiting[(call_id, cseq)] = future
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                self.send(data)
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise TimeoutError
                try:
                    return await asyncio.wait_for(asyncio.shield(future), min(0.5, left))
                except TimeoutError:
                    continue
        finally:
            del self.waiting[(call_id, cseq)]

    def via(self) -> str:
        return f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch()};rport"

    async def register(
        self, user: str, password: str, contact_port: int, expires: int = 3600, timeout: float = 10
    ) -> int:
        """REGISTER ``user`` with the contact ``sip:user@127.0.0.1:contact_port``; answers a
        digest challenge once. Returns the final status code (0 on timeout)."""
        call_id, tag = os.urandom(8).hex(), os.urandom(4).hex()
        uri = f"sip:{self.server[0]}:{self.server[1]}"
        auth: list[tuple[str, str]] = []
        for cseq in (1, 2):
            data = build(
                f"REGISTER {uri} SIP/2.0",
                [
                    ("Via", self.via()),
                    ("From", f"<sip:{user}@127.0.0.1>;tag={tag}"),
                    ("To", f"<sip:{user}@127.0.0.1>"),
                    ("Call-ID", call_id),
                    ("CSeq", f"{cseq} REGISTER"),
                    ("Contact", f"<sip:{user}@127.0.0.1:{contact_port}>"),
                    ("Max-Forwards", "70"),
                    ("Expires", str(expires)),
                    ("User-Agent", "klapka-bench"),
                    *auth,
                ],
            )
            try:
                answer = await self.transaction(data, call_id, f"{cseq} REGISTER", timeout)
            except TimeoutError:
                return 0
            if answer.status == 401 and cseq == 1:
                challenge = answer.get("www-authenticate")
                auth = [("Authorization", digest(challenge, "REGISTER", uri, user, password))]
                continue
            return answer.status
        return 0
