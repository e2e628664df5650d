"""Where the data lives: SQLite under the data directory, or PostgreSQL by URL."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

from klapka.store import sqlite_writes


def data_dir() -> Path:
    return Path(os.environ.get("KLAPKA_DATA_DIR") or "data").resolve()


# What klapka writes is for its own user only: the database holds SIP passwords, PINs and
# password hashes; the data directory voicemail audio, the TLS key and generated files.
PRIVATE_UMASK = 0o077


def protect_data_dir(root: Path | None = None) -> Path:
    """Create the data directory owner-only (0700), or make an existing one so: every
    directory in it 0700, every file without group and other permissions (0600)."""
    root = root or data_dir()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(root, 0o700)
    for parent, dirs, files in os.walk(root):
        for name in dirs:
            _owner_only(Path(parent, name), 0o700)
        for name in files:
            _owner_only(Path(parent, name), None)
    return root


def _owner_only(path: Path, mode: int | None) -> None:
    """chmod ``path`` to ``mode`` (None: its own mode without group/other bits); symlinks
    and what vanished meanwhile are left alone."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            return
        current = stat.S_IMODE(st.st_mode)
        wanted = mode if mode is not None else current & 0o700
        if current != wanted:
            os.chmod(path, wanted)
    except FileNotFoundError:
        pass


def _private_sqlite_file(path: Path) -> None:
    """The SQLite database, made owner-only before SQLite opens it (SQLite gives its -wal and
    -shm files the database file's permissions); existing ones are tightened."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for suffix in ("", "-wal", "-shm", "-journal"):
        _owner_only(Path(f"{path}{suffix}"), None)


def database_url() -> str:
    """``KLAPKA_DATABASE_URL`` if set, else the SQLite file in the data directory."""
    url = os.environ.get("KLAPKA_DATABASE_URL")
    if url:
        return normalize_url(url)
    return f"sqlite:///{data_dir() / 'klapka.db'}"


def normalize_url(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_sqlite_file(Path(path))
        # A connection per thread that uses the database at once (API threads, SIP core,
        # voicemail): writers wait for their turn holding one, readers must still get one.
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=20, max_overflow=40
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        sqlite_writes.install(engine)  # writers take turns; busy_timeout
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
