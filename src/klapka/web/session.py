"""Who is using a page of the web UI: the API's session cookie, checked on every action.

A page is built on an HTTP request that carries the browser's ``klapka_session`` cookie (the
same cookie ``POST /api/v1/auth/login`` sets); its events then arrive over NiceGUI's
websocket. ``Visitor.principal()`` checks the session again for every event (signed out,
expired, idle, disabled: the action fails with ``SessionEnded``), so the UI acts with
exactly the principal the REST API would, and the services' permission checks hold.

Signing in happens in a websocket event, where no cookie can be set: the sign-in page hands
the new session id over through a one-time code that lives for a few seconds in this
process, and ``/ui/auth/complete?code=...`` (a plain HTTP route) sets the cookies. The code
is bound to the browser that opened the sign-in page (its ``klapka_sign_in`` cookie, set
with that page), so a code sent to another browser signs nobody in there (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request

from klapka.domain.problems import KlapkaError
from klapka.http_session import SESSION_COOKIE, source_ip
from klapka.services.accounts.credentials import ENROLMENT_ONLY, Authenticated, Credentials
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store.repository import now

HANDOFF_SECONDS = 30.0
BROWSER_COOKIE = "klapka_sign_in"  # which browser opened the sign-in page

_handoffs: dict[str, tuple[str, int, float, str]] = {}
_handoffs_lock = threading.Lock()


def hand_off(session_id: str, max_age: int, browser: str) -> str:
    """A one-time code that ``take`` turns back into the session id (for the cookie), in
    the browser ``browser`` (the sign-in page's ``klapka_sign_in`` cookie) only."""
    code = secrets.token_urlsafe(24)
    deadline = time.monotonic() + HANDOFF_SECONDS
    with _handoffs_lock:
        for stale in [c for c, found in _handoffs.items() if found[2] < time.monotonic()]:
            del _handoffs[stale]
        _handoffs[code] = (session_id, max_age, deadline, browser)
    return code


def take(code: str, browser: str | None) -> tuple[str, int] | None:
    with _handoffs_lock:
        found = _handoffs.pop(code, None)
    if found is None or found[2] < time.monotonic() or not browser:
        return None
    if not hmac.compare_digest(found[3].encode(), browser.encode()):
        return None
    return found[0], found[1]


class BrowserCookie:
    """Gives the browser that asks for the sign-in page a random ``klapka_sign_in`` cookie
    (kept if it has one) and tells the page its value (``scope["state"]``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").endswith("/sign-in"):
            await self.app(scope, receive, send)
            return
        cookie = Request(scope).cookies.get(BROWSER_COOKIE)
        value = cookie if cookie and len(cookie) <= 64 else secrets.token_urlsafe(24)
        scope.setdefault("state", {})[BROWSER_COOKIE] = value

        async def with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start" and value != cookie:
                header = f"{BROWSER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", header.encode())]
            await send(message)

        await self.app(scope, receive, with_cookie)


class SessionEnded(KlapkaError):
    """The browser's session is gone (signed out, expired, idle): sign in again."""


@dataclass
class Visitor:
    """The browser behind one page: its session id (from the cookie) and address."""

    pbx: Pbx
    session_id: str | None
    source_ip: str | None
    user_agent: str | None
    clock: Callable[[], datetime] = now

    @classmethod
    def of(cls, request: Request, pbx: Pbx, clock: Callable[[], datetime] = now) -> Visitor:
        return cls(
            pbx,
            request.cookies.get(SESSION_COOKIE),
            source_ip(request),
            request.headers.get("user-agent"),
            clock,
        )

    def authenticated(self) -> Authenticated | None:
        if not self.session_id:
            return None
        return Credentials(self.pbx, self.clock).session(self.session_id, self.source_ip)

    def principal(self) -> Principal:
        """The signed-in principal, checked now; SessionEnded when there is none."""
        found = self.authenticated()
        if found is None or ENROLMENT_ONLY in found.principal.scopes:
            raise SessionEnded("the session has ended: sign in again")
        return found.principal
