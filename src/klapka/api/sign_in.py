"""Signing in and out, the session, and the password: ``/api/v1/auth/...``.

POST /auth/login                   email + password -> session cookie, or a 2FA challenge
POST /auth/login/second-factor     challenge + TOTP or recovery code -> session cookie
POST /auth/logout                  end this session
GET  /auth/session                 who is signed in; the CSRF token for unsafe requests
GET  /auth/sessions                my signed-in browsers; DELETE /auth/sessions/{id}
POST /auth/password                change my password (needs the current one)
POST /auth/password-reset          email me a reset link (always 202)
POST /auth/password-reset/confirm  set a new password with the link's token
"""

# No ``from __future__ import annotations``: see crud.py.

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from klapka.api.auth import Clock, SignedIn, current_principal
from klapka.api.crud import JsonBody, request_body
from klapka.api.dependencies import get_pbx
from klapka.api.errors import ERROR_RESPONSES, ErrorBody
from klapka.api.limits import Id
from klapka.domain.problems import InvalidInput
from klapka.http_session import (
    SESSION_COOKIE,
    clear_session_cookies,
    set_session_cookies,
    source_ip,
)
from klapka.services.accounts.sessions import Sessions, csrf_token_for
from klapka.services.accounts.sign_in import SignIn, SignInResult
from klapka.services.accounts.user_passwords import UserPasswords

router = APIRouter(tags=["sign-in"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


class SecondFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge: str = Field(min_length=1, description="From the answer to POST /auth/login.")
    code: str = Field(
        min_length=1, description="The 6 digits of the authenticator app, or a recovery code."
    )


class SignInAnswer(BaseModel):
    """``signed_in``: the session cookie is set. ``second_factor_required``: answer the
    ``challenge`` at /auth/login/second-factor. ``enrolment_required``: signed in only to
    enrol in two-factor authentication (/auth/two-factor/enrolment)."""

    status: Literal["signed_in", "second_factor_required", "enrolment_required"]
    extension: str | None = None
    role: str | None = None
    expires_at: str
    csrf_token: str | None = None
    challenge: str | None = None
    methods: list[str] = []


class SessionAnswer(BaseModel):
    method: Literal["session", "token"]
    name: str
    role: str
    extension: str | None
    state: Literal["active", "enrolment"]
    csrf_token: str | None = None
    expires_at: str | None = None
    scopes: list[str] = []


class SessionItem(BaseModel):
    id: int
    state: str
    created_at: str
    last_seen_at: str
    expires_at: str
    source_ip: str | None
    user_agent: str | None
    current: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str
    new_password: str = Field(
        description="10-63 characters with digits, upper- and lower-case letters; not the "
        "extension number or your name."
    )


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=255)


class ResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, description="From the link in the email (after #token=).")
    new_password: str = Field(min_length=1)


class Accepted(BaseModel):
    message: str


def _answer(
    request: Request, response: Response, result: SignInResult, at: datetime
) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": result.status, "expires_at": result.expires_at.isoformat()}
    if result.challenge is not None:
        answer["challenge"] = result.challenge
        answer["methods"] = ["totp", "recovery_code"]
        return answer
    assert result.session_id is not None
    max_age = max(1, int((result.expires_at - at).total_seconds()))
    set_session_cookies(request, response, result.session_id, max_age)
    answer.update(
        extension=result.extension,
        role=result.role,
        csrf_token=csrf_token_for(result.session_id),
    )
    return answer


_SIGN_IN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SignInAnswer},
    401: {"model": ErrorBody, "description": "Wrong email or password (or code)"},
    422: ERROR_RESPONSES[422],
    429: {"model": ErrorBody, "description": "Locked out for a while; see Retry-After"},
}


@router.post(
    "/auth/login",
    summary="Sign in with email and password",
    description="Sets the session cookie (`klapka_session`, HttpOnly, SameSite=Lax, Secure "
    "over HTTPS). With two-factor authentication on, answers a challenge instead: finish at "
    "`/auth/login/second-factor`. Every failure is the same 401, whether or not the account "
    "exists; too many failures lock the account and the address out for a while (429).",
    operation_id="sign_in",
    responses=_SIGN_IN_RESPONSES,
    openapi_extra=request_body(Credentials),
)
def sign_in(request: Request, response: Response, clock: Clock, body: JsonBody) -> Any:
    result = SignIn(get_pbx(request), clock).password(
        body, source_ip(request), request.headers.get("user-agent")
    )
    return _answer(request, response, result, clock())


@router.post(
    "/auth/login/second-factor",
    summary="Finish signing in with a TOTP or recovery code",
    operation_id="sign_in_second_factor",
    responses=_SIGN_IN_RESPONSES,
    openapi_extra=request_body(SecondFactor),
)
def sign_in_second_factor(
    request: Request, response: Response, clock: Clock, body: JsonBody
) -> Any:
    result = SignIn(get_pbx(request), clock).second_factor(
        body, source_ip(request), request.headers.get("user-agent")
    )
    return _answer(request, response, result, clock())


