"""An extension's sign-in side, for admins: password set? two-factor? sessions, tokens,
lockout; sign the user out everywhere; lift a lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from klapka.domain.problems import NotFound
from klapka.services import audit
from klapka.services.accounts.lockout import SignInThrottle, account_key
from klapka.services.accounts.sessions import SECOND_FACTOR, Sessions
from klapka.services.accounts.two_factor import TwoFactor
from klapka.services.pbx import Pbx
from klapka.services.permissions import Action, check
from klapka.services.principal import Principal
from klapka.store import tables as t


class UserAccounts:
    def __init__(self, pbx: Pbx, principal: Principal, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.principal = principal
        self.clock = clock

    def _extension(self, conn: Any, number: str) -> Any:
        check(conn, self.principal, Action.ADMINISTER)
        row = conn.execute(select(t.extensions).where(t.extensions.c.number == number)).first()
        if row is None:
            raise NotFound("extension", number)
        return row

    def account(self, number: str) -> dict[str, Any]:
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._extension(conn, number)
            sessions = conn.execute(
                select(func.count())
                .select_from(t.sessions)
                .where(
                    t.sessions.c.extension_id == ext.id,
                    t.sessions.c.state != SECOND_FACTOR,
                    t.sessions.c.expires_at > at,
                )
            ).scalar_one()
            tokens = conn.execute(
                select(func.count())
                .select_from(t.personal_tokens)
                .where(
                    t.personal_tokens.c.extension_id == ext.id,
                    t.personal_tokens.c.revoked_at.is_(None),
                )
            ).scalar_one()
            locked_until = None
            if ext.email:
                locked_until = conn.execute(
                    select(t.sign_in_failures.c.locked_until).where(
                        t.sign_in_failures.c.key == account_key(ext.email)
                    )
                ).scalar()
        two_factor = TwoFactor(self.pbx, self.principal, self.clock).status_of(number)
        if locked_until is not None and locked_until <= at:
            locked_until = None
        return {
            "extension": number,
            "email": ext.email,
            "role": ext.role,
            "enabled": ext.enabled,
            "can_sign_in": bool(ext.enabled and ext.email and ext.secrets.get("user_password")),
            "password_set": bool(ext.secrets.get("user_password")),
            "two_factor": two_factor,
            "sessions": int(sessions),
            "personal_tokens": int(tokens),
            "locked_until": locked_until.isoformat() if locked_until is not None else None,
        }

    def sign_out_everywhere(self, number: str) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._extension(conn, number)
            ended = Sessions(self.pbx, self.clock).end_all(conn, ext.id)
            audit.record(conn, self.principal, "sign_out_everywhere", "extension", number)
        return {"ended": ended}

    def unlock(self, number: str) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._extension(conn, number)
            unlocked = bool(ext.email) and SignInThrottle(self.clock).unlock(conn, ext.email)
            if unlocked:
                audit.record(conn, self.principal, "unlock", "sign_in", ext.email)
        return {"unlocked": unlocked}
