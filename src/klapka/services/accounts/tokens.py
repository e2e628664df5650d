"""Admin API tokens: created by ``klapka init``, presented as ``Authorization: Bearer``.

Only a SHA-256 digest is stored, so a stolen database does not hand out API access.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from klapka.services.accounts.passwords import token_digest
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import now

TOKEN_PREFIX = "klp_"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str


class Tokens:
    """Creating and revoking admin tokens is for admins (the CLI: the system); ``verify``
    is how a request proves who it is, before there is a principal."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    @admin_only
    def create(self, name: str = "admin", role: str = "admin") -> str:
        """A new token; the plain value is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.pbx.tx() as repo:
            repo.conn.execute(
                insert(t.api_tokens).values(
                    name=name, token_hash=token_digest(token), role=role, created_at=now()
                )
            )
        return token

    def verify(self, token: str) -> TokenInfo | None:
        with self.pbx.tx() as repo:
            row = repo.conn.execute(
                select(t.api_tokens).where(
                    t.api_tokens.c.token_hash == token_digest(token),
                    t.api_tokens.c.revoked_at.is_(None),
                )
            ).first()
            if row is None:
                return None
            return TokenInfo(row.id, row.name, row.role)

    @admin_only
    def revoke(self, token_id: int) -> bool:
        with self.pbx.tx() as repo:
            result = repo.conn.execute(
                update(t.api_tokens)
                .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now())
            )
            return bool(result.rowcount)
