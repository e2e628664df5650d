"""Welcome email and app login: how a new user gets going.

The welcome email (an admin action, for one extension or many) carries the portal link and,
when the extension may use the mobile or desktop app, an app login link with its QR code
(a PNG, attached and shown inline). The link holds a one-time token (``services.accounts.links``):
it works once and expires. The SIP password is never in the email, the link or the QR
code: the app gets it only by exchanging the token, over HTTPS, once: as JSON
(``app_login``) or as Linphone's remote provisioning XML (``linphone_provisioning``), which
the page at the link offers (``app_login_offer``). The SIP port in the answer is the one the
SIP core was started with (``listening``), not merely the setting's.
"""

from __future__ import annotations

import html
import io
import re
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from klapka.domain.extension import Extension
from klapka.domain.problems import Conflict, Forbidden, KlapkaError, NotFound
from klapka.domain.references import Kind
from klapka.notify.email import Mailer, MailFailed, MailNotConfigured, smtp_server
from klapka.services import audit, permissions
from klapka.services.accounts import links
from klapka.services.accounts.passwords import token_digest
from klapka.services.directory.objects import Objects, validate
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM, Principal
from klapka.services.telephony.sip_paths import SipPaths
from klapka.store import tables as t
from klapka.store.database import data_dir
from klapka.store.repository import now

APP_LOGIN_TTL = timedelta(days=7)
QR_CONTENT_ID = "app-login-qr"
QR_FILENAME = "klapka-app-login.png"
NO_EMAIL = "no email"


class LinkNotValid(KlapkaError):
    """The login link is unknown, already used or expired."""

    def __init__(self) -> None:
        super().__init__("this login link is unknown, already used or expired: ask for a new one")


@dataclass
class WelcomeResult:
    """What happened for one extension: sent to ``email``, or not, and why."""

    number: str
    sent: bool
    email: str | None = None
    error: str | None = None
    expires_at: datetime | None = None  # of the app login link, when there is one

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "sent": self.sent,
            "email": self.email,
            "error": self.error,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def app_login_link(portal_url: str, token: str) -> str:
    """The link in the email and the QR code. The token is in the fragment, which browsers
    never send to a server, so it stays out of access logs. It opens the app login page
    (the web UI's), which offers Linphone its provisioning URL (``linphone_provisioning_url``)
    or exchanges the token for the account details when asked; an app of ours may post the
    token to ``/api/v1/auth/app-login`` itself."""
    return f"{portal_url.rstrip('/')}/app-login#token={token}"


