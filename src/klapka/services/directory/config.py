"""Configuration as code: export the whole PBX as a document, apply a document.

``apply`` validates the whole document first (every problem reported by its path), then
computes the difference to the database (creates, updates and deletes, secrets kept where
the document leaves them out) and hands it to the directory writer
(``services.directory.writer``), which writes it in one transaction with its references
and audit entries. ``dry_run`` returns the same difference and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from klapka.domain.changes import FieldChange, diff
from klapka.domain.directory import BusinessHours, Contact, System
from klapka.domain.document import (
    SECTIONS,
    ConfigDocument,
    minimal_data,
    parse_document,
    prune,
    stored_form,
)
from klapka.domain.problems import InvalidInput, Problem
from klapka.domain.references import Kind
from klapka.services import audit
from klapka.services.directory.writer import (
    DirectoryWriter,
    Planned,
    resolve_secrets,
    secrets_of,
    stored_secrets,
    system_secrets,
)
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import SECRET_MASK, SPECS, Repository, now, stored_data


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
        if not dry_run:
            repo.committed()
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
        # System settings and business hours.
        system, sys_secrets, hours, _v = repo.system()
        new_sys_secrets = system_secrets(doc.system.smtp.password, sys_secrets)
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

        # The objects: each one the document lists is created or, when it differs from the
        # stored one (settings, secrets, place in its ordered section), updated; each one it
        # leaves out is deleted.
        planned: list[Planned] = []
        stored_extensions = 0
        for section, kind, key in SECTIONS:
            spec = SPECS[kind]
            existing = {str(getattr(r, key)): r for r in repo.rows(kind)}
            if kind is Kind.EXTENSION:
                stored_extensions = len(existing)
            wanted = getattr(doc, section)
            moved = _moved(existing, [str(getattr(o, key)) for o in wanted]) if spec.ordered else {}
            desired: set[str] = set()
            for position, obj in enumerate(wanted, start=1):
                k = str(getattr(obj, key))
                desired.add(k)
                row = existing.get(k)
                old_secrets = dict(row.secrets) if row is not None else {}
                data = stored_data(kind, obj)
                secrets = stored_secrets(resolve_secrets(kind, secrets_of(kind, obj), old_secrets))
                extra = {"position": position} if spec.ordered else {}
                if row is None:
                    changes.append(Change("create", kind.value, k))
                    planned.append(
                        Planned("create", kind, obj, secrets=secrets, data=data, extra=extra, key=k)
                    )
                    continue
                fields = diff(dict(row.data), data) + _secret_changes(old_secrets, secrets)
                if k in moved:
                    fields.append(FieldChange("position", *moved[k]))
                if fields:
                    changes.append(Change("update", kind.value, k, fields))
                if fields or (spec.ordered and row.position != position):
                    planned.append(
                        Planned(
                            "update",
                            kind,
                            obj,
                            row=row,
                            secrets=secrets,
                            data=data,
                            extra=extra,
                            audit=bool(fields),
                            fields=fields,
                            key=k,
                        )
                    )
            for k, row in existing.items():
                if k not in desired:
                    changes.append(Change("delete", kind.value, k))
                    planned.append(Planned("delete", kind, row=row, key=k))
        # Contacts have no key of their own: they are matched by their whole content. When
        # any changed, all are written again; the audit log names only those that changed.
        contact_rows = repo.rows(Kind.CONTACT)
        old_contacts = [dict(r.data) for r in contact_rows]
        new_contacts = [stored_form(c) for c in doc.contacts]
        if old_contacts != new_contacts:
            for contact, c in zip(doc.contacts, new_contacts, strict=True):
                new = c not in old_contacts
                if new:
                    changes.append(Change("create", "contact", _contact_key(c)))
                planned.append(Planned("create", Kind.CONTACT, contact, secrets={}, audit=new))
            for r, c in zip(contact_rows, old_contacts, strict=True):
                gone = c not in new_contacts
                if gone:
                    changes.append(Change("delete", "contact", _contact_key(c)))
                planned.append(Planned("delete", Kind.CONTACT, row=r, audit=gone, before=c))
        if stored_extensions and not doc.extensions and not allow_delete_all:
            problem = Problem("extensions", _deletes_every_extension(stored_extensions))
            if not dry_run:
                raise InvalidInput([problem])
            if refused is not None:
                refused.append(problem)
        if dry_run:
            return changes

        stamp = now()
        repo.save_system(doc.system, new_sys_secrets, doc.business_hours)
        settings = [
            audit.entry(self.principal, c.op, c.kind, c.key, audit.masked_fields(c.fields), stamp)
            for c in changes
            if c.kind in ("system", "business_hours")
        ]
        DirectoryWriter(repo, self.principal).write(planned, also_log=settings, stamp=stamp)
        # Applying a document counts as a manual presence change at this moment.
        repo.conn.execute(update(t.extensions).values(presence_changed_at=stamp))
        return changes


__all__ = ["ApplyResult", "Change", "ConfigService", "FieldChange"]