@router.post(
    "/auth/logout",
    summary="Sign out (end this browser session)",
    description="With an API token there is no session to end: nothing happens.",
    operation_id="sign_out",
    status_code=204,
    responses=ERROR_RESPONSES,
)
def sign_out(request: Request, authenticated: SignedIn, clock: Clock) -> Response:
    response = Response(status_code=204)
    session_id = request.cookies.get(SESSION_COOKIE)
    if authenticated.method == "session" and session_id:
        SignIn(get_pbx(request), clock).sign_out(session_id)
        clear_session_cookies(request, response)
    return response


@router.get(
    "/auth/session",
    summary="Who is signed in, and the CSRF token",
    description="For a browser session, `csrf_token` goes in the `X-CSRF-Token` header of "
    "every POST, PUT, PATCH and DELETE.",
    operation_id="get_session",
    responses={200: {"model": SessionAnswer}, **ERROR_RESPONSES},
)
def get_session(request: Request, authenticated: SignedIn) -> Any:
    p = authenticated.principal
    info = authenticated.session
    state = info.state if info is not None else "active"
    session_id = request.cookies.get(SESSION_COOKIE) if info is not None else None
    return {
        "method": authenticated.method,
        "name": p.name,
        "role": info.role if info is not None else p.role,
        "extension": p.extension,
        "state": state,
        "csrf_token": csrf_token_for(session_id) if session_id else None,
        "expires_at": min(info.expires_at, info.idle_expires_at).isoformat() if info else None,
        "scopes": sorted(p.scopes) if authenticated.method == "token" else [],
    }


@router.get(
    "/auth/sessions",
    summary="My signed-in browsers",
    operation_id="list_sessions",
    dependencies=[Depends(current_principal)],
    responses={200: {"model": list[SessionItem]}, **ERROR_RESPONSES},
)
def list_sessions(request: Request, authenticated: SignedIn, clock: Clock) -> Any:
    current = authenticated.session.id if authenticated.session else None
    return Sessions(get_pbx(request), clock).list(authenticated.principal, current_id=current)


@router.delete(
    "/auth/sessions/{id}",
    summary="Sign one of my browsers out",
    operation_id="delete_session",
    status_code=204,
    dependencies=[Depends(current_principal)],
    responses=ERROR_RESPONSES,
)
def delete_session(
    request: Request,
    authenticated: SignedIn,
    clock: Clock,
    session: Annotated[Id, Path(alias="id", description="The session's id.")],
) -> Response:
    if not Sessions(get_pbx(request), clock).revoke(authenticated.principal, session):
        raise HTTPException(404, f"session {session} does not exist")
    return Response(status_code=204)


@router.post(
    "/auth/password",
    summary="Change my password",
    description="Needs the current password. Signs out every other browser of mine; emails "
    "me that the password changed (unless features.notify_password_change is off).",
    operation_id="change_password",
    status_code=204,
    dependencies=[Depends(current_principal)],
    responses={**ERROR_RESPONSES, 429: _SIGN_IN_RESPONSES[429]},
    openapi_extra=request_body(PasswordChange),
)
def change_password(
    request: Request, authenticated: SignedIn, clock: Clock, body: JsonBody
) -> Response:
    keep = authenticated.session.id if authenticated.session else None
    UserPasswords(get_pbx(request), clock).change(authenticated.principal, body, keep)
    return Response(status_code=204)


@router.post(
    "/auth/password-reset",
    summary="Email me a link to reset my password",
    description="Always 202, whether or not an account has this email: the answer says "
    "nothing about who has an account. The link works once, for an hour.",
    operation_id="request_password_reset",
    status_code=202,
    responses={202: {"model": Accepted}, 422: ERROR_RESPONSES[422]},
    openapi_extra=request_body(ResetRequest),
)
def request_password_reset(
    request: Request, background: BackgroundTasks, clock: Clock, body: JsonBody
) -> Any:
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip() or len(email) > 255:
        raise InvalidInput.one("email", "required: the email of your account")
    # After the answer: how long the work takes must not tell whether the account exists.
    background.add_task(
        UserPasswords(get_pbx(request), clock).request_reset, email, source_ip(request)
    )
    return {"message": "if an account has this email, a link to reset its password is on its way"}


@router.post(
    "/auth/password-reset/confirm",
    summary="Set a new password with the token of a reset link",
    description="Signs the account out everywhere. A password that breaks the policy is a "
    "422 naming new_password, and the link still works.",
    operation_id="confirm_password_reset",
    status_code=204,
    responses={422: ERROR_RESPONSES[422]},
    openapi_extra=request_body(ResetConfirm),
)
def confirm_password_reset(request: Request, clock: Clock, body: JsonBody) -> Response:
    UserPasswords(get_pbx(request), clock).confirm_reset(body, source_ip(request))
    return Response(status_code=204)
