"""The settings tabs of an extension as forms, shared by the admin editor and the portal.

Each ``*_fields`` function draws the fields of one tab into a ``Form`` under the setting
paths of the extension (``voicemail.pin``, ``presence_settings.away.ring_timeout``), and
each tab is saved as a merge patch of its section through ``Objects``: the admin's editor
and the user's portal call the same service, which checks what the principal may change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from klapka.domain.extension import (
    AfterEmailing,
    AgentAutoSwitch,
    BossCallType,
    Codec,
    DtmfMode,
    NewMessageEmail,
    Role,
    Transport,
)
from klapka.domain.values import EndpointClass, PresenceStatus, VoiceLanguage
from klapka.web.forms import SKIP, Field, Form

STATUSES = [s.value for s in PresenceStatus]
ENDPOINTS = [e.value for e in EndpointClass]
DND = PresenceStatus.DO_NOT_DISTURB.value
EXTENSION = "extension"  # the object of these paths (Form.root: "not active yet" badges)


def status_chooser(t: Callable[[str], str], value: str) -> ui.select:
    """Which presence status's settings are shown (in the admin editor and the portal)."""
    return (
        ui.select({s: t(s) for s in STATUSES}, label=t("Status to edit"), value=value)
        .props('data-testid="presence-status"')
        .classes("min-w-[14rem]")
    )


def user_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
        form.text("first_name", "First name", ext["first_name"])
        form.text("last_name", "Last name", ext["last_name"])
        form.text("email", "Email", ext.get("email"), empty=None)
        form.text("mobile", "Mobile", ext.get("mobile"))
        form.text("caller_id_name", "Caller ID name", ext.get("caller_id_name"), empty=None)
        form.text("caller_id_number", "Caller ID number", ext.get("caller_id_number"), empty=None)
        form.select("role", "Role", [r.value for r in Role], ext["role"])
        form.number(
            "concurrent_registrations",
            "Concurrent registrations",
            ext["concurrent_registrations"],
            lo=1,
            hi=5,
        )
        form.text(
            "user_password",
            "New portal password",
            "",
            empty=SKIP,
            password=True,
            hint="Leave empty to keep the current one.",
        )
        form.switch("enabled", "Enabled", ext["enabled"])


def presence_fields(
    form: Form, ext: dict[str, Any], status: str, *, ring: bool = True, forward: bool = True
) -> None:
    """One status: forwarding per call kind, and (not in DND) the ring strategy."""
    form.root = EXTENSION
    base = f"presence_settings.{status}"
    settings = ext["presence_settings"][status]
    t = form.t
    if forward:
        for kind, title in (("internal", "Internal calls"), ("external", "External calls")):
            ui.label(t(title)).classes("text-sm font-bold mt-2")
            rules = ("always",) if status == DND else ("always", "busy", "no_answer")
            names = {"always": "Always", "busy": "Busy", "no_answer": "No answer"}
            with ui.column().classes("gap-1"):
                for rule in rules:
                    form.destination(
                        f"{base}.{kind}.{rule}", names[rule], settings[kind].get(rule, False)
                    )
    if status == DND:
        ui.label(t("In do not disturb nothing rings: only the always rule applies.")).classes(
            "text-sm text-grey-8"
        )
    elif ring:
        with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full mt-2"):
            form.select(
                f"{base}.ring_first", "Ring first", ENDPOINTS, settings["ring_first"], multiple=True
            )
            form.select(
                f"{base}.ring_second",
                "Ring second",
                ENDPOINTS,
                settings["ring_second"],
                multiple=True,
            )
            form.number(
                f"{base}.ring_timeout",
                "Ring timeout (seconds)",
                settings["ring_timeout"],
                lo=5,
                hi=300,
            )
            form.text(
                f"{base}.ring_mobile.prefix", "Mobile prefix", settings["ring_mobile"]["prefix"]
            )
            form.switch(
                f"{base}.ring_mobile.enabled",
                "Ring mobile simultaneously",
                settings["ring_mobile"]["enabled"],
            )
    if forward:
        form.switch(
            f"{base}.push_notifications", "Push notifications", settings["push_notifications"]
        )
        form.text(f"{base}.greeting", "Voicemail greeting", settings.get("greeting"), empty=None)
        form.select(
            f"{base}.agent_auto_switch",
            "Agent status auto switch",
            [a.value for a in AgentAutoSwitch],
            settings["agent_auto_switch"],
        )


