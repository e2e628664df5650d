"""Call history: every call, newest first (admin), or the user's own (``/me``); as JSON pages
or CSV."""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from klapka.api.auth import current_principal
from klapka.api.contacts import Asking, PbxDep
from klapka.api.crud import list_problems_as_query, responses
from klapka.api.limits import Limit, Offset
from klapka.domain.problems import InvalidInput
from klapka.services.call_history import ActiveCalls, CallFilter, CallHistory, CallPage, to_csv
from klapka.services.telephony.calls_now import end_call
from klapka.services.telephony.registrations import SipCoreUnavailable

router = APIRouter(tags=["call history"], dependencies=[Depends(current_principal)])


class RingStep(BaseModel):
    at: datetime
    owner: str | None
    rung: list[str]
    numbers: list[str]
    timeout: int | None = None
    code: int | None = None
    ended: str | None = None


class TrunkAttempt(BaseModel):
    trunk: str | None
    number: str | None = None
    code: int | None = None


class Call(BaseModel):
    id: int
    call_id: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    in_progress: bool
    direction: str
    path: str
    caller: str
    caller_name: str
    caller_extension: str | None
    caller_endpoint: str | None
    dialled: str
    did: str | None
    trunk: str | None
    answered_by: str | None
    answered_endpoint: str | None
    answered_number: str | None
    outcome: str | None
    sip_code: int | None
    cause: str | None
    ended_by: str | None
    ring_seconds: int | None
    talk_seconds: int | None
    steps: list[RingStep]
    forwards: list[str]
    trunk_attempts: list[TrunkAttempt]


class Calls(BaseModel):
    items: list[Call]
    total: int
    limit: int
    offset: int
    timezone: str


Since = Annotated[
    datetime | None,
    Query(description="Calls that started from this time on (ISO 8601 with a zone)."),
]
Until = Annotated[
    datetime | None,
    Query(description="Calls that started before this time (ISO 8601 with a zone)."),
]
Direction = Annotated[
    Literal["internal", "inbound", "outbound"] | None, Query(description="Which way the call went.")
]
Outcome = Annotated[
    Literal[
        "answered", "voicemail", "busy", "no_answer", "rejected", "failed", "interrupted",
        "in_progress", "missed",
    ] | None,
    Query(description="How the call ended (`in_progress`: not yet; `missed`: `no_answer`, "
                      "`busy` or `rejected`)."),
]  # fmt: skip
Number = Annotated[
    str | None,
    Query(max_length=64, description="Part of the caller's, the dialled or the answering number."),
]
Format = Annotated[
    Literal["json", "csv"], Query(description="`csv`: the page as CSV, one line per call.")
]

DESCRIPTION = (
    "Newest first. Each call: `started_at`, `answered_at`, `ended_at` (UTC); the caller "
    "(`caller`, `caller_name`, `caller_extension`, `caller_endpoint`), `dialled`, for a call from "
    "a trunk its `did` and `trunk`; `direction`; `path` (`direct`, `transferred`); each ring "
    "`steps` entry (when, whose rules: `owner`, the extensions `rung` and outside `numbers`, "
    "its SIP `code` and how it `ended` when unanswered); the `forwards` chain; who answered "
    "(`answered_by` and `answered_endpoint`, or `answered_number`); `outcome` (`answered`, "
    "`voicemail`, `busy`, `no_answer`, `rejected`, `failed`, `interrupted`; null while in "
    "progress) with `sip_code` and `cause`; `ended_by` (`caller`, `callee`, `timeout`); "
    "`ring_seconds`, `talk_seconds`; `trunk_attempts` of a call out. The page's `timezone` is "
    "the PBX's (`system.timezone`), for showing the times to people."
)


