"""Webhooks over HTTP: an admin creates one (its secret shown once), changes, tests and
deletes it; bad input is 422 naming the field; the delivery log lists each event."""

from __future__ import annotations

from accounts_world import API, check, problems
from fastapi.testclient import TestClient


def test_an_admin_manages_a_webhook_and_reads_its_log(admin: TestClient) -> None:
    made = check(admin.post(f"{API}/webhooks", json={
        "name": "crm", "url": "http://127.0.0.1:9/hook", "events": ["call.ended"],
    }), 201)  # fmt: skip
    assert len(made["secret"]) >= 32
    assert "secret" not in check(admin.get(f"{API}/webhooks/crm"))
    assert [w["name"] for w in check(admin.get(f"{API}/webhooks"))] == ["crm"]
    changed = check(admin.patch(f"{API}/webhooks/crm", json={"enabled": False, "events": []}))
    assert (changed["enabled"], changed["events"], changed["url"]) == (
        False, [], "http://127.0.0.1:9/hook",
    )  # fmt: skip
    assert check(admin.post(f"{API}/webhooks/crm/test"), 202) == {"queued": True}
    [ping] = check(admin.get(f"{API}/webhooks/crm/deliveries"))
    assert (ping["event"], ping["status"], ping["body"]["data"]) == (
        "ping", "pending", {"webhook": "crm"},
    )  # fmt: skip
    assert (
        admin.post(f"{API}/webhooks", json={"name": "crm", "url": "http://x/"}).status_code == 409
    )
    assert admin.delete(f"{API}/webhooks/crm").status_code == 204
    assert admin.get(f"{API}/webhooks/crm").status_code == 404
    entries = check(admin.get(f"{API}/audit", params={"kind": "webhook"}))["items"]
    assert [e["action"] for e in entries] == ["delete", "update", "create"]


def test_bad_webhooks_are_refused_naming_the_field(admin: TestClient) -> None:
    for body, field in (
        ({"name": "a", "url": "ftp://127.0.0.1/"}, "url"),
        ({"name": "a", "url": "http://127.0.0.1/", "events": ["call.lost"]}, "events"),
        ({"name": "", "url": "http://127.0.0.1/"}, "name"),
    ):
        assert any(field in p for p in problems(admin.post(f"{API}/webhooks", json=body))), body
