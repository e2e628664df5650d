"""SQLite writers of one process take turns, first come first served.

SQLite lets one transaction write at a time. When several threads of ``klapka serve``
(the REST API's thread pool, the SIP core, voicemail) want to write at once, the losers
used to wait in SQLite's busy handler, which polls: it sleeps 1, 2, 5, ... and then
100 ms between tries, whoever comes first when the lock is free wins, and a writer that has
waited long sleeps longest. Under 50 concurrent clients a write waited up to seconds (issue
12: p99 3.2 s) while the database was idle most of the time.

``install(engine)`` makes every write transaction on the engine take a process-wide lock
of its database file first, in arrival order, and hand it to the next writer right after
its COMMIT or ROLLBACK: waiting writers sleep on the lock and wake when it is their turn,
and SQLite's own lock is free when they get there. The lock is taken when a transaction
first writes (the statement that makes the driver begin the transaction), so transactions
that only read never wait for writers (WAL). The transaction then begins IMMEDIATE: its
write lock is held from the start. Other processes (the CLI, Kamailio) still meet at
SQLite's lock, through ``busy_timeout``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

# How long a writer waits for its turn (in this process) or for SQLite's lock (another
# process) before it gives up with "database is locked".
WRITE_WAIT_SECONDS = 10.0

# The statements that make Python's sqlite3 module begin a transaction (its "legacy"
# transaction control, which SQLAlchemy's pysqlite dialect uses).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class TurnLock:
    """A lock that waiters get in the order they asked for it (a plain ``threading.Lock``
    lets a newcomer overtake a thread that was woken up)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locked = False
        self._waiting: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._locked:
                self._locked = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._mutex:
            try:
                self._waiting.remove(turn)
            except ValueError:
                return True  # handed over just as the wait ended: it is ours now
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()  # stays locked: it is the next one's
            else:
                self._locked = False


_locks: dict[str, TurnLock] = {}
_locks_guard = threading.Lock()


def _lock_of(database: str) -> TurnLock:
    with _locks_guard:
        return _locks.setdefault(database, TurnLock())


class _Writers:
    """The write turn of one database file, and which DBAPI connection holds it."""

    def __init__(self, lock: TurnLock, wait: float) -> None:
        self.lock = lock
        self.wait = wait
        self._holder: Any = None  # the DBAPI connection in a write transaction
        self._thread: int | None = None

    def take(self, dbapi_connection: Any) -> None:
        if self._holder is dbapi_connection:
            return
        if self._thread == threading.get_ident():
            # Waiting would never end: this thread's other transaction holds the turn.
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError(
                    "database is locked: this thread writes in another transaction already"
                ),
            )
        if not self.lock.acquire(self.wait):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError(
                    f"database is locked: no turn to write within {self.wait:g} s"
                ),
            )
        self._holder = dbapi_connection
        self._thread = threading.get_ident()

    def give_back(self, dbapi_connection: Any) -> None:
        # SQLAlchemy passes the pool's proxy of the connection to do_commit/do_rollback.
        dbapi_connection = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if dbapi_connection is not None and self._holder is dbapi_connection:
            self._holder = None
            self._thread = None
            self.lock.release()


def install(engine: Engine, wait: float = WRITE_WAIT_SECONDS) -> None:
    """Writers on ``engine`` (SQLite) take turns; see the module's description."""
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        # Every connection is its own database, or a URI this module does not parse.
        writers = _Writers(TurnLock(), wait)
    else:
        import os

        writers = _Writers(_lock_of(os.path.realpath(database)), wait)

    @event.listens_for(engine, "connect")
    def _immediate(dbapi_connection: Any, _record: Any) -> None:
        # The transaction that the first write begins holds SQLite's write lock from BEGIN.
        dbapi_connection.isolation_level = "IMMEDIATE"
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        cur.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _take_turn(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if dbapi_connection.in_transaction:
            return
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            writers.take(dbapi_connection)

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            if not dbapi_connection.in_transaction:
                writers.give_back(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            writers.give_back(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    def _closed(dbapi_connection: Any, _record: Any) -> None:
        writers.give_back(dbapi_connection)

    @event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
        writers.give_back(dbapi_connection)
