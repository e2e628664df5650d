"""The browser session over HTTP, the same for the REST API and the web UI (which is
mounted in the API's app): its cookies (the session and its CSRF token), whether they are
``Secure``, and the caller's address."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response

from klapka.services.accounts.sessions import csrf_token_for

SESSION_COOKIE = "klapka_session"
CSRF_COOKIE = "klapka_csrf"


def source_ip(request: Request) -> str | None:
    """The caller's address: the peer, or the first X-Forwarded-For hop when klapka runs
    behind a proxy it trusts (``KLAPKA_TRUST_PROXY=1``)."""
    if os.environ.get("KLAPKA_TRUST_PROXY") == "1":
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:45]
    return request.client.host[:45] if request.client else None


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or proto == "https"


def secure_cookies(request: Request) -> bool:
    """``Secure`` cookies over HTTPS (or behind a proxy that says so); ``KLAPKA_SECURE_COOKIES``
    = ``always`` or ``never`` overrides, e.g. ``never`` for plain http on a LAN."""
    setting = os.environ.get("KLAPKA_SECURE_COOKIES", "auto").lower()
    if setting in ("always", "1", "true", "yes"):
        return True
    if setting in ("never", "0", "false", "no"):
        return False
    return is_https(request)


def set_session_cookies(
    request: Request, response: Response, session_id: str, max_age: int
) -> None:
    secure = secure_cookies(request)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    # Readable by the page's script, for the X-CSRF-Token header (double submit).
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(session_id),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )


def clear_session_cookies(request: Request, response: Response) -> None:
    secure = secure_cookies(request)
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="lax")
