"""The files phones get, made from Jinja2 templates: those shipped in this package
(``templates/``) or an admin's own in ``<data dir>/provisioning/templates/``, which win
when they have the same name (``yealink.cfg.j2`` replaces the shipped one; a phone's
``template`` setting names another, e.g. ``my-yealink.cfg`` for ``my-yealink.cfg.j2``).

``context`` makes the variables every template gets (docs/provisioning.md lists them).
XML templates are autoescaped; settings that reach a ``.cfg`` file hold no line breaks
(the domain refuses control characters in names).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from klapka.domain.directory import System
from klapka.domain.extension import Extension, FunctionKey, FunctionKeyType, Phone, Transport
from klapka.domain.values import PresenceStatus

SHIPPED = Path(__file__).parent / "templates"
SUFFIX = ".j2"
NTP_SERVER = "pool.ntp.org"
VOICEMAIL_CODE = "*2"  # own voicemail (docs/feature-codes.md)
DND_ON, DND_OFF = "*78", "*79"

LANGUAGE_NAMES = {
    "en": "English",
    "cs": "Czech",
    "sk": "Slovak",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pl": "Polish",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "tr": "Turkish",
}

# Presence status -> the digit of its feature code *80N.
_PRESENCE_DIGIT = {
    PresenceStatus.AVAILABLE: "1",
    PresenceStatus.AWAY: "2",
    PresenceStatus.BUSINESS_TRIP: "3",
    PresenceStatus.DO_NOT_DISTURB: "4",
    PresenceStatus.LUNCH_BREAK: "5",
    PresenceStatus.OFF_WORK: "6",
}


# What a broken template raises (syntax, an undefined variable): the request gets a 500.
TemplateError = jinja2.TemplateError


class Templates:
    """The Jinja2 environment over an admin's directory and the shipped templates."""

    def __init__(self, override_dir: Path) -> None:
        self.override_dir = override_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(override_dir), str(SHIPPED)]),
            autoescape=lambda name: bool(name and name.endswith(".xml" + SUFFIX)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=True,
        )

    def render(self, name: str, variables: dict[str, Any]) -> str:
        """The template ``name`` (without ``.j2``) rendered with ``variables``."""
        return self.env.get_template(name + SUFFIX).render(variables)

    def exists(self, name: str) -> bool:
        try:
            self.env.get_template(name + SUFFIX)
        except jinja2.TemplateNotFound:
            return False
        return True


@functools.lru_cache(maxsize=64)
def posix_tz(name: str) -> str:
    """The POSIX TZ string of a time zone (``CET-1CEST,M3.5.0,M10.5.0/3``), from the
    footer of its TZif file; ``UTC0`` when it cannot be read."""
    for root in ("/usr/share/zoneinfo", "/usr/lib/zoneinfo"):
        try:
            data = Path(root, name).read_bytes()
        except OSError:
            continue
        lines = data.rstrip(b"\n").rsplit(b"\n", 1)
        if len(lines) == 2 and lines[1] and data.startswith(b"TZif"):
            return lines[1].decode("ascii", "replace")
    return "UTC0"


def utc_offset(name: str, at: datetime | None = None) -> int:
    """The zone's standard offset from UTC, in minutes: daylight saving time left out (the
    phones are told to apply it themselves; Prague is +60 in July too)."""
    local = (at or datetime.now(UTC)).astimezone(ZoneInfo(name))
    offset, dst = local.utcoffset(), local.dst()
    standard = (offset or timedelta()) - (dst or timedelta())
    return int(standard.total_seconds() // 60)


def offset_text(minutes: int) -> str:
    """``+1``, ``-3:30``, ``+5:45``: the form of Yealink's ``local_time.time_zone``."""
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h}" if not m else f"{sign}{h}:{m:02d}"


