"""Personal contacts: each user's own, private to them; found together with the company
contacts they may see."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from klapka.domain.problems import Forbidden, InvalidInput, NotFound
from klapka.domain.references import Kind
from klapka.services.audit_log import AuditLog
from klapka.services.directory import contacts
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

JANA = Principal(role="user", extension="101", name="extension 101")
PETR = Principal(role="user", extension="102", name="extension 102")
ADMIN_TOKEN = Principal(role="admin", name="token admin")

MOTHER = {
    "first_name": "Marie",
    "last_name": "Nováková",
    "numbers": [{"type": "mobile", "number": "+420777000001"}],
}


@pytest.fixture(autouse=True)
def extensions(pbx: Pbx) -> None:
    for number in ("101", "102"):
        Objects(pbx).create(Kind.EXTENSION, {"number": number})


def test_a_user_keeps_their_own_contacts(pbx: Pbx) -> None:
    created = contacts.create_personal(pbx, JANA, MOTHER)
    assert created == {
        "id": created["id"],
        "first_name": "Marie",
        "last_name": "Nováková",
        "company": "",
        "email": None,
        "numbers": [{"type": "mobile", "number": "+420777000001"}],
    }
    assert contacts.get_personal(pbx, JANA, created["id"]) == created
    page = contacts.list_personal(pbx, JANA)
    assert (page.total, page.items) == (1, [created])
    patched = contacts.patch_personal(pbx, JANA, created["id"], {"email": "marie@example.com"})
    assert patched["email"] == "marie@example.com"
    assert patched["numbers"] == created["numbers"]
    replaced = contacts.update_personal(pbx, JANA, created["id"], {"company": "Home"})
    assert (replaced["first_name"], replaced["company"]) == ("", "Home")
    assert contacts.delete_personal(pbx, JANA, created["id"]) == replaced
    assert contacts.list_personal(pbx, JANA).total == 0


def test_another_users_contacts_do_not_exist_for_them(pbx: Pbx) -> None:
    mine = contacts.create_personal(pbx, JANA, MOTHER)
    assert contacts.list_personal(pbx, PETR).total == 0
    assert contacts.search_personal(pbx, PETR, "marie") == []
    for attempt in (
        lambda: contacts.get_personal(pbx, PETR, mine["id"]),
        lambda: contacts.patch_personal(pbx, PETR, mine["id"], {"company": "x"}),
        lambda: contacts.update_personal(pbx, PETR, mine["id"], {"company": "x"}),
        lambda: contacts.delete_personal(pbx, PETR, mine["id"]),
    ):
        with pytest.raises(NotFound, match=f"personal contact {mine['id']} does not exist"):
            attempt()
    assert contacts.get_personal(pbx, JANA, mine["id"])["company"] == ""


def test_personal_contacts_belong_to_an_extensions_user_not_to_an_admin_token(pbx: Pbx) -> None:
    with pytest.raises(Forbidden, match="sign in as the extension's user"):
        contacts.list_personal(pbx, ADMIN_TOKEN)
    with pytest.raises(Forbidden):
        contacts.create_personal(pbx, ADMIN_TOKEN, MOTHER)


def test_a_personal_contact_obeys_the_contact_rules(pbx: Pbx) -> None:
    with pytest.raises(InvalidInput) as refused:
        contacts.create_personal(pbx, JANA, {"email": "not-an-address"})
    paths = {p.path for p in refused.value.problems}
    assert paths == {"email"}
    with pytest.raises(InvalidInput, match="first name, last name or company"):
        contacts.create_personal(pbx, JANA, {"numbers": [{"number": "+420777000001"}]})
    with pytest.raises(InvalidInput, match="unknown field"):
        contacts.create_personal(pbx, JANA, {"company": "x", "phonebook": "Default"})
    with pytest.raises(NotFound):
        contacts.get_personal(pbx, JANA, "abc")


def test_personal_contacts_go_with_their_extension(pbx: Pbx) -> None:
    contacts.create_personal(pbx, JANA, MOTHER)
    Objects(pbx).delete(Kind.EXTENSION, "101")
    with pbx.tx() as repo:
        assert repo.conn.execute(select(t.personal_contacts)).all() == []


def test_search_finds_own_contacts_first_then_the_company_ones_one_may_see(pbx: Pbx) -> None:
    contacts.create_personal(pbx, JANA, MOTHER)
    contacts.create_company(pbx, ADMIN_TOKEN, {"first_name": "Marie", "company": "ACME"})
    found = contacts.search(pbx, JANA, "marie")
    assert [(c["source"], c["company"]) for c in found] == [("personal", "")]
    Objects(pbx).create(
        Kind.CLIENT_PERMISSION, {"name": "view", "target": {"all": True}, "contacts": "view"}
    )
    found = contacts.search(pbx, JANA, "marie")
    assert [(c["source"], c["company"]) for c in found] == [("personal", ""), ("company", "ACME")]
    assert [c["source"] for c in contacts.search(pbx, JANA, "777000001")] == ["personal"]


def test_the_audit_log_names_changed_fields_of_a_personal_contact_but_not_their_values(
    pbx: Pbx,
) -> None:
    created = contacts.create_personal(pbx, JANA, MOTHER)
    contacts.patch_personal(pbx, JANA, created["id"], {"email": "marie@example.com"})
    contacts.delete_personal(pbx, JANA, created["id"])
    entries = AuditLog(pbx).list(kind="personal_contact").items
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert entries[1]["changes"] == [{"path": "email", "before": None, "after": "********"}]
    assert all(e["actor_extension"] == "101" for e in entries)
    text = str(entries)
    for private in ("Marie", "Nováková", "marie@example.com", "777000001"):
        assert private not in text
