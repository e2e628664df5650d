"""A phone's remote phonebook: what its user may see, as the portal shows it to them.

Colleagues are the extensions the client permission rules let the user see
(``permissions.Checker.visible_clause``, the same filter as the extension list); company
contacts are in it when the user may see company contacts (``contacts.can_view_company``);
the user's own personal contacts always are. No rule is restated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from klapka.services.directory.contacts import can_view_company
from klapka.services.permissions import Checker
from klapka.services.principal import Principal
from klapka.store import tables as t

MAX_ENTRIES = 5000  # what a desk phone's remote phonebook holds at most


@dataclass
class Entry:
    name: str
    first_name: str
    last_name: str
    company: str
    group: str  # "colleagues", "company", "personal"
    numbers: list[dict[str, str]] = field(default_factory=list)  # {"type", "number"}

    def view(self) -> dict[str, object]:
        return {
            "name": self.name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "group": self.group,
            "numbers": self.numbers,
            "number": self.numbers[0]["number"] if self.numbers else "",
        }


def phone_user(number: str, role: str) -> Principal:
    """The user whose phone asks: their rules decide what the phonebook holds."""
    return Principal(
        role="admin" if role == "admin" else "user",
        extension=number,
        name=f"extension {number} (phone)",
    )


def _card(data: dict[str, object], group: str) -> Entry | None:
    first = str(data.get("first_name") or "")
    last = str(data.get("last_name") or "")
    company = str(data.get("company") or "")
    numbers = [
        {"type": str(n.get("type") or "work"), "number": str(n.get("number"))}
        for n in data.get("numbers") or []  # type: ignore[attr-defined]
        if isinstance(n, dict) and n.get("number")
    ]
    if not numbers:
        return None
    name = " ".join(p for p in (first, last) if p) or company
    return Entry(name, first, last, company, group, numbers)


def entries(conn: Connection, principal: Principal, owner_id: int) -> list[Entry]:
    """The phonebook of ``principal`` (the extension with row id ``owner_id``)."""
    found: list[Entry] = []
    ext = t.extensions
    q = select(ext.c.number, ext.c.first_name, ext.c.last_name).where(
        ext.c.number != (principal.extension or "")
    )
    visible = Checker(conn, principal).visible_clause(ext.c.number)
    if visible is not None:
        q = q.where(visible)
    for number, first, last in conn.execute(
        q.order_by(ext.c.sort_name, ext.c.id).limit(MAX_ENTRIES)
    ):
        name = " ".join(p for p in (first, last) if p) or number
        found.append(
            Entry(name, first, last, "", "colleagues", [{"type": "work", "number": number}])
        )
    # The user's own contacts first when the phone's limit is reached.
    pc = t.personal_contacts
    rows = conn.execute(
        select(pc.c.data).where(pc.c.extension_id == owner_id).order_by(pc.c.id)
    ).scalars()
    mine = [e for e in (_card(d, "personal") for d in rows) if e is not None]
    if can_view_company(principal, conn):
        q2 = select(t.contacts.c.data).order_by(t.contacts.c.id).limit(MAX_ENTRIES)
        rows = conn.execute(q2).scalars()
        found += [e for e in (_card(d, "company") for d in rows) if e is not None]
    room = max(0, MAX_ENTRIES - len(mine))
    return found[:room] + mine[:MAX_ENTRIES]
