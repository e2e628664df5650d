"""The directory repository: objects in and out of the database, with their references.

Every kind of object is stored the same way: its key, the columns lists sort and search by,
``data`` (the validated settings without secrets) and ``secrets``. What a row holds is made
here (``values_of``, ``split_secrets``); the rows are written, with their reference rows,
by the one writer (``services.directory.writer``), inside the caller's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Table, and_, delete, func, insert, or_, select, update

from klapka.domain.directory import (
    BusinessHours,
    Contact,
    ContactCard,
    Group,
    InboundRoute,
    OutboundRoute,
    Phonebook,
    Queue,
    RingGroup,
    System,
    Trunk,
    contact_search_text,
)
from klapka.domain.document import DirectoryIndex, stored_form
from klapka.domain.extension import Extension
from klapka.domain.permissions import ClientPermission
from klapka.domain.problems import Place
from klapka.domain.references import Kind, Ref, refs_of
from klapka.store import tables as t


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    table: Table
    key: str
    model: type[BaseModel]
    secret_paths: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    ordered: bool = False
    owner_column: str | None = None
    target_column: str | None = None


SPECS: dict[Kind, KindSpec] = {
    s.kind: s
    for s in (
        KindSpec(
            Kind.EXTENSION,
            t.extensions,
            "number",
            Extension,
            ("sip_password", "user_password", "voicemail.pin"),
            ("enabled", "first_name", "last_name", "email", "role", "presence"),
            owner_column="owner_extension_id",
            target_column="target_extension_id",
        ),
        KindSpec(
            Kind.GROUP,
            t.ext_groups,
            "name",
            Group,
            owner_column="owner_group_id",
            target_column="target_group_id",
        ),
        KindSpec(
            Kind.RING_GROUP,
            t.ring_groups,
            "number",
            RingGroup,
            columns=("name",),
            owner_column="owner_ring_group_id",
            target_column="target_ring_group_id",
        ),
        KindSpec(
            Kind.QUEUE,
            t.queues,
            "number",
            Queue,
            columns=("name",),
            owner_column="owner_queue_id",
            target_column="target_queue_id",
        ),
        KindSpec(
            Kind.TRUNK, t.trunks, "name", Trunk, ("password",), target_column="target_trunk_id"
        ),
        KindSpec(
            Kind.INBOUND_ROUTE,
            t.inbound_routes,
            "name",
            InboundRoute,
            ordered=True,
            owner_column="owner_inbound_route_id",
        ),
        KindSpec(
            Kind.OUTBOUND_ROUTE,
            t.outbound_routes,
            "name",
            OutboundRoute,
            ordered=True,
            owner_column="owner_outbound_route_id",
        ),
        KindSpec(
            Kind.CONTACT,
            t.contacts,
            "id",
            Contact,
            columns=("first_name", "last_name", "company", "email", "phonebook"),
            owner_column="owner_contact_id",
        ),
        KindSpec(
            Kind.PHONEBOOK, t.phonebooks, "name", Phonebook, target_column="target_phonebook_id"
        ),
        KindSpec(
            Kind.CLIENT_PERMISSION,
            t.client_permissions,
            "name",
            ClientPermission,
            ordered=True,
            owner_column="owner_client_permission_id",
        ),
    )
}

OWNER_COLUMNS = {s.owner_column: s.kind for s in SPECS.values() if s.owner_column}
TARGET_COLUMNS = {s.target_column: s.kind for s in SPECS.values() if s.target_column}


# How a secret is shown where it is not revealed (API, exports, diffs, the audit log); sent
# back in a write, it means "keep the stored secret".
SECRET_MASK = "********"


def now() -> datetime:
    return datetime.now(UTC)


def split_secrets(spec: KindSpec, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` without its secrets, and the secrets by dotted path (None when unset)."""
    secrets: dict[str, Any] = {}
    for path in spec.secret_paths:
        head, _, leaf = path.rpartition(".")
        container = data.get(head, {}) if head else data
        if isinstance(container, dict) and leaf in container:
            value = container.pop(leaf)
            if value is not None:
                secrets[path] = value
            if head and not container:
                del data[head]  # only the secret was set: the section is all defaults
    return data, secrets


