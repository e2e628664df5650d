"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port) that keeps every
message it is given, parsed with the standard ``email`` package, as a mail client reads it.

``mailbox`` is the fixture; ``use_mailbox(pbx, mailbox)`` points the PBX's SMTP settings at it.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx

SENDER = "pbx@example.com"
PORTAL = "https://pbx.example.com"


@dataclass
class Delivery:
    """One message as it arrived: the envelope and the raw bytes, and parsed."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """What the server received, and how it behaves."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Delivery] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    logins: list[tuple[str, str]] = field(default_factory=list)

    def to(self, address: str) -> list[Delivery]:
        return [d for d in self.received if address in d.rcpt_tos]

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self.received.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(mailbox: Mailbox, password: str | None = None) -> Controller:
    """Serve ``mailbox``; with ``password``, logins (over plain SMTP) must use it."""
    mailbox.port = free_port()
    options: dict[str, Any] = {}
    if password is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            assert isinstance(data, LoginPassword)
            login, secret = data.login.decode(), data.password.decode()
            mailbox.logins.append((login, secret))
            # handled=False: aiosmtpd answers 535 itself
            return AuthResult(success=secret == password, handled=False)

        # Plain SMTP on loopback: no TLS to require (aiosmtpd warns about it).
        options = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port, **options)
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A running SMTP server that accepts every message (no login)."""
    box = Mailbox()
    controller = start(box)
    yield box
    controller.stop()


def use_mailbox(
    pbx: Pbx, mailbox: Mailbox, username: str = "", password: str | None = None
) -> None:
    """Point the PBX's SMTP settings (and portal URL) at ``mailbox``."""
    smtp: dict[str, Any] = {
        "host": mailbox.host,
        "port": mailbox.port,
        "security": "none",
        "from_address": SENDER,
        "username": username,
    }
    if password is not None:
        smtp["password"] = password
    SystemSettings(pbx).patch({"portal_url": PORTAL, "smtp": smtp})


def texts(message: EmailMessage) -> dict[str, str]:
    """The text parts of ``message`` by content type (text/plain, text/html)."""
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_attachment():
            # SMTP carries CRLF line ends; compare text as written.
            found[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return found


def decoded(message: EmailMessage) -> str:
    """Everything a reader could get out of the message: headers, every part decoded."""
    pieces = [str(v) for v in message.values()]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        pieces.append(payload.decode("latin-1"))
    return "\n".join(pieces)
