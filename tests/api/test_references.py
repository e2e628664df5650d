"""Nothing dangles: deleting what others point at is refused, or cascades on request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from http_checks import check

OFFICE = """
extensions:
  - {number: "102"}
  - {number: "103"}
  - number: "101"
    presence_settings:
      available:
        internal: {busy: {extension: "102"}}
      away:
        external: {always: {extension: "102"}}
groups:
  - {name: Sales, members: ["102", "103"]}
ring_groups:
  - {number: "6300", name: Secretaries, members: ["102", "103"]}
"""


@pytest.fixture
def office(given: Callable[[str], None]) -> None:
    given(OFFICE)


def test_deleting_referenced_extension_is_refused_with_the_places(
    client: TestClient, office: None
) -> None:
    before = {n: check(client.get(f"/api/v1/extensions/{n}")) for n in ("101", "102")}
    response = client.delete("/api/v1/extensions/102")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert "cascade=true" in body["message"]
    assert body["places"] == [
        {"kind": "extension", "key": "101", "path": "presence_settings.available.internal.busy"},
        {"kind": "extension", "key": "101", "path": "presence_settings.away.external.always"},
        {"kind": "ring_group", "key": "6300", "path": "members[0]"},
    ]
    # Nothing changed.
    for n, data in before.items():
        assert check(client.get(f"/api/v1/extensions/{n}")) == data
    assert check(client.get("/api/v1/ring-groups/6300"))["members"] == ["102", "103"]


def test_deleting_with_cascade_removes_every_reference_first(
    client: TestClient, office: None
) -> None:
    response = client.delete("/api/v1/extensions/102?cascade=true")
    assert response.status_code == 200
    body = response.json()
    assert body["deleted"]["number"] == "102"
    assert {(p["kind"], p["key"], p["path"]) for p in body["removed_references"]} == {
        ("extension", "101", "presence_settings.available.internal.busy"),
        ("extension", "101", "presence_settings.away.external.always"),
        ("ring_group", "6300", "members[0]"),
        ("group", "Sales", "members[0]"),
    }
    assert client.get("/api/v1/extensions/102").status_code == 404
    # The ring group loses the member; the group too.
    assert check(client.get("/api/v1/ring-groups/6300"))["members"] == ["103"]
    assert check(client.get("/api/v1/groups/Sales"))["members"] == ["103"]
    # A forward rule falls back to its default: voicemail, or off for "always".
    settings = check(client.get("/api/v1/extensions/101/presence-settings"))
    assert settings["available"]["internal"]["busy"] == {"voicemail": True}
    assert settings["away"]["external"]["always"] is False


def test_group_membership_alone_does_not_block_a_delete(client: TestClient, office: None) -> None:
    check(client.delete("/api/v1/ring-groups/6300"))
    response = client.delete("/api/v1/extensions/103")
    assert response.status_code == 200
    assert response.json()["removed_references"] == [
        {"kind": "group", "key": "Sales", "path": "members[1]"}
    ]
    assert check(client.get("/api/v1/groups/Sales"))["members"] == ["102"]


def test_a_ring_group_used_as_a_failover_cannot_be_deleted_without_cascade(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
extensions: [{number: "101"}]
ring_groups:
  - {number: "6300", members: ["101"]}
queues:
  - {number: "6400", members: ["101"], failover: {ring_group: "6300"}}
inbound_routes:
  - {name: main, did: "+420530335500", destination: {ring_group: "6300"}}
""")
    response = client.delete("/api/v1/ring-groups/6300")
    assert response.status_code == 409
    assert [(p["kind"], p["path"]) for p in response.json()["places"]] == [
        ("queue", "failover"),
        ("inbound_route", "destination"),
    ]
    check(client.delete("/api/v1/ring-groups/6300?cascade=true"))
    assert check(client.get("/api/v1/queues/6400"))["failover"] == {"hangup": True}
    assert check(client.get("/api/v1/inbound-routes/main"))["destination"] == {"hangup": True}


def test_a_trunk_in_use_by_an_outbound_route_is_kept_until_the_route_lets_go(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given("""
trunks:
  - {name: provider, type: register, host: sip.example.net, username: "530335500"}
outbound_routes:
  - {name: national, patterns: ["NXXXXXXXX"], trunks: [provider], prepend: "+420"}
""")
    response = client.delete("/api/v1/trunks/provider")
    assert response.status_code == 409
    assert response.json()["places"] == [
        {"kind": "outbound_route", "key": "national", "path": "trunks[0]"}
    ]
    check(client.delete("/api/v1/trunks/provider?cascade=true"))
    route = check(client.get("/api/v1/outbound-routes/national"))
    assert route["trunks"] == []
    assert route["enabled"] is False  # a route without a trunk cannot send calls


def test_a_ring_group_cannot_contain_itself(client: TestClient) -> None:
    response = client.post("/api/v1/ring-groups", json={"number": "6300", "members": ["6300"]})
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert f"{problem['path']}: {problem['rule']}".endswith(
        "members: a ring group cannot contain itself"
    )


def test_a_ring_group_member_must_exist(client: TestClient) -> None:
    response = client.post("/api/v1/ring-groups", json={"number": "6300", "members": ["101"]})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"path": "members[0]", "rule": "extension 101 does not exist"}
    ]
    assert client.get("/api/v1/ring-groups/6300").status_code == 404
