"""The provisioning server: answers a phone's request for its file (see ``vendors``).

``ProvisioningServer.fetch`` takes what the HTTP request says and returns the answer, so
the HTTP and HTTPS listeners (``klapka.api.provisioning``) share one server, one device
key and one count of failures. Order of checks: an address with too many recent failures
is refused (429); an unknown MAC is a 404; no credentials a 401 with the challenges;
wrong credentials a 401. Unknown MACs and wrong credentials count as failures and are
written to the audit log (action ``provisioning_failed``, kind ``phone``, key the MAC,
never a password); the failure that blocks an address adds ``provisioning_blocked``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, select

from klapka.domain.extension import Extension, FunctionKeyType, Phone
from klapka.services import audit
from klapka.services.hot_desk_logins import login_of
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.provisioning import fetches, phonebook
from klapka.services.provisioning.credentials import (
    DeviceKey,
    FailureThrottle,
    Presented,
    challenges,
    check_password,
    parse_authorization,
)
from klapka.services.provisioning.render import (
    TemplateError,
    Templates,
    common_context,
    context,
)
from klapka.services.provisioning.vendors import (
    CONFIG_TEMPLATE,
    MEDIA_TYPE,
    PHONEBOOK_TEMPLATE,
    YEALINK_COMMON_TEMPLATE,
    FileKind,
    Vendor,
    Wanted,
    parse,
    vendor_of,
)
from klapka.services.telephony.sip_paths import SipPaths
from klapka.services.welcome import listening
from klapka.store import tables as t
from klapka.store.repository import join_secrets

log = logging.getLogger("klapka.provisioning")

KIND = "phone"  # the audit log's kind for a phone (key: its MAC)


@dataclass
class Reply:
    status: int
    body: str = ""
    media_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    challenges: list[str] = field(default_factory=list)  # WWW-Authenticate values


@dataclass(frozen=True)
class Asked:
    """What the HTTP request says (the Authorization header is never logged)."""

    path: str  # below /provisioning/
    method: str = "GET"
    authorization: str | None = None
    user_agent: str = ""
    source_ip: str | None = None
    host: str = "127.0.0.1"  # the host name the phone reached us by (no port)
    base_url: str = "http://127.0.0.1:8080"  # scheme://host[:port] of the request


@dataclass(frozen=True)
class Found:
    """A phone known to the directory, with its extension (secrets included)."""

    extension: Extension
    phone: Phone
    extension_id: int
    role: str
    language: str | None


def paths_of(data_dir: Path) -> tuple[Path, Path]:
    """The admin's template directory and the device key file under the data directory."""
    root = data_dir / "provisioning"
    return root / "templates", root / "device.key"


class BrokenRow(Exception):
    """The stored settings of the phone's extension are not valid (edited in the database)."""


def find_phone(conn: Connection, mac: str) -> Found | None:
    ext = t.extensions
    row = conn.execute(
        select(ext.c.id, ext.c.role, ext.c.language, ext.c.data, ext.c.secrets)
        .join(t.phones, t.phones.c.extension_id == ext.c.id)
        .where(t.phones.c.mac == mac)
    ).first()
    if row is None:
        return None
    try:
        extension = Extension.model_validate(join_secrets(dict(row.data), dict(row.secrets)))
    except ValidationError as e:  # a row changed behind klapka's back
        raise BrokenRow(f"extension {row.data.get('number')}: {e.error_count()} problems") from None
    phone = next((p for p in extension.phones if p.mac == mac), None)
    if phone is None:
        return None
    return Found(extension, phone, row.id, row.role, row.language)


def _logged_in(conn: Connection, found: Found) -> Found:
    """A hot-desk phone (its extension has ``features.hot_desking``) with a user logged in
    gets that user's account, keys and phonebook; otherwise its own extension's (the
    guest's). A login whose user is gone leaves the guest."""
    if not found.extension.features.hot_desking:
        return found
    login = login_of(conn, found.phone.mac)
    if login is None:
        return found
    ext = t.extensions
    row = conn.execute(
        select(ext.c.id, ext.c.role, ext.c.language, ext.c.data, ext.c.secrets).where(
            ext.c.number == login.extension
        )
    ).first()
    if row is None:
        return found
    try:
        user = Extension.model_validate(join_secrets(dict(row.data), dict(row.secrets)))
    except ValidationError as e:
        raise BrokenRow(f"extension {login.extension}: {e.error_count()} problems") from None
    return Found(user, found.phone, row.id, row.role, row.language)


