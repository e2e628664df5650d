"""Company contacts, phonebooks and personal contacts, for whoever asks.

Company contacts (``Kind.CONTACT``) are shared: each is in one phonebook (``Default``
unless put in another). Who may see or change them is the *contact visibility* client
permission (``can_view_company`` / ``can_manage_company``); an admin always may.
Phonebooks are seen with the same permission; only an admin creates, changes or deletes
them. Personal contacts belong to one
extension and are private to its user: another user's contact does not exist for them
(404), and the audit log names the fields a change touched without their values.

Every function takes the ``Principal`` it acts for; the REST API, the web UI and the CLI
call these, so the rules are the same everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from klapka.domain.directory import (
    DEFAULT_PHONEBOOK,
    Contact,
    PersonalContact,
    contact_search_text,
)
from klapka.domain.document import stored_form
from klapka.domain.problems import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    problems_from_validation,
)
from klapka.domain.references import Kind
from klapka.services import audit, permissions
from klapka.services.directory.objects import Deleted, Objects, Page, merge_patch
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import contact_search_filter, now

NONE, VIEW, MANAGE = "none", "view", "manage"
PERSONAL_CONTACT = "personal_contact"  # its kind in the audit log
DEFAULT_PHONEBOOK_DESCRIPTION = "Every company contact not in another phonebook"
SORTS = ("id", "name", "first_name", "last_name", "company", "email")


# --- permissions ------------------------------------------------------------------------


def contact_access(principal: Principal, conn: Connection | None = None) -> str:
    """What ``principal`` may do with company contacts: "none", "view" or "manage".

    An admin (and the system) manages them. Anyone else gets what the client permissions
    say (``klapka.services.permissions``), read with ``conn``; without it, nothing.
    """
    if principal.is_admin:
        return MANAGE
    if conn is None:
        return NONE
    if permissions.allowed(conn, principal, permissions.Action.MANAGE_CONTACTS):
        return MANAGE
    if permissions.allowed(conn, principal, permissions.Action.VIEW_CONTACTS):
        return VIEW
    return NONE


def can_view_company(principal: Principal, conn: Connection | None = None) -> bool:
    return contact_access(principal, conn) in (VIEW, MANAGE)


def can_manage_company(principal: Principal, conn: Connection | None = None) -> bool:
    return contact_access(principal, conn) == MANAGE


def require_phonebook_admin(principal: Principal) -> None:
    """Phonebooks are the structure of the company contacts: only an admin changes them."""
    if not principal.is_admin:
        raise Forbidden("only an admin may change phonebooks")


def require(pbx: Pbx, principal: Principal, manage: bool) -> None:
    """Raise Forbidden unless ``principal`` may see (or, with ``manage``, change) the
    company contacts and phonebooks."""
    with pbx.tx() as repo:
        if manage and not can_manage_company(principal, repo.conn):
            raise Forbidden("you may not change the company contacts")
        if not manage and not can_view_company(principal, repo.conn):
            raise Forbidden("you may not see the company contacts")


# --- listing, shared by company and personal contacts ------------------------------------


def _order(table: Any, sort: str | None) -> list[Any]:
    name = (sort or "name").lstrip("-")
    if name not in SORTS:
        raise InvalidInput.one(
            "sort", f"must be one of {', '.join(sorted(SORTS))} (prefix - to reverse)"
        )
    c = table.c
    if name == "name":
        cols = [func.lower(c.last_name), func.lower(c.first_name), func.lower(c.company)]
    elif name == "id":
        cols = [c.id]
    else:
        cols = [func.lower(func.coalesce(c[name], ""))]
    if (sort or "").startswith("-"):
        return [x.desc() for x in cols] + [c.id]
    return [*cols, c.id]


def _page(
    conn: Connection,
    table: Any,
    where: list[Any],
    sort: str | None,
    limit: int,
    offset: int,
    view: Callable[[Any], dict[str, Any]],
) -> Page:
    condition = and_(*where) if where else None
    count = select(func.count()).select_from(table)
    rows = select(table).order_by(*_order(table, sort)).limit(limit).offset(offset)
    if condition is not None:
        count, rows = count.where(condition), rows.where(condition)
    total = int(conn.execute(count).scalar_one())
    return Page([view(r) for r in conn.execute(rows)], total, limit, offset)


def _company_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, **Contact.model_validate(row.data).model_dump(mode="json")}


# --- company contacts ---------------------------------------------------------------------


def list_company(
    pbx: Pbx,
    principal: Principal,
    q: str | None = None,
    phonebook: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Company contacts, a page at a time; ``q`` searches names, company, email and
    numbers; ``phonebook`` keeps one phonebook's contacts."""
    require(pbx, principal, manage=False)
    table = t.contacts
    where = []
    with pbx.tx() as repo:
        if phonebook is not None:
            name = phonebook_name(repo.conn, phonebook)
            where.append(table.c.phonebook == name)
        if q:
            where.append(contact_search_filter(table, q))
        return _page(repo.conn, table, where, sort, limit, offset, _company_view)


