"""Everything besides extensions: the same CRUD shape for each, plus what is particular."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems

# (url, a new object, its key, a merge patch, the field it changes, the new value)
RESOURCES = [
    (
        "/api/v1/groups",
        {"name": "Sales", "members": ["101"]},
        "Sales",
        {"members": []},
        "members",
        [],
    ),
    (
        "/api/v1/ring-groups",
        {"number": "6300", "members": ["101"]},
        "6300",
        {"ring_timeout": 45},
        "ring_timeout",
        45,
    ),
    (
        "/api/v1/queues",
        {"number": "6400", "name": "Support"},
        "6400",
        {"timeout": 90},
        "timeout",
        90,
    ),
    (
        "/api/v1/trunks",
        {"name": "peer1", "type": "peer", "host": "192.0.2.10"},
        "peer1",
        {"port": 5080},
        "port",
        5080,
    ),
    (
        "/api/v1/inbound-routes",
        {"name": "main", "did": "+420530335500", "destination": {"extension": "101"}},
        "main",
        {"destination": {"voicemail": "101"}},
        "destination",
        {"voicemail": "101"},
    ),
    (
        "/api/v1/outbound-routes",
        {"name": "national", "patterns": ["NXXXXXXXX"], "enabled": False},
        "national",
        {"strip": 1},
        "strip",
        1,
    ),
]


@pytest.fixture
def one_extension(given: Callable[[str], None]) -> None:
    given("extensions: [{number: '101'}]")


@pytest.mark.parametrize(("url", "new", "key", "patch", "field", "value"), RESOURCES)
def test_each_resource_is_created_read_patched_replaced_and_deleted(
    client: TestClient,
    one_extension: None,
    url: str,
    new: dict[str, Any],
    key: str,
    patch: dict[str, Any],
    field: str,
    value: Any,
) -> None:
    created = client.post(url, json=new)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{url}/{key}"
    assert check(client.get(f"{url}/{key}")) == created.json()
    assert check(client.get(url))["total"] == 1

    patched = check(client.patch(f"{url}/{key}", json=patch))
    assert patched[field] == value
    replaced = check(client.put(f"{url}/{key}", json=new))
    assert replaced == created.json()

    assert client.post(url, json=new).status_code == 409  # the key is taken
    deleted = check(client.delete(f"{url}/{key}"))
    assert deleted["deleted"] == created.json()
    assert client.get(f"{url}/{key}").status_code == 404


@pytest.mark.parametrize(("url", "new"), [(r[0], r[1]) for r in RESOURCES])
def test_each_resource_refuses_unknown_fields(
    client: TestClient, one_extension: None, url: str, new: dict[str, Any]
) -> None:
    assert problems(client.post(url, json={**new, "colour": "red"})) == ["colour: unknown field"]


def test_a_trunk_password_is_masked_and_kept(client: TestClient) -> None:
    trunk = {
        "name": "provider",
        "type": "register",
        "host": "sip.example.net",
        "username": "530335500",
        "password": "s3cret",
    }
    assert check(client.post("/api/v1/trunks", json=trunk), 201)["password"] == "********"
    listed = check(client.get("/api/v1/trunks"))["items"][0]
    assert "s3cret" not in str(listed)
    check(client.put("/api/v1/trunks/provider", json={**trunk, "password": "********"}))
    shown = check(client.get("/api/v1/trunks/provider?include_secrets=true"))
    assert shown["password"] == "s3cret"


def test_a_register_trunk_needs_a_username(client: TestClient) -> None:
    response = client.post(
        "/api/v1/trunks", json={"name": "provider", "type": "register", "host": "sip.example.net"}
    )
    assert problems(response) == ["username: required for a register trunk"]


def test_the_extension_group_of_everyone_is_reserved(client: TestClient) -> None:
    assert problems(client.post("/api/v1/groups", json={"name": "All"})) == [
        "name: 'All' is reserved for the group of every extension"
    ]


def test_a_did_is_routed_by_one_inbound_route(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "101"}]
inbound_routes:
  - {name: main, did: "+420530335500", destination: {extension: "101"}}
""")
    response = client.post(
        "/api/v1/inbound-routes",
        json={"name": "second", "did": "+420530335500", "destination": {"hangup": True}},
    )
    assert response.status_code == 409
    assert response.json()["path"] == "did"


def test_routes_list_in_the_order_they_are_tried(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "101"}]
inbound_routes:
  - {name: zeta, did: "+420530335501", destination: {hangup: true}}
  - {name: alpha, did: "+420530335502", destination: {hangup: true}}
