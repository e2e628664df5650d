"""One-time tokens for links sent by email: app login, password reset.

A token is 256 random bits, handed out once (in the link) and stored only as a SHA-256
digest, with its purpose, the extension it is for and an expiry. ``consume`` accepts it
once, before it expires, for the purpose it was made for, and answers whose it is; a used,
expired, unknown or wrongly purposed token is simply not accepted (``None``), without
saying which of these it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from klapka.domain.problems import NotFound
from klapka.services.accounts.passwords import token_digest
from klapka.services.pbx import Pbx
from klapka.store import tables as t
from klapka.store.repository import now

APP_LOGIN = "app_login"
PASSWORD_RESET = "password_reset"

# Used and expired tokens are kept this long (to tell "used" from "unknown" when debugging
# by hand), then removed whenever a new one is issued.
_KEEP_SPENT = timedelta(days=1)


@contextmanager
def _connection(conn_or_pbx: Connection | Pbx) -> Iterator[Connection]:
    """The caller's transaction, or a new one on the PBX."""
    if isinstance(conn_or_pbx, Pbx):
        with conn_or_pbx.tx() as repo:
            yield repo.conn
    else:
        yield conn_or_pbx


def _seconds(ttl: timedelta | float) -> timedelta:
    return ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)


def issue(
    conn_or_pbx: Connection | Pbx,
    purpose: str,
    extension: str,
    ttl: timedelta | float,
    at: datetime | None = None,
) -> str:
    """A new token for ``purpose`` and ``extension`` (its number), valid for ``ttl``
    (a timedelta, or seconds). The plain token is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    stamp = at or now()
    with _connection(conn_or_pbx) as conn:
        extension_id = conn.execute(
            select(t.extensions.c.id).where(t.extensions.c.number == extension)
        ).scalar_one_or_none()
        if extension_id is None:
            raise NotFound("extension", extension)
        c = t.one_time_tokens.c
        conn.execute(
            delete(t.one_time_tokens).where(
                or_(c.expires_at < stamp - _KEEP_SPENT, c.used_at < stamp - _KEEP_SPENT)
            )
        )
        conn.execute(
            insert(t.one_time_tokens).values(
                token_hash=token_digest(token),
                purpose=purpose,
                extension_id=extension_id,
                created_at=stamp,
                expires_at=stamp + _seconds(ttl),
            )
        )
    return token


def consume(
    conn_or_pbx: Connection | Pbx, purpose: str, token: str, at: datetime | None = None
) -> str | None:
    """The extension number ``token`` was issued for, if it is valid now; it is then used
    up. ``None`` for anything else (unknown, used, expired, another purpose)."""
    if not token or len(token) > 256:
        return None
    stamp = at or now()
    c = t.one_time_tokens.c
    valid = and_(
        c.token_hash == token_digest(token),
        c.purpose == purpose,
        c.used_at.is_(None),
        c.expires_at > stamp,
    )
    with _connection(conn_or_pbx) as conn:
        # One conditional UPDATE: of two requests racing with the same token, one wins.
        if conn.execute(update(t.one_time_tokens).where(valid).values(used_at=stamp)).rowcount != 1:
            return None
        number: str | None = conn.execute(
            select(t.extensions.c.number)
            .join(t.one_time_tokens, t.one_time_tokens.c.extension_id == t.extensions.c.id)
            .where(c.token_hash == token_digest(token))
        ).scalar_one_or_none()
    return number


def revoke(conn_or_pbx: Connection | Pbx, purpose: str, extension: str) -> int:
    """Use up every still valid token of ``extension`` for ``purpose``; how many there were."""
    stamp = now()
    c = t.one_time_tokens.c
    with _connection(conn_or_pbx) as conn:
        ids = select(t.extensions.c.id).where(t.extensions.c.number == extension)
        result = conn.execute(
            update(t.one_time_tokens)
            .where(c.purpose == purpose, c.extension_id.in_(ids), c.used_at.is_(None))
            .values(used_at=stamp)
        )
        return int(result.rowcount)
