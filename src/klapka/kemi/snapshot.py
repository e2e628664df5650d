"""The directory snapshot the SIP core routes by: a SQLite file under ``<data>/sip``.

``klapka serve`` keeps it current (``SnapshotWriter``: the changed extensions only, or
everything when anything else changed), Kamailio's workers read it (``Snapshot``: one query
per change to see what moved; an extension's view is read when a call needs it and kept
until the next change). So a change reaches the next call in a fraction of a second even
with 10,000 extensions, and no worker re-reads the whole directory.

Whether anything changed is asked of a small stamp file next to it (``<file>.stamp``), which
the writer rewrites in place after each commit and every worker keeps mapped in memory: a
request reads 20 bytes of shared memory instead of querying SQLite (no system call; the
query's file locks were a measurable part of a call's cost).

Standard library and ``klapka.routing`` only: the reader runs inside Kamailio.
"""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from klapka.routing.model import Directory, ExtensionView, QueueAgents
from klapka.routing.snapshot import extension_from_json, from_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS extensions (number TEXT PRIMARY KEY, view TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY, extension TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS accounts_extension ON accounts (extension);
"""
STAMP_BYTES = 20
RECHECK_SECONDS = 1.0  # a reader also asks SQLite itself this often (the stamp is a shortcut)


class SnapshotWriter:
    """Writes snapshots into the file (the caller builds them, see services.sip_directory)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        new = not os.path.exists(self.path)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        if new:
            os.chmod(self.path, 0o600)  # it holds SIP passwords
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        return conn

    def write(self, snapshot: dict[str, Any], full: bool, removed: Iterable[str] = ()) -> None:
        """Store ``snapshot`` (from ``build_snapshot``) in one transaction. ``full``: it holds
        every extension (the others go); else it holds the changed ones, and ``removed`` are
        the extensions that no longer exist."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            if full:
                conn.execute("DELETE FROM extensions")
                conn.execute("DELETE FROM accounts")
            gone = list(removed) + ([] if full else list(snapshot["extensions"]))
            conn.executemany("DELETE FROM extensions WHERE number = ?", ((n,) for n in gone))
            conn.executemany("DELETE FROM accounts WHERE extension = ?", ((n,) for n in gone))
            conn.executemany(
                "INSERT INTO extensions (number, view) VALUES (?, ?)",
                ((n, json.dumps(v)) for n, v in snapshot["extensions"].items()),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO accounts (username, extension, data) VALUES (?, ?, ?)",
                ((u, a["extension"], json.dumps(a)) for u, a in snapshot["accounts"].items()),
            )
            meta = {
                "directory": json.dumps(snapshot["directory"]),
                "sip": json.dumps(snapshot["sip"]),
                "trunks": json.dumps(snapshot["trunks"]),
                "runtime": json.dumps(snapshot["runtime"]),
                "version": str(snapshot["version"]),
                # Every write is a new generation (a change of runtime facts alone, such
                # as a paused queue agent, keeps the directory version).
                "generation": str(time.time_ns()),
            }
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items())
            conn.execute("COMMIT")
        finally:
            conn.close()
        self._stamp()

    def _stamp(self) -> None:
        """Tell the readers that the file changed: rewrite the stamp in place (never
        replaced, so a reader's memory map keeps seeing it)."""
        fd = os.open(self.path + ".stamp", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, str(time.time_ns()).zfill(STAMP_BYTES).encode(), 0)
        finally:
            os.close(fd)


class _Extensions(Mapping[str, ExtensionView]):
    """Extension views read on demand, kept until the snapshot's version moves."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cache: dict[str, ExtensionView | None] = {}

    def __getitem__(self, number: str) -> ExtensionView:
        if number not in self.cache:
            row = self.conn.execute(
                "SELECT view FROM extensions WHERE number = ?", (number,)
            ).fetchone()
            self.cache[number] = extension_from_json(json.loads(row[0])) if row else None
        found = self.cache[number]
        if found is None:
            raise KeyError(number)
        return found

    def __iter__(self) -> Iterator[str]:
        return (n for (n,) in self.conn.execute("SELECT number FROM extensions ORDER BY number"))

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM extensions").fetchone()[0])


class _Accounts(Mapping[str, dict[str, Any]]):
    """SIP accounts by username, read on demand, kept until the version moves."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cache: dict[str, dict[str, Any] | None] = {}

    def __getitem__(self, username: str) -> dict[str, Any]:
        if username not in self.cache:
            row = self.conn.execute(
                "SELECT data FROM accounts WHERE username = ?", (username,)
            ).fetchone()
            self.cache[username] = json.loads(row[0]) if row else None
        found = self.cache[username]
        if found is None:
            raise KeyError(username)
        return found

    def __iter__(self) -> Iterator[str]:
        return (u for (u,) in self.conn.execute("SELECT username FROM accounts"))

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM accounts").fetchone()[0])


class Snapshot:
    """The reader: ``fresh()`` at the start of each request."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.generation: str | None = None
        self.stamp: mmap.mmap | None = None
        self.seen = b""  # the stamp when SQLite was last asked
        self.checked = 0.0  # and when (monotonic)
        self.directory = Directory()
        self.accounts: Mapping[str, dict[str, Any]] = {}
        self.sip: dict[str, Any] = {}
        self.trunks: dict[str, dict[str, Any]] = {}
        self.queue_agents: QueueAgents = {}

    def _map_stamp(self) -> mmap.mmap | None:
        # Safe to keep mapped because the writer only ever rewrites it in place: truncating
        # it would kill a worker reading the mapping (SIGBUS).
        try:
            with open(self.path + ".stamp", "rb") as f:
                return mmap.mmap(f.fileno(), STAMP_BYTES, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None  # not written yet: SQLite is asked on every request

    def fresh(self) -> Snapshot:
        stamp = self.stamp
        if (
            stamp is not None
            and stamp[:STAMP_BYTES] == self.seen
            and time.monotonic() - self.checked < RECHECK_SECONDS
        ):
            return self  # nothing was written since SQLite was last asked
        if self.conn is None:
            if not os.path.exists(self.path):
                return self
            self.conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
        if stamp is None:
            stamp = self.stamp = self._map_stamp()
        # The stamp is read before SQLite (a write after this reading moves it again) and
        # remembered once SQLite has answered (if it fails, the next request asks again).
        seen = stamp[:STAMP_BYTES] if stamp is not None else b""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        if row is None or row[0] == self.generation:
            self.seen, self.checked = seen, time.monotonic()
            return self
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        rest = json.loads(meta["directory"])
        self.directory = replace(
            from_json({**rest, "extensions": []}), extensions=_Extensions(self.conn)
        )
        self.accounts = _Accounts(self.conn)
        self.sip = json.loads(meta["sip"])
        self.trunks = json.loads(meta["trunks"])
        runtime = json.loads(meta.get("runtime", "{}"))
        self.queue_agents = {
            (q, e): (bool(li), bool(p)) for q, e, li, p in runtime.get("queue_agents", ())
        }
        self.generation = meta["generation"]
        self.seen, self.checked = seen, time.monotonic()
        return self
