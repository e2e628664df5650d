"""The audit log: an entry for every change, with who, when, from where, and each field
before -> after; secrets never in it (nor in the logs); filtered and paginated in the API."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_clients import check
from fastapi.testclient import TestClient
from sqlalchemy import select

from klapka.domain.references import Kind
from klapka.services import audit
from klapka.services.audit import is_secret, masked
from klapka.services.audit_log import AuditLog
from klapka.services.directory.config import ConfigService
from klapka.services.directory.extension_csv import ExtensionCsv
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

SECRETS = ("Sip-Secret-4711x", "Sip-Changed-0815y", "80357", "24680", "Trunk-Pass-1", "Smtp-Pass-2")


def entries(pbx: Pbx, **filters: Any) -> list[dict[str, Any]]:
    return AuditLog(pbx).list(limit=500, **filters).items


def raw_log(pbx: Pbx) -> str:
    """Every row of the audit log, as stored."""
    with pbx.tx() as repo:
        return "\n".join(
            json.dumps(dict(r._mapping), default=str, ensure_ascii=False)
            for r in repo.conn.execute(select(t.audit_log))
        )


def changes(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["path"]: (c["before"], c["after"]) for c in entry["changes"]}


# --- what is recorded ---------------------------------------------------------------------


def test_creating_changing_and_deleting_through_the_api_is_recorded_with_who_and_where(
    client: TestClient, pbx: Pbx
) -> None:
    check(client.post("/api/v1/extensions", json={"number": "101", "first_name": "Jana"}), 201)
    check(client.patch("/api/v1/extensions/101", json={"last_name": "Nováková"}))
    check(client.put("/api/v1/extensions/101/presence/away", json={"ring_timeout": 45}))
    check(client.delete("/api/v1/extensions/101"))
    delete, away, rename, create = entries(pbx, kind="extension", key="101")
    assert [e["action"] for e in (create, rename, away, delete)] == [
        "create",
        "update",
        "update",
        "delete",
    ]
    for e in (create, rename, away, delete):
        assert e["actor"] == "token admin"
        assert e["source_ip"] == "testclient"
        assert datetime.fromisoformat(e["at"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert changes(create)["first_name"] == (None, "Jana")
    assert changes(rename) == {"last_name": (None, "Nováková")}
    assert changes(away) == {"presence_settings.away.ring_timeout": (None, 45)}
    assert changes(delete)["first_name"] == ("Jana", None)


def test_a_change_that_changes_nothing_and_a_refused_change_leave_no_entry(
    client: TestClient, pbx: Pbx
) -> None:
    check(client.post("/api/v1/extensions", json={"number": "101"}), 201)
    check(client.patch("/api/v1/extensions/101", json={}))
    response = client.patch("/api/v1/extensions/101", json={"email": "not-an-address"})
    assert response.status_code == 422
    assert [e["action"] for e in entries(pbx)] == ["create"]


def test_every_kind_of_directory_object_is_recorded(client: TestClient, pbx: Pbx) -> None:
    check(client.post("/api/v1/extensions", json={"number": "101"}), 201)
    check(client.post("/api/v1/groups", json={"name": "Sales", "members": ["101"]}), 201)
    check(client.post("/api/v1/ring-groups", json={"number": "6300", "members": ["101"]}), 201)
    check(client.post("/api/v1/queues", json={"number": "6400", "members": ["101"]}), 201)
    check(client.patch("/api/v1/queues/6400/agents/101", json={"paused": True}))
    check(client.post("/api/v1/contacts", json={"company": "ACME"}), 201)
    check(client.post("/api/v1/phonebooks", json={"name": "Suppliers"}), 201)
    check(client.patch("/api/v1/system", json={"timezone": "Europe/Prague"}))
    check(client.put("/api/v1/business-hours", json={"weekly": {"mon": ["08:00-16:00"]}}))
    kinds = {(e["kind"], e["action"]) for e in entries(pbx)}
    assert kinds >= {
        ("extension", "create"),
        ("group", "create"),
        ("ring_group", "create"),
        ("queue", "create"),
        ("queue_agent", "update"),
        ("contact", "create"),
        ("phonebook", "create"),
        ("system", "update"),
        ("business_hours", "update"),
    }
    [paused] = entries(pbx, kind="queue_agent")
    assert paused["key"] == "6400/101"
    assert changes(paused) == {"paused": (False, True)}
    [system] = entries(pbx, kind="system")
    assert changes(system) == {"timezone": ("UTC", "Europe/Prague")}
    [hours] = entries(pbx, kind="business_hours")
    assert changes(hours) == {"weekly.mon": (None, ["08:00-16:00"])}


def test_a_cascading_delete_records_the_change_of_each_object_that_pointed_at_it(
    client: TestClient, pbx: Pbx
) -> None:
    check(client.post("/api/v1/extensions", json={"number": "101"}), 201)
    check(client.post("/api/v1/ring-groups", json={"number": "6300", "members": ["101"]}), 201)
    check(client.delete("/api/v1/extensions/101?cascade=true"))
    [ring_group] = entries(pbx, kind="ring_group", action="update")
    assert changes(ring_group) == {"members": (["101"], None)}
    assert entries(pbx, kind="extension", action="delete")


def test_applying_a_document_records_one_entry_per_applied_change(pbx: Pbx) -> None:
    config = ConfigService(pbx, Principal(role="system", name="cli root"))
    config.apply(load_yaml("version: 1\nextensions: [{number: '101'}, {number: '102'}]\n"))
    result = config.apply(
        load_yaml(
            "version: 1\n"
            "extensions: [{number: '101', first_name: Jana}]\n"
            "contacts: [{company: ACME}]\n"
        )
    )
    assert len(result.changes) == 3
    recorded = entries(pbx, actor="cli root")
    assert len(recorded) == 2 + 3
    latest = {(e["action"], e["kind"], e["key"]): e for e in recorded[:3]}
    # As the dry run shows it: None is "not set" (the first name defaults to the number).
    assert changes(latest[("update", "extension", "101")]) == {"first_name": (None, "Jana")}
    assert ("delete", "extension", "102") in latest
    [contact] = [e for e in recorded if e["kind"] == "contact"]
    assert contact["key"].isdigit()  # the contact's id, as the API names it
    assert changes(contact) == {"company": (None, "ACME")}
    config.apply(load_yaml("version: 1\n"), dry_run=True)
    assert len(entries(pbx)) == 5  # a dry run changes and records nothing


def test_a_csv_import_records_a_summary_and_each_extension(pbx: Pbx) -> None:
    ExtensionCsv(pbx).import_csv("number,first_name\n101,Jana\n102,Petr\n")
    ExtensionCsv(pbx).import_csv("number,last_name\n101,Nováková\n102,\n")
    imports = entries(pbx, action="import")
    assert [changes(e)["created"][1] for e in imports] == [0, 2]
    assert [changes(e)["updated"][1] for e in imports] == [2, 0]
    [update] = entries(pbx, kind="extension", action="update")
    assert (update["key"], changes(update)) == ("101", {"last_name": (None, "Nováková")})
    assert len(entries(pbx, kind="extension", action="create")) == 2


# --- secrets ------------------------------------------------------------------------------


def test_secrets_never_reach_the_audit_log_or_the_logs(
    client: TestClient, pbx: Pbx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    check(
        client.post(
            "/api/v1/extensions",
            json={"number": "101", "sip_password": SECRETS[0], "voicemail": {"pin": SECRETS[2]}},
        ),
        201,
    )
    check(client.patch("/api/v1/extensions/101", json={"sip_password": SECRETS[1]}))
    check(client.put("/api/v1/extensions/101/voicemail", json={"pin": SECRETS[3]}))
    check(
        client.post(
            "/api/v1/trunks",
            json={
                "name": "provider",
                "type": "register",
                "host": "sip.example.net",
                "username": "530335500",
                "password": SECRETS[4],
            },
        ),
        201,
    )
    check(client.patch("/api/v1/system", json={"smtp": {"password": SECRETS[5]}}))
    ExtensionCsv(pbx).import_csv(f"number,sip_password\n102,{SECRETS[0]}\n")
    document = ConfigService(pbx).export(include_secrets=True)
    document["extensions"][0]["sip_password"] = "Sip-Document-99z"
    ConfigService(pbx).apply(document)
    stored = raw_log(pbx)
    for secret in (*SECRETS, "Sip-Document-99z"):
        assert secret not in stored, secret
        assert secret not in caplog.text, secret
    # ... and yet it shows that they changed.
    [password_change] = [
        e for e in entries(pbx, kind="extension", key="101") if "sip_password" in changes(e)
    ][:1]
    assert changes(password_change)["sip_password"] == ("********", "********")
    [pin] = [e for e in entries(pbx, key="101") if "voicemail.pin" in changes(e)][:1]
    assert changes(pin)["voicemail.pin"] == ("********", "********")
    [smtp] = entries(pbx, kind="system")
    assert changes(smtp) == {"smtp.password": (None, "********")}
    [trunk] = entries(pbx, kind="trunk")
    assert changes(trunk)["password"] == (None, "********")


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("sip_password", True),
        ("user_password", True),
        ("voicemail.pin", True),
        ("trunks[0].password", True),
        ("smtp.password", True),
        ("recovery_tokens[2]", True),
        ("api_secret", True),
        ("voicemail.pin_authentication", True),
        ("first_name", False),
        ("presence_settings.away.ring_timeout", False),
    ],
)
def test_a_key_naming_a_password_pin_token_or_secret_is_a_secret(path: str, secret: bool) -> None:
    assert is_secret(path) is secret


def test_masking_keeps_switches_and_unset_values_visible() -> None:
    assert masked("voicemail", {"pin": "1234", "pin_authentication": False, "enabled": True}) == {
        "pin": "********",
        "pin_authentication": False,
        "enabled": True,
    }
    assert masked("trunks", [{"name": "x", "password": "p"}]) == [
        {"name": "x", "password": "********"}
    ]
    assert masked("sip_password", None) is None


def test_record_is_the_interface_every_service_uses(pbx: Pbx) -> None:
    who = Principal(role="user", extension="101", name="extension 101", source_ip="192.0.2.7")
    with pbx.tx() as repo:
        audit.record(
            repo.conn,
            who,
            "change_password",
            "extension",
            "101",
            {"user_password": "old", "email": "a@example.com"},
            {"user_password": "new", "email": "b@example.com"},
        )
        audit.record(repo.conn, who, "sign_in", "extension", "101")
    sign_in, change = entries(pbx)
    assert sign_in["changes"] == []
    assert (change["actor"], change["actor_extension"], change["source_ip"]) == (
        "extension 101",
        "101",
        "192.0.2.7",
    )
    assert changes(change) == {
        "user_password": ("********", "********"),
        "email": ("a@example.com", "b@example.com"),
    }


# --- reading it ---------------------------------------------------------------------------


@pytest.fixture
def history(pbx: Pbx) -> None:
    alice = Principal(role="admin", name="token alice", source_ip="192.0.2.1")
    bob = Principal(role="user", extension="102", name="extension 102", source_ip="192.0.2.2")
    Objects(pbx, alice).create(Kind.EXTENSION, {"number": "101"})
    Objects(pbx, alice).create(Kind.EXTENSION, {"number": "102"})
    Objects(pbx, bob).patch(Kind.EXTENSION, "102", {"presence": "away"})
    Objects(pbx, alice).create(Kind.GROUP, {"name": "Sales", "members": ["101"]})
    Objects(pbx, alice).delete(Kind.EXTENSION, "101")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Deleting 101 took it out of the group Sales, in the same transaction.
        ("", ["delete extension 101", "update group Sales", "create group Sales",
              "update extension 102", "create extension 102", "create extension 101"]),
        ("actor=token alice&kind=extension", ["delete extension 101", "create extension 102",
                                             "create extension 101"]),
        ("actor=102", ["update extension 102"]),  # by the actor's extension
        ("actor=EXTENSION 102", ["update extension 102"]),
        ("kind=group", ["update group Sales", "create group Sales"]),
        ("key=101", ["delete extension 101", "create extension 101"]),
        ("action=delete", ["delete extension 101"]),
        ("action=delete&kind=group", []),
        ("action=update&kind=group&key=Sales", ["update group Sales"]),
    ],
)  # fmt: skip
def test_the_api_filters_the_log_newest_first(
    client: TestClient, history: None, query: str, expected: list[str]
) -> None:
    page = check(client.get(f"/api/v1/audit?{query}"))
    shown = [f"{e['action']} {e['kind']} {e['key']}" for e in page["items"]]
    assert shown == expected
    assert page["total"] == len(expected)


def test_the_api_filters_by_time_and_pages(client: TestClient, pbx: Pbx, history: None) -> None:
    everything = check(client.get("/api/v1/audit"))["items"]
    middle = everything[2]["at"]
    since = check(client.get("/api/v1/audit", params={"since": middle}))
    assert [e["id"] for e in since["items"]] == [e["id"] for e in everything[:3]]
    until = check(client.get("/api/v1/audit", params={"until": middle}))
    assert [e["id"] for e in until["items"]] == [e["id"] for e in everything[3:]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert check(client.get("/api/v1/audit", params={"since": future}))["total"] == 0
    page = check(client.get("/api/v1/audit?limit=2&offset=1"))
    assert (page["total"], page["limit"], page["offset"]) == (6, 2, 1)
    assert [e["id"] for e in page["items"]] == [e["id"] for e in everything[1:3]]


def test_a_time_without_a_zone_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/audit", params={"since": "2027-01-31T08:00:00"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "query.since"


def test_an_entry_shows_everything_about_a_change(client: TestClient, history: None) -> None:
    [entry] = check(client.get("/api/v1/audit?actor=102"))["items"]
    assert entry == {
        "id": entry["id"],
        "at": entry["at"],
        "actor": "extension 102",
        "actor_extension": "102",
        "source_ip": "192.0.2.2",
        "action": "update",
        "kind": "extension",
        "key": "102",
        "changes": [{"path": "presence", "before": None, "after": "away"}],
    }


def test_only_signed_in_callers_read_the_log(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/audit").status_code == 401
