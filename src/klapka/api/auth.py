"""Who is calling the API: a browser session (cookie) or an API token (bearer), as a principal.

``current_principal`` turns the request's credential into a ``Principal`` (or answers 401)
and enforces what belongs to the transport, not to the services:

- a session cookie on an unsafe method (POST, PUT, PATCH, DELETE) needs the session's CSRF
  token in ``X-CSRF-Token`` (``GET /api/v1/auth/session`` gives it; it is also in the
  ``klapka_csrf`` cookie, readable by the page's script): double submit;
- a personal token without the ``write`` scope may only read;
- a session that must first enrol in two-factor authentication reaches only
  ``/api/v1/auth/...`` (``enrolling_principal`` lets it in there).

``require_admin`` is attached once, to every admin router, where the app includes them
(``app.PROTECTED_ROUTERS``), so a new resource module cannot forget it. The few operations on
those routers that users may call too (the extension list and read, which the services
filter by visibility) are named in ``USER_OPERATIONS``. What a principal may see and change
is decided by the services (``klapka.services.permissions``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from klapka.api.dependencies import get_pbx
from klapka.domain.accounts import Scope
from klapka.http_session import SESSION_COOKIE, source_ip
from klapka.services.accounts.credentials import ENROLMENT_ONLY, Authenticated, Credentials
from klapka.services.accounts.sessions import csrf_token_for
from klapka.services.principal import Principal
from klapka.store.repository import now

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Operations of admin routers that every signed-in user may call: the services show a user
# only the extensions they may see (a hidden one is a 404), and only a summary of others.
USER_OPERATIONS = frozenset({"list_extensions", "get_extension"})

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An API token: an admin token (`klapka init` prints one) or a personal token "
    "(`POST /api/v1/auth/tokens`). Send `Authorization: Bearer <token>`.",
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="Session",
    description="The browser session cookie set by `POST /api/v1/auth/login`. Unsafe methods "
    f"also need the `{CSRF_HEADER}` header (`GET /api/v1/auth/session` gives the token).",
)

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_clock(request: Request) -> Callable[[], datetime]:
    """The one clock of the accounts services; tests set ``app.state.clock``."""
    clock: Callable[[], datetime] = getattr(request.app.state, "clock", now)
    return clock


def _authenticate(request: Request, token: str | None, session_id: str | None) -> Authenticated:
    cached: Authenticated | None = getattr(request.state, "authenticated", None)
    if cached is not None:
        return cached
    credentials = Credentials(get_pbx(request), get_clock(request))
    ip = source_ip(request)
    if token is not None:
        found = credentials.token(token, ip)
        if found is None:
            raise HTTPException(401, "the API token is unknown or revoked (or expired)", CHALLENGE)
        scopes = found.principal.scopes
        if scopes:  # a personal token: only what its scopes allow
            unsafe = request.method not in SAFE_METHODS
            needed = {Scope.WRITE.value} if unsafe else {Scope.READ.value, Scope.WRITE.value}
            if scopes.isdisjoint(needed):
                raise HTTPException(
                    403,
                    "this token may only read (it has no write scope)"
                    if unsafe
                    else "this token has neither the read nor the write scope",
                )
    elif session_id is not None:
        found = credentials.session(session_id, ip)
        if found is None:
            raise HTTPException(401, "the session has ended: sign in again", CHALLENGE)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token_for(session_id).encode()):
                raise HTTPException(
                    403,
                    f"send the session's CSRF token in the {CSRF_HEADER} header "
                    "(GET /api/v1/auth/session gives it)",
                )
    else:
        raise HTTPException(
            401, "sign in, or send an API token: Authorization: Bearer <token>", CHALLENGE
        )
    request.state.authenticated = found
    request.state.principal = found.principal
    return found


def signed_in(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_id: Annotated[str | None, Depends(session_cookie)],
) -> Authenticated:
    """The request's credential, checked (401 without one)."""
    token = credentials.credentials if credentials is not None else None
    return _authenticate(request, token, session_id)


async def enrolling_principal(
    authenticated: Annotated[Authenticated, Depends(signed_in)],
) -> Principal:
    """Anyone signed in, including a session that may only enrol in two-factor."""
    return authenticated.principal


async def current_principal(
    authenticated: Annotated[Authenticated, Depends(signed_in)],
) -> Principal:
    """Anyone signed in and done signing in."""
    principal = authenticated.principal
    if ENROLMENT_ONLY in principal.scopes:
        raise HTTPException(
            403,
            "two-factor authentication is required for your account: enrol first "
            "(POST /api/v1/auth/two-factor/enrolment)",
        )
    return principal


async def require_admin(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Principal:
    if principal.is_admin:
        return principal
    route = request.scope.get("route")
    if getattr(route, "operation_id", None) in USER_OPERATIONS:
        return principal
    if principal.extension is None:
        raise HTTPException(403, "this API token is not an admin token")
    raise HTTPException(403, "only an admin may do this")


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
EnrollingPrincipal = Annotated[Principal, Depends(enrolling_principal)]
SignedIn = Annotated[Authenticated, Depends(signed_in)]
Clock = Annotated[Callable[[], datetime], Depends(get_clock)]