def search_company(pbx: Pbx, principal: Principal, q: str, limit: int = 20) -> list[dict[str, Any]]:
    return list_company(pbx, principal, q=q, limit=limit).items


def get_company(pbx: Pbx, principal: Principal, contact_id: int | str) -> dict[str, Any]:
    require(pbx, principal, manage=False)
    return Objects(pbx, principal).get(Kind.CONTACT, str(contact_id))


def create_company(pbx: Pbx, principal: Principal, data: Any) -> dict[str, Any]:
    require(pbx, principal, manage=True)
    return Objects(pbx, principal).create(Kind.CONTACT, data)


def update_company(
    pbx: Pbx, principal: Principal, contact_id: int | str, data: Any
) -> dict[str, Any]:
    """Replace a company contact (fields left out take their defaults)."""
    require(pbx, principal, manage=True)
    return Objects(pbx, principal).replace(Kind.CONTACT, str(contact_id), data)


def patch_company(
    pbx: Pbx, principal: Principal, contact_id: int | str, patch: Any
) -> dict[str, Any]:
    """Change some fields of a company contact (a JSON merge patch)."""
    require(pbx, principal, manage=True)
    return Objects(pbx, principal).patch(Kind.CONTACT, str(contact_id), patch)


def delete_company(pbx: Pbx, principal: Principal, contact_id: int | str) -> dict[str, Any]:
    """Delete a company contact; returns it as it was."""
    require(pbx, principal, manage=True)
    objects = Objects(pbx, principal)
    before = objects.get(Kind.CONTACT, str(contact_id))
    objects.delete(Kind.CONTACT, str(contact_id))
    return before


# --- phonebooks ---------------------------------------------------------------------------


