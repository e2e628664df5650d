"""Two-factor authentication with TOTP (``klapka.services.accounts.totp``) and recovery codes.

A user enrols in two steps: ``start`` makes a secret (shown as text and as a QR code for the
authenticator app), ``confirm`` checks a first code from the app and turns it on, answering
with 10 single-use recovery codes (shown once, stored as SHA-256 digests). From then on the
sign-in asks for a code after the password. A user disables it, or makes new recovery codes,
with their password; an admin resets it for a user who lost their phone.

Two-factor is *required* for a user when the system says so for everyone
(``system.sign_in.require_2fa``), a group they are in says so (``groups[].require_2fa``), or
their extension does (``security.require_2fa``). Such a user, until enrolled, signs in to a
session that may only enrol; and cannot disable it.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from klapka.domain.problems import Conflict, Forbidden, InvalidInput, NotFound
from klapka.services import audit
from klapka.services.accounts import totp
from klapka.services.accounts.passwords import token_digest, verify_password
from klapka.services.accounts.sessions import policy_of
from klapka.services.pbx import Pbx
from klapka.services.permissions import Action, check
from klapka.services.principal import Principal
from klapka.store import tables as t

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are typed from paper


def new_recovery_code() -> str:
    """16 characters (about 79 bits) in groups of four: ``k7dq-2xmh-9fpa-rt4e``."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normal(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def is_required(conn: Connection, extension_row: Any) -> bool:
    """Must this extension's user sign in with a second factor?"""
    if policy_of(conn).require_2fa:
        return True
    if extension_row.data.get("security", {}).get("require_2fa", False):
        return True
    for data in conn.execute(select(t.ext_groups.c.data)).scalars():
        if data.get("require_2fa") and extension_row.number in data.get("members", []):
            return True
    return False


def is_enrolled(conn: Connection, extension_id: int) -> bool:
    enabled = conn.execute(
        select(t.two_factor.c.enabled_at).where(t.two_factor.c.extension_id == extension_id)
    ).first()
    return enabled is not None and enabled[0] is not None


