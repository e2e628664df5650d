"""Sign-in settings of the whole PBX, and the scopes of personal API tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import model_validator

from klapka.domain.extension import Model
from klapka.domain.values import int_range


class SignInPolicy(Model):
    """``system.sign_in``: sessions, lockout after failed sign-ins, two-factor for everyone."""

    require_2fa: bool = False
    session_hours: Annotated[int, int_range(1, 720)] = 12
    idle_minutes: Annotated[int, int_range(5, 1440)] = 60
    max_failures_per_account: Annotated[int, int_range(3, 100)] = 5
    max_failures_per_address: Annotated[int, int_range(5, 1000)] = 20
    lockout_seconds: Annotated[int, int_range(1, 3600)] = 60
    max_lockout_seconds: Annotated[int, int_range(60, 86400)] = 3600

    @model_validator(mode="after")
    def _rules(self) -> SignInPolicy:
        if self.lockout_seconds > self.max_lockout_seconds:
            raise ValueError("lockout_seconds: must not be more than max_lockout_seconds")
        if self.idle_minutes > self.session_hours * 60:
            raise ValueError("idle_minutes: must not be longer than session_hours")
        return self


class Scope(StrEnum):
    """What a personal API token may do.

    ``read``: safe methods (GET); ``write``: every method (includes read); ``admin``: act as
    an admin (only an admin's token, and only with this scope).
    """

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
