"""Configuration as code: export the whole PBX as a document, apply a document.

``apply`` validates the whole document first (every problem reported by its path), then
computes the difference to the database and writes it in one transaction: creates,
updates and deletes, references rebuilt, secrets kept where the document leaves them out.
``dry_run`` returns the same difference and changes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, bindparam, cast, delete, insert, literal, select, update

from klapka.domain.changes import FieldChange, diff
from klapka.domain.directory import BusinessHours, Contact, Queue, System
from klapka.domain.document import (
    SECTIONS,
    ConfigDocument,
    minimal_data,
    parse_document,
    prune,
    stored_form,
)
from klapka.domain.extension import Extension
from klapka.domain.problems import InvalidInput, Problem
from klapka.domain.references import Kind, refs_of
from klapka.domain.values import random_pin, random_sip_password
from klapka.services import audit
from klapka.services.accounts.passwords import hash_password
from klapka.services.accounts.sessions import end_access_of_disabled
from klapka.services.directory.objects import SECRET_MASK
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import (
    SPECS,
    Repository,
    extension_columns,
    join_secrets,
    now,
    split_secrets,
)


@dataclass
class Change:
    op: str  # create | update | delete
    kind: str
    key: str
    fields: list[FieldChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "kind": self.kind,
            "key": self.key,
            "fields": [f.to_dict() for f in self.fields],
        }


@dataclass
class ApplyResult:
    dry_run: bool
    changes: list[Change]
    # A dry run of a document that applying would refuse: the problem, as ``path: rule``.
    refused: Problem | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for c in self.changes:
            counts[c.op] += 1
        return {
            "created": counts["create"],
            "updated": counts["update"],
            "deleted": counts["delete"],
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dry_run": self.dry_run,
            "summary": self.summary,
            "changes": [c.to_dict() for c in self.changes],
        }
        if self.refused is not None:
            out["refused"] = {"path": self.refused.path, "rule": self.refused.rule}
        return out

    def text(self) -> str:
        """The difference as an admin reads it: + created, ~ updated, - deleted."""
        lines = []
        sign = {"create": "+", "update": "~", "delete": "-"}
        for c in self.changes:
            what = c.kind.replace("_", " ")
            lines.append(f"{sign[c.op]} {what} {c.key}".rstrip())
            for f in c.fields:
                before = "(default)" if f.before is None else _show(f.before)
                after = "(default)" if f.after is None else _show(f.after)
                lines.append(f"    {f.path}: {before} -> {after}")
        s = self.summary
        tail = f"{s['created']} to create, {s['updated']} to update, {s['deleted']} to delete"
        if not self.changes:
            lines.append("No changes.")
        elif self.dry_run:
            lines.append(f"Dry run: {tail}; nothing was changed.")
        else:
            lines.append(
                f"Applied: {s['created']} created, {s['updated']} updated, {s['deleted']} deleted."
            )
        if self.refused is not None:
            lines.append(f"Applying it would be refused: {self.refused}")
        return "\n".join(lines)


def _show(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, dict) and len(v) == 1:
        k, val = next(iter(v.items()))
        return f"{{{k}: {_show(val)}}}"
    return str(v)


def _secret_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(p, SECRET_MASK if p in before else None, SECRET_MASK if p in after else None)
        for p in sorted(set(before) | set(after))
        if before.get(p) != after.get(p)
    ]


def _moved(existing: dict[str, Any], wanted: list[str]) -> dict[str, tuple[int, int]]:
    """Objects kept in an ordered section whose place among the kept ones changes (routes,
    client permission rules: the first match wins, so their order is part of the setting)."""
    wanted_set = set(wanted)
    before = {k: i for i, k in enumerate(k for k in existing if k in wanted_set)}
    after = {k: i for i, k in enumerate(k for k in wanted if k in existing)}
    return {k: (before[k] + 1, after[k] + 1) for k in before if before[k] != after[k]}


def _number_order(key: str) -> tuple[int, str]:
    return (len(key), key)


def _contact_key(c: dict[str, Any]) -> str:
    name = " ".join(x for x in (c.get("first_name"), c.get("last_name")) if x)
    company = c.get("company") or ""
    return f"{name} ({company})" if name and company else name or company


@dataclass
class _Desired:
    obj: BaseModel
    data: dict[str, Any]
    secrets: dict[str, Any]


def _deletes_every_extension(count: int) -> str:
    return (
        f"the document lists no extension: applying it would delete all {count} extensions "
        "of the PBX; to do that, apply with allow_delete_all=true (CLI: --allow-delete-all)"
    )


class ConfigService:
    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal  # who the changes are made for, in the audit log

    # --- export ---------------------------------------------------------------------

    @admin_only
    def export(self, include_secrets: bool = False) -> dict[str, Any]:
        """The whole configuration as a document, defaults left out."""
        with self.pbx.tx() as repo:
            system, sys_secrets, hours, _v = repo.system()
            sys_data = system.model_dump(mode="json")
            if include_secrets and "smtp.password" in sys_secrets:
                sys_data["smtp"]["password"] = sys_secrets["smtp.password"]
            doc: dict[str, Any] = {"version": 1}
            doc["system"] = prune(sys_data, System().model_dump(mode="json"))
            doc["business_hours"] = prune(
                hours.model_dump(mode="json"), BusinessHours().model_dump(mode="json")
            )
            for section, kind, key in SECTIONS:
                spec = SPECS[kind]
                rows = repo.rows(kind)
                if key == "number":
                    rows.sort(key=lambda r: _number_order(getattr(r, key)))
                doc[section] = [
                    minimal_data(spec.model, repo.data_of(r, with_secrets=include_secrets))
                    for r in rows
                ]
            doc["contacts"] = [minimal_data(Contact, dict(r.data)) for r in repo.rows(Kind.CONTACT)]
        return {k: v for k, v in doc.items() if v or k == "version"}

    # --- apply ----------------------------------------------------------------------

    @admin_only
    def apply(
        self, data: Any, dry_run: bool = False, allow_delete_all: bool = False
    ) -> ApplyResult:
        """Make the PBX match the document ``data`` (``version`` required). A document that
        lists no extension while the PBX has some is refused (InvalidInput at
        ``extensions``) unless ``allow_delete_all``; a dry run shows its changes and the
        refusal."""
        doc = parse_document(data, require_version=True)
        refused: list[Problem] = []
        with self.pbx.engine.connect() as conn:
            trans = conn.begin()
            try:
                repo = Repository(conn)
                changes = self._apply(repo, doc, dry_run, allow_delete_all, refused)
                if dry_run:
                    trans.rollback()
                else:
                    trans.commit()
            except BaseException:
                trans.rollback()
                raise
        return ApplyResult(dry_run, changes, refused[0] if refused else None)

    def _apply(
        self,
        repo: Repository,
        doc: ConfigDocument,
        dry_run: bool,
        allow_delete_all: bool = False,
        refused: list[Problem] | None = None,
    ) -> list[Change]:
        changes: list[Change] = []
        # Created and deleted objects as the audit log shows them: change -> (before, after).
        whole: dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        # The audit log names a contact by its id, not by what the diff shows.
        contact_ids: dict[int, str] = {}
        # System settings and business hours.
        system, sys_secrets, hours, _v = repo.system()
        new_sys_secrets = dict(sys_secrets)
        if doc.system.smtp.password not in (None, SECRET_MASK):
            new_sys_secrets["smtp.password"] = doc.system.smtp.password
        old_sys = system.model_dump(mode="json")
        new_sys = doc.system.model_dump(mode="json")
        old_sys["smtp"].pop("password", None)
        new_sys["smtp"].pop("password", None)
        fields = diff(old_sys, new_sys) + _secret_changes(sys_secrets, new_sys_secrets)
        if fields:
            changes.append(Change("update", "system", "", fields))
        fields = diff(hours.model_dump(mode="json"), doc.business_hours.model_dump(mode="json"))
        if fields:
            changes.append(Change("update", "business_hours", "", fields))

        plans: dict[Kind, tuple[dict[str, _Desired], dict[str, Any]]] = {}
        for section, kind, key in SECTIONS:
            spec = SPECS[kind]
            existing = {str(getattr(r, key)): r for r in repo.rows(kind)}
            desired: dict[str, _Desired] = {}
            moved = (
                _moved(existing, [str(getattr(o, key)) for o in getattr(doc, section)])
                if spec.ordered
                else {}
            )
            for obj in getattr(doc, section):
                k = str(getattr(obj, key))
                row = existing.get(k)
                old_secrets = dict(row.secrets) if row is not None else {}
                full, given = split_secrets(spec, stored_form(obj))
                secrets = self._secrets(kind, given, old_secrets)
                desired[k] = _Desired(obj, full, secrets)
                if row is None:
                    changes.append(Change("create", kind.value, k))
                    whole[id(changes[-1])] = (None, join_secrets(copy.deepcopy(full), secrets))
                else:
                    fields = diff(dict(row.data), full) + _secret_changes(old_secrets, secrets)
                    if k in moved:
                        fields.append(FieldChange("position", *moved[k]))
                    if fields:
                        changes.append(Change("update", kind.value, k, fields))
            for k, row in existing.items():
                if k not in desired:
                    changes.append(Change("delete", kind.value, k))
                    whole[id(changes[-1])] = (repo.data_of(row, with_secrets=True), None)
            plans[kind] = (desired, existing)
        # Contacts have no key of their own: they are matched by their whole content.
        contact_rows = repo.rows(Kind.CONTACT)
        old_contacts = [dict(r.data) for r in contact_rows]
        new_contacts = [stored_form(c) for c in doc.contacts]
        contacts_changed = old_contacts != new_contacts
        created_contacts: list[tuple[int, Change]] = []
        if contacts_changed:
            for i, c in enumerate(new_contacts):
                if c not in old_contacts:
                    changes.append(Change("create", "contact", _contact_key(c)))
                    whole[id(changes[-1])] = (None, c)
                    created_contacts.append((i, changes[-1]))
            for r, c in zip(contact_rows, old_contacts, strict=True):
                if c not in new_contacts:
                    changes.append(Change("delete", "contact", _contact_key(c)))
                    whole[id(changes[-1])] = (c, None)
                    contact_ids[id(changes[-1])] = str(r.id)
        existing_extensions = len(plans[Kind.EXTENSION][1])
        if existing_extensions and not doc.extensions and not allow_delete_all:
            problem = Problem("extensions", _deletes_every_extension(existing_extensions))
            if not dry_run:
                raise InvalidInput([problem])
            if refused is not None:
                refused.append(problem)
        if dry_run:
            return changes

        self._write(repo, doc, plans, new_sys_secrets)
        if contacts_changed:
            repo.conn.execute(delete(t.contacts))
            new_ids = [repo.insert(Kind.CONTACT, c, {}) for c in doc.contacts]
            for i, change in created_contacts:
                contact_ids[id(change)] = str(new_ids[i])
        else:
            self._relink_contacts(repo)
        self._record(repo, changes, whole, contact_ids)
        return changes

    def _relink_contacts(self, repo: Repository) -> None:
        """Index the references of the contacts again (``_write`` rebuilt the index)."""
        phonebooks = repo.keys(Kind.PHONEBOOK)
        rows: list[dict[str, Any]] = []
        for r in repo.rows(Kind.CONTACT):
            refs = refs_of(Contact.model_validate(r.data))
            rows += repo.ref_rows(Kind.CONTACT, r.id, refs, lambda _k, key: phonebooks.get(key))
        if rows:
            repo.conn.execute(insert(t.refs), rows)

    def _record(
        self,
        repo: Repository,
        changes: list[Change],
        whole: dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]],
        keys: dict[int, str],
    ) -> None:
        """One audit entry per applied change."""
        stamp = now()
        entries = []
        for change in changes:
            if id(change) in whole:
                fields = audit.changes(*whole[id(change)])
            else:
                fields = audit.masked_fields(change.fields)
            key = keys.get(id(change), change.key)
            entries.append(audit.entry(self.principal, change.op, change.kind, key, fields, stamp))
        audit.record_many(repo.conn, entries)

    def _secrets(self, kind: Kind, given: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        secrets = {k: v for k, v in given.items() if v != SECRET_MASK}
        for path in SPECS[kind].secret_paths:
            if path not in secrets and path in old:
                secrets[path] = old[path]
        if kind is Kind.EXTENSION:
            secrets.setdefault("sip_password", random_sip_password())
            secrets.setdefault("voicemail.pin", random_pin())
            pw = secrets.get("user_password")
            if pw and not str(pw).startswith("$argon2"):
                secrets["user_password"] = hash_password(pw)
        return secrets

    def _write(
        self,
        repo: Repository,
        doc: ConfigDocument,
        plans: dict[Kind, tuple[dict[str, _Desired], dict[str, Any]]],
        sys_secrets: dict[str, Any],
    ) -> None:
        conn = repo.conn
        stamp = now()
        repo.save_system(doc.system, sys_secrets, doc.business_hours)
        # References are rebuilt from the document; the old ones go first so that deleting
        # an object the document dropped is never blocked by a reference that also goes.
        conn.execute(delete(t.refs))
        conn.execute(delete(t.phones))
        for kind in (
            Kind.CLIENT_PERMISSION,
            Kind.INBOUND_ROUTE,
            Kind.OUTBOUND_ROUTE,
            Kind.QUEUE,
            Kind.RING_GROUP,
            Kind.GROUP,
            Kind.EXTENSION,
            Kind.TRUNK,
            Kind.PHONEBOOK,
        ):
            desired, existing = plans[kind]
            gone = [r.id for k, r in existing.items() if k not in desired]
            if gone:
                spec = SPECS[kind]
                conn.execute(delete(spec.table).where(spec.table.c.id.in_(gone)))
        for _section, kind, _key in SECTIONS:
            self._upsert(repo, kind, plans[kind], stamp)
        ids: dict[Kind, dict[str, int]] = {
            kind: repo.keys(kind) for kind in Kind if kind is not Kind.CONTACT
        }

        def lookup(kind: Kind, key: str) -> int | None:
            return ids[kind].get(key)

        ref_rows: list[dict[str, Any]] = []
        phone_rows: list[dict[str, Any]] = []
        for _section, kind, _key in SECTIONS:
            desired, _existing = plans[kind]
            for k, d in desired.items():
                row_id = ids[kind][k]
                ref_rows += repo.ref_rows(kind, row_id, refs_of(d.obj), lookup)
                if isinstance(d.obj, Extension):
                    phone_rows += [{"mac": p.mac, "extension_id": row_id} for p in d.obj.phones]
        if ref_rows:
            conn.execute(insert(t.refs), ref_rows)
        if phone_rows:
            conn.execute(insert(t.phones), phone_rows)
        for k, d in plans[Kind.QUEUE][0].items():
            assert isinstance(d.obj, Queue)
            members = [ids[Kind.EXTENSION].get(m) for m in d.obj.members]
            repo.sync_queue_agents(ids[Kind.QUEUE][k], members)
        # Applying a document counts as a manual presence change at this moment.
        conn.execute(update(t.extensions).values(presence_changed_at=stamp))
        end_access_of_disabled(conn)  # a disabled extension's users are signed out
        repo.bump_version()

    def _upsert(
        self,
        repo: Repository,
        kind: Kind,
        plan: tuple[dict[str, _Desired], dict[str, Any]],
        stamp: Any,
    ) -> None:
        spec = SPECS[kind]
        desired, existing = plan
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for position, (k, d) in enumerate(desired.items(), start=1):
            values: dict[str, Any] = {"data": d.data, "secrets": d.secrets, "updated_at": stamp}
            values[spec.key] = k
            for c in spec.columns:
                v = getattr(d.obj, c)
                values[c] = v.value if hasattr(v, "value") else v
            if isinstance(d.obj, Extension):
                values |= extension_columns(d.obj)
            if spec.ordered:
                values["position"] = position
            row = existing.get(k)
            if row is None:
                inserts.append(values)
            elif (
                dict(row.data) != d.data
                or dict(row.secrets) != d.secrets
                or (spec.ordered and row.position != position)
            ):
                values["_id"] = row.id
                updates.append(values)
        if updates:
            # Unique columns (email, sip_username) may swap between rows: clear them first.
            uniques = [c for c in ("email", "sip_username") if c in spec.table.c]
            if uniques:
                conn = repo.conn
                ids = [u["_id"] for u in updates]
                conn.execute(
                    update(spec.table)
                    .where(spec.table.c.id.in_(ids))
                    .values(
                        {
                            c: None
                            if c == "email"
                            else literal("~") + cast(spec.table.c.id, String)
                            for c in uniques
                        }
                    )
                )
            cols = [c for c in updates[0] if c != "_id"]
            stmt = (
                update(spec.table)
                .where(spec.table.c.id == bindparam("_id"))
                .values({c: bindparam(f"v_{c}") for c in cols})
            )
            repo.conn.execute(
                stmt, [{"_id": u["_id"], **{f"v_{c}": u[c] for c in cols}} for u in updates]
            )
        if inserts:
            repo.conn.execute(insert(spec.table), inserts)


__all__ = ["ApplyResult", "Change", "ConfigService", "FieldChange", "join_secrets", "select"]
