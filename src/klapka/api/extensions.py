"""Extensions: CRUD, and every settings tab as its own small sub-resource.

    /extensions/{number}/user                 the User tab (number, names, SIP account...)
    /extensions/{number}/presence             the manual status and note
    /extensions/{number}/presence/{status}    what one status does with calls
    /extensions/{number}/presence-settings    all six statuses at once
    /extensions/{number}/voicemail, /features, /advanced, /security, /clients
    /extensions/{number}/phones, /function-keys   (lists: GET and PUT)

Small sub-resources make "what may a user change about themselves" a list of paths.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any, Literal

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from klapka.api.crud import (
    IncludeSecrets,
    JsonBody,
    ObjectsDep,
    Resource,
    add_part_routes,
    crud_router,
    parse_body,
    request_body,
    responses,
)
from klapka.api.dependencies import get_pbx
from klapka.domain.extension import (
    Advanced,
    Clients,
    DndSettings,
    Extension,
    Features,
    FunctionKey,
    Phone,
    PresenceSettings,
    Role,
    Security,
    StatusSettings,
    Voicemail,
)
from klapka.domain.problems import InvalidInput, Problem
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus, Text255
from klapka.services.directory.objects import EXTENSION_PARTS
from klapka.services.telephony.registrations import Registrations

KIND = Kind.EXTENSION


class ExtensionSummary(BaseModel):
    """A row of the extension list: who it is and how to reach them, not every setting."""

    number: str
    first_name: str
    last_name: str
    email: str | None
    mobile: str
    enabled: bool
    role: Role
    presence: PresenceStatus
    presence_note: str
    status: Literal["unregistered", "registered", "ringing", "in_call", "unknown"] = Field(
        description="Live from the SIP core: `unregistered`, `registered`, `ringing` (a call "
        "rings one of its phones), `in_call` (in a call, calling out included); `unknown` "
        "when the SIP core is not running."
    )


def _live_status(request: Request, items: list[dict[str, Any]]) -> None:
    """The page's extensions get their live SIP status (one query of the SIP core)."""
    statuses = Registrations(get_pbx(request)).statuses(item["number"] for item in items)
    for item in items:
        item["status"] = statuses[item["number"]]


RESOURCE = Resource(
    kind=KIND,
    path="/extensions",
    model=Extension,
    item=ExtensionSummary,
    title="extension",
    plural="extensions",
    sort_example="`number` (numeric: 99 before 100), `name`, `first_name`, `last_name`, "
    "`email`, `role`, `presence`, `enabled`.",
    search_example="number, name and email.",
    live=_live_status,
)

router = crud_router(RESOURCE)
Number = Annotated[str, Path(description="The extension's number.")]

# --- the User tab -----------------------------------------------------------------------

# The User tab is every top-level setting that is not a tab of its own; the manual presence
# has its own sub-resource (users change it, not their number or role).
PRESENCE_FIELDS = ("presence", "presence_note")
USER_FIELDS = tuple(
    name
    for name in Extension.model_fields
    if name not in EXTENSION_PARTS and name not in PRESENCE_FIELDS
)

ExtensionUser = create_model(  # type: ignore[call-overload]
    "ExtensionUser",
    __config__=ConfigDict(extra="forbid"),
    **{
        name: (Extension.model_fields[name].annotation, Extension.model_fields[name])
        for name in USER_FIELDS
    },
)


# Where each setting that is not on the User tab is changed.
_SEGMENTS = {
    **{name: name.replace("_", "-") for name in EXTENSION_PARTS},
    **dict.fromkeys(PRESENCE_FIELDS, "presence"),
}


def _user_view(extension: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extension.items() if k in USER_FIELDS}


@router.get(
    "/extensions/{number}/user",
    summary="Show the User tab",
    operation_id="get_extension_user",
    responses=responses(ExtensionUser),
)
def get_user(number: Number, objects: ObjectsDep, include_secrets: IncludeSecrets = False) -> Any:
    return _user_view(objects.get(KIND, number, include_secrets))


@router.patch(
    "/extensions/{number}/user",
    summary="Change some of the User tab",
    operation_id="patch_extension_user",
    responses=responses(ExtensionUser),
    openapi_extra=request_body(ExtensionUser, patch=True),
)
def patch_user(number: Number, objects: ObjectsDep, body: JsonBody) -> Any:
    if not isinstance(body, dict):
        raise InvalidInput.one("", "a merge patch must be a JSON object")
    elsewhere = [
        Problem(name, f"not a User tab setting; change it at /extensions/{number}/{segment}")
        if (segment := _SEGMENTS.get(name))
        else Problem(name, "unknown field")
        for name in body
        if name not in USER_FIELDS
    ]
    if elsewhere:
        raise InvalidInput(elsewhere)
    return _user_view(objects.patch(KIND, number, body))


# --- the live SIP status ----------------------------------------------------------------

