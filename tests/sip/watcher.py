"""A minimal SIP subscriber for the tests: SUBSCRIBE with digest authentication, and every
NOTIFY it gets answered 200 and kept (time, Subscription-State, body)."""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Notify:
    at: float
    state: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def _headers(text: str) -> tuple[str, dict[str, str], str]:
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return lines[0], headers, body


def _digest(user: str, password: str, method: str, uri: str, challenge: str) -> str:
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = params["realm"], params["nonce"]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if "qop" in params:
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        extra = ""
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5{extra}'
    )


class Watcher:
    """Extension ``user`` subscribing from 127.0.0.1 to ``target``'s ``event``."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.server = ("127.0.0.1", port)
        self.user, self.password = user, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.local = self.sock.getsockname()[1]
        self.notifies: list[Notify] = []
        self.responses: list[tuple[int, dict[str, str]]] = []
        self.changed = threading.Condition()
        self.cseq = 0
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)
        self.to_tag = ""
        self.stopped = False
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode(errors="replace")
            first, headers, body = _headers(text)
            with self.changed:
                if first.startswith("SIP/2.0"):
                    self.responses.append((int(first.split()[1]), headers))
                elif first.startswith("NOTIFY"):
                    self._answer(text, addr)
                    self.notifies.append(
                        Notify(
                            time.monotonic(), headers.get("subscription-state", ""), body, headers
                        )
                    )
                self.changed.notify_all()

    def _answer(self, request: str, addr: tuple[str, int]) -> None:
        keep = ("via", "from", "to", "call-id", "cseq")
        lines = [
            line
            for line in request.split("\r\n\r\n")[0].split("\r\n")[1:]
            if line.split(":", 1)[0].strip().lower() in keep
        ]
        reply = "SIP/2.0 200 OK\r\n" + "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"
        self.sock.sendto(reply.encode(), addr)

    def subscribe(self, target: str, event: str, expires: int = 600, accept: str = "") -> int:
        """SUBSCRIBE (answering the challenge); the final answer's code."""
        uri = f"sip:{target}@127.0.0.1:{self.server[1]}"
        accept = accept or {
            "dialog": "application/dialog-info+xml",
            "presence": "application/pidf+xml",
            "message-summary": "application/simple-message-summary",
        }.get(event, "*/*")
        auth = ""
        for _ in range(2):
            self.cseq += 1
            to_tag = f";tag={self.to_tag}" if self.to_tag else ""
            message = (
                f"SUBSCRIBE {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.local};rport;branch=z9hG4bK{secrets.token_hex(6)}\r\n"
                f"From: <sip:{self.user}@127.0.0.1>;tag={self.tag}\r\n"
                f"To: <sip:{target}@127.0.0.1>{to_tag}\r\n"
                f"Call-ID: {self.call_id}\r\nCSeq: {self.cseq} SUBSCRIBE\r\n"
                f"Contact: <sip:{self.user}@127.0.0.1:{self.local}>\r\nMax-Forwards: 70\r\n"
                f"Event: {event}\r\nAccept: {accept}\r\nExpires: {expires}\r\n{auth}"
                "User-Agent: klapka-test-watcher\r\nContent-Length: 0\r\n\r\n"
            )  # fmt: skip
            code, headers = self._send(message)
            if code in (401, 407) and not auth:
                challenge = headers.get("proxy-authenticate") or headers.get("www-authenticate")
                name = "Proxy-Authorization" if code == 407 else "Authorization"
                auth = f"{name}: {_digest(self.user, self.password, 'SUBSCRIBE', uri, challenge or '')}\r\n"
                continue
            if code < 300 and not self.to_tag:
                self.to_tag = re.search(r"tag=([^;>\s]+)", headers.get("to", "")).group(1)  # type: ignore[union-attr]
            return code
        return code

    def _send(self, message: str, timeout: float = 5) -> tuple[int, dict[str, str]]:
        with self.changed:
            seen = len(self.responses)
            self.sock.sendto(message.encode(), self.server)
            deadline = time.monotonic() + timeout
            while True:
                for code, headers in self.responses[seen:]:
                    if code >= 200:
                        return code, headers
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no answer to the SUBSCRIBE")
                self.changed.wait(left)

    def wait_for(self, pattern: str, timeout: float = 5, since: int = 0) -> Notify:
        """The first NOTIFY (from number ``since`` on) whose body matches ``pattern``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for n in self.notifies[since:]:
                    if re.search(pattern, n.body, re.DOTALL):
                        return n
                left = deadline - time.monotonic()
                if left <= 0:
                    bodies = "\n---\n".join(n.body for n in self.notifies[since:])
                    raise AssertionError(f"no NOTIFY matching {pattern!r}; got:\n{bodies}")
                self.changed.wait(left)

    def close(self) -> None:
        self.stopped = True
        self.thread.join(1)
        self.sock.close()
