"""The audit log: who changed what, when and from where, field by field, secrets masked.

Every write path records here, in the transaction of the change itself, so an entry exists
exactly when the change does. An entry names the actor (the principal's name and
extension), the source IP, the action (``create``, ``update``, ``delete``, ``import``,
``welcome_email``, ...), the kind and key of the object, and the changed fields as
``path: before -> after`` (``None`` = not set, i.e. the default). Secrets never reach the
log: a changed password shows as ``******** -> ********``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from klapka.domain.changes import FieldChange, diff
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import SECRET_MASK, SPECS, now

MASK = SECRET_MASK  # the same mask the API shows for a secret

# A key whose name contains one of these holds a secret, wherever it is.
SECRET_WORDS = ("password", "pin", "token", "secret")
SECRET_PATHS = frozenset(
    {p for spec in SPECS.values() for p in spec.secret_paths} | {"smtp.password"}
)
_INDEX = re.compile(r"\[\d+\]")


def is_secret(path: str) -> bool:
    """Does the setting at ``path`` (``voicemail.pin``, ``trunks[0].password``) hold a secret?"""
    if path in SECRET_PATHS:
        return True
    leaf = _INDEX.sub("", path).rsplit(".", 1)[-1].lower()
    return any(word in leaf for word in SECRET_WORDS)


def masked(path: str, value: Any) -> Any:
    """``value`` with every secret in it replaced by the mask (switches stay visible)."""
    if value is None or isinstance(value, bool):
        return value
    if path and is_secret(path):
        return MASK
    if isinstance(value, dict):
        return {k: masked(f"{path}.{k}" if path else str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(f"{path}[{i}]", v) for i, v in enumerate(value)]
    return value


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field-level changes from ``before`` to ``after`` (None: did not exist), masked."""

    def leaves(fields: list[FieldChange]) -> list[FieldChange]:
        # A section that appears or goes (settings left at their defaults are not stored)
        # is shown setting by setting, as when it changes.
        out: list[FieldChange] = []
        for f in fields:
            if f.before is None and isinstance(f.after, dict) and f.after:
                out += leaves(diff({}, f.after, f.path))
            elif f.after is None and isinstance(f.before, dict) and f.before:
                out += leaves(diff(f.before, {}, f.path))
            else:
                out.append(f)
        return out

    return masked_fields(leaves(diff(before or {}, after or {})))


def masked_fields(fields: Iterable[FieldChange]) -> list[dict[str, Any]]:
    return [
        {"path": f.path, "before": masked(f.path, f.before), "after": masked(f.path, f.after)}
        for f in fields
    ]


def entry(
    principal: Principal,
    action: str,
    kind: str,
    key: str,
    fields: list[dict[str, Any]],
    at: datetime | None = None,
) -> dict[str, Any]:
    """One row of the log, ready to insert."""
    return {
        "at": at or now(),
        "actor": (principal.name or principal.role)[:127],
        "actor_extension": principal.extension,
        "source_ip": principal.source_ip,
        "action": action,
        "kind": kind,
        "key": str(key)[:255],
        "changes": fields,
    }


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    kind: str,
    key: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Log one change on ``conn`` (the transaction of the change).

    An ``update`` that changes no field is no change: nothing is logged.
    """
    fields = changes(before, after)
    if action == "update" and not fields:
        return
    conn.execute(insert(t.audit_log).values(entry(principal, action, kind, key, fields)))


def record_fields(
    conn: Connection,
    principal: Principal,
    action: str,
    kind: str,
    key: str,
    fields: Iterable[FieldChange],
) -> None:
    """Log a change whose field differences are already known (masked here all the same)."""
    conn.execute(
        insert(t.audit_log).values(entry(principal, action, kind, key, masked_fields(fields)))
    )


def record_many(conn: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Log many changes at once (bulk imports); ``entries`` are made by ``entry``."""
    if entries:
        conn.execute(insert(t.audit_log), list(entries))
