"""Who is using a page of the web UI: the API's session cookie, checked on every action.

A page is built on an HTTP request that carries the browser's ``klapka_session`` cookie (the
same cookie ``POST /api/v1/auth/login`` sets); its events then arrive over NiceGUI's
websocket. ``Visitor.principal()`` checks the session again for every event (signed out,
expired, idle, disabled: the action fails with ``SessionEnded``), so the UI acts with
exactly the principal the REST API would, and the services' permission checks hold.

Signing in happens in a websocket event, where no cookie can be set: the sign-in page hands
the new session id over through a one-time code that lives for a few seconds in this
process, and ``/ui/auth/complete?code=...`` (a plain HTTP route) sets the cookies.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from klapka.api.auth import SESSION_COOKIE, source_ip
from klapka.domain.problems import KlapkaError
from klapka.services.credentials import ENROLMENT_ONLY, Authenticated, Credentials
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store.repository import now

HANDOFF_SECONDS = 30.0

_handoffs: dict[str, tuple[str, int, float]] = {}
_handoffs_lock = threading.Lock()


def hand_off(session_id: str, max_age: int) -> str:
    """A one-time code that ``take`` turns back into the session id (for the cookie)."""
    code = secrets.token_urlsafe(24)
    deadline = time.monotonic() + HANDOFF_SECONDS
    with _handoffs_lock:
        for stale in [c for c, (_s, _a, d) in _handoffs.items() if d < time.monotonic()]:
            del _handoffs[stale]
        _handoffs[code] = (session_id, max_age, deadline)
    return code


def take(code: str) -> tuple[str, int] | None:
    with _handoffs_lock:
        found = _handoffs.pop(code, None)
    if found is None or found[2] < time.monotonic():
        return None
    return found[0], found[1]


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
            source_ip(request),  # type: ignore[arg-type]
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
