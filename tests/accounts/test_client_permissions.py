"""Client permissions: rules, first match wins, defaults, extension visibility, preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from accounts_world import API, check, problems
from fastapi.testclient import TestClient

from klapka.domain.permissions import (
    ClientPermission,
    ContactAccess,
    Menu,
    Preference,
    Viewer,
    effective,
)
from klapka.services.directory.yamlfmt import load_yaml

MORE_PEOPLE = """
extensions:
  - {number: "103", first_name: Karel, last_name: Ředitel}
  - {number: "104", first_name: Lucie, last_name: Sklad}
groups:
  - {name: Management, members: ["103"]}
  - {name: Warehouse, members: ["104"]}
"""


def rules(text: str) -> list[ClientPermission]:
    return [ClientPermission.model_validate(r) for r in load_yaml(text)]


MEMBERS = {"Sales": ["101", "102"], "Management": ["103"]}


def viewer(number: str) -> Viewer:
    return Viewer(number, frozenset(g for g, m in MEMBERS.items() if number in m))


# --- the rules themselves (no database) ------------------------------------------------


def test_without_rules_everything_is_allowed_but_company_contacts() -> None:
    e = effective([], viewer("101"), MEMBERS)
    assert all(d.allowed and d.rule is None for d in e.menus.values())
    assert all(d.allowed for d in e.preferences.values())
    assert e.contacts is ContactAccess.NONE
    assert e.visibility.sees("103")


def test_the_first_rule_that_answers_decides() -> None:
    ordered = rules(
        """
        - {name: sales-may, target: {groups: [Sales]}, preferences: {voicemail: true}}
        - {name: nobody, target: {all: true}, preferences: {voicemail: false}}
        """
    )
    assert effective(ordered, viewer("101"), MEMBERS).preferences[Preference.VOICEMAIL].rule == (
        "sales-may"
    )
    assert effective(ordered, viewer("101"), MEMBERS).preferences[Preference.VOICEMAIL].allowed
    assert not effective(ordered, viewer("103"), MEMBERS).preferences[Preference.VOICEMAIL].allowed
    reversed_ = list(reversed(ordered))
    assert (
        not effective(reversed_, viewer("101"), MEMBERS).preferences[Preference.VOICEMAIL].allowed
    )


def test_a_rule_answers_only_what_it_says() -> None:
    ordered = rules(
        """
        - {name: menus-only, target: {all: true}, menus: {recordings: false}}
        - {name: contacts, target: {all: true}, contacts: manage}
        """
    )
    e = effective(ordered, viewer("101"), MEMBERS)
    assert not e.menus[Menu.RECORDINGS].allowed
    assert e.contacts is ContactAccess.MANAGE and e.contacts_rule == "contacts"
    assert e.matching_rules == ["menus-only", "contacts"]


def test_visibility_allow_before_deny_and_later_rules_for_the_rest() -> None:
    ordered = rules(
        """
        - name: sales-see-sales
          target: {groups: [Sales]}
          extension_visibility: {allow: {groups: [Sales]}, deny: {extensions: ["103"]}}
        - name: nobody-sees-104
          target: {all: true}
          extension_visibility: {deny: {extensions: ["104"]}}
        """
    )
    vis = effective(ordered, viewer("101"), MEMBERS).visibility
    assert [vis.sees(n) for n in ("101", "102", "103", "104", "105")] == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert effective(ordered, viewer("103"), MEMBERS).visibility.sees("101")


def test_only_the_allowed_are_visible_after_a_deny_of_everyone() -> None:
    ordered = rules(
        """
        - name: only-sales
          target: {extensions: ["103"]}
          extension_visibility: {allow: {groups: [Sales]}, deny: {all: true}}
        """
    )
    vis = effective(ordered, viewer("103"), MEMBERS).visibility
    assert not vis.everything
    assert sorted(vis.numbers) == ["101", "102"]
    assert vis.sees("103")  # always oneself
    assert not vis.sees("104")


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"name": "x", "target": {"all": True, "groups": ["Sales"]}}, "target.all"),
        ({"name": "x", "target": {}, "menus": {"games": False}}, "menus.games"),
        ({"name": "x", "target": {}, "contacts": "edit"}, "contacts"),
        ({"name": "x", "target": {}, "extension_visibility": {}}, "extension_visibility.allow"),
        ({"name": "x"}, "target"),
    ],
)
def test_a_broken_rule_is_refused_by_path(
    admin: TestClient, people: None, rule: dict[str, Any], problem: str
) -> None:
    found = problems(admin.post(f"{API}/client-permissions", json=rule))
    assert any(p.startswith(f"{problem}:") for p in found), found


# --- extension visibility through the API ----------------------------------------------


@pytest.fixture
def company(given: Callable[[str], None], people: None) -> Callable[[str], None]:
    given(MORE_PEOPLE)
    return given


def test_a_user_lists_every_extension_by_default_with_summary_fields_only(
    jana: TestClient, company: Callable[[str], None]
) -> None:
    page = check(jana.get(f"{API}/extensions"))
    assert [e["number"] for e in page["items"]] == ["100", "101", "102", "103", "104"]
    assert page["total"] == 5
    assert set(page["items"][0]) == {
        "number",
        "first_name",
        "last_name",
        "email",
        "mobile",
        "enabled",
        "role",
        "presence",
        "presence_note",
        "status",  # live from the SIP core (colleagues' status); unknown without it
    }
    other = check(jana.get(f"{API}/extensions/102"))
    assert "voicemail" not in other and "sip_password" not in other
    assert other["first_name"] == "Petr"


def test_a_hidden_extension_is_not_listed_and_is_not_found(
    jana: TestClient, company: Callable[[str], None]
) -> None:
    company(
        "client_permissions: [{name: hide-management, target: {all: true}, "
        "extension_visibility: {deny: {groups: [Management]}}}]"
    )
    page = check(jana.get(f"{API}/extensions"))
    assert [e["number"] for e in page["items"]] == ["100", "101", "102", "104"]
    assert page["total"] == 4
    hidden = jana.get(f"{API}/extensions/103")
    assert hidden.status_code == 404
    assert hidden.json() == jana.get(f"{API}/extensions/999").json() | {
        "message": "extension 103 does not exist"
    }
    assert check(jana.get(f"{API}/extensions", params={"q": "Ředitel"}))["total"] == 0
    # Sub-resources of others are admin-only, hidden or not: no difference to probe.
    assert jana.get(f"{API}/extensions/103/voicemail").status_code == 403
    assert jana.get(f"{API}/extensions/102/voicemail").status_code == 403


def test_a_user_always_sees_themselves(jana: TestClient, company: Callable[[str], None]) -> None:
    company(
        "client_permissions: [{name: see-nobody, target: {all: true}, "
        "extension_visibility: {deny: {all: true}}}]"
    )
    assert [e["number"] for e in check(jana.get(f"{API}/extensions"))["items"]] == ["101"]
    assert check(jana.get(f"{API}/extensions/101"))["number"] == "101"


def test_rules_are_evaluated_in_order_and_can_be_moved(
    admin: TestClient, jana: TestClient, company: Callable[[str], None]
) -> None:
    company(
        """
        client_permissions:
          - {name: everyone-hides-103, target: {all: true},
             extension_visibility: {deny: {extensions: ["103"]}}}
          - {name: jana-sees-all, target: {extensions: ["101"]},
             extension_visibility: {allow: {all: true}}}
        """
    )
    assert jana.get(f"{API}/extensions/103").status_code == 404
    assert check(admin.get(f"{API}/client-permissions/jana-sees-all/position")) == {
        "name": "jana-sees-all",
        "position": 2,
    }
    check(admin.put(f"{API}/client-permissions/jana-sees-all/position", json={"position": 1}))
    listed = check(admin.get(f"{API}/client-permissions"))["items"]
    assert [r["name"] for r in listed] == ["jana-sees-all", "everyone-hides-103"]
    assert check(jana.get(f"{API}/extensions/103"))["number"] == "103"
    assert problems(
        admin.put(f"{API}/client-permissions/jana-sees-all/position", json={"position": 3})
    ) == ["position: must be 1..2"]


def test_the_preview_shows_what_a_user_sees_and_which_rule_decided(
    admin: TestClient, company: Callable[[str], None]
) -> None:
    company(
        """
        client_permissions:
          - {name: warehouse, target: {groups: [Warehouse]}, menus: {call_logs: false},
             contacts: view, extension_visibility: {deny: {groups: [Management]}}}
        """
    )
    preview = check(admin.get(f"{API}/client-permissions/preview/104"))
    assert preview["groups"] == ["Warehouse"]
    assert preview["matching_rules"] == ["warehouse"]
    assert preview["menus"]["call_logs"] is False
    assert preview["decided_by"]["menus"]["call_logs"] == "warehouse"
    assert preview["decided_by"]["menus"]["voicemail"] is None
    assert preview["contacts"] == "view"
    assert preview["extensions"] == {"visible": 4, "hidden": ["103"]}
    admin_preview = check(admin.get(f"{API}/client-permissions/preview/100"))
    assert admin_preview["extensions"]["hidden"] == []
    assert admin_preview["contacts"] == "manage"
    assert admin.get(f"{API}/client-permissions/preview/999").status_code == 404


def test_deleting_a_group_or_extension_a_rule_names_removes_it_from_the_rule(
    admin: TestClient, company: Callable[[str], None]
) -> None:
    company(
        """
        client_permissions:
          - {name: r, target: {groups: [Warehouse], extensions: ["104"]},
             extension_visibility: {deny: {groups: [Management], extensions: ["103"]}}}
        """
    )
    deleted = check(admin.delete(f"{API}/groups/Management"))
    assert {
        "kind": "client_permission",
        "key": "r",
        "path": "extension_visibility.deny.groups[0]",
    } in (deleted["removed_references"])
    check(admin.delete(f"{API}/extensions/103"))
    rule = check(admin.get(f"{API}/client-permissions/r"))
    assert rule["extension_visibility"]["deny"] == {"all": False, "groups": [], "extensions": []}
    assert rule["target"]["groups"] == ["Warehouse"]


def test_a_rule_naming_something_that_does_not_exist_is_refused(
    admin: TestClient, people: None
) -> None:
    assert problems(
        admin.post(
            f"{API}/client-permissions",
            json={"name": "r", "target": {"groups": ["Nope"], "extensions": ["999"]}},
        )
    ) == [
        "target.groups[0]: group Nope does not exist",
        "target.extensions[0]: extension 999 does not exist",
    ]


def test_client_permissions_are_part_of_the_configuration_document(
    admin: TestClient, company: Callable[[str], None]
) -> None:
    company(
        """
        client_permissions:
          - {name: warehouse, target: {groups: [Warehouse]}, contacts: view}
          - {name: all, target: {all: true}, preferences: {voicemail: false}}
        """
    )
    document = check(admin.get(f"{API}/config"))
    assert document["client_permissions"] == [
        {"name": "warehouse", "target": {"groups": ["Warehouse"]}, "contacts": "view"},
        {"name": "all", "target": {"all": True}, "preferences": {"voicemail": False}},
    ]
    document["client_permissions"].reverse()
    result = check(admin.put(f"{API}/config", json=document))
    assert result["summary"]["updated"] == 2
    names = [r["name"] for r in check(admin.get(f"{API}/client-permissions"))["items"]]
    assert names == ["all", "warehouse"]
    again = check(admin.put(f"{API}/config", json=check(admin.get(f"{API}/config"))))
    assert again["changes"] == []
    document["client_permissions"][0]["target"] = {"groups": ["Nope"]}
    assert problems(admin.put(f"{API}/config", json=document)) == [
        "client_permissions[0].target.groups[0]: group Nope does not exist"
    ]


def test_users_cannot_see_or_change_the_rules(
    jana: TestClient, company: Callable[[str], None]
) -> None:
    assert jana.get(f"{API}/client-permissions").status_code == 403
    assert jana.get(f"{API}/client-permissions/preview/101").status_code == 403
    assert (
        jana.post(
            f"{API}/client-permissions", json={"name": "x", "target": {"all": True}}
        ).status_code
        == 403
    )