def voicemail_fields(form: Form, ext: dict[str, Any], *, limits: bool = True) -> None:
    form.root = EXTENSION
    vm = ext["voicemail"]
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
        form.switch("voicemail.enabled", "Enabled", vm["enabled"])
        form.switch("voicemail.pin_authentication", "PIN authentication", vm["pin_authentication"])
        form.text(
            "voicemail.pin",
            "PIN",
            "",
            empty=SKIP,
            password=True,
            hint="Leave empty to keep the current one.",
        )
        form.select(
            "voicemail.new_message_email",
            "New message email",
            [n.value for n in NewMessageEmail],
            vm["new_message_email"],
        )
        form.text("voicemail.email_address", "Send to address", vm.get("email_address"), empty=None)
        form.select(
            "voicemail.after_emailing",
            "After emailing",
            [a.value for a in AfterEmailing],
            vm["after_emailing"],
        )
        form.switch("voicemail.play_date_and_time", "Play date and time", vm["play_date_and_time"])
        form.switch("voicemail.play_caller_number", "Play caller number", vm["play_caller_number"])
        form.switch("voicemail.play_duration", "Play duration", vm["play_duration"])
        form.select(
            "voicemail.language",
            "Prompt language",
            ["", *[v.value for v in VoiceLanguage]],
            vm.get("language") or "",
            empty=None,
            labels={"": "system default", "en": "English", "cs": "Czech"},
        )
        if limits:
            form.number(
                "voicemail.min_message_seconds",
                "Shortest message (seconds)",
                vm["min_message_seconds"],
            )
            form.number(
                "voicemail.max_message_seconds",
                "Longest message (seconds)",
                vm["max_message_seconds"],
            )
            form.number("voicemail.max_messages", "Most messages", vm["max_messages"])


def notification_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    f = ext["features"]
    form.switch(
        "features.notify_password_change",
        "Email me when my password changes",
        f["notify_password_change"],
    )
    form.switch(
        "features.notify_missed_call", "Email me about missed calls", f["notify_missed_call"]
    )


def feature_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    f = ext["features"]
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
        notification_fields(form, ext)
        form.switch("features.all_busy", "All busy mode", f["all_busy"])
        form.switch("features.all_reject", "All reject mode", f["all_reject"])
        form.switch("features.allow_monitoring", "Allow being monitored", f["allow_monitoring"])
        form.switch("features.hot_desking", "Hot desking", f["hot_desking"])
        form.switch("features.door_phone.enabled", "Door phone", f["door_phone"]["enabled"])
        form.switch("features.url_popup.enabled", "URL popup", f["url_popup"]["enabled"])
        form.text("features.url_popup.url", "URL", f["url_popup"]["url"])
    schedule_fields(form, f.get("presence_schedule"))
    boss_fields(form, f.get("boss"))


def _compound(form: Form, path: str, read: Any) -> ui.label:
    """A field made of several inputs: one value, one error line under them."""
    error = ui.label("").classes("text-negative text-xs").props('role="alert"')
    error.set_visibility(False)

    def show(message: str | None) -> None:
        error.text = message or ""
        error.set_visibility(bool(message))

    form.fields[path] = Field(read, show)
    return error


