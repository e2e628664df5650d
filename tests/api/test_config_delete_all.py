"""A document to apply must say its version, and one that would delete every extension is
refused unless asked for: an empty file, ``{}``, ``null`` or a bare ``version: 1`` must not
wipe the PBX by accident. The PBX is untouched by every refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check, problems

YAML = {"Content-Type": "application/yaml"}
JSON = {"Content-Type": "application/json"}
VERSION_REQUIRED = "version: required: a configuration document starts with version: 1"
DELETES_ALL = (
    "extensions: the document lists no extension: applying it would delete all 2 extensions "
    "of the PBX; to do that, apply with allow_delete_all=true (CLI: --allow-delete-all)"
)
PBX = """
extensions: [{number: "101", first_name: Jana}, {number: "102"}]
groups: [{name: Sales, members: ["101"]}]
trunks: [{name: provider, type: peer, host: 192.0.2.1}]
"""


@pytest.fixture
def before(client: TestClient, given: Callable[[str], None]) -> Any:
    given(PBX)
    return check(client.get("/api/v1/config?include_secrets=true"))


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", YAML),  # an empty file
        (b"# nothing here\n", YAML),
        (b"{}", YAML),
        (b"null", YAML),
        (b'""', JSON),
        (b"{}", JSON),
        (b"null", JSON),
    ],
)
@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_a_document_without_version_is_refused(
    client: TestClient, before: Any, body: bytes, headers: dict[str, str], dry_run: str
) -> None:
    response = client.put(f"/api/v1/config?dry_run={dry_run}", content=body, headers=headers)
    assert problems(response) == [VERSION_REQUIRED]
    assert check(client.get("/api/v1/config?include_secrets=true")) == before


def test_a_missing_version_is_listed_with_the_other_problems(client: TestClient) -> None:
    document = {"extensions": [{"number": "1"}]}
    assert problems(client.put("/api/v1/config", json=document)) == [
        VERSION_REQUIRED,
        "extensions[0].number: must be 2-8 digits",
    ]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"version: 1\n", YAML),
        (b'{"version": 1}', JSON),
        (b'{"version": 1, "extensions": [], "groups": [{"name": "Sales"}]}', JSON),
    ],
)
def test_a_document_that_deletes_every_extension_is_refused(
    client: TestClient, before: Any, body: bytes, headers: dict[str, str]
) -> None:
    assert problems(client.put("/api/v1/config", content=body, headers=headers)) == [DELETES_ALL]
    assert check(client.get("/api/v1/config?include_secrets=true")) == before


def test_its_dry_run_shows_the_changes_and_the_refusal(client: TestClient, before: Any) -> None:
    result = check(client.put("/api/v1/config?dry_run=true", json={"version": 1}))
    assert result["summary"] == {"created": 0, "updated": 0, "deleted": 4}
    assert {(c["op"], c["kind"], c["key"]) for c in result["changes"]} == {
        ("delete", "extension", "101"),
        ("delete", "extension", "102"),
        ("delete", "group", "Sales"),
        ("delete", "trunk", "provider"),
    }
    assert result["refused"] == {"path": "extensions", "rule": DELETES_ALL[len("extensions: ") :]}
    text = client.put(
        "/api/v1/config?dry_run=true", json={"version": 1}, headers={"Accept": "text/plain"}
    )
    assert text.text.splitlines()[-2:] == [
        "Dry run: 0 to create, 0 to update, 4 to delete; nothing was changed.",
        f"Applying it would be refused: {DELETES_ALL}",
    ]
    assert check(client.get("/api/v1/config?include_secrets=true")) == before


def test_asked_for_it_deletes_everything(client: TestClient, before: Any) -> None:
    dry = check(
        client.put("/api/v1/config?dry_run=true&allow_delete_all=true", json={"version": 1})
    )
    assert "refused" not in dry
    result = check(client.put("/api/v1/config?allow_delete_all=true", json={"version": 1}))
    assert result["summary"]["deleted"] == 4
    assert check(client.get("/api/v1/config")) == {"version": 1}


def test_an_empty_document_on_an_empty_pbx_is_no_change(client: TestClient) -> None:
    assert check(client.put("/api/v1/config", json={"version": 1}))["changes"] == []


def test_a_document_that_keeps_one_extension_may_delete_the_others(
    client: TestClient, before: Any
) -> None:
    result = check(
        client.put("/api/v1/config", json={"version": 1, "extensions": [{"number": "103"}]})
    )
    assert result["summary"] == {"created": 1, "updated": 0, "deleted": 4}
