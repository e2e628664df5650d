"""Client permissions (admins): the rules, their order, and "what does user X see".

    /client-permissions                       list (in evaluation order), create (appended)
    /client-permissions/{name}                show, replace, change, delete
    /client-permissions/{name}/position       where the rule is evaluated (1 = first)
    /client-permissions/preview/{number}      the effect of every rule on one user

Rules are evaluated top-down; for each question (a menu, an extension, contacts, a
preference) the first rule that targets the user and answers it decides. See
``docs/accounts.md``.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field

from klapka.api.auth import CurrentPrincipal
from klapka.api.crud import JsonBody, Resource, crud_router, parse_body, request_body, responses
from klapka.api.dependencies import get_pbx
from klapka.domain.permissions import ClientPermission
from klapka.domain.references import Kind
from klapka.services.permissions import ClientPermissions

RESOURCE = Resource(
    kind=Kind.CLIENT_PERMISSION,
    path="/client-permissions",
    model=ClientPermission,
    title="client permission",
    plural="client permissions",
    sort_example="`position` (the order rules are evaluated in; the default), `name`.",
    search_example="name.",
)

router = crud_router(RESOURCE)
Name = Annotated[str, Path(description="The rule's name.")]


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Annotated[int, Field(ge=1, description="1 = evaluated first.")]


class RulePosition(Position):
    name: str


class Decisions(BaseModel):
    menus: dict[str, str | None]
    preferences: dict[str, str | None]
    contacts: str | None


class VisibleExtensions(BaseModel):
    visible: int
    hidden: list[str]


class PermissionPreview(BaseModel):
    """What the user of one extension sees and may change, and which rule decided it
    (``null``: the default)."""

    extension: str
    role: str
    groups: list[str]
    matching_rules: list[str]
    menus: dict[str, bool]
    preferences: dict[str, bool]
    contacts: str
    decided_by: Decisions
    extensions: VisibleExtensions


@router.get(
    "/client-permissions/{name}/position",
    summary="Where a rule is evaluated",
    operation_id="get_client_permission_position",
    responses=responses(RulePosition),
)
def get_position(name: Name, request: Request, principal: CurrentPrincipal) -> Any:
    return ClientPermissions(get_pbx(request), principal).position(name)


@router.put(
    "/client-permissions/{name}/position",
    summary="Move a rule (1 = evaluated first)",
    operation_id="move_client_permission",
    responses=responses(RulePosition),
    openapi_extra=request_body(Position),
)
def move(name: Name, request: Request, principal: CurrentPrincipal, body: JsonBody) -> Any:
    wanted = parse_body(Position, body)
    return ClientPermissions(get_pbx(request), principal).move(name, wanted.position)


@router.get(
    "/client-permissions/preview/{number}",
    summary="What the user of an extension sees and may change",
    description="Admins have every permission; for a user, each answer names the rule that "
    "decided it (null: the default).",
    operation_id="preview_client_permissions",
    responses=responses(PermissionPreview),
)
def preview(
    number: Annotated[str, Path(description="The extension's number.")],
    request: Request,
    principal: CurrentPrincipal,
) -> Any:
    return ClientPermissions(get_pbx(request), principal).preview(number)
