"""CSV import and export of extensions (docs/csv.md): defaults, updates, secrets, groups,
all-or-nothing with row errors, unreadable files, and the export -> import round trip."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest

from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.services.directory.config import ConfigService
from klapka.services.directory.extension_csv import COLUMNS, ExtensionCsv, ImportResult, RowError
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def extension_csv(pbx: Pbx) -> ExtensionCsv:
    return ExtensionCsv(pbx)


@pytest.fixture
def objects(pbx: Pbx) -> Objects:
    return Objects(pbx)


def given(pbx: Pbx, document: str) -> None:
    """Set the PBX up from a configuration document (YAML)."""
    ConfigService(pbx).apply(load_yaml("version: 1\n" + document))


def ext(objects: Objects, number: str) -> dict[str, Any]:
    return objects.get(Kind.EXTENSION, number, include_secrets=True)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def directory_version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        return repo.system()[3]


# --- creating ---------------------------------------------------------------------------


def test_import_creates_extensions_with_defaults_for_empty_cells(
    extension_csv: ExtensionCsv, objects: Objects
) -> None:
    result = extension_csv.import_csv(
        "number,first_name,last_name,email\n101,Jana,Nováková,jana@example.com\n102,,,\n"
    )
    assert result == ImportResult(created=2, updated=0, errors=[])
    jana = ext(objects, "101")
    assert (jana["first_name"], jana["last_name"], jana["email"]) == (
        "Jana",
        "Nováková",
        "jana@example.com",
    )
    assert jana["enabled"] is True
    assert jana["role"] == "user"
    assert jana["concurrent_registrations"] == 1
    assert jana["voicemail"]["enabled"] is True
    assert jana["voicemail"]["new_message_email"] == "off"
    assert jana["presence_settings"]["away"]["ring_timeout"] == 30
    # No name given: the extension is called by its number.
    assert ext(objects, "102")["first_name"] == "102"


def test_import_gives_new_extensions_random_secrets_when_the_cells_are_empty(
    extension_csv: ExtensionCsv, objects: Objects
) -> None:
    extension_csv.import_csv("number,sip_password,voicemail_pin\n101,,\n102,Secret123x,4321\n")
    generated = ext(objects, "101")
    assert len(generated["sip_password"]) >= 8
    assert generated["voicemail"]["pin"].isdigit()
    given_secrets = ext(objects, "102")
    assert given_secrets["sip_password"] == "Secret123x"
    assert given_secrets["voicemail"]["pin"] == "4321"


def test_import_reads_every_documented_column(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(pbx, "groups: [{name: Sales}, {name: Support}]")
    row = {
        "number": "101",
        "first_name": "Jana",
        "last_name": "Nováková",
        "email": "jana@example.com",
        "mobile": "+420 777 123 456",
        "caller_id_name": "Reception",
        "caller_id_number": "+420530335500",
        "sip_username": "jana.n",
        "sip_password": "Secret123x",
        "concurrent_registrations": "3",
        "role": "admin",
        "enabled": "no",
        "voicemail_enabled": "0",
        "voicemail_pin": "987654",
        "voicemail_email": "with_attachment",
        "ring_timeout": "45",
        "groups": "Sales; Support",
    }
    assert list(row) == list(COLUMNS)
    text = ",".join(COLUMNS) + "\n" + ",".join(row.values()) + "\n"
    assert extension_csv.import_csv(text).errors == []
    jana = ext(objects, "101")
    for column in ("first_name", "last_name", "email", "mobile", "caller_id_name"):
        assert jana[column] == row[column]
    assert jana["caller_id_number"] == "+420530335500"
    assert jana["sip_username"] == "jana.n"
    assert jana["sip_password"] == "Secret123x"
    assert jana["concurrent_registrations"] == 3
    assert jana["role"] == "admin"
    assert jana["enabled"] is False
    assert jana["voicemail"]["enabled"] is False
    assert jana["voicemail"]["pin"] == "987654"
    assert jana["voicemail"]["new_message_email"] == "with_attachment"
    ringing = [s for s in jana["presence_settings"] if s != "do_not_disturb"]
    assert {jana["presence_settings"][s]["ring_timeout"] for s in ringing} == {45}
    assert objects.get(Kind.GROUP, "Sales")["members"] == ["101"]
    assert objects.get(Kind.GROUP, "Support")["members"] == ["101"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("Yes", True), ("1", True), ("FALSE", False), ("no", False), ("0", False)],
)
def test_booleans_accept_true_false_yes_no_one_zero(
    extension_csv: ExtensionCsv, objects: Objects, cell: str, expected: bool
) -> None:
    extension_csv.import_csv(f"number,enabled\n101,{cell}\n")
    assert ext(objects, "101")["enabled"] is expected


def test_a_semicolon_separated_file_from_a_european_spreadsheet_is_read(
    extension_csv: ExtensionCsv, objects: Objects
) -> None:
    text = '\ufeffNumber;First_Name;Last_Name\r\n101;Jana;"Nováková; ml."\r\n'
    assert extension_csv.import_csv(text).created == 1
    assert ext(objects, "101")["last_name"] == "Nováková; ml."


def test_an_import_bumps_the_directory_version_once(pbx: Pbx, extension_csv: ExtensionCsv) -> None:
    before = directory_version(pbx)
    extension_csv.import_csv("number\n101\n102\n103\n")
    assert directory_version(pbx) == before + 1


# --- updating ---------------------------------------------------------------------------


def test_update_by_number_changes_only_the_filled_cells_and_keeps_secrets(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(
        pbx,
        """
