"""An extension's sign-in side, for admins.

GET    /extensions/{number}/account          password set? 2FA? sessions, tokens, lockout
DELETE /extensions/{number}/two-factor       reset the user's two-factor (a lost phone)
DELETE /extensions/{number}/sessions         sign the user out everywhere
DELETE /extensions/{number}/sign-in-lockout  lift the lockout after failed sign-ins
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from klapka.api.auth import Clock, CurrentPrincipal
from klapka.api.crud import responses
from klapka.api.dependencies import get_pbx
from klapka.api.two_factor import TwoFactorStatus
from klapka.services.accounts.two_factor import TwoFactor
from klapka.services.accounts.user_accounts import UserAccounts

router = APIRouter(tags=["extensions"])
Number = Annotated[str, Path(description="The extension's number.")]


class Account(BaseModel):
    extension: str
    email: str | None
    role: str
    enabled: bool
    can_sign_in: bool
    password_set: bool
    two_factor: TwoFactorStatus
    sessions: int
    personal_tokens: int
    locked_until: str | None


class Ended(BaseModel):
    ended: int


class Unlocked(BaseModel):
    unlocked: bool


@router.get(
    "/extensions/{number}/account",
    summary="The user's sign-in: password, two-factor, sessions, tokens, lockout",
    operation_id="get_extension_account",
    responses=responses(Account),
)
def get_account(number: Number, request: Request, principal: CurrentPrincipal, clock: Clock) -> Any:
    return UserAccounts(get_pbx(request), principal, clock).account(number)


@router.delete(
    "/extensions/{number}/two-factor",
    summary="Reset the user's two-factor authentication",
    description="For a lost phone. When two-factor is required, the user enrols again at "
    "the next sign-in.",
    operation_id="reset_extension_two_factor",
    responses=responses(TwoFactorStatus),
)
def reset_two_factor(
    number: Number, request: Request, principal: CurrentPrincipal, clock: Clock
) -> Any:
    return TwoFactor(get_pbx(request), principal, clock).reset(number)


@router.delete(
    "/extensions/{number}/sessions",
    summary="Sign the user out of every browser",
    operation_id="end_extension_sessions",
    responses=responses(Ended),
)
def end_sessions(
    number: Number, request: Request, principal: CurrentPrincipal, clock: Clock
) -> Any:
    return UserAccounts(get_pbx(request), principal, clock).sign_out_everywhere(number)


@router.delete(
    "/extensions/{number}/sign-in-lockout",
    summary="Lift the user's lockout after failed sign-ins",
    operation_id="unlock_extension_sign_in",
    responses=responses(Unlocked),
)
def unlock(number: Number, request: Request, principal: CurrentPrincipal, clock: Clock) -> Any:
    return UserAccounts(get_pbx(request), principal, clock).unlock(number)
