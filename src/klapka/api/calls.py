"""The call simulator and the call-paths view: "why did my phone (not) ring?"."""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from klapka.api.crud import JsonBody, request_body, responses
from klapka.api.dependencies import get_pbx, get_principal
from klapka.services.telephony.registrations import Registrations, SipCoreUnavailable
from klapka.services.telephony.simulator import Simulator
from klapka.services.telephony.trunk_status import TrunkStatus


class SimulationRequest(BaseModel):
    """The simulated call and world; the same fields as ``klapka simulate``'s flags."""

    from_: str = Field(
        alias="from", description="An extension (internal call) or an outside number."
    )
    to: str = Field(
        description="What was dialled: extension, ring group, queue, outside number or DID."
    )
    at: str | None = Field(None, description="ISO-8601 time; default now in the system time zone.")
    path: Literal["direct", "transferred"] = "direct"
    registered: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Extension -> endpoint classes registered; default one desk each.",
    )
    in_call: list[str] = Field(default_factory=list, description="EXT or EXT:CLASS in a call.")
    answer: list[str] = Field(default_factory=list, description="EXT, EXT:CLASS or NUMBER answers.")
    reject: list[str] = Field(default_factory=list, description="EXT or EXT:CLASS declines.")


class SimulationResult(BaseModel):
    call: dict[str, Any]
    steps: list[dict[str, Any]]
    outcome: dict[str, Any]
    trace: list[str]


class CallPaths(BaseModel):
    extension: str
    statuses: dict[str, dict[str, dict[str, Any]]]


def get_simulator(request: Request) -> Simulator:
    return Simulator(get_pbx(request), get_principal(request))


SimulatorDep = Annotated[Simulator, Depends(get_simulator)]

router = APIRouter(tags=["calls"])


@router.post(
    "/calls/simulate",
    summary="What happens if this call comes now? (changes nothing)",
    operation_id="simulate_call",
    responses=responses(SimulationResult),
    openapi_extra=request_body(SimulationRequest),
)
def simulate_call(simulator: SimulatorDep, body: JsonBody) -> Any:
    return simulator.simulate(body)


@router.get(
    "/extensions/{number}/call-paths",
    summary="Where direct calls to the extension go, per status and call kind",
    operation_id="get_extension_call_paths",
    responses=responses(CallPaths),
)
def call_paths(simulator: SimulatorDep, number: str) -> Any:
    return simulator.call_paths(number)


class Registration(BaseModel):
    contact: str
    endpoint: str
    user_agent: str
    source: str
    transport: str
    expires: int | None


@router.get(
    "/extensions/{number}/registrations",
    summary="The extension's registered phones and apps, live from the SIP core",
    operation_id="get_extension_registrations",
    responses={**responses(list[Registration]), 503: {"description": "SIP core not running"}},
)
def registrations(request: Request, number: str) -> Any:
    from fastapi.responses import JSONResponse

    try:
        return Registrations(get_pbx(request), principal=get_principal(request)).of(number)
    except SipCoreUnavailable as e:
        return JSONResponse({"error": "sip_core_unavailable", "message": str(e)}, status_code=503)


class TrunkStatusEntry(BaseModel):
    name: str
    type: Literal["register", "peer"] | None = Field(
        None, description="Left out when the trunk's stored settings cannot be read."
    )
    status: Literal[
        "error",
        "disabled",
        "registering",
        "registered",
        "registration_failed",
        "auth_failed",
        "reachable",
        "unreachable",
        "not_monitored",
    ]
    expires: int | None = Field(None, description="Seconds until a registration is renewed.")
    last_reply: int | None = Field(None, description="The registrar's last SIP answer code.")
    round_trip_ms: float | None = Field(None, description="A peer's answer time to OPTIONS.")
    detail: str | None = Field(None, description="Why, when the status alone does not say.")


def _trunk_status(request: Request, name: str | None) -> Any:
    from fastapi.responses import JSONResponse

    try:
        found = TrunkStatus(get_pbx(request), principal=get_principal(request)).all(name)
    except SipCoreUnavailable as e:
        return JSONResponse({"error": "sip_core_unavailable", "message": str(e)}, status_code=503)
    return found if name is None else found[0]


@router.get(
    "/trunk-status",
    summary="Every trunk's live status: registered, failed, reachable…",
    operation_id="list_trunk_status",
    responses={
        **responses(list[TrunkStatusEntry]),
        503: {"description": "SIP core not running"},
    },
)
def trunk_status_list(request: Request) -> Any:
    return _trunk_status(request, None)


@router.get(
    "/trunks/{name}/status",
    summary="One trunk's live status",
    operation_id="get_trunk_status",
    responses={**responses(TrunkStatusEntry), 503: {"description": "SIP core not running"}},
)
def trunk_status(request: Request, name: str) -> Any:
    return _trunk_status(request, name)
