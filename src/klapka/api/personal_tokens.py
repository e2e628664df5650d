"""My personal API tokens: ``/api/v1/auth/tokens``.

Made by a signed-in user (or by one of their tokens, never with more scopes than it has),
shown once, revocable. Scopes: ``read`` (safe methods only), ``write`` (everything),
``admin`` (an admin's token acting as admin).
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel

from klapka.api.auth import Clock, CurrentPrincipal, current_principal
from klapka.api.crud import JsonBody, request_body
from klapka.api.dependencies import get_pbx
from klapka.api.errors import ERROR_RESPONSES
from klapka.api.limits import Id
from klapka.services.accounts.personal_tokens import NewToken, PersonalTokens

router = APIRouter(tags=["sign-in"], dependencies=[Depends(current_principal)])


class TokenItem(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: str
    last_used_at: str | None
    expires_at: str | None


class CreatedToken(TokenItem):
    token: str  # shown only in this answer


@router.post(
    "/auth/tokens",
    summary="Make a personal API token",
    description="The token is in the answer, once: it is stored only as a digest. Default "
    "scopes: read and write.",
    operation_id="create_personal_token",
    status_code=201,
    responses={201: {"model": CreatedToken}, **ERROR_RESPONSES},
    openapi_extra=request_body(NewToken),
)
def create_token(
    request: Request, principal: CurrentPrincipal, clock: Clock, body: JsonBody
) -> Any:
    return PersonalTokens(get_pbx(request), clock).create(principal, body)


@router.get(
    "/auth/tokens",
    summary="My personal API tokens (without their values)",
    operation_id="list_personal_tokens",
    responses={200: {"model": list[TokenItem]}, **ERROR_RESPONSES},
)
def list_tokens(request: Request, principal: CurrentPrincipal, clock: Clock) -> Any:
    return PersonalTokens(get_pbx(request), clock).list(principal)


@router.delete(
    "/auth/tokens/{id}",
    summary="Revoke one of my personal API tokens",
    operation_id="revoke_personal_token",
    status_code=204,
    responses=ERROR_RESPONSES,
)
def revoke_token(
    request: Request,
    principal: CurrentPrincipal,
    clock: Clock,
    token: Annotated[Id, Path(alias="id", description="The token's id.")],
) -> Response:
    PersonalTokens(get_pbx(request), clock).revoke(principal, token)
    return Response(status_code=204)