SipStatus = Literal["unregistered", "registered", "ringing", "in_call", "unknown"]


class ExtensionStatus(BaseModel):
    status: SipStatus = Field(description=ExtensionSummary.model_fields["status"].description)


@router.get(
    "/extensions/{number}/status",
    summary="Show the live SIP status (as in the list)",
    operation_id="get_extension_status",
    responses=responses(ExtensionStatus),
)
def get_status(request: Request, number: Number, objects: ObjectsDep) -> Any:
    objects.get(KIND, number)  # exists, and may be seen by whoever asks
    return {"status": Registrations(get_pbx(request)).statuses([number])[number]}


# --- the manual presence ----------------------------------------------------------------


class ManualPresence(BaseModel):
    """The status the user (or the schedule) set, and a free-text note shown to colleagues."""

    model_config = ConfigDict(extra="forbid")

    status: PresenceStatus
    note: Text255 = ""


class ManualPresencePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PresenceStatus | None = None
    note: Text255 | None = None


def _presence_view(extension: dict[str, Any]) -> dict[str, Any]:
    return {"status": extension["presence"], "note": extension["presence_note"]}


@router.get(
    "/extensions/{number}/presence",
    summary="Show the manual presence status and note",
    operation_id="get_extension_presence",
    responses=responses(ManualPresence),
)
def get_presence(number: Number, objects: ObjectsDep) -> Any:
    return _presence_view(objects.get(KIND, number))


@router.put(
    "/extensions/{number}/presence",
    summary="Set the manual presence status and note",
    description="An omitted note is cleared. The new status's agent auto switch applies.",
    operation_id="replace_extension_presence",
    responses=responses(ManualPresence),
    openapi_extra=request_body(ManualPresence),
)
def put_presence(number: Number, objects: ObjectsDep, body: JsonBody) -> Any:
    wanted = parse_body(ManualPresence, body)
    state = objects.set_presence(number, wanted.status, wanted.note)
    return {"status": state["presence"], "note": state["presence_note"]}


@router.patch(
    "/extensions/{number}/presence",
    summary="Change the manual presence status or note",
    operation_id="patch_extension_presence",
    responses=responses(ManualPresence),
    openapi_extra=request_body(ManualPresencePatch, patch=True),
)
def patch_presence(number: Number, objects: ObjectsDep, body: JsonBody) -> Any:
    wanted = parse_body(ManualPresencePatch, body)
    status = wanted.status or PresenceStatus(objects.get(KIND, number)["presence"])
    state = objects.set_presence(number, status, wanted.note)
    return {"status": state["presence"], "note": state["presence_note"]}


# --- what each status does with calls ---------------------------------------------------

Status = Annotated[PresenceStatus, Path(description="The presence status.")]
OneStatus = StatusSettings | DndSettings


@router.get(
    "/extensions/{number}/presence/{status}",
    summary="Show what one presence status does with calls",
    operation_id="get_extension_status_settings",
    responses=responses(OneStatus),
)
def get_status_settings(number: Number, status: Status, objects: ObjectsDep) -> Any:
    return objects.get_part(KIND, number, f"presence_settings.{status.value}")


@router.put(
    "/extensions/{number}/presence/{status}",
    summary="Replace what one presence status does with calls",
    description="`do_not_disturb` has only forwarding `always` rules and no ring settings.",
    operation_id="replace_extension_status_settings",
    responses=responses(OneStatus),
    openapi_extra=request_body(OneStatus),
)
def put_status_settings(number: Number, status: Status, objects: ObjectsDep, body: JsonBody) -> Any:
    return objects.put_part(KIND, number, f"presence_settings.{status.value}", body)


@router.patch(
    "/extensions/{number}/presence/{status}",
    summary="Change some of what one presence status does with calls",
    operation_id="patch_extension_status_settings",
    responses=responses(OneStatus),
    openapi_extra=request_body(OneStatus, patch=True),
)
def patch_status_settings(
    number: Number, status: Status, objects: ObjectsDep, body: JsonBody
) -> Any:
    return objects.patch_part(KIND, number, f"presence_settings.{status.value}", body)


# --- the other tabs ---------------------------------------------------------------------

for segment, part, model, title, patch in (
    ("presence-settings", "presence_settings", PresenceSettings, "settings of every status", True),
    ("voicemail", "voicemail", Voicemail, "voicemail settings", True),
    ("features", "features", Features, "features", True),
    ("advanced", "advanced", Advanced, "advanced SIP settings", True),
    ("security", "security", Security, "security settings", True),
    ("clients", "clients", Clients, "enabled clients", True),
    ("phones", "phones", list[Phone], "phones (at most 5)", False),
    ("function-keys", "function_keys", list[FunctionKey], "function keys", False),
):
    add_part_routes(
        router, RESOURCE, segment=segment, part=part, model=model, title=title, patch=patch
    )
