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
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from klapka.services.pbx import Pbx

log = logging.getLogger(__name__)

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
        """One connection for every ``send`` inside the ``with`` block."""
        if self._open is not None:
            yield self
            return
        server = smtp_server(self.pbx)
        smtp = self._connect(server)
        self._open = (server, smtp)
        try:
            yield self
        finally:
            self._open = None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

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
                if server.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            try:
                if server.username:
                    smtp.login(server.username, server.password or "")
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as e:
            raise MailFailed(
                f"the SMTP server {where} refused the login of {server.username}: {_reason(e)}"
            ) from None
        except (smtplib.SMTPException, OSError) as e:
            raise MailFailed(f"cannot use the SMTP server {where}: {_reason(e)}") from None
        return smtp

    def _deliver(self, server: SmtpServer, smtp: smtplib.SMTP, msg: EmailMessage) -> None:
        try:
            smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused:
            raise MailFailed(f"the SMTP server refused the recipient {msg['To']}") from None
        except (smtplib.SMTPException, OSError) as e:
            raise MailFailed(
                f"the SMTP server {server.host}:{server.port} did not take the message: "
                f"{_reason(e)}"
            ) from None
        log.info("email sent to %s: %s", msg["To"], msg["Subject"])


def _reason(e: Exception) -> str:
    if isinstance(e, smtplib.SMTPResponseException):
        message = e.smtp_error
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        return f"{e.smtp_code} {text}".strip()
    return str(e) or type(e).__name__
