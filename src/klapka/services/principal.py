"""Who is asking: the principal every service call acts for.

The REST API builds one per request (from a session cookie or an API token); the CLI and
Kamailio's adapter act as the system. Permission checks and the audit log read it.
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
