"""Email through the SMTP server of the system settings (``system.smtp``).

``Mailer(pbx).send(...)`` composes a message (plain text, optionally an HTML alternative
with inline images, optionally attachments) and hands it to the server: plain, STARTTLS or
TLS, with a login when a user name is set. ``with mailer.session():`` keeps one connection
for many messages (bulk welcome emails). Nothing about the password or the message body is
logged.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from klapka.store.repository import Repository

log = logging.getLogger(__name__)


class Pbx(Protocol):
    """Where the SMTP settings are read: ``klapka.services.pbx.Pbx`` (notify sits below the
    services, which send through it)."""

    def tx(self) -> AbstractContextManager[Repository]: ...


# (file name or content id, bytes, MIME type like "image/png")
Part = tuple[str, bytes, str]


class MailNotConfigured(Exception):
    """No SMTP server or sender address in the system settings: no email can be sent."""

    def __init__(self) -> None:
        super().__init__(
            "email is not set up: set system.smtp.host and system.smtp.from_address first"
        )


class MailFailed(Exception):
    """The SMTP server could not be reached, or refused the login or the message."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # none | starttls | tls
    username: str
    password: str | None
    from_address: str

    def __repr__(self) -> str:  # never show the password, e.g. in a traceback
        return f"SmtpServer({self.host}:{self.port}, {self.security}, user={self.username!r})"


def smtp_server(pbx: Pbx) -> SmtpServer:
    """The SMTP settings of the PBX; raises MailNotConfigured when incomplete."""
    with pbx.tx() as repo:
        system, secrets, _hours, _v = repo.system()
    smtp = system.smtp
    if not smtp.host or not smtp.from_address:
        raise MailNotConfigured()
    return SmtpServer(
        smtp.host,
        smtp.port,
        smtp.security,
        smtp.username,
        secrets.get("smtp.password"),
        smtp.from_address,
    )


def compose(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Part] = (),
    inline: Sequence[Part] = (),
) -> EmailMessage:
    """The message: text, or text and HTML (with ``inline`` images, referred to in the HTML
    as ``cid:<content id>``), plus ``attachments``."""
    if inline and html is None:
        raise ValueError("inline parts need an HTML part that shows them")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        for content_id, data, mime in inline:
            maintype, _, subtype = mime.partition("/")
            html_part.add_related(data, maintype, subtype, cid=f"<{content_id}>")
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype, subtype, filename=filename)
    return msg


class Mailer:
    """Sends email through the PBX's SMTP server."""

    def __init__(self, pbx: Pbx, timeout: float = 20.0) -> None:
        self.pbx = pbx
        self.timeout = timeout
        self._open: tuple[SmtpServer, smtplib.SMTP] | None = None

    @property
    def connected(self) -> bool:
        """Inside a ``session()``: the connection is open."""
        return self._open is not None

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Sequence[Part] = (),
        inline: Sequence[Part] = (),
    ) -> None:
        """Send one message to ``to``. Raises MailNotConfigured, or MailFailed with the
        reason when the server cannot be reached or refuses."""
        if self._open is not None:
            server, smtp = self._open
            self._deliver(
                server,
                smtp,
                compose(server.from_address, to, subject, text, html, attachments, inline),
            )
            return
        with self.session():
            self.send(to, subject, text, html, attachments, inline)

    @contextmanager
    def session(self) -> Iterator[Mailer]:
        """One connection for every ``send`` inside the ``with`` block. Raises
        MailNotConfigured, or MailFailed when the server cannot be reached or refuses the
        login; a connection the server drops is opened again for the next message."""
        if self._open is not None:
            yield self
            return
        server = smtp_server(self.pbx)
        self._open = (server, self._connect(server))
        try:
            yield self
        finally:
            _server, smtp = self._open
            self._open = None
            _quit(smtp)

    def _connect(self, server: SmtpServer) -> smtplib.SMTP:
        where = f"{server.host}:{server.port}"
        try:
            smtp: smtplib.SMTP
            if server.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as e:
            raise MailFailed(
                f"cannot connect to the SMTP server {where} ({self._why(e)})"
            ) from None
        try:
            if server.security == "starttls":
                try:
                    smtp.starttls(context=ssl.create_default_context())
                except (smtplib.SMTPException, OSError, ValueError) as e:
                    raise MailFailed(
                        f"cannot start TLS with the SMTP server {where} ({self._why(e)})"
                    ) from None
            if server.username:
                try:
                    smtp.login(server.username, server.password or "")
                except smtplib.SMTPAuthenticationError as e:
                    raise MailFailed(
                        f"the SMTP server {where} refused the login of {server.username}: "
                        f"{_reason(e)}"
                    ) from None
                except (smtplib.SMTPException, OSError, ValueError) as e:
                    raise MailFailed(
                        f"cannot log in to the SMTP server {where} as {server.username} "
                        f"({self._why(e)})"
                    ) from None
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, server: SmtpServer, smtp: smtplib.SMTP, msg: EmailMessage) -> None:
        try:
            smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused:
            raise MailFailed(f"the SMTP server refused the recipient {msg['To']}") from None
        except (smtplib.SMTPException, OSError) as e:
            if isinstance(e, smtplib.SMTPServerDisconnected | ConnectionError):
                self._reconnect(server)  # for the next message; this one failed
            raise MailFailed(
                f"the SMTP server {server.host}:{server.port} did not take the message "
                f"({self._why(e)})"
            ) from None
        log.info("email sent to %s: %s", msg["To"], msg["Subject"])

    def _reconnect(self, server: SmtpServer) -> None:
        """The connection broke: open a new one, or leave the broken one to fail again."""
        assert self._open is not None
        try:
            fresh = self._connect(server)
        except MailFailed:
            return
        _quit(self._open[1])
        self._open = (server, fresh)

    def _why(self, e: BaseException) -> str:
        """Why a connection failed, in words: ``connection refused``, ``no answer within
        20 s``, ``unknown host``, the server's reply..."""
        if isinstance(e, smtplib.SMTPServerDisconnected) and isinstance(e.__context__, OSError):
            e = e.__context__  # smtplib's wrapping of a timeout or a reset while reading
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        if isinstance(e, socket.gaierror):
            return f"unknown host: {e.strerror}" if e.strerror else "unknown host"
        if isinstance(e, UnicodeError | ValueError) and not isinstance(e, OSError):
            return f"not a valid host name: {e}"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not trusted: {e.verify_message}"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed: {e.reason or e}"
        if isinstance(e, smtplib.SMTPNotSupportedError):
            return f"the server does not support it: {e}"
        if isinstance(e, smtplib.SMTPServerDisconnected):
            return "the server closed the connection"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.lower() if e.strerror[:1].isupper() else e.strerror
        return _reason(e) if isinstance(e, Exception) else type(e).__name__


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reason(e: Exception) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        message = e.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{e.smtp_code} {text}".strip()
    return str(e) or type(e).__name__
