"""Company contacts: search by name, company, email and number; phonebooks in the
configuration document; who may see and change them (contact visibility)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_clients import check
from fastapi.testclient import TestClient

from klapka.domain.problems import Forbidden, InvalidInput
from klapka.domain.references import Kind
from klapka.services.audit_log import AuditLog
from klapka.services.directory import contacts
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal

PHONEBOOK = """
version: 1
phonebooks:
  - {name: Suppliers, description: Who sells to us}
contacts:
  - first_name: Ondřej
    last_name: Pospíšil
    company: Moravia Steel Supply a.s.
    email: ondrej.pospisil@example.org
    phonebook: Suppliers
    numbers:
      - {type: work, number: "+420541000111"}
      - {type: mobile, number: "+420602000111"}
  - {company: Building management Brno, numbers: [{number: "+420530335599"}]}
  - {first_name: Karel, last_name: Novák, company: ACME, email: karel@acme.example}
"""


@pytest.fixture
def given(pbx: Pbx) -> Callable[[str], None]:
    def apply(document: str) -> None:
        ConfigService(pbx).apply(load_yaml(document))

    return apply


def names(page: dict[str, Any]) -> list[str]:
    return [c["company"] or c["first_name"] for c in page["items"]]


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("pospíšil", ["Moravia Steel Supply a.s."]),  # accents, any case
        ("POSPÍŠIL", ["Moravia Steel Supply a.s."]),
        ("ondřej pos", ["Moravia Steel Supply a.s."]),  # first and last name together
        ("steel", ["Moravia Steel Supply a.s."]),  # company
        ("acme.example", ["ACME"]),  # email
        ("602000111", ["Moravia Steel Supply a.s."]),  # part of a number
        ("541 000 111", ["Moravia Steel Supply a.s."]),  # as people write it
        ("(602) 000-111", ["Moravia Steel Supply a.s."]),
        ("+420530335599", ["Building management Brno"]),
        ("brno", ["Building management Brno"]),
        ("nobody", []),
        ("%", []),  # no wildcards
    ],
)
def test_contacts_are_found_by_name_company_email_and_number(
    client: TestClient, given: Callable[[str], None], q: str, found: list[str]
) -> None:
    given(PHONEBOOK)
    page = check(client.get("/api/v1/contacts", params={"q": q}))
    assert names(page) == found


def test_contacts_list_sorted_and_paginated(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given(PHONEBOOK)
    by_name = check(client.get("/api/v1/contacts?sort=name"))
    assert names(by_name) == ["Building management Brno", "ACME", "Moravia Steel Supply a.s."]
    by_company = check(client.get("/api/v1/contacts?sort=-company&limit=2"))
    assert by_company["total"] == 3
    assert names(by_company) == ["Moravia Steel Supply a.s.", "Building management Brno"]
    bad = client.get("/api/v1/contacts?sort=mobile")
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["path"] == "query.sort"


def test_a_contact_shows_every_field_with_its_id(
    client: TestClient, given: Callable[[str], None]
) -> None:
    given(PHONEBOOK)
    [item] = check(client.get("/api/v1/contacts?q=steel"))["items"]
    assert item == check(client.get(f"/api/v1/contacts/{item['id']}"))
    assert item["numbers"] == [
        {"type": "work", "number": "+420541000111"},
        {"type": "mobile", "number": "+420602000111"},
    ]
    assert item["phonebook"] == "Suppliers"


# --- the configuration document ----------------------------------------------------------


def test_phonebooks_and_contacts_round_trip_through_the_configuration_document(
    pbx: Pbx, given: Callable[[str], None]
) -> None:
    given(PHONEBOOK)
    exported = ConfigService(pbx).export()
    assert exported["phonebooks"] == [{"name": "Suppliers", "description": "Who sells to us"}]
    assert exported["contacts"][0]["phonebook"] == "Suppliers"
    assert "phonebook" not in exported["contacts"][1]  # the default is left out
    assert list(exported).index("phonebooks") < list(exported).index("contacts")
    assert ConfigService(pbx).apply(exported).changes == []


def test_a_contact_naming_an_unknown_phonebook_is_refused_by_its_path(pbx: Pbx) -> None:
    document = load_yaml("version: 1\ncontacts:\n  - {company: ACME, phonebook: Nope}\n")
    with pytest.raises(InvalidInput) as refused:
        ConfigService(pbx).apply(document)
    assert [str(p) for p in refused.value.problems] == [
        "contacts[0].phonebook: phonebook Nope does not exist"
    ]


def test_a_document_may_not_name_the_default_phonebook_as_its_own(pbx: Pbx) -> None:
    with pytest.raises(InvalidInput) as refused:
        ConfigService(pbx).apply(load_yaml("version: 1\nphonebooks: [{name: Default}]\n"))
    assert refused.value.problems[0].path == "phonebooks[0].name"


def test_removing_a_phonebook_and_its_contacts_in_a_document_applies_both(
    pbx: Pbx, given: Callable[[str], None]
) -> None:
    given(PHONEBOOK)
    result = ConfigService(pbx).apply(load_yaml("version: 1\n"))
    assert {(c.op, c.kind) for c in result.changes} == {
        ("delete", "phonebook"),
        ("delete", "contact"),
    }
    with pbx.tx() as repo:
        assert repo.count(Kind.CONTACT) == 0
        assert repo.count(Kind.PHONEBOOK) == 0


def test_changing_other_settings_keeps_contacts_in_their_phonebook(
    pbx: Pbx, given: Callable[[str], None]
) -> None:
    given(PHONEBOOK)
    given(PHONEBOOK + "extensions: [{number: '101'}]\n")
    # The phonebook is still referenced: deleting it is refused.
    with pytest.raises(Exception, match="still used"):
        Objects(pbx).delete(Kind.PHONEBOOK, "Suppliers")


# --- who may see and change them ------------------------------------------------------------

USER = Principal(role="user", extension="101", name="extension 101")


def grant(pbx: Pbx, access: str) -> None:
    Objects(pbx).create(
        Kind.CLIENT_PERMISSION,
        {"name": f"contacts {access}", "target": {"all": True}, "contacts": access},
    )


@pytest.fixture
def user(pbx: Pbx, given: Callable[[str], None]) -> Principal:
    given(PHONEBOOK + "extensions: [{number: '101'}, {number: '102'}]\n")
    return USER


def test_an_admin_manages_company_contacts(pbx: Pbx) -> None:
    admin = Principal(role="admin", name="token admin")
    assert contacts.contact_access(admin) == "manage"
    assert contacts.can_view_company(admin) and contacts.can_manage_company(admin)
    created = contacts.create_company(pbx, admin, {"company": "ACME"})
    assert contacts.get_company(pbx, admin, created["id"])["company"] == "ACME"


def test_a_user_sees_no_company_contacts_until_granted(pbx: Pbx, user: Principal) -> None:
    with pbx.tx() as repo:
        assert contacts.contact_access(user, repo.conn) == "none"
    with pytest.raises(Forbidden, match="may not see the company contacts"):
        contacts.list_company(pbx, user)
    with pytest.raises(Forbidden):
        contacts.get_company(pbx, user, 1)
    with pytest.raises(Forbidden):
        contacts.list_phonebooks(pbx, user)
    with pytest.raises(Forbidden, match="may not change"):
        contacts.create_company(pbx, user, {"company": "ACME"})


def test_a_user_granted_view_reads_but_cannot_change_company_contacts(
    pbx: Pbx, user: Principal
) -> None:
    grant(pbx, "view")
    with pbx.tx() as repo:
        assert contacts.can_view_company(user, repo.conn)
        assert not contacts.can_manage_company(user, repo.conn)
    page = contacts.list_company(pbx, user, q="acme")
    assert page.total == 1
    assert contacts.get_company(pbx, user, page.items[0]["id"])["company"] == "ACME"
    assert contacts.list_phonebooks(pbx, user).total == 2
    with pytest.raises(Forbidden, match="may not change"):
        contacts.patch_company(pbx, user, page.items[0]["id"], {"company": "Globex"})
    with pytest.raises(Forbidden):
        contacts.delete_phonebook(pbx, user, "Suppliers", cascade=True)


def test_a_user_granted_manage_changes_company_contacts_in_their_name_but_not_phonebooks(
    pbx: Pbx, user: Principal
) -> None:
    grant(pbx, "manage")
    created = contacts.create_company(pbx, user, {"company": "Globex", "phonebook": "Suppliers"})
    assert (
        contacts.patch_company(pbx, user, created["id"], {"email": "a@globex.example"})["email"]
        == "a@globex.example"
    )
    contacts.delete_company(pbx, user, created["id"])
    with pytest.raises(Forbidden, match="only an admin may change phonebooks"):
        contacts.create_phonebook(pbx, user, {"name": "Mine"})
    entries = AuditLog(pbx).list(kind="contact", key=str(created["id"])).items
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert {e["actor_extension"] for e in entries} == {"101"}
