"""A user's portal password: changed with the old one, or reset through an emailed link.

The password policy is docs/settings.md's (``klapka.domain.values.check_user_password``);
breaking it is a 422 naming ``new_password``. A change signs the user out everywhere else; a
reset signs them out everywhere. When ``features.notify_password_change`` is on (the
default), the user gets an email saying the password changed.

Reset links expire after ``RESET_MINUTES`` and work once. Asking for one never says whether
the account exists: the work happens after the answer, the same answer for every email.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from klapka.domain.directory import System
from klapka.domain.problems import Forbidden, InvalidInput
from klapka.domain.values import check_user_password
from klapka.services import audit
from klapka.services.accounts.account_notices import (
    password_changed_text,
    password_reset_text,
    send_notice,
)
from klapka.services.accounts.lockout import SignInThrottle, sign_in_principal
from klapka.services.accounts.passwords import hash_password, token_digest, verify_password
from klapka.services.accounts.sessions import Sessions, policy_of
from klapka.services.accounts.sign_in import MAX_PASSWORD_LENGTH, LockedOut
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

log = logging.getLogger(__name__)

RESET_MINUTES = 60
RESETS_PER_HOUR = 3  # per account: a reset form cannot be used to flood a mailbox


def _text(body: Any, name: str) -> str:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise InvalidInput.one(name, "required")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InvalidInput.one(name, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if "\x00" in value:
        raise InvalidInput.one(name, "must not contain NUL characters")
    return value


def _check_policy(ext: Any, password: str) -> None:
    names = [ext.first_name, ext.last_name]
    try:
        check_user_password(password, ext.number, names)
    except ValueError as e:
        raise InvalidInput.one("new_password", str(e)) from None


def _store(conn: Connection, ext: Any, password: str, at: datetime) -> None:
    secrets_ = {**dict(ext.secrets), "user_password": hash_password(password)}
    conn.execute(
        update(t.extensions)
        .where(t.extensions.c.id == ext.id)
        .values(secrets=secrets_, updated_at=at)
    )


def _portal_url(conn: Connection) -> str:
    data = conn.execute(select(t.system.c.data).where(t.system.c.id == 1)).scalar()
    return System.model_validate(data or {}).portal_url.rstrip("/")


def _display_name(ext: Any) -> str:
    return " ".join(p for p in (ext.first_name, ext.last_name) if p) or ext.number


class UserPasswords:
    def __init__(self, pbx: Pbx, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.clock = clock
        self.throttle = SignInThrottle(clock)

    # --- change -------------------------------------------------------------------

    def change(self, principal: Principal, body: Any, keep_session_id: int | None = None) -> None:
        """The principal's own password, with the current one as proof."""
        if principal.extension is None:
            raise Forbidden("a password belongs to an extension's user: sign in as one")
        if not isinstance(body, dict):
            raise InvalidInput.one("", "must be a JSON object")
        current = _text(body, "current_password")
        new = _text(body, "new_password")
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = conn.execute(
                select(t.extensions).where(t.extensions.c.number == principal.extension)
            ).one()
            account = ext.email or ext.number
            locked = self.throttle.locked(conn, account, principal.source_ip)
            policy = policy_of(conn)
        if locked is not None:
            raise LockedOut(locked.retry_after)
        stored = dict(ext.secrets).get("user_password")
        if not (stored and verify_password(stored, current)):
            with self.pbx.tx() as repo:
                self.throttle.failed(repo.conn, account, principal.source_ip, policy)
            raise InvalidInput.one("current_password", "is not your current password")
        _check_policy(ext, new)
        if verify_password(stored, new):
            raise InvalidInput.one("new_password", "must differ from the current password")
        with self.pbx.tx() as repo:
            conn = repo.conn
            _store(conn, ext, new, at)
            Sessions(self.pbx, self.clock).end_all(conn, ext.id, keep_id=keep_session_id)
            audit.record(conn, principal, "change_password", "extension", ext.number)
            portal = _portal_url(conn)
        self._notify_changed(ext, portal)

    # --- reset --------------------------------------------------------------------

    def request_reset(self, email: str, source_ip: str | None) -> None:
        """Email a reset link if ``email`` belongs to an enabled extension; else nothing.

        Run after answering the request (the answer is the same either way)."""
        at = self.clock()
        email = email.strip()
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = conn.execute(
                select(t.extensions).where(
                    func.lower(t.extensions.c.email) == email.lower(),
                    t.extensions.c.enabled.is_(True),
                )
            ).first()
            if ext is None:
                return
            recent = conn.execute(
                select(func.count())
                .select_from(t.password_resets)
                .where(
                    t.password_resets.c.extension_id == ext.id,
                    t.password_resets.c.created_at > at - timedelta(hours=1),
                )
            ).scalar_one()
            if recent >= RESETS_PER_HOUR:
                log.info("password reset for extension %s not sent: too many asked", ext.number)
                return
            token = secrets.token_urlsafe(32)
            conn.execute(
                insert(t.password_resets).values(
                    extension_id=ext.id,
                    token_hash=token_digest(token),
                    created_at=at,
                    expires_at=at + timedelta(minutes=RESET_MINUTES),
                    source_ip=source_ip,
                )
            )
            audit.record(
                conn,
                sign_in_principal(source_ip),
                "request_password_reset",
                "extension",
                ext.number,
            )
            portal = _portal_url(conn)
        # In the fragment (#): a browser never sends it to a server, so it is in no access log.
        link = f"{portal}/reset-password#token={token}"
        send_notice(
            self.pbx,
            ext.email,
            "Reset your klapka password",
            password_reset_text(_display_name(ext), link, RESET_MINUTES),
        )

    def confirm_reset(self, body: Any, source_ip: str | None) -> str:
        """Set a new password with a reset token; answers the extension's number."""
        if not isinstance(body, dict):
            raise InvalidInput.one("", "must be a JSON object with token and new_password")
        token = _text(body, "token")
        new = _text(body, "new_password")
        at = self.clock()
        unusable = InvalidInput.one("token", "is unknown, used or expired: ask for a new link")
        with self.pbx.tx() as repo:
            conn = repo.conn
            row = conn.execute(
                select(t.password_resets).where(
                    t.password_resets.c.token_hash == token_digest(token),
                    t.password_resets.c.used_at.is_(None),
                    t.password_resets.c.expires_at > at,
                )
            ).first()
            if row is None:
                raise unusable
            ext = conn.execute(
                select(t.extensions).where(
                    t.extensions.c.id == row.extension_id, t.extensions.c.enabled.is_(True)
                )
            ).first()
            if ext is None:
                raise unusable
            # A password that breaks the policy leaves the link usable: try another one.
            _check_policy(ext, new)
            used = conn.execute(
                update(t.password_resets)
                .where(t.password_resets.c.id == row.id, t.password_resets.c.used_at.is_(None))
                .values(used_at=at)
            )
            if not used.rowcount:  # used by a concurrent request a moment ago
                raise unusable
            # Every other link of the account stops working too.
            conn.execute(
                update(t.password_resets)
                .where(
                    t.password_resets.c.extension_id == ext.id,
                    t.password_resets.c.used_at.is_(None),
                )
                .values(used_at=at)
            )
            _store(conn, ext, new, at)
            Sessions(self.pbx, self.clock).end_all(conn, ext.id)
            if ext.email:
                self.throttle.succeeded(conn, ext.email)
            who = Principal(
                role="user",
                extension=ext.number,
                name=f"extension {ext.number}",
                source_ip=source_ip,
            )
            audit.record(conn, who, "reset_password", "extension", ext.number)
            portal = _portal_url(conn)
        self._notify_changed(ext, portal)
        return str(ext.number)

    def _notify_changed(self, ext: Any, portal: str) -> None:
        if not ext.email or not ext.data.get("features", {}).get("notify_password_change", True):
            return
        send_notice(
            self.pbx,
            ext.email,
            "Your klapka password was changed",
            password_changed_text(_display_name(ext), portal),
        )
