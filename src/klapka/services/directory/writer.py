"""The one writer of directory objects.

Every way of changing the directory (the API and the web UI through ``Objects``, feature
codes through ``Objects``, ``config apply``, the CSV imports of extensions and contacts)
plans its change as a list of ``Planned`` creates, updates and deletes and hands it to
``DirectoryWriter.write``, inside the caller's transaction. A write goes through these steps,
each done here once:

1. Permission check: the caller's, with the checks of ``services.permissions``
   (``Objects``: ``permissions.check`` of the principal's role and preferences; the
   extension import and ``config apply``: ``@admin_only``; the contact import:
   ``can_manage_company``). The writer trusts its caller on this: it is the one step that
   depends on who asks and how; the audit entries (step 8) name the principal it is made
   for.
2. Validation into domain models: ``validate`` (a single object: problems by field path) or
   the caller's bulk validation (the configuration document, CSV rows with their own row
   numbers); ``Planned.obj`` is always a validated model.
3. Secrets: ``with_secrets`` (before validation, on an object's data) and
   ``resolve_secrets`` (on secrets alone; ``system_secrets`` for the SMTP password) apply
   the one rule: a secret left out, ``None`` or sent back as ``SECRET_MASK`` keeps its
   stored value, or gets a random one (SIP password, voicemail PIN); ``stored_secrets``
   hashes a new user password after the password policy was checked; ``mask_secrets``
   shows them. ``store.repository.split_secrets`` is the one function separating secrets
   from data; ``store.repository.SECRET_MASK`` the one mask (the audit log's too).
4. Uniqueness: ``check_unique`` for one object against the database (numbers across
   extensions, ring groups, queues and emergency numbers; names; emails; SIP user names;
   phones; DIDs). Bulk paths check the whole new state themselves (the document by
   ``domain.document.cross_check``, the CSV file row by row) and report by their own paths.
5. References: ``check_references`` (one object; the targets must exist; references the
   object already made are not looked up again); the reference index (``refs``: what points
   at what, from ``domain.references.refs_of``), phones and queue agents are rewritten by
   ``write`` for every object whose references changed.
6. Row writing: ``write``, in bulk (one statement per kind and chunk): reference rows of the
   changed owners go first (so a delete is never blocked by a reference that goes too),
   unique columns that change hands are released, then deletes, updates and inserts.
7. Directory version bump: once per write (``Repository.bump_version``).
8. Audit entry: one per planned change (``audit.entry``, secrets masked), plus whatever the
   caller adds (an import's summary), in one statement.
9. Change notification: the SIP core polls ``system.directory_version`` and each row's
   ``updated_at`` (``services.telephony.sip_directory.extension_stamps``): both are set by
   ``write``. Users of an extension written as disabled are signed out
   (``end_access_of_disabled``). A user whose extension is disabled, deleted, renumbered
   or gets another voicemail PIN is logged out of their hot desk
   (``hot_desk_logins.ended_by``); the phone is told after the commit
   (``Repository.after_commit``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import String, bindparam, cast, delete, func, insert, literal, select, update

from klapka.domain.document import RESERVED_GROUP, check_refs
from klapka.domain.extension import Extension
from klapka.domain.problems import Conflict, InvalidInput, problems_from_validation
from klapka.domain.references import Kind, refs_of
from klapka.domain.values import random_pin, random_sip_password
from klapka.services import audit, hot_desk_logins
from klapka.services.accounts.passwords import hash_password
from klapka.services.accounts.sessions import end_access_of_disabled
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import (
    SECRET_MASK,
    SPECS,
    Repository,
    now,
    same_links,
    values_of,
)

Op = Literal["create", "update", "delete"]

# Secrets a new object gets when none is given.
GENERATED: dict[str, Callable[[], str]] = {
    "sip_password": random_sip_password,
    "voicemail.pin": random_pin,
}

_CHUNK = 500
# Up to this many changes, references are looked up one by one; more: all keys at once.
_FEW = 50


# --- validation and secrets -------------------------------------------------------------


def validate(kind: Kind, data: Any, prefix: str = "") -> BaseModel:
    """``data`` as a ``kind``; InvalidInput naming each problem's field path and rule."""
    if not isinstance(data, dict):
        raise InvalidInput.one(prefix, "must be a mapping")
    try:
        return SPECS[kind].model.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(problems_from_validation(e, prefix)) from None