def key_view(key: FunctionKey, names: dict[str, str]) -> dict[str, Any]:
    """A function key as templates see it: ``value`` is what the key dials or watches."""
    value = ""
    if key.type is FunctionKeyType.BLF:
        value = key.extension or ""
    elif key.type is FunctionKeyType.SPEED_DIAL:
        value = key.number or ""
    elif key.type is FunctionKeyType.PRESENCE and key.status is not None:
        value = "*80" + _PRESENCE_DIGIT[key.status]
    elif key.type is FunctionKeyType.DND:
        value = DND_ON
    default_label = {
        FunctionKeyType.BLF: names.get(key.extension or "", key.extension or ""),
        FunctionKeyType.SPEED_DIAL: key.number or "",
        FunctionKeyType.DND: "DND",
        FunctionKeyType.FORWARD: "Forward",
        FunctionKeyType.PRESENCE: (key.status.value if key.status else "").replace("_", " "),
        FunctionKeyType.PARK: "Park",
        FunctionKeyType.BOSS_SECRETARY: "Boss/Secretary",
        FunctionKeyType.LINE: "Line",
    }[key.type]
    return {
        "position": key.key,
        "type": key.type.value,
        "label": key.label or default_label,
        "value": value,
        "extension": key.extension,
        "number": key.number,
        "status": key.status.value if key.status else None,
    }


def context(
    ext: Extension,
    phone: Phone,
    system: System,
    *,
    host: str,
    base_url: str,
    language: str | None,
    names: dict[str, str],
    admin_password: str,
    listening: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Every variable of a configuration file's template (docs/provisioning.md).

    ``host``: the host name the phone reached the provisioning server by (it reaches the
    SIP core there too); ``listening``: the ports the SIP core was started with, by
    transport (they win over the system settings, as for the apps)."""
    sip = system.sip
    configured = {"udp": sip.udp_port, "tcp": sip.tcp_port, "tls": sip.tls_port or 0}
    ports = {k: (listening or {}).get(k) or v for k, v in configured.items()}
    transport = ext.advanced.transport
    if transport is Transport.TLS and not ports["tls"]:
        transport = Transport.UDP  # TLS is off: the phone would not reach the PBX
    port = ports[transport.value]
    server_host = host
    display = ext.effective_caller_id_name
    account = {
        "index": 1,
        "enabled": ext.enabled,
        "label": ext.number,
        "display_name": display,
        "user": ext.effective_sip_username,
        "auth_user": ext.effective_sip_username,
        "password": ext.sip_password or "",
        "server": server_host,
        "domain": sip.domain or server_host,
        "port": port,
        "transport": transport.value,
        "mailbox": VOICEMAIL_CODE,
        "mwi": ext.voicemail.enabled,
    }
    code = (language or "en").split("-")[0].lower()
    minutes = utc_offset(system.timezone)
    return {
        "vendor": phone.vendor,
        "model": phone.model,
        "mac": phone.mac,
        "extension": {
            "number": ext.number,
            "first_name": ext.first_name,
            "last_name": ext.last_name,
            "full_name": ext.full_name,
            "display_name": display,
            "email": ext.email or "",
        },
        "accounts": [account],
        "account": account,
        "server": {
            "host": server_host,
            "domain": sip.domain or server_host,
            "port": port,
            "transport": transport.value,
            **ports,
        },
        "keys": [key_view(k, names) for k in sorted(ext.function_keys, key=lambda k: k.key)],
        "voicemail": {"enabled": ext.voicemail.enabled, "number": VOICEMAIL_CODE},
        "dnd_on": DND_ON,
        "dnd_off": DND_OFF,
        "timezone": system.timezone,
        "posix_tz": posix_tz(system.timezone),
        "utc_offset_minutes": minutes,
        "utc_offset_hours": offset_text(minutes),
        "language": code,
        "language_name": LANGUAGE_NAMES.get(code, "English"),
        "ntp_server": NTP_SERVER,
        "admin_password": admin_password,
        "provisioning_url": f"{base_url}/provisioning/",
        "phonebook_url": f"{base_url}/provisioning/phonebook/{phone.mac}.xml",
    }


def common_context(system: System) -> dict[str, Any]:
    """The variables of Yealink's common file: nothing of any account or phone."""
    minutes = utc_offset(system.timezone)
    return {
        "timezone": system.timezone,
        "posix_tz": posix_tz(system.timezone),
        "utc_offset_minutes": minutes,
        "utc_offset_hours": offset_text(minutes),
        "ntp_server": NTP_SERVER,
    }
