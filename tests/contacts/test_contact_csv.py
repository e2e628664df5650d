"""Company contacts as CSV (docs/contacts.md): export, import that creates and updates,
all or nothing with errors by row and column, through the service and the REST API."""

from __future__ import annotations

import csv
import io

import pytest
from api_clients import check
from fastapi.testclient import TestClient

from klapka.domain.problems import Forbidden, InvalidInput
from klapka.domain.references import Kind
from klapka.services.audit_log import AuditLog
from klapka.services.directory.config import ConfigService
from klapka.services.directory.contact_csv import COLUMNS, ContactCsv
from klapka.services.directory.csv_tables import ImportResult, RowError
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal

HEADER = ",".join(COLUMNS)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def phonebook(pbx: Pbx) -> str:
    ConfigService(pbx).apply(
        load_yaml(
            """
version: 1
phonebooks: [{name: Suppliers}]
contacts:
  - first_name: Ondřej
    last_name: Pospíšil
    company: Moravia Steel
    email: ondrej@example.org
    phonebook: Suppliers
    numbers:
      - {type: work, number: "+420541000111"}
      - {type: mobile, number: "+420602000111"}
      - {type: work, number: "+420541000112"}
  - {company: "Building management, Brno", numbers: [{type: fax, number: "+420530335599"}]}
"""
        )
    )
    return "Suppliers"


def test_the_export_has_a_row_per_contact_and_a_column_per_number_type(
    pbx: Pbx, phonebook: str
) -> None:
    text = ContactCsv(pbx).export_csv()
    assert (
        text.splitlines()[0]
        == "id,first_name,last_name,company,email,phonebook,work,mobile,home,fax,other"
    )
    first, second = rows_of(text)
    assert first == {
        "id": first["id"],
        "first_name": "Ondřej",
        "last_name": "Pospíšil",
        "company": "Moravia Steel",
        "email": "ondrej@example.org",
        "phonebook": "Suppliers",
        "work": "+420541000111;+420541000112",
        "mobile": "+420602000111",
        "home": "",
        "fax": "",
        "other": "",
    }
    assert second["company"] == "Building management, Brno"
    assert second["phonebook"] == "Default"
    assert second["fax"] == "+420530335599"
    only = rows_of(ContactCsv(pbx).export_csv(phonebook="Suppliers"))
    assert [r["company"] for r in only] == ["Moravia Steel"]


def test_export_then_import_changes_nothing(pbx: Pbx, phonebook: str) -> None:
    before = ContactCsv(pbx).export_csv()
    result = ContactCsv(pbx).import_csv(before)
    assert result == ImportResult(created=0, updated=2)
    assert ContactCsv(pbx).export_csv() == before
    assert AuditLog(pbx).list(kind="contact", action="update").total == 0


def test_import_creates_rows_without_id_and_updates_rows_with_one(pbx: Pbx, phonebook: str) -> None:
    [steel, _building] = rows_of(ContactCsv(pbx).export_csv())
    text = (
        "id;company;mobile;phonebook\n"
        f"{steel['id']};;+420602999999;\n"
        ";Globex;+420777000000;Suppliers\n"
        ";Initech;;\n"
    )
    result = ContactCsv(pbx).import_csv(text)
    assert result == ImportResult(created=2, updated=1)
    updated = Objects(pbx).get(Kind.CONTACT, steel["id"])
    assert updated["company"] == "Moravia Steel"  # empty cell: kept
    assert updated["numbers"] == [  # the mobile numbers replaced, the others kept
        {"type": "work", "number": "+420541000111"},
        {"type": "work", "number": "+420541000112"},
        {"type": "mobile", "number": "+420602999999"},
    ]
    by_company = {r["company"]: r for r in rows_of(ContactCsv(pbx).export_csv())}
    assert by_company["Globex"]["phonebook"] == "Suppliers"
    assert by_company["Globex"]["mobile"] == "+420777000000"
    assert by_company["Initech"]["phonebook"] == "Default"


