"""My two-factor authentication (TOTP): ``/api/v1/auth/two-factor``.

    GET  /auth/two-factor                     on? required? recovery codes left?
    POST /auth/two-factor/enrolment           a new secret, its otpauth:// URI and QR code
    GET  /auth/two-factor/enrolment/qr.png    the QR code as an image
    POST /auth/two-factor/enrolment/confirm   a code from the app turns it on -> 10 recovery codes
    POST /auth/two-factor/recovery-codes      10 new recovery codes (needs the password)
    POST /auth/two-factor/disable             turn it off (needs the password; not when required)

A session that must enrol before anything else reaches these (and sign-out) only.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from klapka.api.auth import Clock, EnrollingPrincipal, SignedIn
from klapka.api.crud import JsonBody, request_body
from klapka.api.dependencies import get_pbx
from klapka.api.errors import ERROR_RESPONSES
from klapka.services.accounts.sessions import ENROLMENT, Sessions
from klapka.services.accounts.two_factor import TwoFactor

router = APIRouter(tags=["sign-in"])


class TwoFactorStatus(BaseModel):
    enrolled: bool
    enrolling: bool
    required: bool
    recovery_codes_left: int


class Enrolment(BaseModel):
    secret: str
    otpauth_uri: str
    qr_code_png: str  # base64


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str


class Password(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None


@router.get(
    "/auth/two-factor",
    summary="My two-factor authentication",
    operation_id="get_two_factor",
    responses={200: {"model": TwoFactorStatus}, **ERROR_RESPONSES},
)
def get_two_factor(request: Request, principal: EnrollingPrincipal, clock: Clock) -> Any:
    return TwoFactor(get_pbx(request), principal, clock).status()


@router.post(
    "/auth/two-factor/enrolment",
    summary="Start enrolling: a new secret for the authenticator app",
    description="Scan `qr_code_png` (or type `secret`) into the app, then confirm with a code. "
    "Starting again replaces a secret not confirmed yet.",
    operation_id="start_two_factor_enrolment",
    responses={200: {"model": Enrolment}, **ERROR_RESPONSES},
)
def start_enrolment(request: Request, principal: EnrollingPrincipal, clock: Clock) -> Any:
    return TwoFactor(get_pbx(request), principal, clock).start()


@router.get(
    "/auth/two-factor/enrolment/qr.png",
    summary="The QR code of the enrolment in progress",
    operation_id="get_two_factor_qr_code",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **ERROR_RESPONSES},
)
def enrolment_qr(request: Request, principal: EnrollingPrincipal, clock: Clock) -> Response:
    png = TwoFactor(get_pbx(request), principal, clock).qr_png()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post(
    "/auth/two-factor/enrolment/confirm",
    summary="Turn two-factor on with a code from the app",
    description="Answers 10 single-use recovery codes, shown only here. A session that was "
    "signed in only to enrol becomes a full session.",
    operation_id="confirm_two_factor_enrolment",
    responses={200: {"model": RecoveryCodes}, **ERROR_RESPONSES},
    openapi_extra=request_body(Code),
)
def confirm_enrolment(
    request: Request, authenticated: SignedIn, clock: Clock, body: JsonBody
) -> Any:
    pbx = get_pbx(request)
    codes = TwoFactor(pbx, authenticated.principal, clock).confirm(_field(body, "code"))
    if authenticated.session is not None and authenticated.session.state == ENROLMENT:
        Sessions(pbx, clock).activate(authenticated.session.id)
    return codes


@router.post(
    "/auth/two-factor/recovery-codes",
    summary="Make 10 new recovery codes (the old ones stop working)",
    operation_id="new_recovery_codes",
    responses={200: {"model": RecoveryCodes}, **ERROR_RESPONSES},
    openapi_extra=request_body(Password),
)
def new_recovery_codes(
    request: Request, principal: EnrollingPrincipal, clock: Clock, body: JsonBody
) -> Any:
    return TwoFactor(get_pbx(request), principal, clock).new_recovery_codes(
        _field(body, "password")
    )


@router.post(
    "/auth/two-factor/disable",
    summary="Turn two-factor off",
    description="Needs the password. Refused (403) when an admin requires two-factor.",
    operation_id="disable_two_factor",
    status_code=204,
    responses=ERROR_RESPONSES,
    openapi_extra=request_body(Password),
)
def disable(
    request: Request, principal: EnrollingPrincipal, clock: Clock, body: JsonBody
) -> Response:
    TwoFactor(get_pbx(request), principal, clock).disable(_field(body, "password"))
    return Response(status_code=204)
