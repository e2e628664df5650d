"""Who is asking: the principal every service call acts for.

The REST API builds one per request (from a session cookie or an API token); the web UI
from its session; the CLI acts as the system (``klapka.cli.cli_principal``), as do internal
jobs (scheduler, SIP snapshot); the control socket acts for the phone's user
(``phone_user``: feature codes). Every service entry point that reads or changes data on
someone's behalf takes one and checks it (``klapka.services.permissions``); the audit log
records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """An admin, an extension's user, or the system itself (CLI, internal jobs)."""

    role: str  # "admin" | "user" | "system"
    extension: str | None = None  # the signed-in user's own extension number
    name: str = ""  # for the audit log: "extension 101", "token deploy-bot", "cli"
    source_ip: str | None = None
    token_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)  # empty = everything the role allows

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "system")


SYSTEM = Principal(role="system", name="system")


def phone_user(extension: str) -> Principal:
    """The user of ``extension``, dialling from one of their phones: the SIP core checked
    the phone's credentials; the control socket acts for this principal (feature codes),
    under the same client permission rules as the user's web portal."""
    return Principal(role="user", extension=extension, name=f"extension {extension} (feature code)")
