"""Brute-force protection: failed sign-ins counted per account and per source address.

After ``max_failures_per_account`` failures in a row an account is locked for
``lockout_seconds``, doubled with each further lockout (exponential back-off, up to
``max_lockout_seconds``); the same per source address with ``max_failures_per_address``.
A success clears the account's count; an address's count fades 15 minutes after its last
failure, and back-off is forgotten after a day without failures.

Counters are keyed by the email as typed, whether or not such an account exists, so a
lockout (and its message and timing) is the same for an unknown email: nothing tells an
attacker which emails are real. Every lockout is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from klapka.domain.accounts import SignInPolicy
from klapka.services import audit
from klapka.services.principal import Principal
from klapka.store import tables as t

ADDRESS_MEMORY = timedelta(minutes=15)
BACKOFF_MEMORY = timedelta(days=1)


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()}"[:300]


def address_key(ip: str | None) -> str:
    return f"address:{ip or 'unknown'}"[:300]


def sign_in_principal(ip: str | None) -> Principal:
    """Who the audit log names for what happens before anyone is signed in."""
    return Principal(role="anonymous", name="sign-in", source_ip=ip)


@dataclass(frozen=True)
class Locked:
    """Refused without checking the password: wait ``retry_after`` seconds."""

    retry_after: int


class SignInThrottle:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def locked(self, conn: Connection, email: str, ip: str | None) -> Locked | None:
        """Is the account or the address locked out right now?"""
        at = self.clock()
        keys = [account_key(email), address_key(ip)]
        until = [
            u
            for u in conn.execute(
                select(t.sign_in_failures.c.locked_until).where(t.sign_in_failures.c.key.in_(keys))
            ).scalars()
            if u is not None and u > at
        ]
        if not until:
            return None
        return Locked(max(1, int((max(until) - at).total_seconds() + 0.999)))

    def failed(self, conn: Connection, email: str, ip: str | None, policy: SignInPolicy) -> None:
        """Count a failure for the account and the address; lock what has had enough."""
        for key, limit, memory in (
            (account_key(email), policy.max_failures_per_account, None),
            (address_key(ip), policy.max_failures_per_address, ADDRESS_MEMORY),
        ):
            self._count(conn, key, limit, memory, policy, ip)

    def succeeded(self, conn: Connection, email: str) -> None:
        conn.execute(
            delete(t.sign_in_failures).where(t.sign_in_failures.c.key == account_key(email))
        )

    def _count(
        self,
        conn: Connection,
        key: str,
        limit: int,
        memory: timedelta | None,
        policy: SignInPolicy,
        ip: str | None,
    ) -> None:
        at = self.clock()
        table = t.sign_in_failures
        row = conn.execute(select(table).where(table.c.key == key)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(table).values(
                            key=key, failures=0, lockouts=0, locked_until=None, last_failure_at=at
                        )
                    )
            except IntegrityError:
                pass  # a concurrent failure made it first
            row = conn.execute(select(table).where(table.c.key == key)).one()
        failures, lockouts = row.failures, row.lockouts
        if at - row.last_failure_at > BACKOFF_MEMORY:
            failures, lockouts = 0, 0
        elif memory is not None and at - row.last_failure_at > memory:
            failures = 0
        failures += 1
        locked_until = row.locked_until
        if failures >= limit:
            lockouts += 1
            seconds = min(policy.lockout_seconds * 2 ** (lockouts - 1), policy.max_lockout_seconds)
            locked_until = at + timedelta(seconds=seconds)
            failures = 0
            what, _, who = key.partition(":")
            audit.record(
                conn,
                sign_in_principal(ip),
                "lockout",
                "sign_in",
                who,
                None,
                {
                    "locked": what,
                    "seconds": seconds,
                    "lockouts": lockouts,
                    "until": locked_until.isoformat(),
                },
            )
        conn.execute(
            update(table)
            .where(table.c.key == key)
            .values(
                failures=failures,
                lockouts=lockouts,
                locked_until=locked_until,
                last_failure_at=at,
            )
        )

    def unlock(self, conn: Connection, email: str) -> bool:
        """An admin lifts an account's lockout."""
        result = conn.execute(
            delete(t.sign_in_failures).where(t.sign_in_failures.c.key == account_key(email))
        )
        return bool(result.rowcount)
