"""Self-service, /api/v1/me/...: a user's own settings, within their preferences."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from accounts_world import API, check, problems
from fastapi.testclient import TestClient


def deny(given: Callable[[str], None], *preferences: str, target: str = "{all: true}") -> None:
    prefs = ", ".join(f"{p}: false" for p in preferences)
    given(f"client_permissions: [{{name: no-edit, target: {target}, preferences: {{{prefs}}}}}]")


def test_a_user_reads_their_own_extension_whole_with_secrets_masked(jana: TestClient) -> None:
    me = check(jana.get(f"{API}/me"))
    assert me["number"] == "101"
    assert me["voicemail"]["pin"] == "********"
    assert me["sip_password"] == "********"
    assert "user_password" not in me
    assert check(jana.get(f"{API}/extensions/101"))["voicemail"]["pin"] == "********"


def test_a_user_may_not_ask_for_secrets(jana: TestClient) -> None:
    response = jana.get(f"{API}/extensions/101", params={"include_secrets": True})
    assert response.status_code == 403


def test_a_user_sets_their_presence_and_note(jana: TestClient, admin: TestClient) -> None:
    check(jana.put(f"{API}/me/presence", json={"status": "lunch_break", "note": "back at 1"}))
    assert check(jana.patch(f"{API}/me/presence", json={"note": "back at 2"})) == {
        "status": "lunch_break",
        "note": "back at 2",
    }
    assert check(admin.get(f"{API}/extensions/101/presence"))["note"] == "back at 2"
    assert problems(jana.put(f"{API}/me/presence", json={"status": "asleep"})) == [
        "status: must be one of available, away, business_trip, do_not_disturb, "
        "lunch_break or off_work"
    ]


def test_a_user_changes_forwarding_and_ring_strategy_of_a_status(jana: TestClient) -> None:
    changed = check(
        jana.patch(
            f"{API}/me/presence/away",
            json={"ring_timeout": 15, "external": {"always": {"extension": "102"}}},
        )
    )
    assert changed["ring_timeout"] == 15
    assert changed["external"]["always"] == {"extension": "102"}
    # The same validation as the admin's endpoint, the same paths.
    assert problems(jana.patch(f"{API}/me/presence/away", json={"ring_timeout": 1})) == [
        "presence_settings.away.ring_timeout: must be 5..300"
    ]
    assert problems(
        jana.patch(f"{API}/me/presence/away", json={"internal": {"busy": {"extension": "999"}}})
    ) == ["presence_settings.away.internal.busy: extension 999 does not exist"]


def test_forwarding_needs_the_presence_forwarding_preference(
    jana: TestClient, given: Callable[[str], None]
) -> None:
    deny(given, "presence_forwarding")
    response = jana.patch(
        f"{API}/me/presence/away", json={"external": {"always": {"extension": "102"}}}
    )
    assert response.status_code == 403
    assert response.json()["message"] == (
        "presence_settings.away.external.always: your administrator does not let you "
        "change presence and forwarding"
    )
    assert jana.put(f"{API}/me/presence", json={"status": "away"}).status_code == 403
    assert jana.put(f"{API}/me/caller-rules", json=[]).status_code == 200  # no change: allowed
    assert (
        jana.put(
            f"{API}/me/caller-rules", json=[{"pattern": "0090.", "action": {"hangup": True}}]
        ).status_code
        == 403
    )
    # The ring strategy of the same status is another preference.
    check(jana.patch(f"{API}/me/presence/away", json={"ring_timeout": 20}))


def test_the_ring_strategy_needs_the_ring_strategy_preference(
    jana: TestClient, given: Callable[[str], None]
) -> None:
    deny(given, "ring_strategy")
    for change in (
        {"ring_timeout": 20},
        {"ring_first": ["desk"]},
        {"ring_mobile": {"prefix": "0"}},
    ):
        assert jana.patch(f"{API}/me/presence/away", json=change).status_code == 403, change
    check(jana.patch(f"{API}/me/presence/away", json={"internal": {"busy": False}}))


def test_voicemail_and_its_pin_need_the_voicemail_preference(
    jana: TestClient, admin: TestClient, given: Callable[[str], None]
) -> None:
    check(jana.patch(f"{API}/me/voicemail", json={"pin": "4321", "play_duration": True}))
    pin = check(admin.get(f"{API}/extensions/101/voicemail", params={"include_secrets": True}))
    assert pin["pin"] == "4321"
    assert check(jana.get(f"{API}/me/voicemail"))["pin"] == "********"
    assert problems(jana.patch(f"{API}/me/voicemail", json={"pin": "12"})) == [
        "voicemail.pin: must be 4-16 digits"
    ]
    deny(given, "voicemail")
    assert jana.patch(f"{API}/me/voicemail", json={"pin": "9999"}).status_code == 403


def test_the_mailbox_limits_are_the_admins(jana: TestClient, admin: TestClient) -> None:
    check(admin.patch(f"{API}/extensions/101/voicemail", json={"max_messages": 20}))
    response = jana.patch(f"{API}/me/voicemail", json={"max_messages": 1000})
    assert response.status_code == 403
    assert response.json()["message"] == (
        "voicemail.max_messages: only an admin may change this setting"
    )
    # A whole voicemail section from the user keeps the admin's limits.
    body = check(jana.get(f"{API}/me/voicemail"))
    for limit in ("min_message_seconds", "max_message_seconds", "max_messages"):
        del body[limit]
    body["play_caller_number"] = True
    assert check(jana.put(f"{API}/me/voicemail", json=body))["max_messages"] == 20


def test_notifications_need_the_notifications_preference(
    jana: TestClient, given: Callable[[str], None]
) -> None:
    assert check(jana.get(f"{API}/me/notifications")) == {
        "notify_password_change": True,
        "notify_missed_call": False,
    }
    assert check(jana.patch(f"{API}/me/notifications", json={"notify_missed_call": True})) == {
        "notify_password_change": True,
        "notify_missed_call": True,
    }
    assert problems(jana.patch(f"{API}/me/notifications", json={"all_busy": True})) == [
        "all_busy: unknown field"
    ]
    deny(given, "notifications")
    assert jana.put(f"{API}/me/notifications", json={}).status_code == 403


def test_the_url_popup_needs_the_integrations_preference(
    jana: TestClient, given: Callable[[str], None]
) -> None:
    popup = {"enabled": True, "url": "https://crm.example.com/?n={{.CallerNumber}}"}
    assert check(jana.patch(f"{API}/me/url-popup", json=popup))["enabled"] is True
    assert problems(jana.patch(f"{API}/me/url-popup", json={"url": "ftp://x"})) == [
        "features.url_popup.url: must start with http:// or https://"
    ]
    deny(given, "integrations")
    assert jana.patch(f"{API}/me/url-popup", json={"enabled": False}).status_code == 403


def test_a_preference_denied_to_a_group_leaves_everyone_else_free(
    jana: TestClient, petr: TestClient, given: Callable[[str], None]
) -> None:
    given('groups: [{name: Reception, members: ["101"]}]')
    deny(given, "voicemail", target="{groups: [Reception]}")
    assert jana.patch(f"{API}/me/voicemail", json={"pin": "9999"}).status_code == 403
    check(petr.patch(f"{API}/me/voicemail", json={"pin": "9999"}))


def test_my_permissions_show_the_menus_and_preferences(
    jana: TestClient, given: Callable[[str], None]
) -> None:
    given(
        "client_permissions: [{name: r, target: {all: true}, menus: {call_logs: false}, "
        "contacts: view, preferences: {voicemail: false}}]"
    )
    mine = check(jana.get(f"{API}/me/permissions"))
    assert mine["menus"]["call_logs"] is False
    assert mine["menus"]["voicemail"] is True
    assert mine["preferences"] == {
        "presence_forwarding": True,
        "ring_strategy": True,
        "voicemail": False,
        "notifications": True,
        "integrations": True,
    }
    assert mine["contacts"] == "view"


def test_a_user_changes_nothing_else_of_theirs_and_nothing_of_others(
    jana: TestClient,
) -> None:
    assert jana.patch(f"{API}/extensions/101", json={"role": "admin"}).status_code == 403
    assert jana.patch(f"{API}/extensions/102/voicemail", json={"pin": "1111"}).status_code == 403
    assert jana.delete(f"{API}/extensions/102").status_code == 403
    assert jana.post(f"{API}/extensions", json={"number": "150"}).status_code == 403


def test_the_services_refuse_what_the_api_routes_never_offer_a_user(
    pbx: object, people: None
) -> None:
    """The same rules bind any caller of the service, not only the REST API."""
    from klapka.domain.problems import Forbidden
    from klapka.domain.references import Kind
    from klapka.services.directory.objects import Objects
    from klapka.services.principal import Principal

    jana = Objects(pbx, Principal(role="user", extension="101", name="extension 101"))  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match="only an admin may change this setting"):
        jana.patch(Kind.EXTENSION, "101", {"role": "admin"})
    with pytest.raises(Forbidden):
        jana.patch_part(Kind.EXTENSION, "102", "voicemail", {"pin": "1111"})
    with pytest.raises(Forbidden):
        jana.list(Kind.TRUNK)
    assert jana.patch_part(Kind.EXTENSION, "101", "voicemail", {"pin": "1111"})["pin"] == "********"


def test_an_admin_user_uses_me_without_limits(
    alena: TestClient, given: Callable[[str], None]
) -> None:
    deny(given, "voicemail")
    check(alena.patch(f"{API}/me/voicemail", json={"pin": "2468"}))
    assert check(alena.get(f"{API}/me/permissions"))["contacts"] == "manage"
