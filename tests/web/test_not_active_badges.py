"""The editor marks the settings nothing acts on yet (klapka.domain.effects) "not active yet",
and only those. The tabs are drawn into a NiceGUI client without a server or a browser."""

from __future__ import annotations

from typing import Any

from nicegui import Client
from nicegui.page import page

from klapka.domain.effects import not_active
from klapka.domain.extension import Extension
from klapka.web import extension_tabs
from klapka.web.forms import Form, not_active_note
from klapka.web.i18n import Translator


def _badges(client: Client) -> dict[str, str]:
    found = {}
    for element in client.elements.values():
        testid = str(element.props.get("data-testid", ""))
        if testid.startswith("not-active-"):
            found[testid.removeprefix("not-active-")] = str(getattr(element, "text", ""))
    return found


def test_the_extension_tabs_mark_exactly_the_settings_not_active_yet() -> None:
    ext: dict[str, Any] = Extension(number="101").model_dump(mode="json")
    with Client(page("/test-badges"), request=None) as client:
        form = Form(Translator("cs"))
        extension_tabs.user_fields(form, ext)
        extension_tabs.presence_fields(form, ext, "away")
        extension_tabs.voicemail_fields(form, ext)
        extension_tabs.feature_fields(form, ext)
        extension_tabs.advanced_fields(form, ext)
        extension_tabs.security_fields(form, ext)
        extension_tabs.client_fields(form, ext)
        badges = _badges(client)
    assert set(badges.values()) == {"zatím nefunguje"}
    for path in form.fields:
        assert (path in badges) == not_active(f"extension.{path}"), path
    assert {"advanced.dtmf_mode"} <= set(badges)
    assert "advanced.codecs" not in badges and "advanced.srtp" not in badges  # the media relay
    assert "security.max_call_seconds" not in badges  # calls end at the limit
    assert "presence_settings.away.push_notifications" in badges
    assert "advanced.transport" not in badges  # the apps are told it at sign-in
    assert "presence_settings.away.ring_timeout" not in badges


def test_a_form_of_another_object_has_no_badges() -> None:
    with Client(page("/test-badges-system"), request=None) as client:
        form = Form(Translator("en"))
        form.text("advanced.codecs", "Codecs", "")  # no root: not an extension's setting
        assert _badges(client) == {}


def test_yaml_editors_and_whole_tabs_name_what_is_not_active_yet() -> None:
    with Client(page("/test-badges-notes"), request=None) as client:
        not_active_note(Translator("en"), "trunk")
        not_active_note(Translator("en"), "extension.features.door_phone")
        not_active_note(Translator("en"), "extension.phones")  # provisioned: no badge
        not_active_note(Translator("en"), "queue")
        labels = [str(getattr(e, "text", "")) for e in client.elements.values()]
        badges = _badges(client)
    assert set(badges) == {"trunk", "extension.features.door_phone"}
    assert "dtmf_mode, dids" in labels
