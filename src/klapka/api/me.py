"""Self-service: the signed-in user's own settings, ``/api/v1/me/...``.

    GET /me                               my extension, every setting (secrets masked)
    GET /me/permissions                   the menus to show, the settings I may change
    /me/presence                          my status and note            presence_forwarding
    /me/presence/{status}                 forwarding per status         presence_forwarding
                                          ring stages, timeout, mobile  ring_strategy
    /me/voicemail                         voicemail settings and PIN    voicemail
    /me/notifications                     the notify_* emails           notifications
    /me/caller-rules                      caller rules                  presence_forwarding
    /me/url-popup                         URL popup                     integrations

Each is a path into the extension, read and written through the same service as the admin's
``/extensions/{number}/...``, so validation and errors are identical. The service lets a
user change only settings their *preferences* (client permissions) allow: a change to
anything else is a 403 naming the setting. Admins may change everything.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict

from klapka.api.auth import CurrentPrincipal, current_principal
from klapka.api.crud import JsonBody, ObjectsDep, parse_body, request_body, responses
from klapka.api.dependencies import get_pbx
from klapka.api.extensions import ManualPresence, ManualPresencePatch, OneStatus
from klapka.domain.extension import CallerRule, Extension, UrlPopup, Voicemail
from klapka.domain.problems import Forbidden
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services.permissions import NO_EXTENSION, ClientPermissions
from klapka.services.principal import Principal

router = APIRouter(tags=["me"], dependencies=[Depends(current_principal)])

KIND = Kind.EXTENSION
Status = Annotated[PresenceStatus, Path(description="The presence status.")]


def own(principal: Principal) -> str:
    if principal.extension is None:
        raise Forbidden(NO_EXTENSION)
    return principal.extension


class Permissions(BaseModel):
    menus: dict[str, bool]
    preferences: dict[str, bool]
    contacts: str


class Notifications(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify_password_change: bool = True
    notify_missed_call: bool = False


class NotificationsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify_password_change: bool | None = None
    notify_missed_call: bool | None = None


NOTIFICATION_KEYS = tuple(Notifications.model_fields)
# Limits of the mailbox that only an admin changes: a PUT of the voicemail keeps them.
VOICEMAIL_LIMITS = ("min_message_seconds", "max_message_seconds", "max_messages")


@router.get(
    "/me",
    summary="My extension, every setting (secrets masked)",
    operation_id="get_me",
    responses=responses(Extension),
)
def get_me(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return objects.get(KIND, own(principal))


@router.get(
    "/me/permissions",
    summary="What the portal shows me and what I may change",
    description="The effective client permissions: menus shown, preferences I may edit, "
    "access to company contacts (`none`, `view`, `manage`).",
    operation_id="get_my_permissions",
    responses=responses(Permissions),
)
def get_my_permissions(request: Request, principal: CurrentPrincipal) -> Any:
    own(principal)
    return ClientPermissions(get_pbx(request), principal).mine()


# --- presence -------------------------------------------------------------------------


def _presence(objects: Any, number: str) -> dict[str, Any]:
    ext = objects.get(KIND, number)
    return {"status": ext["presence"], "note": ext["presence_note"]}


@router.get(
    "/me/presence",
    summary="My presence status and note",
    operation_id="get_my_presence",
    responses=responses(ManualPresence),
)
def get_my_presence(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return _presence(objects, own(principal))


@router.put(
    "/me/presence",
    summary="Set my presence status and note",
    description="An omitted note is cleared. Needs the presence_forwarding preference.",
    operation_id="replace_my_presence",
    responses=responses(ManualPresence),
    openapi_extra=request_body(ManualPresence),
)
def put_my_presence(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    wanted = parse_body(ManualPresence, body)
    state = objects.set_presence(own(principal), wanted.status, wanted.note)
    return {"status": state["presence"], "note": state["presence_note"]}


@router.patch(
    "/me/presence",
    summary="Change my presence status or note",
    operation_id="patch_my_presence",
    responses=responses(ManualPresence),
    openapi_extra=request_body(ManualPresencePatch, patch=True),
)
def patch_my_presence(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    number = own(principal)
    wanted = parse_body(ManualPresencePatch, body)
    status = wanted.status or PresenceStatus(objects.get(KIND, number)["presence"])
    state = objects.set_presence(number, status, wanted.note)
    return {"status": state["presence"], "note": state["presence_note"]}


@router.get(
    "/me/presence/{status}",
    summary="What one of my presence statuses does with calls",
    operation_id="get_my_status_settings",
    responses=responses(OneStatus),
)
def get_my_status(status: Status, principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return objects.get_part(KIND, own(principal), f"presence_settings.{status.value}")


@router.put(
    "/me/presence/{status}",
    summary="Replace what one of my presence statuses does with calls",
    description="Forwarding needs the presence_forwarding preference; ring_first, "
    "ring_second, ring_timeout and ring_mobile need ring_strategy. Omitted settings take "
    "their defaults, which counts as a change: PATCH changes only what it names.",
    operation_id="replace_my_status_settings",
    responses=responses(OneStatus),
    openapi_extra=request_body(OneStatus),
)
def put_my_status(
    status: Status, principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody
) -> Any:
    return objects.put_part(KIND, own(principal), f"presence_settings.{status.value}", body)


@router.patch(
    "/me/presence/{status}",
    summary="Change some of what one of my presence statuses does with calls",
    operation_id="patch_my_status_settings",
    responses=responses(OneStatus),
    openapi_extra=request_body(OneStatus, patch=True),
)
def patch_my_status(
    status: Status, principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody
) -> Any:
    return objects.patch_part(KIND, own(principal), f"presence_settings.{status.value}", body)


# --- voicemail ------------------------------------------------------------------------


@router.get(
    "/me/voicemail",
    summary="My voicemail settings (the PIN masked)",
    operation_id="get_my_voicemail",
    responses=responses(Voicemail),
)
def get_my_voicemail(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return objects.get_part(KIND, own(principal), "voicemail")


@router.put(
    "/me/voicemail",
    summary="Replace my voicemail settings",
    description="An omitted or `********` PIN is kept. The mailbox limits "
    "(min/max_message_seconds, max_messages) are the admin's: omitted, they are kept.",
    operation_id="replace_my_voicemail",
    responses=responses(Voicemail),
    openapi_extra=request_body(Voicemail),
)
def put_my_voicemail(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    number = own(principal)
    if isinstance(body, dict):
        current = objects.get_part(KIND, number, "voicemail")
        body = {**{k: current[k] for k in VOICEMAIL_LIMITS}, **body}
    return objects.put_part(KIND, number, "voicemail", body)


@router.patch(
    "/me/voicemail",
    summary="Change some of my voicemail settings (e.g. the PIN)",
    operation_id="patch_my_voicemail",
    responses=responses(Voicemail),
    openapi_extra=request_body(Voicemail, patch=True),
)
def patch_my_voicemail(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    return objects.patch_part(KIND, own(principal), "voicemail", body)


# --- notifications --------------------------------------------------------------------


def _notifications(features: dict[str, Any]) -> dict[str, Any]:
    return {k: features[k] for k in NOTIFICATION_KEYS}


@router.get(
    "/me/notifications",
    summary="My email notifications",
    operation_id="get_my_notifications",
    responses=responses(Notifications),
)
def get_my_notifications(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return _notifications(objects.get_part(KIND, own(principal), "features"))


@router.put(
    "/me/notifications",
    summary="Set my email notifications",
    operation_id="replace_my_notifications",
    responses=responses(Notifications),
    openapi_extra=request_body(Notifications),
)
def put_my_notifications(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    wanted = parse_body(Notifications, body).model_dump()
    return _notifications(objects.patch_part(KIND, own(principal), "features", wanted))


@router.patch(
    "/me/notifications",
    summary="Change some of my email notifications",
    operation_id="patch_my_notifications",
    responses=responses(Notifications),
    openapi_extra=request_body(NotificationsPatch, patch=True),
)
def patch_my_notifications(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    wanted = parse_body(NotificationsPatch, body).model_dump(exclude_none=True)
    return _notifications(objects.patch_part(KIND, own(principal), "features", wanted))


# --- caller rules and URL popup --------------------------------------------------------


@router.get(
    "/me/caller-rules",
    summary="My caller rules",
    operation_id="get_my_caller_rules",
    responses=responses(list[CallerRule]),
)
def get_my_caller_rules(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return objects.get_part(KIND, own(principal), "features.caller_rules")


@router.put(
    "/me/caller-rules",
    summary="Replace my caller rules (checked in order, first match wins)",
    operation_id="replace_my_caller_rules",
    responses=responses(list[CallerRule]),
    openapi_extra=request_body(list[CallerRule]),
)
def put_my_caller_rules(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    return objects.put_part(KIND, own(principal), "features.caller_rules", body)


@router.get(
    "/me/url-popup",
    summary="My URL popup",
    operation_id="get_my_url_popup",
    responses=responses(UrlPopup),
)
def get_my_url_popup(principal: CurrentPrincipal, objects: ObjectsDep) -> Any:
    return objects.get_part(KIND, own(principal), "features.url_popup")


@router.put(
    "/me/url-popup",
    summary="Replace my URL popup",
    operation_id="replace_my_url_popup",
    responses=responses(UrlPopup),
    openapi_extra=request_body(UrlPopup),
)
def put_my_url_popup(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    return objects.put_part(KIND, own(principal), "features.url_popup", body)


@router.patch(
    "/me/url-popup",
    summary="Change some of my URL popup",
    operation_id="patch_my_url_popup",
    responses=responses(UrlPopup),
    openapi_extra=request_body(UrlPopup, patch=True),
)
def patch_my_url_popup(principal: CurrentPrincipal, objects: ObjectsDep, body: JsonBody) -> Any:
    return objects.patch_part(KIND, own(principal), "features.url_popup", body)
