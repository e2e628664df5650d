"""What Kamailio must not forget when it restarts: the registrations (usrloc) and the calls
in progress (dialog), kept in SQLite files of Kamailio's own schema under ``<data dir>/sip``
(one each, so the two modules' timers never wait for each other's writes).

Kamailio writes both back from its memory (``db_mode`` 2, every few seconds and when it stops)
and loads them when it starts, so a restart of Kamailio or of klapka neither makes phones
unreachable until they register again nor refuses the BYE of a call that was going on. The
tables are made from the schema files Debian's ``kamailio-sqlite-modules`` ships, so they
match the installed modules exactly.

The files hold disposable state, and Kamailio does not start with a file it cannot use (a
table missing, or of another version than its modules expect: "invalid version"). So a file
that is corrupt, half made or of other versions is moved aside (``<name>.broken-<time>``, the
last two kept) and made again, empty: the phones register again within their interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

log = logging.getLogger("klapka.sip")

SCHEMA_DIR = Path("/usr/share/kamailio/db_sqlite")
VERSION_SCHEMA = "standard-create.sql"  # the version table each file needs first
# The Kamailio module (and its file under <data dir>/sip) -> its schema file.
SCHEMA_FILES = {
    "usrloc": "usrloc-create.sql",
    "dialog": "dialog-create.sql",
    # presence and pua (subscriptions, published states; klapka.sip.kamailio_cfg)
    "presence": "presence-create.sql",
}
# What each file keeps, for the warnings.
KEPT = {"usrloc": "registrations", "dialog": "calls", "presence": "subscriptions"}
# How often Kamailio writes changed registrations and calls to the file: what a kill -9 of
# Kamailio can lose is at most this many seconds of changes.
WRITE_BACK_SECONDS = 5
# How many files moved aside (corrupt, half made, other versions) are kept per file.
KEEP_BROKEN = 2
# SQLite's companions of a file (write-ahead log, its index, rollback journal): they belong to
# that file, and a stale one beside a new file would be replayed into it.
COMPANIONS = ("-wal", "-shm", "-journal")

_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(\w+)", re.IGNORECASE | re.MULTILINE)
_VERSION = re.compile(
    r"^\s*INSERT\s+INTO\s+version\s*\(\s*table_name\s*,\s*table_version\s*\)\s*"
    r"values\s*\(\s*'(\w+)'\s*,\s*'(\d+)'\s*\)",
    re.IGNORECASE | re.MULTILINE,
)


def db_url(path: Path) -> str:
    return f"sqlite://{path}"


def available() -> bool:
    names = (VERSION_SCHEMA, *SCHEMA_FILES.values())
    return all((SCHEMA_DIR / name).exists() for name in names)


def schema(module: str) -> str:
    """The SQL that makes the file of ``module``: the version table, then the module's."""
    return (SCHEMA_DIR / VERSION_SCHEMA).read_text() + (
        SCHEMA_DIR / SCHEMA_FILES[module]
    ).read_text()


def expected(sql: str) -> tuple[set[str], dict[str, int]]:
    """The tables ``sql`` creates and the version of each it records in the version table."""
    tables = {name.lower() for name in _TABLE.findall(sql)}
    versions = {name.lower(): int(version) for name, version in _VERSION.findall(sql)}
    return tables, versions


def problem(path: Path, sql: str) -> str | None:
    """What keeps Kamailio from using the file at ``path`` (which exists), or None: not an
    intact SQLite database, a table of the schema missing, a version other than the schema's."""
    tables, versions = expected(sql)
    try:
        # mode=rw: never creates a file; the default timeout rides out a writer's lock.
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=rw", uri=True)) as db:
            check = db.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                return f"damaged ({check[0] if check else 'no answer'})"
            present = {
                row[0].lower()
                for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            missing = sorted(tables - present)
            if missing:
                return f"table {', '.join(missing)} missing"
            found = {
                str(name).lower(): version
                for name, version in db.execute("SELECT table_name, table_version FROM version")
            }
    except sqlite3.Error as e:
        if getattr(e, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            raise  # in use by someone else, not broken: left alone
        return f"unreadable ({e})"
    wrong = [
        f"{name} {found.get(name, 'missing')} (expected {version})"
        for name, version in sorted(versions.items())
        if found.get(name) != version
    ]
    return f"table version {', '.join(wrong)}" if wrong else None


def _remove_companions(path: Path) -> None:
    for suffix in COMPANIONS:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def set_aside(path: Path) -> Path:
    """Move ``path`` (and its companions) to ``<name>.broken-<time>``; only the newest
    ``KEEP_BROKEN`` such files are kept. Returns where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    os.replace(path, aside)
    for suffix in COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            os.replace(companion, f"{aside}{suffix}")
    kept = sorted(
        p for p in path.parent.glob(f"{path.name}.broken-*") if not p.name.endswith(COMPANIONS)
    )
    for old in kept[:-KEEP_BROKEN]:
        old.unlink(missing_ok=True)
        _remove_companions(old)
    return aside


def create(path: Path, sql: str) -> None:
    """A new file with the tables of ``sql``, in write-ahead-log mode, readable only by us;
    made beside ``path`` and moved into place whole, so no half-made file is ever seen."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)  # 0600
    os.close(fd)
    tmp = Path(name)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.executescript(sql)
            # Kept in the file: Kamailio's writes never wait for readers.
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
            if not mode or str(mode[0]).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        _remove_companions(path)  # of a file gone or set aside: not to be replayed
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
        _remove_companions(tmp)


def _has_tables(path: Path) -> bool:
    """Whether ``path`` holds anything worth keeping aside: an empty file (or one that has no
    table at all) is simply made again."""
    try:
        if path.stat().st_size == 0:
            return False
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return bool(db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except (sqlite3.Error, OSError):
        return True  # unreadable: kept aside, someone may want to look at it


# Tables emptied before each start: what Kamailio keeps only in memory elsewhere. pua's
# publications name states the presence module held in memory (publ_cache 2), gone after a
# restart: a refresh of one would be refused (412) and the state not published again.
FORGOTTEN = {"presence": ("pua",)}


def _forget(path: Path, tables: tuple[str, ...]) -> None:
    if tables:
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            for table in tables:
                db.execute(f"DELETE FROM {table}")


def prepare(path: Path, module: str) -> bool:
    """Make sure the file of ``module`` (usrloc, dialog) is one Kamailio can use: made if
    missing; moved aside (with a warning) and made again if it is corrupt, half made or of
    other table versions than the installed schema. False (and a warning), never an exception,
    when that cannot be done or the schema files are not installed: Kamailio then keeps its
    state in memory only."""
    if not available():
        log.warning(
            "%s will not survive a restart of the SIP core: "
            "%s is missing (package kamailio-sqlite-modules)",
            KEPT.get(module, module),
            SCHEMA_DIR,
        )
        return False
    try:
        sql = schema(module)
        if path.exists():
            wrong = problem(path, sql)
            if wrong is None:
                _forget(path, FORGOTTEN.get(module, ()))
                return True
            if _has_tables(path):
                aside = set_aside(path)
                log.warning("%s: %s; moved aside to %s and made again", path, wrong, aside.name)
            else:
                log.info("%s has no tables yet: made again", path)
        create(path, sql)
        return True
    except (sqlite3.Error, OSError) as e:
        log.warning(
            "%s will not survive a restart of the SIP core: could not use or make %s (%s)",
            KEPT.get(module, module),
            path,
            e,
        )
        return False
