"""What the SIP core needs from the directory, as one JSON snapshot: the routing view,
the SIP accounts (credentials and registration limits) and the SIP settings.

The SIP core runs in Kamailio's own Python without a database driver; it reads this
snapshot file, which ``klapka serve`` rewrites whenever the directory version changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from klapka.routing.snapshot import to_json
from klapka.services.pbx import Pbx
from klapka.store import tables as t
from klapka.store.directory_view import load_directory


def directory_version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        v = repo.conn.execute(select(t.system.c.directory_version)).scalar()
    return int(v or 0)


def build_snapshot(pbx: Pbx) -> dict[str, Any]:
    with pbx.tx() as repo:
        system, _secrets, _hours, version = repo.system()
        directory = load_directory(repo.conn)
        accounts: dict[str, dict[str, Any]] = {}
        rows = repo.conn.execute(
            select(
                t.extensions.c.number,
                t.extensions.c.sip_username,
                t.extensions.c.data,
                t.extensions.c.secrets,
            )
        )
        for number, username, data, secrets in rows:
            security = data.get("security") or {}
            accounts[username] = {
                "extension": number,
                "password": secrets.get("sip_password", ""),
                "enabled": data.get("enabled", True),
                "max_contacts": int(data.get("concurrent_registrations", 1)),
                "allowed_ips": security.get("allowed_ips", []),
                "user_agent_prefix": security.get("user_agent_prefix"),
            }
    sip = system.sip
    return {
        "version": version,
        "directory": to_json(directory),
        "accounts": accounts,
        "sip": {
            "domain": sip.domain,
            "mobile_app_user_agents": sip.mobile_app_user_agents,
            "desktop_app_user_agents": sip.desktop_app_user_agents,
        },
    }
