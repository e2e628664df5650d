"""From a credential to a principal: who a request acts for.

Two kinds of credential: an API token (``Authorization: Bearer``: an admin token made by
``klapka init`` / ``klapka token create``, or a user's personal token) and a browser
session (a cookie). Each becomes a ``Principal``; the permission checks take it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from klapka.domain.accounts import Scope
from klapka.services.accounts.personal_tokens import TOKEN_PREFIX, PersonalTokens
from klapka.services.accounts.sessions import ENROLMENT, SessionInfo, Sessions
from klapka.services.accounts.tokens import Tokens
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal

# The scope of a session that may only enrol in two-factor authentication (and sign out).
ENROLMENT_ONLY = "two_factor_enrolment"


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    method: str  # "token" | "session"
    session: SessionInfo | None = None


class Credentials:
    def __init__(self, pbx: Pbx, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.clock = clock

    def token(self, token: str, source_ip: str | None) -> Authenticated | None:
        if token.startswith(TOKEN_PREFIX):
            personal = PersonalTokens(self.pbx, self.clock).verify(token)
            if personal is None:
                return None
            acts_as_admin = personal.role == "admin" and Scope.ADMIN.value in personal.scopes
            return Authenticated(
                Principal(
                    role="admin" if acts_as_admin else "user",
                    extension=personal.extension,
                    name=f"extension {personal.extension} (token {personal.name})",
                    source_ip=source_ip,
                    token_id=personal.id,
                    scopes=personal.scopes,
                ),
                "token",
            )
        info = Tokens(self.pbx).verify(token)
        if info is None:
            return None
        # An admin token belongs to no extension; one with another role may do nothing.
        return Authenticated(
            Principal(
                role=info.role if info.role == "admin" else "none",
                name=f"token {info.name}",
                source_ip=source_ip,
                token_id=info.id,
            ),
            "token",
        )

    def session(self, session_id: str, source_ip: str | None) -> Authenticated | None:
        info = Sessions(self.pbx, self.clock).verify(session_id)
        if info is None:
            return None
        enrolling = info.state == ENROLMENT
        # Until the second factor is enrolled an admin has no admin rights, whatever the route.
        return Authenticated(
            Principal(
                role="admin" if info.role == "admin" and not enrolling else "user",
                extension=info.extension,
                name=f"extension {info.extension}",
                source_ip=source_ip,
                scopes=frozenset({ENROLMENT_ONLY}) if enrolling else frozenset(),
            ),
            "session",
            info,
        )
