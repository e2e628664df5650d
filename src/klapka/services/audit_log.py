"""The audit log as admins read it: newest first, filtered (the API's ``GET /audit``, the
admin console). Recording is ``klapka.services.audit``, which every write path uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from klapka.domain.problems import InvalidInput
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t


@dataclass
class AuditPage:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "actor_extension": row.actor_extension,
        "source_ip": row.source_ip,
        "action": row.action,
        "kind": row.kind,
        "key": row.key,
        "changes": row.changes,
    }


class AuditLog:
    """Reads the log, newest first, filtered."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    def list(
        self,
        actor: str | None = None,
        kind: str | None = None,
        key: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditPage:
        """Entries matching every filter given. ``actor`` is a name (``token deploy``) or an
        extension number; ``since`` is inclusive, ``until`` exclusive. Admins only."""
        require_admin(self.principal)
        c = t.audit_log.c
        where: list[Any] = []
        if actor:
            where.append(or_(func.lower(c.actor) == actor.lower(), c.actor_extension == actor))
        if kind:
            where.append(c.kind == kind)
        if key is not None and key != "":
            where.append(c.key == key)
        if action:
            where.append(c.action == action)
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise InvalidInput.one(name, "must name its time zone, e.g. 2027-01-31T08:00Z")
        if since is not None:
            where.append(c.at >= since)
        if until is not None:
            where.append(c.at < until)
        condition = and_(*where) if where else None
        with self.pbx.tx() as repo:
            count = select(func.count()).select_from(t.audit_log)
            rows = select(t.audit_log).order_by(c.at.desc(), c.id.desc()).limit(limit)
            if condition is not None:
                count = count.where(condition)
                rows = rows.where(condition)
            total = int(repo.conn.execute(count).scalar_one())
            items = [_view(r) for r in repo.conn.execute(rows.offset(offset))]
        return AuditPage(items, total, limit, offset)
