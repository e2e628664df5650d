"""One writer for directory objects (services/directory/writer.py): whichever way a change
comes in (the REST API, a configuration document, a CSV import, a feature code), the same
rules answer it with the same words, the audit log records it, secrets never reach the log,
and the SIP core is told (the directory version goes up)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check
from sqlalchemy import select

from klapka.services.audit_log import AuditLog
from klapka.services.pbx import Pbx
from klapka.services.telephony.feature_codes import FeatureCodes
from klapka.store import tables as t
from klapka.store.repository import SECRET_MASK

CSV = {"Content-Type": "text/csv"}


def api(client: TestClient, extension: dict[str, Any]) -> tuple[str, str]:
    """The (path, rule) of the one problem creating ``extension`` through the API has."""
    response = client.post("/api/v1/extensions", json=extension)
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    return problem["path"], problem["rule"]


def document(client: TestClient, extension: dict[str, Any]) -> tuple[str, str]:
    response = client.put("/api/v1/config", json={"version": 1, "extensions": [extension]})
    assert response.status_code == 422, response.text
    [problem] = response.json()["problems"]
    assert problem["path"].startswith("extensions[0].")
    return problem["path"].removeprefix("extensions[0]."), problem["rule"]


def csv_import(client: TestClient, header: str, row: str) -> tuple[str, str]:
    text = f"{header}\n{row}\n"
    response = client.post("/api/v1/extensions/import", content=text.encode(), headers=CSV)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["row"] == 2
    return error["field"], error["rule"]


def version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        return int(repo.conn.execute(select(t.system.c.directory_version)).scalar() or 0)


def raw_log(pbx: Pbx) -> str:
    with pbx.tx() as repo:
        return "\n".join(
            json.dumps(dict(r._mapping), default=str, ensure_ascii=False)
            for r in repo.conn.execute(select(t.audit_log))
        )


def entries(pbx: Pbx, **filters: Any) -> list[dict[str, Any]]:
    return AuditLog(pbx).list(limit=500, **filters).items


@pytest.mark.parametrize(
    ("column", "path", "value"),
    [
        ("sip_password", "sip_password", "short"),
        ("sip_password", "sip_password", "alllowercase123"),
        ("voicemail_pin", "voicemail.pin", "12ab"),
        ("email", "email", "not-an-email"),
    ],
)
def test_a_broken_rule_reads_the_same_from_the_api_a_document_and_a_csv_import(
    client: TestClient, pbx: Pbx, column: str, path: str, value: str
) -> None:
    extension: dict[str, Any] = {"number": "101"}
    head, _, leaf = path.rpartition(".")
    (extension.setdefault(head, {}) if head else extension)[leaf] = value
    from_api = api(client, extension)
    from_document = document(client, extension)
    from_csv = csv_import(client, f"number,{column}", f"101,{value}")
    assert from_api == from_document == (path, from_csv[1])
    assert from_csv[0] == column  # the CSV names its column
    assert check(client.get("/api/v1/extensions"))["total"] == 0  # all or nothing, each way
    assert entries(pbx) == []


def test_a_number_already_in_use_is_refused_in_the_same_words(client: TestClient, pbx: Pbx) -> None:
    check(client.post("/api/v1/ring-groups", json={"number": "6300"}), 201)
    response = client.post("/api/v1/extensions", json={"number": "6300"})
    assert response.status_code == 409
    assert response.json()["path"] == "number"
    field, rule = csv_import(client, "number", "6300")
    assert (field, rule) == ("number", "6300 is already used by a ring group")
    assert response.json()["message"] == f"number {rule}"
    # The other way round, as a document and through the API.
    doc = {"version": 1, "extensions": [{"number": "101"}], "ring_groups": [{"number": "101"}]}
    refused = client.put("/api/v1/config", json=doc)
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {"path": "ring_groups[0].number", "rule": "101 is already used by an extension"}
    ]
    check(client.post("/api/v1/extensions", json={"number": "101"}), 201)
    response = client.post("/api/v1/ring-groups", json={"number": "101"})
    assert response.status_code == 409
    assert response.json()["message"] == "number 101 is already used by an extension"


def test_every_way_in_is_audited_tells_the_sip_core_and_never_logs_a_secret(
    client: TestClient, pbx: Pbx
) -> None:
    secrets = {
        "api": "Api-Secret-4711x",
        "api_pin": "80357",
        "document": "Doc-Secret-0815y",
        "csv": "Csv-Secret-2222z",
        "csv_pin": "24680",
        "trunk": "Trunk-Pass-99",
    }
    versions = [version(pbx)]
    # The REST API (and the web UI, which calls the same service).
    check(
        client.post(
            "/api/v1/extensions",
            json={"number": "101", "sip_password": secrets["api"], "voicemail": {"pin": "13579"}},
        ),
        201,
    )
    check(client.put("/api/v1/extensions/101/voicemail", json={"pin": secrets["api_pin"]}))
    versions.append(version(pbx))
    # A configuration document: keeps 101 (its secrets left out: kept), adds 102 and a trunk.
    exported = check(client.get("/api/v1/config"))
    exported["extensions"].append({"number": "102", "sip_password": secrets["document"]})
    exported["trunks"] = [
        {
            "name": "provider",
            "type": "peer",
            "host": "sip.example.net",
            "password": secrets["trunk"],
        }
    ]
    check(client.put("/api/v1/config", json=exported))
    versions.append(version(pbx))
    # A CSV import: changes 102's secrets, creates 103.
    text = f"number,sip_password,voicemail_pin\n102,{secrets['csv']},{secrets['csv_pin']}\n103,,\n"
    check(client.post("/api/v1/extensions/import", content=text.encode(), headers=CSV))
    versions.append(version(pbx))
    # A contact import.
    text = "company,work\nACME,+420601000111\n"
    check(client.post("/api/v1/contacts/import", content=text.encode(), headers=CSV))
    versions.append(version(pbx))
    # A feature code, dialled on 101's phone.
    assert FeatureCodes(pbx).dial("101", "*78").sip_code == 200
    versions.append(version(pbx))

    assert versions == sorted(set(versions)), versions  # each way in told the SIP core
    recorded = {(e["action"], e["kind"], e["key"]) for e in entries(pbx)}
    assert {
        ("create", "extension", "101"),
        ("update", "extension", "101"),  # the PIN, through the API; do not disturb, dialled
        ("create", "extension", "102"),
        ("create", "trunk", "provider"),
        ("update", "extension", "102"),
        ("create", "extension", "103"),
        ("import", "extension", ""),
        ("import", "contact", ""),
    } <= recorded
    assert any(e["kind"] == "contact" and e["action"] == "create" for e in entries(pbx))
    dialled = [e for e in entries(pbx, key="101") if e["actor_extension"] == "101"]
    assert [c["path"] for c in dialled[0]["changes"]] == ["presence"]

    stored = raw_log(pbx)
    for secret in secrets.values():
        assert secret not in stored, secret
    # ... and yet each way in shows that a secret changed, masked the same way.
    shown = [
        (e["kind"], e["key"], c["path"], c["before"], c["after"])
        for e in entries(pbx)
        for c in e["changes"]
        if c["path"] in ("sip_password", "voicemail.pin", "password")
    ]
    assert ("extension", "101", "voicemail.pin", SECRET_MASK, SECRET_MASK) in shown  # API
    assert ("extension", "102", "sip_password", None, SECRET_MASK) in shown  # document
    assert ("trunk", "provider", "password", None, SECRET_MASK) in shown  # document
    assert ("extension", "102", "sip_password", SECRET_MASK, SECRET_MASK) in shown  # CSV
    assert ("extension", "103", "sip_password", None, SECRET_MASK) in shown  # CSV, generated
    # The secrets were stored, each as given.
    with pbx.tx() as repo:
        stored_secrets = {
            n: dict(s)
            for n, s in repo.conn.execute(select(t.extensions.c.number, t.extensions.c.secrets))
        }
    assert stored_secrets["101"]["sip_password"] == secrets["api"]  # kept by the document
    assert stored_secrets["101"]["voicemail.pin"] == secrets["api_pin"]
    assert stored_secrets["102"] == {"sip_password": secrets["csv"], "voicemail.pin": "24680"}
    assert stored_secrets["103"]["sip_password"] not in ("", SECRET_MASK)


def test_a_masked_secret_sent_back_keeps_the_stored_one_on_every_way_in(
    client: TestClient, pbx: Pbx
) -> None:
    check(
        client.post(
            "/api/v1/trunks",
            json={
                "name": "provider",
                "type": "peer",
                "host": "sip.example.net",
                "password": "Trunk-Pass-1",
            },
        ),
        201,
    )
    trunk = check(client.get("/api/v1/trunks/provider"))
    assert trunk["password"] == SECRET_MASK
    check(client.put("/api/v1/trunks/provider", json=trunk))
    exported = check(client.get("/api/v1/config"))
    exported["trunks"][0]["password"] = SECRET_MASK
    check(client.put("/api/v1/config", json=exported))
    with_secrets = check(client.get("/api/v1/trunks/provider?include_secrets=true"))
    assert with_secrets["password"] == "Trunk-Pass-1"