extensions:
  - number: "101"
    first_name: Jana
    last_name: Nováková
    email: jana@example.com
    sip_password: Secret123x
    voicemail: {pin: "4321"}
    presence_settings: {away: {external: {always: {extension: "102"}}}}
  - {number: "102"}
""",
    )
    result = extension_csv.import_csv(
        "number,first_name,last_name,email,sip_password,voicemail_pin\n101,Johana,,,,\n"
    )
    assert (result.created, result.updated, result.errors) == (0, 1, [])
    jana = ext(objects, "101")
    assert jana["first_name"] == "Johana"
    assert jana["last_name"] == "Nováková"
    assert jana["email"] == "jana@example.com"
    assert jana["sip_password"] == "Secret123x"
    assert jana["voicemail"]["pin"] == "4321"
    # Settings that have no column stay as they were.
    assert jana["presence_settings"]["away"]["external"]["always"] == {"extension": "102"}


def test_update_can_replace_secrets(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(pbx, 'extensions: [{number: "101", sip_password: Secret123x}]')
    extension_csv.import_csv("number,sip_password,voicemail_pin\n101,NewSecret456y,2468\n")
    assert ext(objects, "101")["sip_password"] == "NewSecret456y"
    assert ext(objects, "101")["voicemail"]["pin"] == "2468"


def test_two_extensions_may_swap_emails_in_one_import(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(
        pbx,
        """
extensions:
  - {number: "101", email: a@example.com, sip_username: alpha}
  - {number: "102", email: b@example.com, sip_username: beta}
""",
    )
    text = "number,email,sip_username\n101,b@example.com,beta\n102,a@example.com,alpha\n"
    assert extension_csv.import_csv(text).errors == []
    assert ext(objects, "101")["email"] == "b@example.com"
    assert ext(objects, "102")["sip_username"] == "alpha"


def test_a_groups_cell_sets_exactly_those_groups_and_an_empty_one_keeps_them(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(
        pbx,
        """
extensions: [{number: "101"}, {number: "102"}, {number: "103"}]
groups:
  - {name: Sales, members: ["101", "102"]}
  - {name: Support, members: ["103"]}