def phonebook_name(conn: Connection, name: str) -> str:
    """The phonebook's name as stored (``default`` is ``Default``); NotFound if none."""
    if name.lower() == DEFAULT_PHONEBOOK.lower():
        return DEFAULT_PHONEBOOK
    found = conn.execute(
        select(t.phonebooks.c.name).where(t.phonebooks.c.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("phonebook", name)
    return str(found)


def _contact_counts(conn: Connection) -> dict[str, int]:
    c = t.contacts.c
    return {
        str(name): int(n)
        for name, n in conn.execute(select(c.phonebook, func.count()).group_by(c.phonebook))
    }


def _default_phonebook(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": DEFAULT_PHONEBOOK,
        "description": DEFAULT_PHONEBOOK_DESCRIPTION,
        "builtin": True,
        "contacts": counts.get(DEFAULT_PHONEBOOK, 0),
    }


def list_phonebooks(
    pbx: Pbx, principal: Principal, q: str | None = None, limit: int = 50, offset: int = 0
) -> Page:
    """Every phonebook by name, the built-in ``Default`` first, each with its contact count."""
    require(pbx, principal, manage=False)
    with pbx.tx() as repo:
        counts = _contact_counts(repo.conn)
        rows = repo.rows(Kind.PHONEBOOK, order_by=[func.lower(t.phonebooks.c.name)])
    items = [_default_phonebook(counts)] + [
        {**r.data, "builtin": False, "contacts": counts.get(r.name, 0)} for r in rows
    ]
    items = [{"description": "", **i} for i in items]
    if q:
        needle = q.lower()
        items = [
            i for i in items if needle in i["name"].lower() or needle in i["description"].lower()
        ]
    return Page(items[offset : offset + limit], len(items), limit, offset)


def get_phonebook(pbx: Pbx, principal: Principal, name: str) -> dict[str, Any]:
    require(pbx, principal, manage=False)
    with pbx.tx() as repo:
        counts = _contact_counts(repo.conn)
        if name.lower() == DEFAULT_PHONEBOOK.lower():
            return _default_phonebook(counts)
    view = Objects(pbx, principal).get(Kind.PHONEBOOK, name)
    return {**view, "builtin": False, "contacts": counts.get(name, 0)}


def _not_default(name: str) -> None:
    if name.lower() == DEFAULT_PHONEBOOK.lower():
        raise Conflict(
            f"the {DEFAULT_PHONEBOOK} phonebook is built in: it cannot be changed or deleted",
            path="name",
        )


def create_phonebook(pbx: Pbx, principal: Principal, data: Any) -> dict[str, Any]:
    require_phonebook_admin(principal)
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        with pbx.tx() as repo:
            if repo.id_of(Kind.PHONEBOOK, data["name"]) is not None:
                raise Conflict(f"phonebook {data['name']} already exists", path="name")
    created = Objects(pbx, principal).create(Kind.PHONEBOOK, data)
    return {**created, "builtin": False, "contacts": 0}


def update_phonebook(pbx: Pbx, principal: Principal, name: str, data: Any) -> dict[str, Any]:
    """Replace a phonebook's settings (its name cannot change)."""
    require_phonebook_admin(principal)
    _not_default(name)
    Objects(pbx, principal).replace(Kind.PHONEBOOK, name, data)
    return get_phonebook(pbx, principal, name)


def patch_phonebook(pbx: Pbx, principal: Principal, name: str, patch: Any) -> dict[str, Any]:
    require_phonebook_admin(principal)
    _not_default(name)
    Objects(pbx, principal).patch(Kind.PHONEBOOK, name, patch)
    return get_phonebook(pbx, principal, name)


def delete_phonebook(pbx: Pbx, principal: Principal, name: str, cascade: bool = False) -> Deleted:
    """Delete a phonebook. Refused (Conflict, listing them) while contacts are in it, unless
    ``cascade``: then its contacts move to the default phonebook."""
    require_phonebook_admin(principal)
    _not_default(name)
    return Objects(pbx, principal).delete(Kind.PHONEBOOK, name, cascade)


# --- personal contacts -------------------------------------------------------------------


def _owner_id(conn: Connection, principal: Principal) -> int:
    if principal.extension is None:
        raise Forbidden(
            "personal contacts belong to an extension's user: sign in as the extension's user"
        )
    owner = conn.execute(
        select(t.extensions.c.id).where(t.extensions.c.number == principal.extension)
    ).scalar_one_or_none()
    if owner is None:
        raise NotFound("extension", principal.extension)
    return int(owner)


def _personal_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, **PersonalContact.model_validate(row.data).model_dump(mode="json")}


def _validate_personal(data: Any) -> PersonalContact:
    if not isinstance(data, dict):
        raise InvalidInput.one("", "must be a JSON object")
    data = {k: v for k, v in data.items() if k != "id"}
    try:
        return PersonalContact.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(problems_from_validation(e)) from None


def _personal_values(contact: PersonalContact) -> dict[str, Any]:
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "email": contact.email,
        "search": contact_search_text(contact),
        "data": stored_form(contact),
        "updated_at": now(),
    }


def _personal_row(conn: Connection, owner: int, contact_id: int | str) -> Any:
    key = str(contact_id)
    row = None
    if key.isdigit():
        c = t.personal_contacts.c
        row = conn.execute(
            select(t.personal_contacts).where(c.id == int(key), c.extension_id == owner)
        ).first()
    if row is None:  # someone else's contact does not exist for this user
        raise NotFound("personal contact", key)
    return row