class ProvisioningServer:
    def __init__(self, pbx: Pbx, data_dir: Path, throttle: FailureThrottle | None = None) -> None:
        self.pbx = pbx
        self.sip_paths = SipPaths(data_dir / "sip")
        override, key_file = paths_of(data_dir)
        self.templates = Templates(override)
        self.key = DeviceKey(key_file)
        self.throttle = throttle or FailureThrottle()

    # --- the request ------------------------------------------------------------------

    def fetch(self, asked: Asked) -> Reply:
        try:
            return self._fetch(asked)
        except BrokenRow as e:
            log.error("provisioning: %s cannot be read", e)
            return Reply(500, "the phone's settings cannot be read (see the log)\n")
        except TemplateError as e:
            name, line = getattr(e, "name", None), getattr(e, "lineno", None)
            where = f"{name}, line {line}: " if line else ""
            log.error("provisioning: template error: %s%s", where, e.message)
            return Reply(500, "template error (see the log)\n")

    def _fetch(self, asked: Asked) -> Reply:
        wanted = parse(asked.path)
        if wanted is None:
            return Reply(404, "not found\n")
        ip = asked.source_ip or "unknown"
        wait = self.throttle.blocked(ip)
        if wait:
            return Reply(429, "too many failed attempts\n", headers={"Retry-After": str(wait)})
        if wanted.kind is FileKind.COMMON:
            with self.pbx.tx() as repo:
                system = repo.system()[0]
            body = self.templates.render(YEALINK_COMMON_TEMPLATE, common_context(system))
            return Reply(200, body, MEDIA_TYPE[wanted.suffix])
        with self.pbx.tx() as repo:
            found = find_phone(repo.conn, wanted.mac)
            if found is None:
                self._failed(repo.conn, asked, wanted.mac, "unknown MAC address", None, once=True)
                return Reply(404, "not found\n")
            # Guesses at one phone's credentials (its extension's PIN) are limited per phone
            # too, whatever the addresses they come from.
            wait = self.throttle.blocked(f"mac:{wanted.mac}")
            if wait:
                return Reply(429, "too many failed attempts\n", headers={"Retry-After": str(wait)})
            presented = parse_authorization(asked.authorization)
            if presented is None:
                return Reply(401, "authentication required\n", challenges=challenges(self.key))
            if not self._authentic(presented, found, asked):
                self._failed(repo.conn, asked, wanted.mac, "wrong credentials", presented.user)
                return Reply(401, "authentication required\n", challenges=challenges(self.key))
            found = _logged_in(repo.conn, found)
            system = repo.system()[0]
            vendor = vendor_of(wanted, found.phone.vendor, asked.user_agent)
            if wanted.kind is FileKind.PHONEBOOK:
                user = phonebook.phone_user(found.extension.number, found.role)
                entries = phonebook.entries(repo.conn, user, found.extension_id)
                variables: dict[str, Any] = {
                    "entries": [e.view() for e in entries],
                    "title": "klapka",
                    "vendor": vendor.value,
                }
                template = PHONEBOOK_TEMPLATE[vendor]
            else:
                names = _names(repo.conn, found.extension)
                variables = context(
                    found.extension,
                    found.phone,
                    system,
                    host=asked.host,
                    base_url=asked.base_url,
                    language=found.language,
                    names=names,
                    admin_password=self.key.admin_password(found.phone.mac),
                    listening=listening(self.sip_paths),
                )
                variables["vendor"] = vendor.value
                template = self._template(found.phone, vendor)
        body = self.templates.render(template, variables)
        if wanted.kind is FileKind.CONFIG:  # the last fetch the admin's Phones tab shows
            fetches.remember(
                self.pbx, found.phone.mac, source_ip=asked.source_ip,
                user_agent=asked.user_agent, file=asked.path,
            )  # fmt: skip
        log.info(
            "provisioning: %s (%s) sent to %s for extension %s",
            asked.path, vendor.value, ip, found.extension.number,
        )  # fmt: skip
        return Reply(200, body, MEDIA_TYPE[wanted.suffix])

    def _template(self, phone: Phone, vendor: Vendor) -> str:
        if phone.template and self.templates.exists(phone.template):
            return phone.template
        if phone.template:
            log.warning(
                "provisioning: template %r of phone %s not found; using %s",
                phone.template, phone.mac, CONFIG_TEMPLATE[vendor],
            )  # fmt: skip
        return CONFIG_TEMPLATE[vendor]

    def _authentic(self, presented: Presented, found: Found, asked: Asked) -> bool:
        user = presented.user.strip().lower().replace(":", "").replace("-", "")
        path = "/provisioning/" + asked.path
        if user == found.phone.mac:
            password = self.key.device_password(found.phone.mac)
            return check_password(presented, password, asked.method, path, self.key)
        ext = found.extension
        if presented.user == ext.number and ext.voicemail.pin:
            return check_password(presented, ext.voicemail.pin, asked.method, path, self.key)
        return False

    def _failed(
        self,
        conn: Connection,
        asked: Asked,
        mac: str,
        reason: str,
        user: str | None,
        once: bool = False,
    ) -> None:
        """Count the failure (an unknown MAC once per window and address) and, when it
        counted, write it to the audit log."""
        ip = asked.source_ip or "unknown"
        counted, blocks = self.throttle.failed(ip, once=f"mac:{mac}" if once else None)
        if not once:  # wrong credentials for a known phone: counted for the phone as well
            _counted, phone_blocks = self.throttle.failed(f"mac:{mac}")
            if phone_blocks:
                who = Principal(role="anonymous", name="provisioning", source_ip=asked.source_ip)
                audit.record(
                    conn, who, "provisioning_blocked", KIND, mac, None,
                    {"failures": self.throttle.max_failures,
                     "blocked_seconds": self.throttle.blocked(f"mac:{mac}")},
                )  # fmt: skip
                log.warning("provisioning: phone %s blocked after repeated failures", mac)
        if not counted:
            return
        who = Principal(role="anonymous", name="provisioning", source_ip=asked.source_ip)
        details = {"reason": reason, "file": asked.path[:100], "user": (user or "")[:63] or None}
        audit.record(conn, who, "provisioning_failed", KIND, mac, None, details)
        log.warning("provisioning: %s for %s from %s", reason, asked.path[:100], ip)
        if blocks:
            seconds = self.throttle.blocked(ip)
            audit.record(
                conn, who, "provisioning_blocked", "provisioning_source", ip, None,
                {"failures": self.throttle.max_failures, "blocked_seconds": seconds},
            )  # fmt: skip
            log.warning("provisioning: %s blocked for %d s after repeated failures", ip, seconds)

    # --- what an admin reads ----------------------------------------------------------

    def credentials(self, mac: str) -> dict[str, str]:
        """The phone's provisioning user name and password, and its admin password."""
        return {
            "username": mac,
            "password": self.key.device_password(mac),
            "admin_password": self.key.admin_password(mac),
        }


def _names(conn: Connection, ext: Extension) -> dict[str, str]:
    """Display names of the extensions the BLF keys watch."""
    watched = {
        k.extension for k in ext.function_keys if k.type is FunctionKeyType.BLF and k.extension
    }
    if not watched:
        return {}
    e = t.extensions
    rows = conn.execute(
        select(e.c.number, e.c.first_name, e.c.last_name).where(e.c.number.in_(watched))
    )
    return {n: " ".join(p for p in (f, la) if p) or n for n, f, la in rows}


__all__ = ["Asked", "ProvisioningServer", "Reply", "Wanted", "find_phone"]
