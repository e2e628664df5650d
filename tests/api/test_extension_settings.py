"""An extension's settings tabs as sub-resources: each read, replaced or patched alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems

EXT = "/api/v1/extensions/101"


@pytest.fixture
def jana(given: Callable[[str], None]) -> None:
    given("""
extensions:
  - number: "101"
    first_name: Jana
    last_name: Nováková
    email: jana@example.com
    mobile: "+420777123456"
    voicemail: {pin: "4321"}
    presence_settings:
      away:
        ring_timeout: 20
        external: {no_answer: {mobile_number: true}}
  - {number: "102", first_name: Petr}
""")


# --- the User tab --------------------------------------------------------------------------


def test_the_user_tab_shows_the_top_level_settings_only(client: TestClient, jana: None) -> None:
    user = check(client.get(f"{EXT}/user"))
    assert user["first_name"] == "Jana"
    assert user["email"] == "jana@example.com"
    assert user["sip_password"] == "********"
    assert "voicemail" not in user
    assert "presence_settings" not in user
    assert "presence" not in user


def test_patching_the_user_tab_changes_those_fields_and_nothing_else(
    client: TestClient, jana: None
) -> None:
    before = check(client.get(EXT))
    user = check(client.patch(f"{EXT}/user", json={"last_name": "Svobodová", "role": "admin"}))
    assert user["last_name"] == "Svobodová"
    assert user["role"] == "admin"
    assert user["first_name"] == "Jana"
    after = check(client.get(EXT))
    assert after["presence_settings"] == before["presence_settings"]
    assert after["voicemail"] == before["voicemail"]


def test_a_mobile_number_a_forward_rule_uses_cannot_be_removed(
    client: TestClient, jana: None
) -> None:
    response = client.patch(f"{EXT}/user", json={"mobile": ""})
    assert problems(response) == [
        "presence_settings.away.external.no_answer: needs the extension's mobile number (mobile)"
    ]
    assert check(client.get(f"{EXT}/user"))["mobile"] == "+420777123456"


def test_the_user_tab_refuses_settings_of_other_tabs(client: TestClient, jana: None) -> None:
    response = client.patch(
        f"{EXT}/user", json={"presence": "away", "voicemail": {"enabled": False}, "shoe": 42}
    )
    assert problems(response) == [
        "presence: not a User tab setting; change it at /extensions/101/presence",
        "voicemail: not a User tab setting; change it at /extensions/101/voicemail",
        "shoe: unknown field",
    ]


# --- the manual presence --------------------------------------------------------------------


def test_setting_the_presence_status_and_note(client: TestClient, jana: None) -> None:
    assert check(client.get(f"{EXT}/presence")) == {"status": "available", "note": ""}
    put = client.put(f"{EXT}/presence", json={"status": "lunch_break", "note": "back at 13:00"})
    assert check(put) == {"status": "lunch_break", "note": "back at 13:00"}
    assert check(client.patch(f"{EXT}/presence", json={"status": "away"})) == {
        "status": "away",
        "note": "back at 13:00",
    }
    assert check(client.put(f"{EXT}/presence", json={"status": "available"})) == {
        "status": "available",
        "note": "",
    }
    assert check(client.get(EXT))["presence"] == "available"


def test_an_unknown_presence_status_is_refused_with_the_statuses_there_are(
    client: TestClient, jana: None
) -> None:
    [problem] = problems(client.put(f"{EXT}/presence", json={"status": "on_the_moon"}))
    assert problem.startswith("status: must be one of available, away, business_trip")


# --- what one status does with calls --------------------------------------------------------


def test_one_status_is_read_and_replaced_alone(client: TestClient, jana: None) -> None:
    away = check(client.get(f"{EXT}/presence/away"))
    assert away["ring_timeout"] == 20
    assert away["external"]["no_answer"] == {"mobile_number": True}
    replaced = check(
        client.put(f"{EXT}/presence/away", json={"ring_first": ["desk"], "ring_timeout": 45})
    )
    assert replaced["ring_timeout"] == 45
    assert replaced["ring_first"] == ["desk"]
    assert replaced["external"]["no_answer"] == {"voicemail": True}  # omitted: the default
    # Other statuses are untouched.
    assert check(client.get(f"{EXT}/presence/available"))["ring_timeout"] == 30


def test_patching_a_forward_rule_replaces_the_destination(client: TestClient, jana: None) -> None:
    patched = check(
        client.patch(f"{EXT}/presence/away", json={"internal": {"busy": {"extension": "102"}}})
    )
    assert patched["internal"]["busy"] == {"extension": "102"}
    assert patched["internal"]["no_answer"] == {"voicemail": True}
    assert patched["ring_timeout"] == 20
    off = check(client.patch(f"{EXT}/presence/away", json={"internal": {"busy": False}}))
    assert off["internal"]["busy"] is False


def test_an_out_of_range_ring_timeout_is_named_by_its_path_in_the_extension(
    client: TestClient, jana: None
) -> None:
    before = check(client.get(EXT))
    response = client.patch(f"{EXT}/presence/away", json={"ring_timeout": 301})
    assert problems(response) == ["presence_settings.away.ring_timeout: must be 5..300"]
    response = client.put(f"{EXT}/presence/away", json={"ring_timeout": "soon"})
    assert problems(response) == ["presence_settings.away.ring_timeout: must be a whole number"]
    assert check(client.get(EXT)) == before


def test_do_not_disturb_has_only_an_always_rule(client: TestClient, jana: None) -> None:
    dnd = check(client.get(f"{EXT}/presence/do_not_disturb"))
    assert dnd["internal"] == {"always": {"voicemail": True}}
    assert "ring_timeout" not in dnd
    response = client.patch(f"{EXT}/presence/do_not_disturb", json={"ring_timeout": 20})
    [problem] = problems(response)
    assert "presence_settings.do_not_disturb" in problem
    assert "ring_timeout: not available in do_not_disturb" in problem


def test_an_unknown_status_in_the_url_is_refused(client: TestClient, jana: None) -> None:
    [problem] = problems(client.get(f"{EXT}/presence/napping"))
    assert problem.startswith("path.status: must be one of available, away")


def test_every_status_at_once(client: TestClient, jana: None) -> None:
    every = check(client.get(f"{EXT}/presence-settings"))
    assert set(every) == {
        "available",
        "away",
        "business_trip",
        "do_not_disturb",
        "lunch_break",
        "off_work",
    }
    patched = check(
        client.patch(f"{EXT}/presence-settings", json={"off_work": {"ring_timeout": 10}})
    )
    assert patched["off_work"]["ring_timeout"] == 10
    assert patched["away"]["ring_timeout"] == 20
    reset = check(client.put(f"{EXT}/presence-settings", json={}))
    assert reset["away"]["ring_timeout"] == 30


# --- the other tabs -------------------------------------------------------------------------


def test_voicemail_keeps_its_pin_when_replaced_without_it(client: TestClient, jana: None) -> None:
    voicemail = check(client.get(f"{EXT}/voicemail"))
    assert voicemail["pin"] == "********"
    assert check(client.get(f"{EXT}/voicemail?include_secrets=true"))["pin"] == "4321"
    replaced = check(client.put(f"{EXT}/voicemail", json={"play_caller_number": True}))
    assert replaced["play_caller_number"] is True
    assert check(client.get(f"{EXT}/voicemail?include_secrets=true"))["pin"] == "4321"
    check(client.patch(f"{EXT}/voicemail", json={"pin": "98765"}))
    assert check(client.get(f"{EXT}/voicemail?include_secrets=true"))["pin"] == "98765"


def test_voicemail_rules_are_named_by_path(client: TestClient, jana: None) -> None:
    response = client.patch(f"{EXT}/voicemail", json={"pin": "12", "max_messages": 0})
    assert sorted(problems(response)) == [
        "voicemail.max_messages: must be 1..1000",
        "voicemail.pin: must be 4-16 digits",
    ]


@pytest.mark.parametrize(
    ("segment", "change", "field", "value"),
    [
        ("features", {"all_busy": True}, "all_busy", True),
        ("advanced", {"dtmf_mode": "info"}, "dtmf_mode", "info"),
        ("security", {"international_calls": False}, "international_calls", False),
        ("clients", {"web_client": False}, "web_client", False),
    ],
)
def test_a_tab_is_patched_and_replaced_alone(
    client: TestClient,
    jana: None,
    segment: str,
    change: dict[str, object],
    field: str,
    value: object,
) -> None:
    default = check(client.get(f"{EXT}/{segment}"))[field]
    assert check(client.patch(f"{EXT}/{segment}", json=change))[field] == value
    assert check(client.get(EXT))[segment][field] == value
    assert check(client.put(f"{EXT}/{segment}", json={}))[field] == default


def test_features_refuse_a_boss_whose_secretary_does_not_exist(
    client: TestClient, jana: None
) -> None:
    response = client.patch(f"{EXT}/features", json={"boss": {"secretary": {"extension": "199"}}})
    assert problems(response) == ["features.boss.secretary: extension 199 does not exist"]


def test_phones_are_a_list_replaced_as_a_whole(client: TestClient, jana: None) -> None:
    assert check(client.get(f"{EXT}/phones")) == []
    phones = check(
        client.put(
            f"{EXT}/phones",
            json=[{"vendor": "Yealink", "model": "T54W", "mac": "80:5E:C0:12:34:56"}],
        )
    )
    assert phones == [
        {"vendor": "Yealink", "model": "T54W", "mac": "805ec0123456", "template": None}
    ]
    assert client.patch(f"{EXT}/phones", json=[]).status_code == 405


def test_a_phone_belongs_to_one_extension(client: TestClient, jana: None) -> None:
    check(client.put(f"{EXT}/phones", json=[{"mac": "805ec0123456"}]))
    response = client.put("/api/v1/extensions/102/phones", json=[{"mac": "80-5E-C0-12-34-56"}])
    assert response.status_code == 409
    assert response.json()["path"] == "phones[0].mac"


def test_function_keys_are_checked_key_by_key(client: TestClient, jana: None) -> None:
    keys = check(
        client.put(
            f"{EXT}/function-keys",
            json=[
                {"key": 1, "type": "blf", "extension": "102", "label": "Petr"},
                {"key": 2, "type": "dnd"},
            ],
        )
    )
    assert [k["type"] for k in keys] == ["blf", "dnd"]
    response = client.put(f"{EXT}/function-keys", json=[{"key": 1, "type": "blf"}])
    [problem] = problems(response)
    assert problem.startswith("function_keys[0]")
    assert "extension: required for a blf key" in problem


def test_a_list_tab_must_be_sent_a_list(client: TestClient, jana: None) -> None:
    assert problems(client.put(f"{EXT}/phones", json={"mac": "805ec0123456"})) == [
        "phones: must be a list"
    ]


def test_sub_resources_of_an_unknown_extension_are_404(client: TestClient) -> None:
    for path in ("user", "presence", "presence/away", "voicemail", "phones", "function-keys"):
        assert client.get(f"/api/v1/extensions/999/{path}").status_code == 404, path