""",
    )
    text = "number,groups\n101,Support\n102,\n103,All;Sales;Support\n"
    assert extension_csv.import_csv(text).errors == []
    assert objects.get(Kind.GROUP, "Sales")["members"] == ["102", "103"]
    assert objects.get(Kind.GROUP, "Support")["members"] == ["103", "101"]


def test_group_memberships_from_an_import_are_references_like_any_other(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(pbx, "groups: [{name: Sales}]")
    extension_csv.import_csv("number,groups\n101,Sales\n")
    # Deleting the extension removes it from the group (a non-blocking reference).
    objects.delete(Kind.EXTENSION, "101")
    assert objects.get(Kind.GROUP, "Sales")["members"] == []


# --- refusing ---------------------------------------------------------------------------


def test_a_file_with_one_bad_row_imports_nothing_and_names_row_field_and_rule(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(pbx, 'extensions: [{number: "101", first_name: Jana}]')
    before = directory_version(pbx)
    text = (
        "number,first_name,email,ring_timeout\n"
        "101,Johana,,\n"
        "102,Petr,petr@example.com,\n"
        "103,Eva,not-an-email,2000\n"
    )
    result = extension_csv.import_csv(text)
    assert result.created == result.updated == 0
    assert result.errors == [
        RowError(4, "email", "must be an email address like name@example.com"),
        RowError(4, "ring_timeout", "must be 5..300"),
    ]
    assert str(result.errors[0]) == "row 4, email: must be an email address like name@example.com"
    assert result.to_dict()["errors"][1] == {
        "row": 4,
        "field": "ring_timeout",
        "rule": "must be 5..300",
    }
    assert ext(objects, "101")["first_name"] == "Jana"
    assert objects.list(Kind.EXTENSION).total == 1
    assert directory_version(pbx) == before


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("number\n1x\n", RowError(2, "number", "must be 2-8 digits")),
        (
            "number,enabled\n101,maybe\n",
            RowError(2, "enabled", "must be true or false (yes/no and 1/0 work too)"),
        ),
        ("number,role\n101,boss\n", RowError(2, "role", "must be one of admin or user")),
        (
            "number,concurrent_registrations\n101,9\n",
            RowError(2, "concurrent_registrations", "must be 1..5"),
        ),
        ("number,voicemail_pin\n101,12\n", RowError(2, "voicemail_pin", "must be 4-16 digits")),
        (
            "number,sip_password\n101,short\n",
            RowError(2, "sip_password", "must be 8-63 characters"),
        ),
        (
            "number,groups\n101,Nobody\n",
            RowError(2, "groups", "group Nobody does not exist (create it first)"),
        ),
        (
            "number,voicemail_email\n101,with_attachment\n",
            RowError(
                2,
                "voicemail_email",
                "needs the extension's email or voicemail.email_address",
            ),
        ),
        ("number,first_name\n,Jana\n", RowError(2, "number", "required")),
    ],
)
def test_a_bad_value_is_reported_by_row_column_and_rule(
    extension_csv: ExtensionCsv, text: str, error: RowError
) -> None:
    assert extension_csv.import_csv(text).errors == [error]


def test_numbers_emails_and_sip_usernames_must_be_unique_in_the_file(
    extension_csv: ExtensionCsv,
) -> None:
    text = (
        "number,email,sip_username\n101,jana@example.com,\n101,,\n102,JANA@example.com,\n103,,101\n"
    )
    assert extension_csv.import_csv(text).errors == [
        RowError(3, "number", "101 is listed twice (first at row 2)"),
        RowError(4, "email", "JANA@example.com is already used by row 2"),
        RowError(5, "sip_username", "101 is already used by row 2"),
    ]


def test_numbers_and_emails_must_be_unique_with_what_is_stored(
    pbx: Pbx, extension_csv: ExtensionCsv
) -> None:
    given(
        pbx,
        """
extensions: [{number: "101", email: jana@example.com}]
ring_groups: [{number: "6300"}]
""",
    )
    text = "number,email\n102,jana@example.com\n6300,\n112,\n"
    assert extension_csv.import_csv(text).errors == [
        RowError(2, "email", "jana@example.com is already used by extension 101"),
        RowError(3, "number", "6300 is already used by a ring group"),
        RowError(4, "number", "112 is an emergency number"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "row 1: the first row must be the header"),
        ("first_name\nJana\n", "header: the number column is required"),
        ("number,fax,pager\n101,1,2\n", "header: unknown columns fax, pager"),
        ("number,number\n101,101\n", "header: column number is listed twice"),
        ('number,first_name\n101,"Jana\n', "row 2: malformed CSV: unexpected end of data"),
        ('number,first_name\n101,"Ja"na\n', "row 2: malformed CSV"),
        ("number\n101,Jana\n", "row 2: malformed CSV: 2 cells but the header names only 1"),
    ],
)
def test_an_unreadable_file_is_refused_with_the_reason(
    extension_csv: ExtensionCsv, objects: Objects, text: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        extension_csv.import_csv(text)
    assert str(refused.value).startswith(message)
    assert objects.list(Kind.EXTENSION).total == 0


def test_a_dry_run_reports_the_counts_and_writes_nothing(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(pbx, 'extensions: [{number: "101"}]')
    result = extension_csv.import_csv("number,first_name\n101,Jana\n102,Petr\n", dry_run=True)
    assert (result.created, result.updated, result.dry_run) == (1, 1, True)
    assert objects.list(Kind.EXTENSION).total == 1
    assert ext(objects, "101")["first_name"] == "101"


# --- exporting --------------------------------------------------------------------------


def test_export_writes_every_column_and_leaves_secrets_out_unless_asked(
    pbx: Pbx, extension_csv: ExtensionCsv
) -> None:
    given(
        pbx,
        """
