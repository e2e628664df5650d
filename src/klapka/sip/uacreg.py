"""Register trunks as Kamailio's uac module wants them: rows of a ``uacreg`` SQLite table.

klapka writes the table from the directory snapshot whenever the trunks change and asks
Kamailio to reload it (``uac.reg_reload``); uac then registers each trunk, re-registers
before expiry and retries a failed one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE version (
    table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_table_name_idx UNIQUE (table_name));
INSERT INTO version (table_name, table_version) VALUES ('uacreg', 5);
CREATE TABLE uacreg (
    id INTEGER PRIMARY KEY NOT NULL,
    l_uuid VARCHAR(64) DEFAULT '' NOT NULL, l_username VARCHAR(64) DEFAULT '' NOT NULL,
    l_domain VARCHAR(64) DEFAULT '' NOT NULL, r_username VARCHAR(64) DEFAULT '' NOT NULL,
    r_domain VARCHAR(64) DEFAULT '' NOT NULL, realm VARCHAR(64) DEFAULT '' NOT NULL,
    auth_username VARCHAR(64) DEFAULT '' NOT NULL, auth_password VARCHAR(64) DEFAULT '' NOT NULL,
    auth_ha1 VARCHAR(128) DEFAULT '' NOT NULL, auth_proxy VARCHAR(255) DEFAULT '' NOT NULL,
    expires INTEGER DEFAULT 0 NOT NULL, flags INTEGER DEFAULT 0 NOT NULL,
    reg_delay INTEGER DEFAULT 0 NOT NULL, contact_addr VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT uacreg_l_uuid_idx UNIQUE (l_uuid));
"""


def registrations(
    trunks: dict[str, dict[str, Any]], contact_addr: Callable[[str], str] = lambda _: ""
) -> list[tuple[Any, ...]]:
    """One row per enabled register trunk with a password, sorted (so an unchanged set
    writes nothing). ``contact_addr``: the ``address:port`` the trunk's Contact names, by
    its proxy URI ("": the module's ``reg_contact_addr``)."""
    rows = []
    for name, trunk in sorted(trunks.items()):
        if trunk["type"] != "register" or not trunk["enabled"] or not trunk["password"]:
            continue  # nothing to register with (the demo's provider has no password)
        rows.append(
            (
                trunk["uuid"],
                name,
                "klapka",
                trunk["username"] or "",
                trunk["domain"],
                "",  # realm: the one the provider's challenge names
                trunk["auth_name"] or trunk["username"] or "",
                trunk["password"] or "",
                trunk["proxy"],
                int(trunk["expiry"]),
                contact_addr(trunk["proxy"]),
            )
        )
    return rows


def write(
    path: Path, trunks: dict[str, dict[str, Any]], contact_addr: Callable[[str], str]
) -> bool:
    """Write the table if the register trunks changed; True if it was (re)written."""
    rows = registrations(trunks, contact_addr)
    if path.exists():
        try:
            with sqlite3.connect(path) as db:
                current = db.execute(
                    "SELECT l_uuid, l_username, l_domain, r_username, r_domain, realm,"
                    " auth_username, auth_password, auth_proxy, expires, contact_addr"
                    " FROM uacreg ORDER BY l_uuid"
                ).fetchall()
            if current == sorted(rows):
                return False
        except sqlite3.Error:
            pass
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO uacreg (l_uuid, l_username, l_domain, r_username, r_domain, realm,"
            " auth_username, auth_password, auth_proxy, expires, contact_addr)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.commit()
    finally:
        db.close()
    os.chmod(tmp, 0o600)  # it holds trunk passwords
    os.replace(tmp, path)
    return True