def _answer(page: CallPage, fmt: str) -> Any:
    if fmt == "csv":
        return Response(to_csv(page.items), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="calls.csv"'})  # fmt: skip
    return {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset,
            "timezone": page.timezone}  # fmt: skip


@router.get(
    "/call-history",
    summary="Read the call history",
    description=DESCRIPTION + " Admins only; filter by time, `extension` (any part it took), "
    "`direction`, `outcome` and `number`.",
    operation_id="list_call_history",
    responses={**responses(Calls), 200: {"model": Calls, "content": {"text/csv": {}}}},
)
def list_call_history(
    pbx: PbxDep,
    asking: Asking,
    since: Since = None,
    until: Until = None,
    extension: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{2,8}$", description="Calls this extension made, got, rang or answered."
        ),
    ] = None,
    direction: Direction = None,
    outcome: Outcome = None,
    number: Number = None,
    limit: Limit = 50,
    offset: Offset = 0,
    format: Format = "json",
) -> Any:
    f = CallFilter(since, until, extension, direction, outcome, number)
    try:
        page = CallHistory(pbx, asking).search(f, limit, offset)
    except InvalidInput as e:
        raise list_problems_as_query(e) from None
    return _answer(page, format)


@router.get(
    "/me/call-history",
    summary="Read my call history",
    description=DESCRIPTION + " The calls of the user's own extension (it called, was called, "
    "rang or answered), under the `call_logs` menu permission.",
    operation_id="list_my_call_history",
    responses={**responses(Calls), 200: {"model": Calls, "content": {"text/csv": {}}}},
)
def list_my_call_history(
    pbx: PbxDep,
    asking: Asking,
    since: Since = None,
    until: Until = None,
    direction: Direction = None,
    outcome: Outcome = None,
    number: Number = None,
    limit: Limit = 50,
    offset: Offset = 0,
    format: Format = "json",
) -> Any:
    f = CallFilter(since, until, None, direction, outcome, number)
    try:
        page = CallHistory(pbx, asking).mine(f, limit, offset)
    except InvalidInput as e:
        raise list_problems_as_query(e) from None
    return _answer(page, format)


class LiveCall(BaseModel):
    id: int
    call_id: str
    direction: str
    caller: str
    caller_name: str
    caller_extension: str | None
    dialled: str
    state: Literal["ringing", "talking"]
    started_at: datetime
    answered_at: datetime | None
    seconds: int
    rung: list[str]
    answered_by: str | None
    answered_number: str | None


LIVE = (
    "Each: who calls (`caller`, `caller_name`, `caller_extension`) whom (`dialled`), `state` "
    "(`ringing`: the phones `rung` now; `talking`: `answered_by` or `answered_number`), "
    "`started_at`, `answered_at` (UTC) and `seconds` since the start. From the call history's "
    "open records, which follow the SIP core within a fraction of a second."
)


@router.get(
    "/calls/active",
    summary="The calls in progress",
    description=LIVE + " Admins only.",
    operation_id="list_active_calls",
    responses=responses(list[LiveCall]),
)
def list_active_calls(pbx: PbxDep, asking: Asking) -> Any:
    return ActiveCalls(pbx, asking).all()


@router.get(
    "/me/calls/active",
    summary="My calls in progress",
    description=LIVE + " The user's own extension's, under the `call_logs` menu permission.",
    operation_id="list_my_active_calls",
    responses=responses(list[LiveCall]),
)
def list_my_active_calls(pbx: PbxDep, asking: Asking) -> Any:
    return ActiveCalls(pbx, asking).mine()


@router.delete(
    "/calls/active/{id}",
    summary="End a call in progress",
    description="The SIP core sends both parties a BYE (admins only; audited as `end_call`). "
    "A call still ringing cannot be ended (409); 404 when it is not in progress; 503 when "
    "the SIP core is not running.",
    operation_id="end_active_call",
    responses={**responses(LiveCall), 503: {"description": "SIP core not running"}},
)
def end_active_call(
    pbx: PbxDep, asking: Asking, id: Annotated[int, Path(ge=1, description="The call's `id`.")]
) -> Any:
    try:
        return end_call(pbx, id, asking)
    except SipCoreUnavailable as e:
        return JSONResponse({"error": "sip_core_unavailable", "message": str(e)}, status_code=503)