def schedule_fields(form: Form, schedule: dict[str, Any] | None) -> None:
    """Time-conditional presence: the status for business hours, breaks, holidays, after."""
    t = form.t
    ui.label(t("Time-conditional presence")).classes("text-base font-bold mt-3")
    on = ui.switch(t("Switch my status by business hours"), value=schedule is not None).props(
        'data-testid="field-features.presence_schedule"'
    )
    current = schedule or {}
    selects: dict[str, ui.select] = {}
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full") as grid:
        for key, label, default in (
            ("business_hours", "In business hours", "available"),
            ("break_hours", "In breaks", "lunch_break"),
            ("holidays", "On holidays", "off_work"),
            ("outside_business_hours", "Outside business hours", "off_work"),
        ):
            selects[key] = ui.select(
                {s: t(s) for s in STATUSES}, label=t(label), value=current.get(key, default)
            ).props(f'data-testid="field-features.presence_schedule.{key}"')
    grid.bind_visibility_from(on, "value")

    def read() -> Any:
        if not on.value:
            return None
        return {
            **{k: sel.value for k, sel in selects.items()},
            "timezone": current.get("timezone"),
        }

    _compound(form, "features.presence_schedule", read)


def boss_fields(form: Form, boss: dict[str, Any] | None) -> None:
    """Boss–secretary: the boss's calls go to the secretary first."""
    t = form.t
    ui.label(t("Boss and secretary")).classes("text-base font-bold mt-3")
    on = ui.switch(t("Calls go to a secretary first"), value=boss is not None).props(
        'data-testid="field-features.boss"'
    )
    kind, number = "extension", ""
    if boss:
        kind, number = next(iter(boss["secretary"].items()))
    with ui.row().classes("items-start gap-2") as row:
        chooser = ui.select(
            {"extension": t("extension"), "ring_group": t("ring_group")},
            label=t("Secretary"),
            value=kind,
        ).classes("min-w-[10rem]")
        target = ui.input(t("Number"), value=str(number))
        call_type = ui.select(
            {c.value: t(c.value) for c in BossCallType},
            label=t("Call types"),
            value=(boss or {}).get("call_type", "all"),
        ).classes("min-w-[10rem]")
    row.bind_visibility_from(on, "value")

    def read() -> Any:
        if not on.value:
            return None
        return {
            "secretary": {chooser.value: (target.value or "").strip()},
            "call_type": call_type.value,
        }

    _compound(form, "features.boss", read)


def advanced_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    a = ext["advanced"]
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
        form.select("advanced.dtmf_mode", "DTMF mode", [d.value for d in DtmfMode], a["dtmf_mode"])
        form.select("advanced.transport", "Transport", [x.value for x in Transport], a["transport"])
        form.select(
            "advanced.codecs", "Codecs", [c.value for c in Codec], a["codecs"], multiple=True
        )
        form.switch("advanced.qualify", "Qualify", a["qualify"])
        form.switch("advanced.nat", "NAT", a["nat"])
        form.switch("advanced.srtp", "SRTP", a["srtp"])


def security_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    s = ext["security"]
    with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
        ips = form.text(
            "security.allowed_ips",
            "Allowed registration IPs (comma separated)",
            ", ".join(s["allowed_ips"]),
        )
        field = form.fields["security.allowed_ips"]
        field.read = lambda: [p.strip() for p in (ips.value or "").split(",") if p.strip()]
        form.text(
            "security.user_agent_prefix",
            "User agent prefix",
            s.get("user_agent_prefix"),
            empty=None,
        )
        form.number(
            "security.max_call_seconds",
            "Maximum call duration (seconds, 0 = no limit)",
            s["max_call_seconds"],
        )
        form.switch("security.outbound_calls", "Outbound calls", s["outbound_calls"])
        form.switch(
            "security.outbound_outside_business_hours",
            "Outbound calls outside business hours",
            s["outbound_outside_business_hours"],
        )
        form.switch("security.international_calls", "International calls", s["international_calls"])
        form.switch("security.require_2fa", "Require two-factor authentication", s["require_2fa"])


def client_fields(form: Form, ext: dict[str, Any]) -> None:
    form.root = EXTENSION
    c = ext["clients"]
    form.switch("clients.mobile_client", "Mobile app", c["mobile_client"])
    form.switch("clients.desktop_client", "Desktop app", c["desktop_client"])
    form.switch("clients.web_client", "Web client", c["web_client"])