def resolve_secrets(kind: Kind, given: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The secrets of the new state of an object: those ``given`` (by dotted path), except
    that one left out, None or ``SECRET_MASK`` keeps its ``old`` value or, without one, gets
    a random value (``GENERATED``)."""
    out: dict[str, Any] = {}
    for path in SPECS[kind].secret_paths:
        value = given.get(path)
        if value is None or value == SECRET_MASK:
            if path in old:
                out[path] = old[path]
            elif path in GENERATED and kind is Kind.EXTENSION:
                out[path] = GENERATED[path]()
        else:
            out[path] = value
    return out


def system_secrets(smtp_password: str | None, old: dict[str, Any]) -> dict[str, Any]:
    """The system settings' secrets (``smtp.password``) by the same rule: left out, None or
    ``SECRET_MASK`` keeps the stored one."""
    if smtp_password is None or smtp_password == SECRET_MASK:
        return dict(old)
    return {**old, "smtp.password": smtp_password}


def with_secrets(kind: Kind, data: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``data`` (not changed: what is changed is copied) with its secrets resolved by
    ``resolve_secrets``, ready to validate. An omitted section keeps (or gets) its secrets."""
    data = dict(data)
    given: dict[str, Any] = {}
    containers: dict[str, dict[str, Any]] = {}
    for path in SPECS[kind].secret_paths:
        head, _, leaf = path.rpartition(".")
        if head:
            section = data.get(head, {})
            if not isinstance(section, dict):
                continue  # validation names the problem
            data[head] = container = dict(section)
        else:
            container = data
        containers[path] = container
        given[path] = container.get(leaf)
    resolved = resolve_secrets(kind, given, old)
    for path, container in containers.items():
        leaf = path.rpartition(".")[2]
        if path in resolved:
            container[leaf] = resolved[path]
        else:
            container.pop(leaf, None)
    return data


def secrets_of(kind: Kind, obj: BaseModel) -> dict[str, Any]:
    """The secrets ``obj`` holds, by dotted path (as given: see ``stored_secrets``)."""
    out: dict[str, Any] = {}
    for path in SPECS[kind].secret_paths:
        value: Any = obj
        for part in path.split("."):
            value = getattr(value, part, None)
        if value is not None:
            out[path] = value
    return out


def stored_secrets(secrets: dict[str, Any]) -> dict[str, Any]:
    """``secrets`` as stored: a user password only as its hash."""
    pw = secrets.get("user_password")
    if pw and not str(pw).startswith("$argon2"):
        return {**secrets, "user_password": hash_password(pw)}
    return secrets


def mask_secrets(kind: Kind, data: dict[str, Any], reveal: bool = False) -> dict[str, Any]:
    """``data`` (a full JSON dump, changed in place) as shown: each set secret as
    ``SECRET_MASK`` unless ``reveal``; a user password never (only its hash is stored)."""
    for path in SPECS[kind].secret_paths:
        head, _, leaf = path.rpartition(".")
        container = data.get(head, {}) if head else data
        if leaf == "user_password":
            container.pop(leaf, None)
        elif not reveal and container.get(leaf) is not None:
            container[leaf] = SECRET_MASK
    return data


# --- the planned change -----------------------------------------------------------------


@dataclass(eq=False)
class Planned:
    """One create, update or delete of a directory object."""

    op: Op
    kind: Kind
    obj: BaseModel | None = None  # the new state (create, update), validated
    row: Any = None  # the stored row (update, delete)
    secrets: dict[str, Any] | None = None  # the new state's secrets; None: ``secrets_of(obj)``
    data: dict[str, Any] | None = None  # its ``stored_data``, when the caller has it already
    old: BaseModel | None = None  # the stored state: unchanged references are not rewritten
    extra: dict[str, Any] = field(default_factory=dict)  # more columns (position, ...)
    # The audit log: False: no entry; ``fields``: the changes when already known (diffs);
    # ``before``: the stored state as compared (default: the row's data and secrets).
    audit: bool = True
    fields: list[Any] | None = None
    before: dict[str, Any] | None = None
    key: str | None = None  # the key the audit log names (default: the object's)
    # Its references, phones, queue members: None: changed unless ``old`` has the same;
    # False: the caller knows they are unchanged (an update of what names no object, or a
    # create of an object that names none).
    links_changed: bool | None = None
    new_id: int | None = None  # set by ``write`` for a create

    def relinks(self) -> bool:
        """Are the reference rows (phones, queue agents) of the new state to be written?"""
        if self.links_changed is not None:
            return self.links_changed
        if self.op == "create":
            return True
        return self.old is None or not same_links(self.old, self.obj)  # type: ignore[arg-type]

    @property
    def row_id(self) -> int | None:
        return self.new_id if self.op == "create" else self.row.id

    def key_of(self) -> str:
        if self.key is not None:
            return self.key
        spec = SPECS[self.kind]
        if spec.key == "id":
            return str(self.row_id)
        if self.obj is not None:
            return str(getattr(self.obj, spec.key))
        return str(getattr(self.row, spec.key))


class DbIndex:
    """``exists`` answered by the database, for reference checks of a single object."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    def exists(self, kind: Kind, key: str) -> bool:
        if kind is Kind.GROUP and key == RESERVED_GROUP:
            return True
        return self.repo.id_of(kind, key) is not None


class DirectoryWriter:
    """Writes planned changes on ``repo`` (the caller's transaction) for ``principal``."""

    def __init__(self, repo: Repository, principal: Principal) -> None:
        self.repo = repo
        self.conn = repo.conn
        self.principal = principal

    # --- one object: validate, secrets, uniqueness, references ----------------------

    def prepare(
        self, kind: Kind, data: Any, row: Any = None, old: BaseModel | None = None
    ) -> tuple[BaseModel, dict[str, Any]]:
        """Validate ``data`` as the new state of the object in ``row`` (None: a new one),
        whose state is ``old``; its secrets resolved; unique and its references existing.
        Returns the object and its secrets as stored."""
        if not isinstance(data, dict):
            raise InvalidInput.one("", "must be a JSON object")
        old_secrets = dict(row.secrets) if row is not None else {}
        obj = validate(kind, with_secrets(kind, data, old_secrets))
        secrets = stored_secrets(secrets_of(kind, obj))
        if isinstance(obj, Extension) and "user_password" in secrets:
            obj.user_password = secrets["user_password"]
        self.check_unique(kind, obj, row)
        self.check_references(obj, old)
        return obj, secrets

    def check_references(self, obj: BaseModel, old: BaseModel | None = None) -> None:
        """Every object ``obj`` points at exists; references ``old`` already made are not
        looked up again (the database keeps their targets from going away)."""
        if old is not None and same_links(old, obj):
            return
        problems = check_refs(obj, "", DbIndex(self.repo))
        if problems:
            raise InvalidInput(problems)

    def check_unique(self, kind: Kind, obj: BaseModel, row: Any) -> None:
        """Refuse a number, name, email, SIP user name or phone that another object has.
        ``row`` is the object's stored row (None: a new one); a value it already has was
        checked when it was set, and is not looked up again."""
        repo = self.repo
        own_id = row.id if row is not None else None
        stored = dict(row.data) if row is not None else {}

        def kept(column: str, value: Any) -> bool:
            return row is not None and getattr(row, column, None) == value

        def taken(k: Kind, column: str, value: Any) -> bool:
            table = SPECS[k].table
            q = select(table.c.id).where(table.c[column] == value)
            if k is kind and own_id is not None:
                q = q.where(table.c.id != own_id)
            return self.conn.execute(q).first() is not None

        if kind in (Kind.EXTENSION, Kind.RING_GROUP, Kind.QUEUE):
            number = obj.number  # type: ignore[attr-defined]
            for other in (Kind.EXTENSION, Kind.RING_GROUP, Kind.QUEUE):
                if not kept("number", number) and taken(other, "number", number):
                    what = other.value.replace("_", " ")
                    article = "an" if what[0] in "aeiou" else "a"
                    raise Conflict(
                        f"number {number} is already used by {article} {what}", path="number"
                    )
            if not kept("number", number) and number in repo.system()[0].emergency_numbers:
                raise Conflict(f"number {number} is an emergency number", path="number")
        if kind in (
            Kind.GROUP,
            Kind.TRUNK,
            Kind.INBOUND_ROUTE,
            Kind.OUTBOUND_ROUTE,
            Kind.CLIENT_PERMISSION,
        ):
            name = obj.name  # type: ignore[attr-defined]
            if not kept("name", name) and taken(kind, "name", name):
                raise Conflict(f"{kind.value.replace('_', ' ')} {name} already exists", path="name")
            if kind is Kind.GROUP and name.lower() == RESERVED_GROUP.lower():
                raise InvalidInput.one(
                    "name", f"'{RESERVED_GROUP}' is reserved for the group of every extension"
                )
        if isinstance(obj, Extension):
            if obj.email and obj.email.lower() != str(getattr(row, "email", "") or "").lower():
                table = t.extensions
                q = select(table.c.number).where(func.lower(table.c.email) == obj.email.lower())
                if own_id is not None:
                    q = q.where(table.c.id != own_id)
                holder = self.conn.execute(q).scalar()
                if holder is not None:
                    raise Conflict(
                        f"email {obj.email} is already used by extension {holder}", path="email"
                    )
            username = obj.effective_sip_username
            if not kept("sip_username", username) and taken(
                Kind.EXTENSION, "sip_username", username
            ):
                raise Conflict(f"sip_username {username} is already used", path="sip_username")
            had = {p.get("mac") for p in stored.get("phones") or () if isinstance(p, dict)}
            for i, phone in enumerate(obj.phones):
                if phone.mac in had:
                    continue
                q2 = select(t.phones.c.extension_id).where(t.phones.c.mac == phone.mac)
                if own_id is not None:
                    q2 = q2.where(t.phones.c.extension_id != own_id)
                if self.conn.execute(q2).first() is not None:
                    raise Conflict(
                        f"phone {phone.mac} belongs to another extension", path=f"phones[{i}].mac"
                    )
        if kind is Kind.INBOUND_ROUTE:
            did = obj.did  # type: ignore[attr-defined]
            for r in repo.rows(Kind.INBOUND_ROUTE):
                if r.id != own_id and r.data.get("did") == did:
                    raise Conflict(
                        f"DID {did} is already routed by inbound route {r.name}", path="did"
                    )

    # --- writing ----------------------------------------------------------------------

    def write(
        self,
        changes: Sequence[Planned],
        also_log: Iterable[dict[str, Any]] = (),
        progress: Callable[[int], None] | None = None,
        stamp: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Write ``changes`` (steps 5-9 of the module's docstring) and log them, with the
        audit entries ``also_log``; ``progress(n)`` after every chunk of n rows. Returns
        the audit entries written."""
        stamp = stamp or now()
        conn = self.conn
        values: dict[int, dict[str, Any]] = {}  # id(change) -> the columns written
        for c in changes:
            if c.op != "delete":
                assert c.obj is not None
                c.secrets = stored_secrets(
                    secrets_of(c.kind, c.obj) if c.secrets is None else c.secrets
                )
                values[id(c)] = values_of(c.kind, c.obj, c.secrets, stamp, c.data) | c.extra
        relinked = [c for c in changes if c.op != "delete" and c.relinks()]
        # 1. The reference rows, phones of the owners that change them or go.
        by_kind: dict[Kind, list[int]] = {}
        for c in changes:
            if c.op == "delete" or (c.op == "update" and c.relinks()):
                by_kind.setdefault(c.kind, []).append(c.row.id)
        for kind, ids in by_kind.items():
            owner = SPECS[kind].owner_column
            for chunk in _chunks(ids):
                if owner:
                    conn.execute(delete(t.refs).where(t.refs.c[owner].in_(chunk)))
                if kind is Kind.EXTENSION:
                    conn.execute(delete(t.phones).where(t.phones.c.extension_id.in_(chunk)))
        # 2. Unique columns that may change hands within the change: released first.
        self._release_unique_values([c for c in changes if c.op == "update"], values)
        # 3. Deletes, updates, inserts.
        gone: dict[Kind, list[int]] = {}
        for c in changes:
            if c.op == "delete":
                gone.setdefault(c.kind, []).append(c.row.id)
        for kind, ids in gone.items():
            table = SPECS[kind].table
            for chunk in _chunks(ids):
                conn.execute(delete(table).where(table.c.id.in_(chunk)))
        self._updates([c for c in changes if c.op == "update"], values, progress)
        self._inserts([c for c in changes if c.op == "create"], values, progress)
        # 4. References, phones, queue agents of what was written.
        self._links(relinked, len(changes))
        # 5. Sign out the users of disabled extensions; the SIP core re-reads.
        disabled = [
            c.row_id
            for c in changes
            if c.op != "delete" and isinstance(c.obj, Extension) and not c.obj.enabled
        ]
        if disabled:
            end_access_of_disabled(conn, None if len(disabled) > _CHUNK else disabled)  # type: ignore[arg-type]
        self._end_hot_desk_logins(changes)
        self.repo.bump_version()
        # 6. The audit log.
        entries = [e for c in changes if c.audit and (e := self._entry(c, values, stamp))]
        entries += list(also_log)
        audit.record_many(conn, entries)
        return entries

    def _end_hot_desk_logins(self, changes: Sequence[Planned]) -> None:
        """The users whose extension is disabled, deleted, renumbered or gets another PIN
        are logged out of their hot desk (``hot_desk_logins.ended_by``), and so are those
        at a phone that is no longer a hot desk; their phones get check-sync after the
        commit."""
        users: dict[str, str] = {}
        for c in changes:
            if c.kind is not Kind.EXTENSION or c.op == "create":
                continue
            old_pin = dict(c.row.secrets).get("voicemail.pin")
            new_pin = (c.secrets or {}).get("voicemail.pin")
            why = hot_desk_logins.ended_by(c.op, c.row, c.obj, old_pin, new_pin)
            if why is not None:
                users[c.row.number] = why
        ended = hot_desk_logins.end_logins_of(self.conn, self.principal, users)
        if any(c.kind is Kind.EXTENSION and c.op != "create" for c in changes):
            # A guest extension deleted, its phone removed, hot desking turned off.
            ended += hot_desk_logins.end_logins_off_hot_desks(self.conn, self.principal)
        if ended:
            engine = self.conn.engine
            self.repo.after_commit(lambda: hot_desk_logins.announce(engine, ended))

    def _entry(
        self, c: Planned, values: dict[int, dict[str, Any]], stamp: datetime
    ) -> dict[str, Any] | None:
        if c.fields is not None:
            fields = audit.masked_fields(c.fields)
        else:
            before = None
            if c.op != "create":
                before = c.before
                if before is None:
                    before = _joined(c.row.data, c.row.secrets)
            after = None
            if c.op != "delete":
                v = values[id(c)]
                after = _joined(v["data"], v["secrets"])
            fields = [] if before == after else audit.changes(before, after)
        if c.op == "update" and not fields:
            return None  # an update that changes nothing is no change
        return audit.entry(self.principal, c.op, c.kind.value, c.key_of(), fields, stamp)

    def _release_unique_values(
        self, updates: list[Planned], values: dict[int, dict[str, Any]]
    ) -> None:
        """Free the emails and SIP user names that change hands within the change: the
        database checks uniqueness row by row, so two extensions swapping emails would clash
        halfway (the new state as a whole was checked)."""
        moving = [
            c.row.id
            for c in updates
            if c.kind is Kind.EXTENSION
            and (
                values[id(c)]["email"] != c.row.email
                or values[id(c)]["sip_username"] != c.row.sip_username
            )
        ]
        if len(moving) < 2:
            return  # one alone swaps with none
        table = t.extensions
        for chunk in _chunks(moving):
            # '~' is not allowed in a SIP user name, so a placeholder clashes with none.
            self.conn.execute(
                update(table)
                .where(table.c.id.in_(chunk))
                .values(email=None, sip_username=literal("~") + cast(table.c.id, String))
            )

    def _updates(
        self,
        updates: list[Planned],
        values: dict[int, dict[str, Any]],
        progress: Callable[[int], None] | None,
    ) -> None:
        by_shape: dict[tuple[Kind, tuple[str, ...]], list[Planned]] = {}
        for c in updates:
            by_shape.setdefault((c.kind, tuple(values[id(c)])), []).append(c)
        for (kind, cols), batch in by_shape.items():
            table = SPECS[kind].table
            set_cols = [col for col in cols if col != "id"]
            stmt = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({col: bindparam(f"v_{col}") for col in set_cols})
            )
            for chunk in _chunks(batch):
                conn_params = [
                    {"_id": c.row.id, **{f"v_{col}": values[id(c)][col] for col in set_cols}}
                    for c in chunk
                ]
                self.conn.execute(stmt, conn_params)
                if progress is not None:
                    progress(len(chunk))

    def _inserts(
        self,
        creates: list[Planned],
        values: dict[int, dict[str, Any]],
        progress: Callable[[int], None] | None,
    ) -> None:
        by_kind: dict[Kind, list[Planned]] = {}
        for c in creates:
            by_kind.setdefault(c.kind, []).append(c)
        for kind, batch in by_kind.items():
            spec = SPECS[kind]
            table = spec.table
            if spec.ordered and any("position" not in values[id(c)] for c in batch):
                top = self.conn.execute(select(func.max(table.c.position))).scalar() or 0
                for c in batch:
                    if "position" not in values[id(c)]:
                        top += 1
                        values[id(c)]["position"] = top
            by_shape: dict[tuple[str, ...], list[Planned]] = {}
            for c in batch:
                by_shape.setdefault(tuple(values[id(c)]), []).append(c)
            for shape in by_shape.values():
                for chunk in _chunks(shape):
                    rows = [values[id(c)] for c in chunk]
                    if len(chunk) == 1 or spec.key == "id":
                        for c, row in zip(chunk, rows, strict=True):
                            pk = self.conn.execute(insert(table).values(**row)).inserted_primary_key
                            assert pk is not None
                            c.new_id = int(pk[0])
                    else:
                        # executemany, then the ids by key: faster than RETURNING in order.
                        self.conn.execute(insert(table), rows)
                        key = table.c[spec.key]
                        keys = [r[spec.key] for r in rows]
                        found = self.conn.execute(select(key, table.c.id).where(key.in_(keys)))
                        ids = {k: i for k, i in found}
                        for c, row in zip(chunk, rows, strict=True):
                            c.new_id = int(ids[row[spec.key]])
                    if progress is not None:
                        progress(len(chunk))

    def _links(self, relinked: list[Planned], total: int) -> None:
        """Reference rows, phones and queue agents of the objects whose references changed."""
        if not relinked:
            return
        repo = self.repo
        written: dict[Kind, dict[str, int]] = {}
        for c in relinked:
            if c.op != "delete":
                written.setdefault(c.kind, {})[str(getattr(c.obj, SPECS[c.kind].key, ""))] = (
                    c.row_id  # type: ignore[assignment]
                )
        known: dict[Kind, dict[str, int]] = {}

        def lookup(kind: Kind, key: str) -> int | None:
            if key in written.get(kind, {}):
                return written[kind][key]
            if total > _FEW:
                if kind not in known:
                    known[kind] = repo.keys(kind)
                return known[kind].get(key)
            return repo.id_of(kind, key)

        ref_rows: list[dict[str, Any]] = []
        phone_rows: list[dict[str, Any]] = []
        queues: list[Planned] = []
        for c in relinked:
            row_id = c.row_id
            assert row_id is not None and c.obj is not None
            if SPECS[c.kind].owner_column:
                ref_rows += repo.ref_rows(c.kind, row_id, refs_of(c.obj), lookup)
            if isinstance(c.obj, Extension):
                phone_rows += [{"mac": p.mac, "extension_id": row_id} for p in c.obj.phones]
            if c.kind is Kind.QUEUE:
                queues.append(c)
        for chunk in _chunks(ref_rows, 2000):
            self.conn.execute(insert(t.refs), chunk)
        for chunk in _chunks(phone_rows, 2000):
            self.conn.execute(insert(t.phones), chunk)
        for c in queues:
            members = [lookup(Kind.EXTENSION, m) for m in c.obj.members]  # type: ignore[union-attr]
            repo.sync_queue_agents(c.row_id, members)  # type: ignore[arg-type]


def _joined(data: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``secrets`` put in at their paths (``join_secrets``), ``data`` unchanged:
    only the sections that get a secret are copied."""
    out = dict(data)
    for path, value in secrets.items():
        head, _, leaf = path.rpartition(".")
        container = out
        if head:
            for part in head.split("."):
                inner = container.get(part)
                container[part] = inner = dict(inner) if isinstance(inner, dict) else {}
                container = inner
        container[leaf] = value
    return out


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "SECRET_MASK",
    "DbIndex",
    "DirectoryWriter",
    "Planned",
    "mask_secrets",
    "resolve_secrets",
    "secrets_of",
    "system_secrets",
    "validate",
    "with_secrets",
]
