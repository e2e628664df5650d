"""What Kamailio must not forget when it restarts: the registrations (usrloc) and the calls
in progress (dialog), kept in SQLite files of Kamailio's own schema under ``<data dir>/sip``
(one each, so the two modules' timers never wait for each other's writes).

Kamailio writes both back from its memory (``db_mode`` 2, every few seconds and when it stops)
and loads them when it starts, so a restart of Kamailio or of klapka neither makes phones
unreachable until they register again nor refuses the BYE of a call that was going on. The
tables are made from the schema files Debian's ``kamailio-sqlite-modules`` ships, so they
match the installed modules exactly.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("klapka.sip")

SCHEMA_DIR = Path("/usr/share/kamailio/db_sqlite")
VERSION_SCHEMA = "standard-create.sql"  # the version table each file needs first
# The Kamailio module (and its file under <data dir>/sip) -> its schema file.
SCHEMA_FILES = {"usrloc": "usrloc-create.sql", "dialog": "dialog-create.sql"}
# How often Kamailio writes changed registrations and calls to the file: what a kill -9 of
# Kamailio can lose is at most this many seconds of changes.
WRITE_BACK_SECONDS = 5


def db_url(path: Path) -> str:
    return f"sqlite://{path}"


def available() -> bool:
    names = (VERSION_SCHEMA, *SCHEMA_FILES.values())
    return all((SCHEMA_DIR / name).exists() for name in names)


def prepare(path: Path, module: str) -> bool:
    """Create the file of ``module`` (usrloc, dialog) if it has no tables yet; False (and a
    warning) when the schema files are not installed: Kamailio keeps its state in memory."""
    if not available():
        log.warning(
            "registrations and calls will not survive a restart of the SIP core: "
            "%s is missing (package kamailio-sqlite-modules)",
            SCHEMA_DIR,
        )
        return False
    old_umask = os.umask(0o077)  # registrations name every phone's address: 0600
    try:
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")  # Kamailio's writes never wait for readers
            if not db.execute("SELECT name FROM sqlite_master WHERE name='version'").fetchone():
                db.executescript(
                    (SCHEMA_DIR / VERSION_SCHEMA).read_text()
                    + (SCHEMA_DIR / SCHEMA_FILES[module]).read_text()
                )
    finally:
        os.umask(old_umask)
    return True