extensions:
  - {number: "101", first_name: Jana, sip_password: Secret123x, voicemail: {pin: "4321"},
     presence_settings: {available: {ring_timeout: 20}}}
  - {number: "99", enabled: false}
groups: [{name: Sales, members: ["101"]}, {name: Support, members: ["101"]}]
""",
    )
    text = extension_csv.export_csv()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    rows = rows_of(text)
    assert [r["number"] for r in rows] == ["99", "101"]
    assert rows[0]["enabled"] == "false"
    assert rows[0]["first_name"] == "99"
    assert rows[0]["ring_timeout"] == "30"
    jana = rows[1]
    assert (jana["sip_password"], jana["voicemail_pin"]) == ("", "")
    assert jana["groups"] == "Sales;Support"
    assert jana["concurrent_registrations"] == "1"
    # One status rings for 20 s, the others for 30: one cell cannot say that.
    assert jana["ring_timeout"] == ""
    with_secrets = rows_of(extension_csv.export_csv(include_secrets=True))[1]
    assert (with_secrets["sip_password"], with_secrets["voicemail_pin"]) == ("Secret123x", "4321")


def test_export_then_import_into_an_empty_directory_gives_the_same_extensions(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(
        pbx,
        """
groups: [{name: Sales}]
extensions:
  - {number: "101", first_name: Jana, last_name: "Nováková, ml.", email: jana@example.com,
     mobile: "+420 777 123 456", role: admin, concurrent_registrations: 2,
     voicemail: {new_message_email: without_attachment}}
  - {number: "102", enabled: false, caller_id_name: 'Sales "hotline"', sip_username: petr}
""",
    )
    extension_csv.import_csv("number,groups\n101,Sales\n")
    before = {n: ext(objects, n) for n in ("101", "102")}
    exported = extension_csv.export_csv(include_secrets=True)
    for number in ("101", "102"):
        objects.delete(Kind.EXTENSION, number)
    assert objects.get(Kind.GROUP, "Sales")["members"] == []

    result = extension_csv.import_csv(exported)

    assert (result.created, result.errors) == (2, [])
    assert {n: ext(objects, n) for n in ("101", "102")} == before
    assert objects.get(Kind.GROUP, "Sales")["members"] == ["101"]
    assert extension_csv.export_csv(include_secrets=True) == exported


def test_importing_an_export_unchanged_changes_nothing(
    pbx: Pbx, extension_csv: ExtensionCsv, objects: Objects
) -> None:
    given(
        pbx,
        """
groups: [{name: Sales, members: ["101"]}]
extensions:
  - {number: "101", first_name: Jana, email: jana@example.com,
     presence_settings: {away: {ring_timeout: 60}, available: {internal: {busy: {hangup: true}}}}}
  - {number: "102"}
""",
    )
    before = {n: ext(objects, n) for n in ("101", "102")}
    result = extension_csv.import_csv(extension_csv.export_csv())
    assert (result.updated, result.errors) == (2, [])
    assert {n: ext(objects, n) for n in ("101", "102")} == before
    assert objects.get(Kind.GROUP, "Sales")["members"] == ["101"]


def test_progress_is_reported_up_to_the_total(extension_csv: ExtensionCsv) -> None:
    seen: list[tuple[int, int]] = []
    text = "number\n" + "".join(f"{1000 + i}\n" for i in range(250))
    extension_csv.import_csv(text, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (500, 500)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
