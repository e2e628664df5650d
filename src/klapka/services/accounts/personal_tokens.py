"""Personal API tokens: made by a signed-in user for their scripts and integrations.

A token acts for its extension's user, limited by its scopes (``klapka.domain.accounts.
Scope``): ``read`` allows only safe methods, ``write`` everything, ``admin`` lets an admin's
token act as admin (without it, an admin's token acts as an ordinary user). Revocable and
optionally expiring; only a SHA-256 digest is stored and the value is shown once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select, update

from klapka.domain.accounts import Scope
from klapka.domain.problems import Forbidden, InvalidInput, NotFound, problems_from_validation
from klapka.services import audit
from klapka.services.accounts.passwords import token_digest
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

TOKEN_PREFIX = "klpu_"
MAX_TOKENS = 50  # live tokens per user
LAST_USED_EVERY = timedelta(seconds=60)


class NewToken(BaseModel):
    """What a user asks for."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=63)]
    scopes: Annotated[list[Scope], Field(min_length=1)] = Field(
        default_factory=lambda: [Scope.READ, Scope.WRITE]
    )
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


@dataclass(frozen=True)
class PersonalToken:
    id: int
    extension: str
    role: str  # the extension's role now
    name: str
    scopes: frozenset[str]


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scopes": row.scopes.split(),
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


class PersonalTokens:
    def __init__(self, pbx: Pbx, clock: Callable[[], datetime]) -> None:
        self.pbx = pbx
        self.clock = clock

    def _extension_id(self, conn: Any, principal: Principal) -> int:
        if principal.extension is None:
            raise Forbidden("personal tokens belong to an extension's user: sign in as one")
        ext_id = conn.execute(
            select(t.extensions.c.id).where(t.extensions.c.number == principal.extension)
        ).scalar()
        if ext_id is None:
            raise NotFound("extension", principal.extension)
        return int(ext_id)

    def create(self, principal: Principal, body: Any) -> dict[str, Any]:
        """A new token for the principal's own extension; its value is in the answer, once."""
        if not isinstance(body, dict):
            raise InvalidInput.one("", "must be a JSON object")
        try:
            wanted = NewToken.model_validate(body)
        except ValidationError as e:
            raise InvalidInput(problems_from_validation(e)) from None
        scopes = sorted(set(wanted.scopes), key=list(Scope).index)
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext_id = self._extension_id(conn, principal)
            role = conn.execute(
                select(t.extensions.c.role).where(t.extensions.c.id == ext_id)
            ).scalar()
            if Scope.ADMIN in scopes and role != "admin":
                raise InvalidInput.one("scopes", "admin: only an admin's token may have it")
            # A token may make tokens, but none stronger than itself.
            if principal.scopes and not {s.value for s in scopes} <= principal.scopes:
                raise InvalidInput.one(
                    "scopes", "a token may only make tokens with its own scopes or fewer"
                )
            live = conn.execute(
                select(t.personal_tokens.c.id).where(
                    t.personal_tokens.c.extension_id == ext_id,
                    t.personal_tokens.c.revoked_at.is_(None),
                )
            ).all()
            if len(live) >= MAX_TOKENS:
                raise InvalidInput.one("", f"at most {MAX_TOKENS} tokens: revoke one first")
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            expires = (
                at + timedelta(days=wanted.expires_in_days) if wanted.expires_in_days else None
            )
            new_id = conn.execute(
                insert(t.personal_tokens).values(
                    extension_id=ext_id,
                    name=wanted.name,
                    token_hash=token_digest(token),
                    scopes=" ".join(s.value for s in scopes),
                    created_at=at,
                    expires_at=expires,
                )
            ).inserted_primary_key
            assert new_id is not None
            row = conn.execute(
                select(t.personal_tokens).where(t.personal_tokens.c.id == new_id[0])
            ).one()
            audit.record(
                conn,
                principal,
                "create",
                "personal_token",
                f"{principal.extension}/{row.id}",
                None,
                {"name": wanted.name, "scopes": [s.value for s in scopes]},
            )
        return {**_view(row), "token": token}

    def list(self, principal: Principal) -> list[dict[str, Any]]:
        at = self.clock()
        with self.pbx.tx() as repo:
            ext_id = self._extension_id(repo.conn, principal)
            rows = repo.conn.execute(
                select(t.personal_tokens)
                .where(
                    t.personal_tokens.c.extension_id == ext_id,
                    t.personal_tokens.c.revoked_at.is_(None),
                )
                .order_by(t.personal_tokens.c.id)
            ).all()
        return [_view(r) for r in rows if r.expires_at is None or r.expires_at > at]

    def revoke(self, principal: Principal, token_id: int) -> None:
        """Revoke one of the principal's own tokens (anyone else's is NotFound)."""
        with self.pbx.tx() as repo:
            conn = repo.conn
            ext_id = self._extension_id(conn, principal)
            result = conn.execute(
                update(t.personal_tokens)
                .where(
                    t.personal_tokens.c.id == token_id,
                    t.personal_tokens.c.extension_id == ext_id,
                    t.personal_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock())
            )
            if not result.rowcount:
                raise NotFound("token", str(token_id))
            audit.record(
                conn, principal, "revoke", "personal_token", f"{principal.extension}/{token_id}"
            )

    def verify(self, token: str) -> PersonalToken | None:
        """The live token with this value, with its extension's current role."""
        at = self.clock()
        with self.pbx.tx() as repo:
            conn = repo.conn
            row = conn.execute(
                select(
                    t.personal_tokens,
                    t.extensions.c.number,
                    t.extensions.c.role,
                    t.extensions.c.enabled,
                )
                .join(t.extensions, t.extensions.c.id == t.personal_tokens.c.extension_id)
                .where(
                    t.personal_tokens.c.token_hash == token_digest(token),
                    t.personal_tokens.c.revoked_at.is_(None),
                )
            ).first()
            if row is None or not row.enabled:
                return None
            if row.expires_at is not None and row.expires_at <= at:
                return None
            if row.last_used_at is None or at - row.last_used_at >= LAST_USED_EVERY:
                conn.execute(
                    update(t.personal_tokens)
                    .where(t.personal_tokens.c.id == row.id)
                    .values(last_used_at=at)
                )
            return PersonalToken(
                row.id, row.number, row.role, row.name, frozenset(row.scopes.split())
            )
