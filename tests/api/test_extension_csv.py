"""Extensions as CSV over the API: export, and an all-or-nothing import."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from http_checks import check

CSV = {"Content-Type": "text/csv"}


def test_extensions_are_exported_as_csv(client: TestClient, given: Callable[[str], None]) -> None:
    given("""
extensions:
  - {number: "101", first_name: Jana, last_name: Nováková, sip_password: Secret123x}
  - {number: "99", first_name: Petr}
""")
    response = client.get("/api/v1/extensions.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["number"], r["first_name"]) for r in rows] == [("99", "Petr"), ("101", "Jana")]
    assert rows[1]["sip_password"] == ""
    with_secrets = client.get("/api/v1/extensions.csv?include_secrets=true").text
    assert "Secret123x" in with_secrets


def test_a_csv_import_creates_and_updates(client: TestClient, given: Callable[[str], None]) -> None:
    given("extensions: [{number: '101', first_name: Jana}]")
    text = "number,first_name,email\n101,Johana,\n102,Petr,petr@example.com\n"
    result = check(client.post("/api/v1/extensions/import", content=text.encode(), headers=CSV))
    assert result["created"] == 1
    assert result["updated"] == 1
    assert result["errors"] == []
    assert check(client.get("/api/v1/extensions/101"))["first_name"] == "Johana"
    assert check(client.get("/api/v1/extensions/102"))["email"] == "petr@example.com"


def test_a_csv_import_with_a_bad_row_imports_nothing_and_names_row_and_column(
    client: TestClient,
) -> None:
    text = "number,email\n101,jana@example.com\n102,not-an-email\n"
    response = client.post("/api/v1/extensions/import", content=text.encode(), headers=CSV)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {"row": 3, "field": "email", "rule": "must be an email address like name@example.com"}
    ]
    assert body["problems"] == [
        {"path": "row 3.email", "rule": "must be an email address like name@example.com"}
    ]
    assert check(client.get("/api/v1/extensions"))["total"] == 0


def test_a_csv_dry_run_checks_and_writes_nothing(client: TestClient) -> None:
    response = client.post(
        "/api/v1/extensions/import?dry_run=true", content=b"number\n101\n", headers=CSV
    )
    assert check(response)["dry_run"] is True
    assert check(client.get("/api/v1/extensions"))["total"] == 0


def test_an_unreadable_csv_file_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/extensions/import", content=b"first_name\nJana\n", headers=CSV)
    assert response.status_code == 422
    assert "number" in response.json()["message"]