def test_import_refuses_the_whole_file_listing_every_bad_row(pbx: Pbx, phonebook: str) -> None:
    [steel, _building] = rows_of(ContactCsv(pbx).export_csv())
    text = (
        "id,first_name,company,email,phonebook,mobile\n"
        ",Jana,,not-an-address,,\n"  # row 2
        ",,,,,+420777000000\n"  # row 3: no name
        ",Petr,,,Nope,\n"  # row 4
        "999,Eva,,,,\n"  # row 5
        f"{steel['id']},Ondra,,,,\n"  # row 6
        f"{steel['id']},Ondřej,,,,\n"  # row 7: the same id again
        ",Karel,,,,+420 777\n"  # row 8
        "x,Karel,,,,\n"  # row 9
        ",Fine,,,,\n"  # row 10
    )
    result = ContactCsv(pbx).import_csv(text)
    assert result.created == result.updated == 0
    assert [str(e) for e in result.errors] == [
        "row 2, email: must be an email address like name@example.com",
        "row 3, first_name: a contact needs a first name, last name or company",
        "row 4, phonebook: phonebook Nope does not exist (create it first)",
        "row 5, id: contact 999 does not exist (leave id empty to create one)",
        "row 7, id: " + f"{steel['id']} is listed twice (first at row 6)",
        "row 8, mobile: must be a phone number: digits, * and #, optionally starting with +",
        "row 9, id: must be a whole number (or empty for a new contact)",
    ]
    assert result.errors[0] == RowError(2, "email", result.errors[0].rule)
    with pbx.tx() as repo:
        assert repo.count(Kind.CONTACT) == 2  # nothing written


def test_a_file_that_is_not_a_contact_table_is_refused_as_a_whole(pbx: Pbx) -> None:
    with pytest.raises(InvalidInput, match="unknown column number"):
        ContactCsv(pbx).import_csv("number,first_name\n101,Jana\n")
    with pytest.raises(InvalidInput, match="the first row must be the header"):
        ContactCsv(pbx).import_csv("")


def test_a_dry_run_checks_and_writes_nothing(pbx: Pbx) -> None:
    result = ContactCsv(pbx).import_csv("company\nACME\nGlobex\n", dry_run=True)
    assert result == ImportResult(created=2, updated=0, dry_run=True)
    with pbx.tx() as repo:
        assert repo.count(Kind.CONTACT) == 0


def test_an_import_is_in_the_audit_log_as_a_whole_and_per_contact(pbx: Pbx) -> None:
    ContactCsv(pbx).import_csv("company,work\nACME,+420541000111\n")
    [summary] = AuditLog(pbx).list(kind="contact", action="import").items
    assert {c["path"]: c["after"] for c in summary["changes"]} == {
        "created": 1,
        "updated": 0,
        "rows": 1,
    }
    [created] = AuditLog(pbx).list(kind="contact", action="create").items
    assert {"path": "company", "before": None, "after": "ACME"} in created["changes"]


def test_only_who_may_manage_company_contacts_imports_and_who_may_see_them_exports(
    pbx: Pbx,
) -> None:
    Objects(pbx).create(Kind.EXTENSION, {"number": "101"})
    user = Principal(role="user", extension="101", name="extension 101")
    with pytest.raises(Forbidden):
        ContactCsv(pbx, user).export_csv()
    with pytest.raises(Forbidden):
        ContactCsv(pbx, user).import_csv("company\nACME\n")


# --- the REST API ------------------------------------------------------------------------


def test_the_api_exports_and_imports_contacts_as_csv(client: TestClient, phonebook: str) -> None:
    response = client.get("/api/v1/contacts.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="contacts.csv"' in response.headers["content-disposition"]
    assert len(rows_of(response.text)) == 2
    imported = client.post(
        "/api/v1/contacts/import",
        content=b"company;work\nACME;+420541000111\n",
        headers={"Content-Type": "text/csv"},
    )
    assert check(imported) == {"created": 1, "updated": 0, "dry_run": False, "errors": []}
    assert check(client.get("/api/v1/contacts?q=acme"))["total"] == 1


def test_the_api_refuses_an_import_with_row_errors_as_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/contacts/import",
        content=b"company,email\nACME,nope\n",
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [
        {"row": 2, "field": "email", "rule": "must be an email address like name@example.com"}
    ]
    assert body["problems"][0]["path"] == "row 2.email"
    assert check(client.get("/api/v1/contacts"))["total"] == 0