def join_secrets(data: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    for path, value in secrets.items():
        head, _, leaf = path.rpartition(".")
        container = data.setdefault(head, {}) if head else data
        container[leaf] = value
    return data


class Repository:
    """Reads and writes directory objects on one connection (the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction has committed (``committed``; nothing when
        it rolls back): what tells the world outside the database, e.g. a phone."""
        self._after_commit.append(action)

    def committed(self) -> None:
        """The transaction has committed: run the actions of ``after_commit``."""
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    # --- reading --------------------------------------------------------------------

    def row(self, kind: Kind, key: str) -> Any:
        spec = SPECS[kind]
        col = spec.table.c[spec.key]
        value: Any = int(key) if spec.key == "id" and key.isdigit() else key
        if spec.key == "id" and not isinstance(value, int):
            return None
        return self.conn.execute(select(spec.table).where(col == value)).first()

    def data_of(self, row: Any, with_secrets: bool) -> dict[str, Any]:
        data = dict(row.data)
        return join_secrets(data, dict(row.secrets)) if with_secrets else data

    def count(self, kind: Kind, where: Any = None) -> int:
        q = select(func.count()).select_from(SPECS[kind].table)
        if where is not None:
            q = q.where(where)
        return int(self.conn.execute(q).scalar_one())

    def rows(
        self,
        kind: Kind,
        where: Any = None,
        order_by: Sequence[Any] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Any]:
        spec = SPECS[kind]
        q = select(spec.table)
        if where is not None:
            q = q.where(where)
        if order_by:
            q = q.order_by(*order_by)
        elif spec.ordered:
            q = q.order_by(spec.table.c.position)
        else:
            q = q.order_by(spec.table.c[spec.key])
        if limit is not None:
            q = q.limit(limit).offset(offset)
        return list(self.conn.execute(q))

    def id_of(self, kind: Kind, key: str) -> int | None:
        spec = SPECS[kind]
        return self.conn.execute(
            select(spec.table.c.id).where(spec.table.c[spec.key] == key)
        ).scalar_one_or_none()

    def keys(self, kind: Kind) -> dict[str, int]:
        spec = SPECS[kind]
        return {
            str(k): i for k, i in self.conn.execute(select(spec.table.c[spec.key], spec.table.c.id))
        }

    def index(self) -> DirectoryIndex:
        """The keys of everything that exists, for reference and uniqueness checks."""
        index = DirectoryIndex(emergency_numbers=set(self.system()[0].emergency_numbers))
        for kind in (Kind.EXTENSION, Kind.GROUP, Kind.RING_GROUP, Kind.QUEUE, Kind.TRUNK):
            index.keys[kind] = set(self.keys(kind))
        return index

    # --- writing --------------------------------------------------------------------

    def sync_queue_agents(self, queue_id: int, member_ids: Iterable[int | None]) -> None:
        wanted = {m for m in member_ids if m is not None}
        have = set(
            self.conn.execute(
                select(t.queue_agents.c.extension_id).where(t.queue_agents.c.queue_id == queue_id)
            ).scalars()
        )
        gone = have - wanted
        if gone:
            self.conn.execute(
                delete(t.queue_agents).where(
                    and_(
                        t.queue_agents.c.queue_id == queue_id,
                        t.queue_agents.c.extension_id.in_(gone),
                    )
                )
            )
        new = wanted - have
        if new:
            self.conn.execute(
                insert(t.queue_agents),
                [
                    {"queue_id": queue_id, "extension_id": e, "logged_in": True, "paused": False}
                    for e in new
                ],
            )

    @staticmethod
    def ref_rows(kind: Kind, row_id: int, refs: Iterable[Ref], lookup: Any) -> list[dict[str, Any]]:
        """Rows for ``refs``; ``lookup(kind, key)`` gives a target's id."""
        owner_col = SPECS[kind].owner_column
        rows = []
        for ref in refs:
            target_col = SPECS[ref.target_kind].target_column
            target_id = lookup(ref.target_kind, ref.target)
            if target_id is None or owner_col is None or target_col is None:
                raise LookupError(f"{ref.target_kind.value} {ref.target} does not exist")
            row = dict.fromkeys((*OWNER_COLUMNS, *TARGET_COLUMNS))
            row.update(
                {
                    "path": ref.path,
                    "blocking": ref.blocking,
                    owner_col: row_id,
                    target_col: target_id,
                }
            )
            rows.append(row)
        return rows

    def referrers(self, kind: Kind, row_id: int) -> list[tuple[Place, int, Kind, bool]]:
        """Who points at this object: (place, owner id, owner kind, blocking)."""
        target_col = SPECS[kind].target_column
        if target_col is None:
            return []
        found = []
        for r in self.conn.execute(
            select(t.refs).where(t.refs.c[target_col] == row_id).order_by(t.refs.c.id)
        ):
            for col, owner_kind in OWNER_COLUMNS.items():
                owner_id = getattr(r, col)
                if owner_id is not None:
                    spec = SPECS[owner_kind]
                    key = self.conn.execute(
                        select(spec.table.c[spec.key]).where(spec.table.c.id == owner_id)
                    ).scalar_one()
                    found.append(
                        (
                            Place(owner_kind.value, str(key), r.path),
                            owner_id,
                            owner_kind,
                            r.blocking,
                        )
                    )
        return found

    # --- singletons -----------------------------------------------------------------

    def system(self) -> tuple[System, dict[str, Any], BusinessHours, int]:
        row = self.conn.execute(select(t.system).where(t.system.c.id == 1)).first()
        if row is None:
            return System(), {}, BusinessHours(), 0
        return (
            System.model_validate(row.data),
            dict(row.secrets),
            BusinessHours.model_validate(row.business_hours),
            row.directory_version,
        )

    def save_system(self, system: System, secrets: dict[str, Any], hours: BusinessHours) -> None:
        data = system.model_dump(mode="json")
        data.get("smtp", {}).pop("password", None)
        values = {
            "data": data,
            "secrets": secrets,
            "business_hours": hours.model_dump(mode="json"),
            "updated_at": now(),
        }
        if self.conn.execute(select(t.system.c.id).where(t.system.c.id == 1)).first() is None:
            self.conn.execute(insert(t.system).values(id=1, directory_version=0, **values))
        else:
            self.conn.execute(update(t.system).where(t.system.c.id == 1).values(**values))

    def bump_version(self) -> None:
        """Mark the directory as changed; the SIP core re-reads what it caches."""
        bump = (
            update(t.system)
            .where(t.system.c.id == 1)
            .values(directory_version=t.system.c.directory_version + 1)
        )
        if self.conn.execute(bump).rowcount == 0:  # no system row yet
            system, secrets, hours, _ = self.system()
            self.save_system(system, secrets, hours)
            self.conn.execute(bump)


def stored_data(kind: Kind, obj: BaseModel) -> dict[str, Any]:
    """What the ``data`` column keeps of ``obj``: its settings that differ from the
    defaults, without its secrets."""
    data, _ = split_secrets(SPECS[kind], stored_form(obj))
    if kind is Kind.EXTENSION:
        # A section given as {} (all defaults) is left out, as if it had not been given.
        data = {k: v for k, v in data.items() if v != {}}
    return data


def values_of(
    kind: Kind,
    obj: BaseModel,
    secrets: dict[str, Any],
    stamp: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of the row that stores ``obj`` (validated) with ``secrets``; ``data``:
    its ``stored_data`` when the caller has it already."""
    spec = SPECS[kind]
    if data is None:
        data = stored_data(kind, obj)
    values: dict[str, Any] = {"data": data, "secrets": secrets, "updated_at": stamp or now()}
    if spec.key != "id":
        values[spec.key] = getattr(obj, spec.key)
    for c in spec.columns:
        v = getattr(obj, c)
        values[c] = v.value if hasattr(v, "value") else v
    if isinstance(obj, Extension):
        values |= extension_columns(obj)
    if isinstance(obj, ContactCard):
        values["search"] = contact_search_text(obj)
    return values


def same_links(old: BaseModel, new: BaseModel) -> bool:
    """``new`` makes the same references (and has the same phones, queue members) as
    ``old``: its reference rows need no rewriting."""
    if type(old) is not type(new):
        return False
    try:
        if isinstance(new, Extension) and [p.mac for p in old.phones] != [  # type: ignore[attr-defined]
            p.mac for p in new.phones
        ]:
            return False
        if isinstance(new, Queue) and old.members != new.members:  # type: ignore[attr-defined]
            return False
        return refs_of(old) == refs_of(new)
    except (AttributeError, TypeError):  # an old state stored under looser rules
        return False


def extension_columns(ext: Extension) -> dict[str, str]:
    """The columns an extension is found and sorted by (kept in step with its settings)."""
    username = ext.effective_sip_username
    parts = (ext.number, ext.first_name, ext.last_name, ext.email or "", username)
    return {
        "sip_username": username,
        "search": " ".join(p for p in parts if p).lower(),
        "sort_name": f"{ext.last_name} {ext.first_name}".strip().lower()[:130],
        "number_key": ext.number.rjust(8, "0"),
    }


def search_filter(kind: Kind, q: str) -> Any:
    """Case-insensitive substring search over the columns a user would search by."""
    spec = SPECS[kind]
    if kind is Kind.CONTACT:
        return contact_search_filter(spec.table, q)
    like = f"%{q.lower()}%"
    cols = [spec.table.c[spec.key]] if spec.key != "id" else []
    cols += [
        spec.table.c[c]
        for c in spec.columns
        if c in ("first_name", "last_name", "email", "name", "company")
    ]
    if kind is Kind.EXTENSION:
        return spec.table.c.search.like(like)
    if not cols:
        cols = [spec.table.c[spec.key]]
    return or_(*[func.lower(func.coalesce(c, "")).like(like) for c in cols])


def contact_search_filter(table: Table, q: str) -> Any:
    """Contacts whose names, company, email or numbers contain ``q`` (case-insensitive).

    The ``search`` column is lower-cased in Python when a contact is saved, so accented
    letters match on SQLite too; a query with digits also matches by the digits alone, so
    ``601 000 111`` or ``(601) 000-111`` finds ``+420601000111``.
    """
    text = q.strip().lower()
    like = [table.c.search.like(f"%{_escape_like(text)}%", escape="\\")]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and digits != text:
        like.append(table.c.search.like(f"%{digits}%"))
    return or_(*like)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
