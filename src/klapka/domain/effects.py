"""Where each setting takes effect: the one list of it (docs/settings.md, the web editor's
"not active yet" badges and ``tests/domain/test_setting_effects.py`` read it from here).

A setting is *active* when something besides storing, validating and editing it acts on it:
the call routing, the SIP core, the voicemail, the emails, the portal... and a phone, the
wire, a caller or a user sees the difference. A setting klapka stores but nothing acts on
yet is ``NOT_ACTIVE``: the editor marks it "not active yet" instead of pretending.

Paths name a setting from the object it belongs to: ``extension.voicemail.pin``,
``trunk.codecs``, ``system.sip.domain``. An item of a list is named like the list
(``extension.phones.mac``: the ``mac`` of every phone); ``*`` stands for any one key, e.g.
every presence status in ``extension.presence_settings.*.ring_timeout``. Every setting of
the configuration document has exactly one entry (the test walks the models).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    """Where a setting takes effect."""

    ROUTING = "routing"  # where calls go: klapka.routing, applied by the SIP core
    SIP_CORE = "sip_core"  # registration, trunks, listening: Kamailio and its KEMI code
    VOICEMAIL = "voicemail"  # what the voicemail plays and records (klapka.media)
    PROVISIONING = "provisioning"  # what the apps get when they sign in with a login link
    PHONES = "phones"  # what desk phones get: their provisioning files, hot desking
    EMAIL = "email"  # the emails klapka sends
    ACCOUNTS = "accounts"  # signing in to the portal and the API
    PERMISSIONS = "permissions"  # what a portal user sees and may change
    WEB = "web"  # what the portal shows to users
    CONTACTS = "contacts"  # company contacts, as the portal and the API give them out
    CALL_HISTORY = "call_history"  # the record of calls (klapka.services.call_history)
    NOT_ACTIVE = "not_active"  # stored, but nothing acts on it yet


WORDING: dict[Effect, str] = {
    Effect.ROUTING: "call routing",
    Effect.SIP_CORE: "SIP core",
    Effect.VOICEMAIL: "voicemail",
    Effect.PROVISIONING: "app sign-in",
    Effect.PHONES: "desk phones",
    Effect.EMAIL: "email",
    Effect.ACCOUNTS: "sign-in",
    Effect.PERMISSIONS: "portal permissions",
    Effect.WEB: "portal",
    Effect.CONTACTS: "contacts",
    Effect.CALL_HISTORY: "call history",
    Effect.NOT_ACTIVE: "not active yet",
}

NOT_ACTIVE_YET = WORDING[Effect.NOT_ACTIVE]


@dataclass(frozen=True)
class Setting:
    path: str
    effects: tuple[Effect, ...]
    note: str = ""

    @property
    def active(self) -> bool:
        return Effect.NOT_ACTIVE not in self.effects

    @property
    def where(self) -> str:
        """The effects in words, e.g. "call routing, SIP core"."""
        return ", ".join(WORDING[e] for e in self.effects)


R, S, V, P, E, A, W, C, X = (
    Effect.ROUTING,
    Effect.SIP_CORE,
    Effect.VOICEMAIL,
    Effect.PROVISIONING,
    Effect.EMAIL,
    Effect.ACCOUNTS,
    Effect.WEB,
    Effect.CONTACTS,
    Effect.NOT_ACTIVE,
)
PERM = Effect.PERMISSIONS
PH = Effect.PHONES

_CODECS = "offered to it in this order; other codecs are stripped or transcoded by the media relay"

_SETTINGS: tuple[tuple[str, tuple[Effect, ...], str], ...] = (
    # --- system ---------------------------------------------------------------------
    ("system.timezone", (R, PH), "business hours and presence schedules without their own"),
    ("system.country_code", (R,), "which outside calls are international"),
    ("system.international_prefix", (R,), "which outside calls are international"),
    ("system.emergency_numbers", (R,), "always dialled out, past every restriction"),
    ("system.hot_desking_logout", (PH,), "hot-desk logins end then"),
    ("system.max_call_seconds", (S,), "calls end at the limit; an extension's own comes first"),
    ("system.call_history_days", (Effect.CALL_HISTORY,), "older calls are deleted hourly"),
    ("system.language", (V,), "voicemail prompts of mailboxes without their own language"),
    ("system.portal_url", (E, P), "links in emails; the apps' server when sip.domain is empty"),
    ("system.smtp.*", (E,), ""),
    ("system.sip.listen_address", (S,), ""),
    ("system.sip.public_address", (S,), ""),
    ("system.sip.udp_port", (S, P), ""),
    ("system.sip.tcp_port", (S, P), ""),
    ("system.sip.tls_port", (S, P), ""),
    ("system.sip.ws_port", (S,), ""),
    ("system.sip.wss_port", (S,), ""),
    ("system.sip.domain", (P, PH), "the SIP domain the apps and phones register to"),
    ("system.sip.mobile_app_user_agents", (S,), "which registrations are the mobile app"),
    ("system.sip.desktop_app_user_agents", (S,), "which registrations are the desktop app"),
    ("system.media.anchor", (S,), "which calls' audio goes through the media relay"),
    ("system.media.rtp_port_min", (S,), "the media relay's RTP ports"),
    ("system.media.rtp_port_max", (S,), "the media relay's RTP ports"),
    ("system.sign_in.*", (A,), ""),
    # --- business hours -------------------------------------------------------------
    ("business_hours.timezone", (R,), ""),
    ("business_hours.weekly", (R,), ""),
    ("business_hours.breaks", (R,), ""),
    ("business_hours.holidays.*", (R,), ""),
    # --- extension: user ------------------------------------------------------------
    ("extension.number", (R, S), ""),
    ("extension.enabled", (R, S), "a disabled extension neither calls, rings nor registers"),
    ("extension.first_name", (W, E, S), "the name colleagues and their phones see; emails use it"),
    ("extension.last_name", (W, E, S), "the name colleagues and their phones see; emails use it"),
    ("extension.email", (A, E), "the portal sign-in; where emails go"),
    ("extension.mobile", (R,), "ring mobile, forwards to the mobile"),
    ("extension.caller_id_name", (S, P), "colleagues' phones show it; the apps' display name"),
    ("extension.caller_id_number", (R,), "the caller ID of outside calls"),
    ("extension.sip_username", (S,), ""),
    ("extension.sip_password", (S,), ""),
    ("extension.concurrent_registrations", (S,), ""),
    ("extension.user_password", (A,), ""),
    ("extension.role", (A,), ""),
    ("extension.presence", (R, W), ""),
    ("extension.presence_note", (W,), "shown to colleagues with the status"),
    ("extension.trunk_caller_ids", (R,), ""),
    # --- extension: presence --------------------------------------------------------
    ("extension.presence_settings.*.internal.*", (R,), ""),
    ("extension.presence_settings.*.external.*", (R,), ""),
    ("extension.presence_settings.*.ring_first", (R,), ""),
    ("extension.presence_settings.*.ring_second", (R,), ""),
    ("extension.presence_settings.*.ring_timeout", (R,), ""),
    ("extension.presence_settings.*.ring_mobile.*", (R,), ""),
    ("extension.presence_settings.*.push_notifications", (X,), "klapka sends no push yet"),
    ("extension.presence_settings.*.agent_auto_switch", (R,), "queue login on a status change"),
    ("extension.presence_settings.*.greeting", (V,), ""),
    # --- extension: voicemail -------------------------------------------------------
    ("extension.voicemail.enabled", (R, V), ""),
    ("extension.voicemail.pin", (V, PH), "also a phone's provisioning and hot-desk password"),
    ("extension.voicemail.pin_authentication", (V,), ""),
    ("extension.voicemail.new_message_email", (E,), ""),
    ("extension.voicemail.email_address", (E,), ""),
    ("extension.voicemail.after_emailing", (E,), ""),
    ("extension.voicemail.play_date_and_time", (V,), ""),
    ("extension.voicemail.play_caller_number", (V,), ""),
    ("extension.voicemail.play_duration", (V,), ""),
    ("extension.voicemail.greeting", (V,), ""),
    ("extension.voicemail.min_message_seconds", (V,), ""),
    ("extension.voicemail.max_message_seconds", (V,), ""),
    ("extension.voicemail.max_messages", (V,), ""),
    ("extension.voicemail.discard_silence", (V,), ""),
    ("extension.voicemail.language", (V,), "the language its prompts speak"),
    # --- extension: features --------------------------------------------------------
    ("extension.features.notify_password_change", (E,), ""),
    ("extension.features.notify_missed_call", (E,), ""),
    ("extension.features.all_busy", (R,), ""),
    ("extension.features.all_reject", (R,), ""),
    ("extension.features.presence_schedule.*", (R,), ""),
    ("extension.features.allow_monitoring", (X,), "there is no listen / whisper / barge yet"),
    ("extension.features.boss.*", (R,), ""),
    ("extension.features.caller_rules.*", (R,), ""),
    ("extension.features.url_popup.*", (W,), "the user's open portal opens the URL; webhooks too"),
    ("extension.features.door_phone.*", (X,), "no intercom handling yet"),
    (
        "extension.features.hot_desking",
        (R, PH),
        "a hot-desk phone's guest: internal and emergency calls only; users log in (*62)",
    ),
    # --- extension: advanced --------------------------------------------------------
    ("extension.advanced.dtmf_mode", (X,), "DTMF passes through as the phones send it"),
    ("extension.advanced.transport", (S, P, PH), "the least secure one it may use; phones get it"),
    ("extension.advanced.qualify", (S,), "OPTIONS pings to its phones behind NAT; off: none"),
    ("extension.advanced.nat", (S,), "behind NAT: reached where it came from; off: as registered"),
    (
        "extension.advanced.srtp",
        (S,),
        "its calls' audio is SRTP (SDES), bridged by the media relay; plain offers from it get 488",
    ),
    ("extension.advanced.codecs", (S,), _CODECS),
    # --- extension: security --------------------------------------------------------
    ("extension.security.allowed_ips", (S,), ""),
    ("extension.security.user_agent_prefix", (S,), ""),
    ("extension.security.outbound_calls", (R,), ""),
    ("extension.security.outbound_outside_business_hours", (R,), ""),
    ("extension.security.international_calls", (R,), ""),
    ("extension.security.frequency_limit.*", (R,), ""),
    ("extension.security.max_call_seconds", (S,), "its calls end at the limit; 0: the system's"),
    ("extension.security.require_2fa", (A,), ""),
    # --- extension: clients, phones, function keys ----------------------------------
    ("extension.clients.mobile_client", (S, P), "off: the app cannot register or sign in"),
    ("extension.clients.desktop_client", (S, P), "off: the app cannot register or sign in"),
    ("extension.clients.web_client", (S,), "off: the web client cannot register"),
    ("extension.phones.*", (PH,), "which phone gets which file"),
    ("extension.function_keys.*", (PH,), "the phones' keys"),
    # --- groups, ring groups, queues ------------------------------------------------
    ("group.name", (R, PERM), ""),
    ("group.members", (R, PERM), "outbound route permissions; client permission targets"),
    ("group.require_2fa", (A,), ""),
    ("ring_group.*", (R,), ""),
    ("queue.*", (R,), ""),
    # --- trunks ---------------------------------------------------------------------
    ("trunk.name", (R, S), ""),
    ("trunk.type", (S,), ""),
    ("trunk.enabled", (R, S), ""),
    ("trunk.host", (S,), ""),
    ("trunk.port", (S,), ""),
    ("trunk.domain", (S,), ""),
    ("trunk.transport", (S,), ""),
    ("trunk.username", (S,), ""),
    ("trunk.auth_name", (S,), ""),
    ("trunk.password", (S,), ""),
    ("trunk.outbound_proxy", (S,), ""),
    ("trunk.registration_expiry", (S,), ""),
    ("trunk.allowed_ips", (S,), ""),
    ("trunk.codecs", (S,), _CODECS),
    ("trunk.dtmf_mode", (X,), "DTMF passes through as the provider sends it"),
    ("trunk.qualify", (S,), "the trunk's status comes from OPTIONS pings"),
    ("trunk.caller_id", (R,), ""),
    ("trunk.from_user", (S,), ""),
    ("trunk.dids", (X,), "inbound routes match the dialled number, whichever trunk it came in on"),
    # --- routes ---------------------------------------------------------------------
    ("inbound_route.*", (R,), ""),
    ("outbound_route.*", (R,), ""),
    # --- contacts and phonebooks ----------------------------------------------------
    ("phonebook.*", (C,), ""),
    ("contact.*", (C,), ""),
    ("contact.numbers.*", (C,), ""),
    # --- client permissions ---------------------------------------------------------
    ("client_permission.name", (PERM,), "named as the rule that decided"),
    ("client_permission.target.*", (PERM,), ""),
    ("client_permission.menus", (PERM,), ""),
    ("client_permission.extension_visibility.*.*", (PERM,), ""),
    ("client_permission.contacts", (PERM,), ""),
    ("client_permission.preferences", (PERM,), ""),
)

SETTINGS: tuple[Setting, ...] = tuple(Setting(p, e, n) for p, e, n in _SETTINGS)

_INDEX = re.compile(r"\[\d+\]")


def _parts(path: str) -> list[str]:
    return _INDEX.sub("", path).split(".")


def _matches(pattern: list[str], parts: list[str]) -> bool:
    return len(pattern) == len(parts) and all(
        p in ("*", q) for p, q in zip(pattern, parts, strict=True)
    )


def setting_of(path: str) -> Setting | None:
    """The entry for the setting at ``path`` (``extension.phones[0].mac`` works too)."""
    parts = _parts(path)
    for s in SETTINGS:
        if _matches(s.path.split("."), parts):
            return s
    return None


def under(path: str) -> list[Setting]:
    """The entries of the setting at ``path`` and of every setting inside it."""
    parts = _parts(path)
    found = []
    for s in SETTINGS:
        pattern = s.path.split(".")
        if len(pattern) >= len(parts) and _matches(pattern[: len(parts)], parts):
            found.append(s)
    return found


def not_active(path: str) -> bool:
    """Does nothing act on the setting at ``path`` (all of it, for a section) yet?"""
    found = under(path)
    return bool(found) and not any(s.active for s in found)


def not_active_paths(root: str) -> list[str]:
    """The settings under ``root`` (``trunk``) nothing acts on yet, relative to it."""
    return [s.path[len(root) + 1 :] for s in under(root) if not s.active]


def markdown() -> str:
    """The table of docs/settings.md "Where each setting takes effect"."""
    lines = ["| setting | takes effect in | note |", "|---|---|---|"]
    for s in SETTINGS:
        lines.append(f"| `{s.path}` | {s.where} | {s.note} |")
    return "\n".join(lines) + "\n"