def verify_second_factor(
    conn: Connection, extension_id: int, code: str, at: datetime
) -> str | None:
    """Check a TOTP code or a recovery code and use it up; the method that matched, or None."""
    row = conn.execute(
        select(t.two_factor).where(
            t.two_factor.c.extension_id == extension_id, t.two_factor.c.enabled_at.is_not(None)
        )
    ).first()
    if row is None:
        return None
    step = totp.matching_step(row.secret, code, at, row.last_used_step)
    if step is not None:
        conn.execute(
            update(t.two_factor)
            .where(t.two_factor.c.extension_id == extension_id)
            .values(last_used_step=step)
        )
        return "totp"
    if len(_normal(code)) == 16:
        used = conn.execute(
            update(t.recovery_codes)
            .where(
                t.recovery_codes.c.extension_id == extension_id,
                t.recovery_codes.c.code_hash == token_digest(_normal(code)),
                t.recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        if used.rowcount:
            return "recovery_code"
    return None


def _new_codes(conn: Connection, extension_id: int) -> list[str]:
    conn.execute(delete(t.recovery_codes).where(t.recovery_codes.c.extension_id == extension_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    conn.execute(
        insert(t.recovery_codes),
        [{"extension_id": extension_id, "code_hash": token_digest(_normal(c))} for c in codes],
    )
    return codes


class TwoFactor:
    """The principal's own two-factor authentication, and an admin's reset of anyone's."""

    def __init__(self, pbx: Pbx, principal: Principal, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.principal = principal
        self.clock = clock

    def _own(self, conn: Connection) -> Any:
        if self.principal.extension is None:
            raise Forbidden("two-factor authentication belongs to an extension's user")
        return self._extension(conn, self.principal.extension)

    @staticmethod
    def _extension(conn: Connection, number: str) -> Any:
        row = conn.execute(select(t.extensions).where(t.extensions.c.number == number)).first()
        if row is None:
            raise NotFound("extension", number)
        return row

    def _status(self, conn: Connection, ext: Any) -> dict[str, Any]:
        row = conn.execute(
            select(t.two_factor).where(t.two_factor.c.extension_id == ext.id)
        ).first()
        left = conn.execute(
            select(t.recovery_codes.c.id).where(
                t.recovery_codes.c.extension_id == ext.id, t.recovery_codes.c.used_at.is_(None)
            )
        ).all()
        enrolled = row is not None and row.enabled_at is not None
        return {
            "enrolled": enrolled,
            "enrolling": row is not None and row.enabled_at is None,
            "required": is_required(conn, ext),
            "recovery_codes_left": len(left) if enrolled else 0,
        }

    def status(self) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            return self._status(repo.conn, self._own(repo.conn))

    def start(self) -> dict[str, Any]:
        """A new secret for the authenticator app; confirm it with a code to turn 2FA on."""
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._own(conn)
            if is_enrolled(conn, ext.id):
                raise Conflict(
                    "two-factor authentication is already on: disable it first to enrol again"
                )
            secret = totp.new_secret()
            conn.execute(delete(t.two_factor).where(t.two_factor.c.extension_id == ext.id))
            conn.execute(
                insert(t.two_factor).values(
                    extension_id=ext.id, secret=secret, created_at=self.clock()
                )
            )
            uri = totp.otpauth_uri(secret, ext.email or ext.number)
        return {
            "secret": secret,
            "otpauth_uri": uri,
            "qr_code_png": base64.b64encode(totp.qr_png(uri)).decode(),
        }

    def qr_png(self) -> bytes:
        """The QR code of the enrolment in progress."""
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._own(conn)
            row = conn.execute(
                select(t.two_factor).where(
                    t.two_factor.c.extension_id == ext.id, t.two_factor.c.enabled_at.is_(None)
                )
            ).first()
            if row is None:
                raise NotFound("two-factor enrolment", ext.number)
            uri = totp.otpauth_uri(row.secret, ext.email or ext.number)
        return totp.qr_png(uri)

    def confirm(self, code: Any) -> dict[str, Any]:
        """Turn two-factor on with a first code from the app; answers the recovery codes."""
        if not isinstance(code, str):
            raise InvalidInput.one("code", "required: the 6 digits the app shows")
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._own(conn)
            row = conn.execute(
                select(t.two_factor).where(
                    t.two_factor.c.extension_id == ext.id, t.two_factor.c.enabled_at.is_(None)
                )
            ).first()
            if row is None:
                raise Conflict("no enrolment in progress: start one first")
            step = totp.matching_step(row.secret, code, at)
            if step is None:
                raise InvalidInput.one(
                    "code", "does not match: type the 6 digits the app shows now"
                )
            conn.execute(
                update(t.two_factor)
                .where(t.two_factor.c.extension_id == ext.id)
                .values(enabled_at=at, last_used_step=step)
            )
            codes = _new_codes(conn, ext.id)
            audit.record(conn, self.principal, "enrol", "two_factor", ext.number)
        return {"recovery_codes": codes}

    def _check_password(self, conn: Connection, ext: Any, password: Any) -> None:
        stored = dict(ext.secrets).get("user_password")
        if not isinstance(password, str) or not stored or not verify_password(stored, password):
            raise InvalidInput.one("password", "is not your current password")

    def disable(self, password: Any) -> None:
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._own(conn)
            self._check_password(conn, ext, password)
            if is_required(conn, ext):
                raise Forbidden(
                    "your administrator requires two-factor authentication: it cannot be turned off"
                )
            self._remove(conn, ext.id)
            audit.record(conn, self.principal, "disable", "two_factor", ext.number)

    def new_recovery_codes(self, password: Any) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext = self._own(conn)
            self._check_password(conn, ext, password)
            if not is_enrolled(conn, ext.id):
                raise Conflict("two-factor authentication is off: enrol first")
            codes = _new_codes(conn, ext.id)
            audit.record(conn, self.principal, "new_recovery_codes", "two_factor", ext.number)
        return {"recovery_codes": codes}

    @staticmethod
    def _remove(conn: Connection, extension_id: int) -> None:
        conn.execute(delete(t.two_factor).where(t.two_factor.c.extension_id == extension_id))
        conn.execute(
            delete(t.recovery_codes).where(t.recovery_codes.c.extension_id == extension_id)
        )

    # --- admins -------------------------------------------------------------------

    def status_of(self, number: str) -> dict[str, Any]:
        with self.pbx.tx() as repo:
            check(repo.conn, self.principal, Action.ADMINISTER)
            return self._status(repo.conn, self._extension(repo.conn, number))

    def reset(self, number: str) -> dict[str, Any]:
        """An admin turns a user's two-factor off (a lost phone); required means they enrol
        again at their next sign-in."""
        with self.pbx.tx() as repo:
            conn = repo.conn
            check(conn, self.principal, Action.ADMINISTER)
            ext = self._extension(conn, number)
            self._remove(conn, ext.id)
            audit.record(conn, self.principal, "reset", "two_factor", number)
            return self._status(conn, ext)
