"""Browser sessions of extension users: server-side rows behind an opaque cookie.

The cookie holds a random session id; the database keeps only its SHA-256 digest, so a
copy of the database signs nobody in. A session ends at ``expires_at`` (``sign_in.
session_hours`` after sign-in) or after ``sign_in.idle_minutes`` without a request,
whichever comes first, or when the user signs out, changes or resets their password, or
the extension is disabled (``end_access_of_disabled``: for good) or deleted.

The CSRF token of a session is derived from its id (HMAC), so it needs no storage and is
worthless without the cookie it belongs to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from klapka.domain.accounts import SignInPolicy
from klapka.domain.directory import System
from klapka.domain.problems import Forbidden, NotFound
from klapka.services.accounts.passwords import token_digest
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import now

ACTIVE = "active"
SECOND_FACTOR = "second_factor"  # password checked; the id is a sign-in challenge
ENROLMENT = "enrolment"  # signed in only to enrol in two-factor authentication

SECOND_FACTOR_MINUTES = 5
# last_seen_at is written at most this often: a request is not a write.
TOUCH_EVERY = timedelta(seconds=60)


def csrf_token_for(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"klapka csrf", hashlib.sha256).hexdigest()


def policy_of(conn: Connection) -> SignInPolicy:
    data = conn.execute(select(t.system.c.data).where(t.system.c.id == 1)).scalar()
    if not data:
        return SignInPolicy()
    return System.model_validate(data).sign_in


@dataclass(frozen=True)
class SessionInfo:
    id: int
    extension: str
    extension_id: int
    role: str
    state: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime

    def view(self, session_id: str | None = None, current: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "extension": self.extension,
            "role": self.role,
            "state": self.state,
            "created_at": self.created_at.isoformat(),
            "expires_at": min(self.expires_at, self.idle_expires_at).isoformat(),
        }
        if session_id is not None:
            out["csrf_token"] = csrf_token_for(session_id)
        if current:
            out["current"] = True
        return out


def end_access_of_disabled(conn: Connection, extension_ids: Collection[int] | None = None) -> int:
    """Everything that lets the user of a disabled extension in ends, now: their browser
    sessions (and sign-in challenges), their personal API tokens (revoked) and their unused
    emailed links (app login, password reset). Re-enabling the extension brings none of
    them back. Every service that writes extensions (the API and web UI through Objects,
    config apply, CSV import) calls this in the same transaction; ``extension_ids`` limits
    it to those extensions (None: every disabled one). Returns the sessions ended."""
    disabled = select(t.extensions.c.id).where(t.extensions.c.enabled.is_(False))
    if extension_ids is not None:
        if not extension_ids:
            return 0
        disabled = disabled.where(t.extensions.c.id.in_(list(extension_ids)))
    ended = conn.execute(delete(t.sessions).where(t.sessions.c.extension_id.in_(disabled)))
    conn.execute(
        update(t.personal_tokens)
        .where(
            t.personal_tokens.c.extension_id.in_(disabled),
            t.personal_tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=now())
    )
    for links in (t.one_time_tokens, t.password_resets):
        conn.execute(
            delete(links).where(links.c.extension_id.in_(disabled), links.c.used_at.is_(None))
        )
    return int(ended.rowcount or 0)


class Sessions:
    def __init__(self, pbx: Pbx, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.clock = clock

    def start(
        self,
        conn: Connection,
        extension_id: int,
        state: str,
        policy: SignInPolicy,
        source_ip: str | None,
        user_agent: str | None,
    ) -> tuple[str, datetime]:
        """A new session (or sign-in challenge); returns its id, shown only this once."""
        at = self.clock()
        conn.execute(delete(t.sessions).where(t.sessions.c.expires_at <= at))
        session_id = secrets.token_urlsafe(32)
        lifetime = (
            timedelta(minutes=SECOND_FACTOR_MINUTES)
            if state == SECOND_FACTOR
            else timedelta(hours=policy.session_hours)
        )
        conn.execute(
            insert(t.sessions).values(
                session_hash=token_digest(session_id),
                extension_id=extension_id,
                state=state,
                created_at=at,
                last_seen_at=at,
                expires_at=at + lifetime,
                attempts=0,
                source_ip=source_ip,
                user_agent=(user_agent or "")[:255] or None,
            )
        )
        return session_id, at + lifetime

    def _row(self, conn: Connection, session_id: str) -> Any:
        return conn.execute(
            select(
                t.sessions,
                t.extensions.c.number,
                t.extensions.c.role,
                t.extensions.c.enabled,
            )
            .join(t.extensions, t.extensions.c.id == t.sessions.c.extension_id)
            .where(t.sessions.c.session_hash == token_digest(session_id))
        ).first()

    def verify(
        self, session_id: str, states: tuple[str, ...] = (ACTIVE, ENROLMENT)
    ) -> SessionInfo | None:
        """The live session with this id, or None (unknown, expired, idle too long)."""
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            row = self._row(conn, session_id)
            if row is None or row.state not in states or not row.enabled:
                return None
            policy = policy_of(conn)
            idle_until = row.last_seen_at + timedelta(minutes=policy.idle_minutes)
            if at >= row.expires_at or at >= idle_until:
                conn.execute(delete(t.sessions).where(t.sessions.c.id == row.id))
                return None
            if at - row.last_seen_at >= TOUCH_EVERY:
                conn.execute(
                    update(t.sessions).where(t.sessions.c.id == row.id).values(last_seen_at=at)
                )
                idle_until = at + timedelta(minutes=policy.idle_minutes)
            return SessionInfo(
                row.id,
                row.number,
                row.extension_id,
                row.role,
                row.state,
                row.created_at,
                row.expires_at,
                idle_until,
            )

    def activate(self, session_row_id: int) -> None:
        """An enrolment session becomes a full one (the user just turned two-factor on)."""
        with self.pbx.tx() as repo:
            repo.conn.execute(
                update(t.sessions)
                .where(t.sessions.c.id == session_row_id, t.sessions.c.state == ENROLMENT)
                .values(state=ACTIVE)
            )

    def end(self, session_id: str) -> None:
        with self.pbx.tx() as repo:
            repo.conn.execute(
                delete(t.sessions).where(t.sessions.c.session_hash == token_digest(session_id))
            )

    def end_all(self, conn: Connection, extension_id: int, keep_id: int | None = None) -> int:
        """Sign the user out everywhere (but the session ``keep_id``)."""
        where = t.sessions.c.extension_id == extension_id
        if keep_id is not None:
            where = where & (t.sessions.c.id != keep_id)
        return int(conn.execute(delete(t.sessions).where(where)).rowcount)

    @staticmethod
    def _extension_id(conn: Connection, principal: Principal, number: str | None) -> int:
        """The extension whose browsers ``principal`` asks about: their own (``number``
        None), or, for an admin, any."""
        if number is None or number == principal.extension:
            if principal.extension is None:
                raise Forbidden("sessions belong to an extension's user: sign in as one")
            number = principal.extension
        else:
            require_admin(principal)
        found = conn.execute(
            select(t.extensions.c.id).where(t.extensions.c.number == number)
        ).scalar()
        if found is None:
            raise NotFound("extension", number)
        return int(found)

    def list(
        self, principal: Principal, number: str | None = None, current_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The signed-in browsers of ``principal``'s extension (an admin: of ``number``)."""
        at = self.clock()
        with self.pbx.tx() as repo:
            extension_id = self._extension_id(repo.conn, principal, number)
            policy = policy_of(repo.conn)
            rows = repo.conn.execute(
                select(t.sessions)
                .where(
                    t.sessions.c.extension_id == extension_id,
                    t.sessions.c.state != SECOND_FACTOR,
                    t.sessions.c.expires_at > at,
                )
                .order_by(t.sessions.c.created_at.desc(), t.sessions.c.id.desc())
            ).all()
        out = []
        for r in rows:
            idle_until = r.last_seen_at + timedelta(minutes=policy.idle_minutes)
            if idle_until <= at:
                continue
            out.append(
                {
                    "id": r.id,
                    "state": r.state,
                    "created_at": r.created_at.isoformat(),
                    "last_seen_at": r.last_seen_at.isoformat(),
                    "expires_at": min(r.expires_at, idle_until).isoformat(),
                    "source_ip": r.source_ip,
                    "user_agent": r.user_agent,
                    "current": r.id == current_id,
                }
            )
        return out

    def revoke(self, principal: Principal, session_row_id: int, number: str | None = None) -> bool:
        """Sign one browser of ``principal``'s extension (an admin: of ``number``) out."""
        with self.pbx.tx() as repo:
            extension_id = self._extension_id(repo.conn, principal, number)
            result = repo.conn.execute(
                delete(t.sessions).where(
                    t.sessions.c.id == session_row_id,
                    t.sessions.c.extension_id == extension_id,
                    t.sessions.c.state != SECOND_FACTOR,
                )
            )
            return bool(result.rowcount)