def qr_png(text: str) -> bytes:
    """``text`` as a QR code, a PNG image."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def uses_apps(ext: Extension) -> bool:
    return ext.clients.mobile_client or ext.clients.desktop_client


class Welcome:
    """Sends welcome emails; every one sent is in the audit log."""

    def __init__(
        self,
        pbx: Pbx,
        principal: Principal = SYSTEM,
        mailer: Mailer | None = None,
        ttl: timedelta = APP_LOGIN_TTL,
    ) -> None:
        self.pbx = pbx
        self.principal = principal
        self.mailer = mailer or Mailer(pbx)
        self.ttl = ttl

    @permissions.admin_only
    def send(self, number: str) -> WelcomeResult:
        """Send the welcome email of one extension. Raises NotFound, Conflict (no email,
        disabled), MailNotConfigured, or MailFailed."""
        ext = Objects(self.pbx).get_model(Kind.EXTENSION, number)
        assert isinstance(ext, Extension)
        if not ext.email:
            raise Conflict(f"extension {number} has no email address: set one first", path="email")
        if not ext.enabled:
            raise Conflict(f"extension {number} is disabled: enable it first", path="enabled")
        with self.mailer.session():
            return self._send(ext)

    @permissions.admin_only
    def send_many(self, numbers: list[str] | None = None) -> list[WelcomeResult]:
        """Welcome emails for ``numbers`` (None: every extension), each with its result.

        Raises MailNotConfigured before sending anything; every other problem is the
        result of its extension (``no email``, ``disabled``, ``does not exist``, an SMTP
        server that cannot be reached, or its refusal). When the server cannot be reached,
        the extensions after the first are not tried again: they get the same reason.
        """
        with self.pbx.tx() as repo:
            if numbers is None:
                rows = repo.rows(Kind.EXTENSION)
                rows.sort(key=lambda r: (len(r.number), r.number))
                wanted = [r.number for r in rows]
            else:
                wanted = list(dict.fromkeys(numbers))
                rows = repo.rows(Kind.EXTENSION, t.extensions.c.number.in_(wanted))
            found = {r.number: r for r in rows}
            models = {
                n: validate(Kind.EXTENSION, repo.data_of(r, with_secrets=False))
                for n, r in found.items()
            }
        smtp_server(self.pbx)  # MailNotConfigured before anything is sent
        results: list[WelcomeResult] = []
        unreachable: str | None = None  # why the SMTP server could not be used, if so
        with ExitStack() as connected:
            for number in wanted:
                ext = models.get(number)
                if ext is None:
                    results.append(WelcomeResult(number, False, error="does not exist"))
                    continue
                assert isinstance(ext, Extension)
                if not ext.email:
                    results.append(WelcomeResult(number, False, error=NO_EMAIL))
                    continue
                if not ext.enabled:
                    results.append(WelcomeResult(number, False, ext.email, error="disabled"))
                    continue
                if unreachable is None and not self.mailer.connected:
                    try:  # one connection for them all, opened for the first to send
                        connected.enter_context(self.mailer.session())
                    except MailFailed as e:
                        unreachable = str(e)  # the same for the rest: not tried again
                if unreachable is not None:
                    results.append(WelcomeResult(number, False, ext.email, error=unreachable))
                    continue
                try:
                    results.append(self._send(ext))
                except MailFailed as e:
                    results.append(WelcomeResult(number, False, ext.email, error=str(e)))
        return results

    def login_link(self, number: str) -> dict[str, Any]:
        """A new app login link for ``number``, to show (the web UI's Clients tab) rather
        than email: the link, its QR code (PNG) and its expiry. Older links stop working.
        Admins only; in the audit log."""
        with self.pbx.tx() as repo:
            permissions.check(repo.conn, self.principal, permissions.Action.ADMINISTER)
            if repo.id_of(Kind.EXTENSION, number) is None:
                raise NotFound("extension", number)
            system = repo.system()[0]
            links.revoke(repo.conn, links.APP_LOGIN, number)
            token = links.issue(repo.conn, links.APP_LOGIN, number, self.ttl)
            audit.record(repo.conn, self.principal, "app_login_link", "extension", number, None, {})
        link = app_login_link(system.portal_url, token)
        return {"link": link, "expires_at": now() + self.ttl, "qr_png": qr_png(link)}

    def _send(self, ext: Extension) -> WelcomeResult:
        assert ext.email is not None
        with self.pbx.tx() as repo:
            system = repo.system()[0]
            token = None
            if uses_apps(ext):
                # Only the newest welcome email's link works.
                links.revoke(repo.conn, links.APP_LOGIN, ext.number)
                token = links.issue(repo.conn, links.APP_LOGIN, ext.number, self.ttl)
        expires = now() + self.ttl if token else None
        link = app_login_link(system.portal_url, token) if token else None
        text, body = _content(ext, system.portal_url, link, expires)
        png = qr_png(link) if link else None
        try:
            self.mailer.send(
                ext.email,
                f"Welcome: your extension {ext.number}",
                text,
                body,
                attachments=[(QR_FILENAME, png, "image/png")] if png else (),
                inline=[(QR_CONTENT_ID, png, "image/png")] if png else (),
            )
        except (MailFailed, MailNotConfigured):
            if token:
                links.consume(self.pbx, links.APP_LOGIN, token)  # never delivered: spend it
            raise
        with self.pbx.tx() as repo:
            audit.record(
                repo.conn,
                self.principal,
                "welcome_email",
                "extension",
                ext.number,
                None,
                {"to": ext.email, "app_login_link": link is not None},
            )
        return WelcomeResult(ext.number, True, ext.email, expires_at=expires)


def _content(
    ext: Extension, portal_url: str, link: str | None, expires: datetime | None
) -> tuple[str, str]:
    """The plain text and the HTML of the welcome email."""
    name = ext.full_name or ext.number
    lines = [
        f"Hello {name},",
        "",
        "your phone extension is ready.",
        "",
        f"  Extension:      {ext.number}",
        f"  Portal sign-in: {ext.email}",
        "",
        f"Web portal: {portal_url}",
        "Sign in with your email address to manage your calls, forwarding and voicemail.",
    ]
    e = html.escape
    parts = [
        f"<p>Hello {e(name)},</p>",
        "<p>your phone extension is ready.</p>",
        f"<p>Extension: <b>{e(ext.number)}</b><br>Portal sign-in: {e(ext.email or '')}</p>",
        f'<p>Web portal: <a href="{e(portal_url)}">{e(portal_url)}</a><br>',
        "Sign in with your email address to manage your calls, forwarding and voicemail.</p>",
    ]
    if link and expires:
        until = expires.strftime("%Y-%m-%d %H:%M UTC")
        lines += [
            "",
            "Phone app: open this link on the phone or computer that has the app, or scan",
            "the attached QR code with the phone's camera. The page it opens sets up Linphone",
            "in one tap, or shows what to type into another SIP app. No password needed.",
            f"  {link}",
            f"The link works once and until {until}. Ask your administrator for a new one",
            "when it has expired.",
        ]
        parts += [
            "<p>Phone app: open this link on the phone or computer that has the app, or scan "
            "the QR code with the phone's camera. The page it opens sets up Linphone in one "
            "tap, or shows what to type into another SIP app. No password needed.</p>",
            f'<p><a href="{e(link)}">Set up the app</a></p>',
            f'<p><img src="cid:{QR_CONTENT_ID}" alt="QR code for the app login" '
            'width="240" height="240"></p>',
            f"<p>The link works once and until {e(until)}. Ask your administrator for a new "
            "one when it has expired.</p>",
        ]
    lines += ["", "This email holds no password. Keep the link to yourself."]
    parts.append("<p>This email holds no password. Keep the link to yourself.</p>")
    return "\n".join(lines) + "\n", "<html><body>" + "\n".join(parts) + "</body></html>\n"


# --- app login ------------------------------------------------------------------------


def app_login(
    pbx: Pbx, token: str, source_ip: str | None = None, sip: SipPaths | None = None
) -> dict[str, Any]:
    """Exchange an app login token (once) for what the app needs to sign in and register:
    the extension, its display name and its SIP account, password included. ``sip``: the
    SIP core's files (default: under the data directory), where its real ports are read.

    Raises LinkNotValid for an unknown, used or expired token, Forbidden when the extension
    is disabled or may use neither the mobile nor the desktop app.
    """
    return _exchange(pbx, token, source_ip, sip)


def linphone_provisioning(
    pbx: Pbx, token: str, source_ip: str | None = None, sip: SipPaths | None = None
) -> str:
    """Exchange an app login token (once, like ``app_login``) for Linphone's remote
    provisioning: its configuration as XML (``linphone_xml``). In the audit log as
    ``app_login`` with ``{"client": "linphone"}``."""
    return linphone_xml(_exchange(pbx, token, source_ip, sip, "linphone"))


def _exchange(
    pbx: Pbx,
    token: str,
    source_ip: str | None,
    sip: SipPaths | None,
    client: str | None = None,
) -> dict[str, Any]:
    number = links.consume(pbx, links.APP_LOGIN, token)
    if number is None:
        raise LinkNotValid()
    try:
        ext = Objects(pbx).get_model(Kind.EXTENSION, number)
    except NotFound:
        raise LinkNotValid() from None
    assert isinstance(ext, Extension)
    if not ext.enabled:
        raise Forbidden(f"extension {number} is disabled")
    if not uses_apps(ext):
        raise Forbidden(f"the mobile and desktop apps are turned off for extension {number}")
    principal = Principal(
        role="user", extension=number, name=f"app login {number}", source_ip=source_ip
    )
    with pbx.tx() as repo:
        system = repo.system()[0]
        audit.record(
            repo.conn,
            principal,
            "app_login",
            "extension",
            number,
            None,
            {"client": client} if client else None,
        )
    transport = ext.advanced.transport.value
    domain, server, port = _sip_server(system, transport, sip or SipPaths(data_dir() / "sip"))
    return {
        "extension": ext.number,
        "display_name": ext.effective_caller_id_name,
        "email": ext.email,
        "portal_url": system.portal_url,
        "sip": {
            "username": ext.effective_sip_username,
            "password": ext.sip_password,
            "domain": domain,
            "server": server,
            "port": port,
            "transport": transport,
        },
    }


def _sip_server(system: Any, transport: str, sip: SipPaths) -> tuple[str, str, int]:
    """(SIP domain, server host, port) for a client: the SIP domain setting, else the host
    of the portal URL; the port of ``transport`` the SIP core listens on (``listening``),
    else the system setting's."""
    host = urlsplit(system.portal_url).hostname or "127.0.0.1"
    settings = system.sip
    domain = settings.domain or host
    configured = {"udp": settings.udp_port, "tcp": settings.tcp_port, "tls": settings.tls_port}
    port = listening(sip).get(transport) or configured.get(transport) or 5060
    return domain, host, int(port)


_LISTEN = re.compile(r"^listen=(udp|tcp|tls):\S+:(\d+)(?:\s|$)", re.MULTILINE)


def listening(sip: SipPaths) -> dict[str, int]:
    """The SIP ports the SIP core was started with, by transport (``udp``, ``tcp``,
    ``tls``): read from the configuration the supervisor wrote for it at its start (its
    ``listen=`` lines), so ``klapka serve --sip-port`` and a TLS port dropped as busy
    count. Its SIP sockets come first in it, the WebSocket ones (also TCP and TLS) after.
    Empty when there is none (the SIP core never ran)."""
    try:
        text = sip.cfg.read_text()
    except OSError:
        return {}
    ports: dict[str, int] = {}
    for proto, port in _LISTEN.findall(text):
        ports.setdefault(proto, int(port))
    return ports


def app_login_offer(pbx: Pbx, token: str) -> dict[str, Any] | None:
    """What the app login page (at the link) offers before anything is exchanged: where
    Linphone fetches its configuration (``provisioning_url``), the link that opens Linphone
    on it (``linphone_link``), its QR code (``qr_png``) and when the link expires. None when
    the token is not valid now (unknown, used or expired). Spends nothing, reveals no
    secret: the token is only looked at."""
    if not token or len(token) > 256:
        return None
    c = t.one_time_tokens.c
    with pbx.tx() as repo:
        expires = repo.conn.execute(
            select(c.expires_at).where(
                c.token_hash == token_digest(token),
                c.purpose == links.APP_LOGIN,
                c.used_at.is_(None),
                c.expires_at > now(),
            )
        ).scalar_one_or_none()
        if expires is None:
            return None
        portal_url = repo.system()[0].portal_url
    url = linphone_provisioning_url(portal_url, token)
    return {
        "provisioning_url": url,
        "linphone_link": linphone_config_link(portal_url, token),
        "qr_png": qr_png(url),
        "expires_at": expires,
    }


# --- Linphone's remote provisioning ---------------------------------------------------

LINPHONE_XML_PATH = "/api/v1/auth/app-login/{token}/linphone.xml"
LINPHONE_XMLNS = "http://www.linphone.org/xsds/lpconfig.xsd"


def linphone_provisioning_url(portal_url: str, token: str) -> str:
    """Where Linphone fetches its configuration for the app login ``token`` (once)."""
    return portal_url.rstrip("/") + LINPHONE_XML_PATH.format(token=token)


def linphone_config_link(portal_url: str, token: str) -> str:
    """The link that opens Linphone (mobile and desktop) on its remote provisioning."""
    return "linphone-config:" + linphone_provisioning_url(portal_url, token)


def linphone_xml(login: dict[str, Any]) -> str:
    """Linphone's configuration (its "linphonerc XML", ``lpconfig.xsd``) for the account
    of ``login`` (what ``app_login`` answers): one proxy (the SIP core, on the port and
    transport of the extension) and its credentials. ``transient_provisioning``: applied
    once; Linphone does not fetch the (spent) URL again at its next start."""
    sip = login["sip"]
    host = sip["server"]
    host = f"[{host}]" if ":" in host else host
    identity_user = login["extension"]
    display = str(login.get("display_name") or "").replace("\\", "").replace('"', "")
    identity = f"sip:{identity_user}@{sip['domain']}"
    if display:
        identity = f'"{display}" <{identity}>'
    proxy = f"<sip:{host}:{sip['port']};transport={sip['transport']}>"
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        ("sip", [("default_proxy", "0")]),
        (
            "proxy_0",
            [
                ("reg_proxy", proxy),
                ("reg_identity", identity),
                ("reg_expires", "3600"),
                ("reg_sendregister", "1"),
                ("publish", "0"),
                ("dial_escape_plus", "0"),
            ],
        ),
        (
            "auth_info_0",
            [
                ("username", identity_user),
                ("userid", sip["username"]),
                ("passwd", sip["password"]),
                ("domain", sip["domain"]),
            ],
        ),
        ("misc", [("transient_provisioning", "1")]),
    ]
    e = html.escape
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<config xmlns="{LINPHONE_XMLNS}">',
    ]
    for name, entries in sections:
        lines.append(f'  <section name="{e(name)}">')
        for key, value in entries:
            lines.append(f'    <entry name="{e(key)}" overwrite="true">{e(value)}</entry>')
        lines.append("  </section>")
    lines.append("</config>")
    return "\n".join(lines) + "\n"
