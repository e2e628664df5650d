"""The audit log: who changed what, when and from where; newest first, filtered, paginated."""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from klapka.api.contacts import Asking, PbxDep
from klapka.api.crud import list_problems_as_query, responses
from klapka.api.limits import Limit, Offset
from klapka.domain.problems import InvalidInput
from klapka.services.audit_log import AuditLog

router = APIRouter(tags=["audit"])


class AuditChange(BaseModel):
    path: str
    before: Any
    after: Any


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_extension: str | None
    source_ip: str | None
    action: str
    kind: str
    key: str
    changes: list[AuditChange]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int


@router.get(
    "/audit",
    summary="Read the audit log",
    description="Every change, newest first: who (`actor`, `actor_extension`), when (`at`, "
    "UTC), from where (`source_ip`), what (`action`, `kind`, `key`) and how (`changes`: "
    "`path`, `before`, `after`; `null` = not set). Secrets show as `********`.",
    operation_id="list_audit_entries",
    responses=responses(AuditPage),
)
def list_audit(
    pbx: PbxDep,
    asking: Asking,
    actor: Annotated[
        str | None,
        Query(max_length=127, description="An actor's name (`token admin`) or extension number."),
    ] = None,
    kind: Annotated[
        str | None, Query(max_length=32, description="`extension`, `contact`, `system`, ...")
    ] = None,
    key: Annotated[
        str | None, Query(max_length=255, description="The object's key: `101`, `Sales`, ...")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=32, description="`create`, `update`, `delete`, `import`, ..."),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="From this time on (ISO 8601 with a zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Before this time (ISO 8601 with a zone).")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    try:
        page = AuditLog(pbx, asking).list(actor, kind, key, action, since, until, limit, offset)
    except InvalidInput as e:
        raise list_problems_as_query(e) from None
    return {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}