def _record_personal(
    conn: Connection,
    principal: Principal,
    action: str,
    key: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Which fields changed, not their values: the contacts are the user's own business."""
    fields = audit.changes(before, after)
    if action == "update" and not fields:
        return
    hidden = [
        {
            "path": f["path"],
            "before": None if f["before"] is None else audit.MASK,
            "after": None if f["after"] is None else audit.MASK,
        }
        for f in fields
    ]
    audit.record_many(conn, [audit.entry(principal, action, PERSONAL_CONTACT, str(key), hidden)])


def list_personal(
    pbx: Pbx,
    principal: Principal,
    q: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """The principal's own contacts, a page at a time; ``q`` searches as for company ones."""
    table = t.personal_contacts
    with pbx.tx() as repo:
        where = [table.c.extension_id == _owner_id(repo.conn, principal)]
        if q:
            where.append(contact_search_filter(table, q))
        return _page(repo.conn, table, where, sort, limit, offset, _personal_view)


def search_personal(
    pbx: Pbx, principal: Principal, q: str, limit: int = 20
) -> list[dict[str, Any]]:
    return list_personal(pbx, principal, q=q, limit=limit).items


def get_personal(pbx: Pbx, principal: Principal, contact_id: int | str) -> dict[str, Any]:
    with pbx.tx() as repo:
        return _personal_view(_personal_row(repo.conn, _owner_id(repo.conn, principal), contact_id))


def create_personal(pbx: Pbx, principal: Principal, data: Any) -> dict[str, Any]:
    contact = _validate_personal(data)
    with pbx.tx() as repo:
        owner = _owner_id(repo.conn, principal)
        values = _personal_values(contact)
        new_id = repo.conn.execute(
            insert(t.personal_contacts).values(extension_id=owner, **values)
        ).inserted_primary_key
        assert new_id is not None
        _record_personal(repo.conn, principal, "create", int(new_id[0]), None, values["data"])
    return {"id": int(new_id[0]), **contact.model_dump(mode="json")}


def update_personal(
    pbx: Pbx, principal: Principal, contact_id: int | str, data: Any
) -> dict[str, Any]:
    """Replace one of the principal's contacts (fields left out take their defaults)."""
    with pbx.tx() as repo:
        row = _personal_row(repo.conn, _owner_id(repo.conn, principal), contact_id)
        contact = _validate_personal(data)
        values = _personal_values(contact)
        repo.conn.execute(
            update(t.personal_contacts).where(t.personal_contacts.c.id == row.id).values(values)
        )
        _record_personal(repo.conn, principal, "update", row.id, dict(row.data), values["data"])
    return {"id": row.id, **contact.model_dump(mode="json")}


def patch_personal(
    pbx: Pbx, principal: Principal, contact_id: int | str, patch: Any
) -> dict[str, Any]:
    """Change some fields of one of the principal's contacts (a JSON merge patch)."""
    if not isinstance(patch, dict):
        raise InvalidInput.one("", "a merge patch must be a JSON object")
    current = get_personal(pbx, principal, contact_id)
    current.pop("id")
    return update_personal(pbx, principal, contact_id, merge_patch(copy.deepcopy(current), patch))


def delete_personal(pbx: Pbx, principal: Principal, contact_id: int | str) -> dict[str, Any]:
    """Delete one of the principal's contacts; returns it as it was."""
    with pbx.tx() as repo:
        row = _personal_row(repo.conn, _owner_id(repo.conn, principal), contact_id)
        repo.conn.execute(delete(t.personal_contacts).where(t.personal_contacts.c.id == row.id))
        _record_personal(repo.conn, principal, "delete", row.id, dict(row.data), None)
    return _personal_view(row)


# --- both ---------------------------------------------------------------------------------


def search(pbx: Pbx, principal: Principal, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Contacts matching ``q`` that the principal may see: their own first (``"source":
    "personal"``), then company ones (``"source": "company"``) if they may see those."""
    found: list[dict[str, Any]] = []
    if principal.extension is not None:
        found += [{**c, "source": "personal"} for c in search_personal(pbx, principal, q, limit)]
    with pbx.tx() as repo:
        company = can_view_company(principal, repo.conn)
    if company and len(found) < limit:
        found += [
            {**c, "source": "company"}
            for c in search_company(pbx, principal, q, limit - len(found))
        ]
    return found