""")
    by_position = check(client.get("/api/v1/inbound-routes"))
    assert [r["name"] for r in by_position["items"]] == ["zeta", "alpha"]
    by_name = check(client.get("/api/v1/inbound-routes?sort=name"))
    assert [r["name"] for r in by_name["items"]] == ["alpha", "zeta"]


# --- contacts: keyed by a numeric id -------------------------------------------------------


def test_a_contact_gets_a_numeric_id_to_find_it_by(client: TestClient) -> None:
    response = client.post(
        "/api/v1/contacts",
        json={"first_name": "Karel", "company": "ACME", "numbers": [{"number": "+420601000000"}]},
    )
    assert response.status_code == 201
    contact = response.json()
    assert isinstance(contact["id"], int)
    assert response.headers["location"] == f"/api/v1/contacts/{contact['id']}"
    assert contact["numbers"] == [{"type": "work", "number": "+420601000000"}]
    url = f"/api/v1/contacts/{contact['id']}"
    assert check(client.patch(url, json={"last_name": "Novák"}))["last_name"] == "Novák"
    replaced = check(client.put(url, json={"company": "Globex"}))
    assert replaced == {
        "id": contact["id"],
        "first_name": "",
        "last_name": "",
        "company": "Globex",
        "email": None,
        "numbers": [],
        "phonebook": "Default",
    }
    check(client.delete(url))
    assert client.get(url).status_code == 404


def test_a_contact_needs_a_name_or_company(client: TestClient) -> None:
    [problem] = problems(client.post("/api/v1/contacts", json={"email": "a@example.com"}))
    assert "a contact needs a first name, last name or company" in problem


def test_a_contact_id_must_be_a_number(client: TestClient) -> None:
    assert problems(client.get("/api/v1/contacts/karel")) == ["path.id: must be a whole number"]
    assert client.get("/api/v1/contacts/12345").status_code == 404


# --- queue agents ---------------------------------------------------------------------------


def test_queue_agents_log_in_out_and_pause(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "104"}, {number: "105"}]
queues:
  - {number: "6400", name: Support, members: ["104", "105"]}
""")
    agents = check(client.get("/api/v1/queues/6400/agents"))
    assert sorted(agents, key=lambda a: a["extension"]) == [
        {"extension": "104", "logged_in": True, "paused": False},
        {"extension": "105", "logged_in": True, "paused": False},
    ]
    paused = check(client.patch("/api/v1/queues/6400/agents/104", json={"paused": True}))
    assert paused == {"extension": "104", "logged_in": True, "paused": True}
    out = check(client.patch("/api/v1/queues/6400/agents/105", json={"logged_in": False}))
    assert out == {"extension": "105", "logged_in": False, "paused": False}


def test_a_queue_agent_change_is_checked(client: TestClient, given: Callable[[str], None]) -> None:
    given("""
extensions: [{number: "104"}, {number: "106"}]
queues: [{number: "6400", members: ["104"]}]
""")
    response = client.patch("/api/v1/queues/6400/agents/104", json={"paused": "sometimes"})
    assert problems(response) == ["paused: must be true or false"]
    response = client.patch("/api/v1/queues/6400/agents/104", json={"asleep": True})
    assert problems(response) == ["asleep: unknown field"]
    assert client.patch("/api/v1/queues/6400/agents/106", json={}).status_code == 404
    assert client.get("/api/v1/queues/6499/agents").status_code == 404


# --- system settings and business hours ---------------------------------------------------


def test_system_settings_are_read_and_patched(client: TestClient) -> None:
    system = check(client.get("/api/v1/system"))
    assert system["timezone"] == "UTC"
    assert system["emergency_numbers"] == ["112"]
    patched = check(
        client.patch("/api/v1/system", json={"timezone": "Europe/Prague", "country_code": "420"})
    )
    assert patched["timezone"] == "Europe/Prague"
    assert patched["country_code"] == "420"
    assert problems(client.patch("/api/v1/system", json={"timezone": "Mars/Olympus"})) == [
        "timezone: must be an IANA time zone like Europe/Prague"
    ]


def test_the_smtp_password_is_masked_and_kept(client: TestClient) -> None:
    check(client.patch("/api/v1/system", json={"smtp": {"host": "mail", "password": "pw1"}}))
    assert check(client.get("/api/v1/system"))["smtp"]["password"] == "********"
    check(client.patch("/api/v1/system", json={"smtp": {"port": 587}}))
    shown = check(client.get("/api/v1/system?include_secrets=true"))
    assert shown["smtp"]["password"] == "pw1"
    assert shown["smtp"]["port"] == 587


def test_an_emergency_number_already_used_by_an_extension_is_refused(
    client: TestClient, one_extension: None
) -> None:
    response = client.patch("/api/v1/system", json={"emergency_numbers": ["112", "101"]})
    assert response.status_code == 409
    assert response.json()["path"] == "emergency_numbers[1]"


def test_business_hours_are_replaced_and_patched(client: TestClient) -> None:
    assert check(client.get("/api/v1/business-hours"))["weekly"] == {}
    hours = check(
        client.put(
            "/api/v1/business-hours",
            json={
                "weekly": {"mon": ["08:00-16:30"], "tue": ["08:00-16:30"]},
                "breaks": {"mon": ["12:00-12:30"]},
                "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}],
            },
        )
    )
    assert hours["weekly"]["mon"] == ["08:00-16:30"]
    patched = check(client.patch("/api/v1/business-hours", json={"weekly": {"tue": None}}))
    assert patched["weekly"] == {"mon": ["08:00-16:30"]}
    assert patched["holidays"] == [
        {"date": "2026-12-24", "name": "Christmas Eve", "end_date": None}
    ]


def test_bad_business_hours_are_named_by_day(client: TestClient) -> None:
    response = client.put(
        "/api/v1/business-hours",
        json={"weekly": {"mon": ["16:30-08:00"], "funday": ["08:00-09:00"]}},
    )
    found = problems(response)
    assert any(p.startswith("weekly.mon") and "must end after it starts" in p for p in found)
    assert check(client.get("/api/v1/business-hours"))["weekly"] == {}
