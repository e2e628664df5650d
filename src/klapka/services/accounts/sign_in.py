"""Signing in with email and password, then a second factor when the user has one.

``password`` checks the email and password and answers one of: signed in (a session),
second factor required (a short-lived challenge to answer with a TOTP or recovery code), or
enrolment required (two-factor is required but not set up yet: a session that may only
enrol). Every failure looks the same, whether the email is unknown, the password wrong, no
password set or the extension disabled, and takes the same time: for an unknown account a
dummy argon2 hash is checked. Failures count towards lockout (``klapka.services.accounts.lockout``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, select, update

from klapka.domain.problems import InvalidInput, KlapkaError
from klapka.services import audit
from klapka.services.accounts.lockout import SignInThrottle
from klapka.services.accounts.passwords import hash_password, token_digest, verify_password
from klapka.services.accounts.sessions import ACTIVE, ENROLMENT, SECOND_FACTOR, Sessions, policy_of
from klapka.services.accounts.two_factor import is_enrolled, is_required, verify_second_factor
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

WRONG = "the email or password is wrong"
MAX_CODE_ATTEMPTS = 5
MAX_PASSWORD_LENGTH = 1024


class SignInFailed(KlapkaError):
    """Not signed in; the message never says whether the account exists."""


class LockedOut(KlapkaError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins: try again in {retry_after} seconds")


@cache
def dummy_hash() -> str:
    """Checked instead of a real hash when there is none, so failures take the same time."""
    return hash_password(secrets.token_urlsafe(24))


@dataclass(frozen=True)
class SignInResult:
    status: str  # "signed_in" | "second_factor_required" | "enrolment_required"
    extension: str
    role: str
    expires_at: datetime
    session_id: str | None = None  # the cookie value
    challenge: str | None = None  # for the second factor


def _text(body: Any, name: str, max_length: int) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput.one(name, "required")
    if len(value) > max_length:
        raise InvalidInput.one(name, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidInput.one(name, "must not contain NUL characters")
    return value


class SignIn:
    def __init__(self, pbx: Pbx, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.clock = clock
        self.throttle = SignInThrottle(clock)
        self.sessions = Sessions(pbx, clock)

    def password(
        self, body: Any, source_ip: str | None, user_agent: str | None = None
    ) -> SignInResult:
        if not isinstance(body, dict):
            raise InvalidInput.one("", "must be a JSON object with email and password")
        email = _text(body, "email", 255).strip()
        password = _text(body, "password", MAX_PASSWORD_LENGTH)
        with self.pbx.tx() as repo:
            conn = repo.conn
            locked = self.throttle.locked(conn, email, source_ip)
            if locked is not None:
                raise LockedOut(locked.retry_after)
            policy = policy_of(conn)
            ext = conn.execute(
                select(t.extensions).where(func.lower(t.extensions.c.email) == email.lower())
            ).first()
        stored = dict(ext.secrets).get("user_password") if ext is not None else None
        matched = verify_password(stored or dummy_hash(), password)
        ok = matched and stored is not None and ext is not None and ext.enabled
        with self.pbx.tx() as repo:
            conn = repo.conn
            if not ok or ext is None:
                self.throttle.failed(conn, email, source_ip, policy)
                result = None
            else:
                self.throttle.succeeded(conn, email)
                if is_enrolled(conn, ext.id):
                    challenge, expires = self.sessions.start(
                        conn, ext.id, SECOND_FACTOR, policy, source_ip, user_agent
                    )
                    result = SignInResult(
                        "second_factor_required", ext.number, ext.role, expires, challenge=challenge
                    )
                else:
                    state = ENROLMENT if is_required(conn, ext) else ACTIVE
                    session_id, expires = self.sessions.start(
                        conn, ext.id, state, policy, source_ip, user_agent
                    )
                    self._record(conn, ext.number, source_ip, "password")
                    result = SignInResult(
                        "enrolment_required" if state == ENROLMENT else "signed_in",
                        ext.number,
                        ext.role,
                        expires,
                        session_id=session_id,
                    )
        if result is None:
            raise SignInFailed(WRONG)
        return result

    def second_factor(
        self, body: Any, source_ip: str | None, user_agent: str | None = None
    ) -> SignInResult:
        if not isinstance(body, dict):
            raise InvalidInput.one("", "must be a JSON object with challenge and code")
        challenge = _text(body, "challenge", 255)
        code = _text(body, "code", 64)
        at = self.clock()
        failure: Exception | None = None
        result: SignInResult | None = None
        with self.pbx.tx() as repo:
            conn = repo.conn
            row = conn.execute(
                select(t.sessions, t.extensions.c.number, t.extensions.c.email, t.extensions.c.role)
                .join(t.extensions, t.extensions.c.id == t.sessions.c.extension_id)
                .where(
                    t.sessions.c.session_hash == token_digest(challenge),
                    t.sessions.c.state == SECOND_FACTOR,
                    t.extensions.c.enabled.is_(True),
                )
            ).first()
            if row is None or row.expires_at <= at:
                failure = SignInFailed("the sign-in is unknown or has expired: sign in again")
            else:
                email = row.email or row.number
                locked = self.throttle.locked(conn, email, source_ip)
                policy = policy_of(conn)
                method = (
                    None
                    if locked is not None
                    else verify_second_factor(conn, row.extension_id, code, at)
                )
                if locked is not None:
                    failure = LockedOut(locked.retry_after)
                elif method is None:
                    self.throttle.failed(conn, email, source_ip, policy)
                    if row.attempts + 1 >= MAX_CODE_ATTEMPTS:
                        conn.execute(delete(t.sessions).where(t.sessions.c.id == row.id))
                    else:
                        conn.execute(
                            update(t.sessions)
                            .where(t.sessions.c.id == row.id)
                            .values(attempts=row.attempts + 1)
                        )
                    failure = SignInFailed("the code is wrong")
                else:
                    conn.execute(delete(t.sessions).where(t.sessions.c.id == row.id))
                    self.throttle.succeeded(conn, email)
                    session_id, expires = self.sessions.start(
                        conn, row.extension_id, ACTIVE, policy, source_ip, user_agent
                    )
                    self._record(conn, row.number, source_ip, f"password and {method}")
                    result = SignInResult(
                        "signed_in", row.number, row.role, expires, session_id=session_id
                    )
        if failure is not None:
            raise failure
        assert result is not None
        return result

    def sign_out(self, session_id: str) -> None:
        self.sessions.end(session_id)

    @staticmethod
    def _record(conn: Any, number: str, source_ip: str | None, method: str) -> None:
        who = Principal(
            role="user", extension=number, name=f"extension {number}", source_ip=source_ip
        )
        audit.record(conn, who, "sign_in", "extension", number, None, {"method": method})
