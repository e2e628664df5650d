"""Shared fixtures of the test suite.

Database fixtures come first. The suite runs once per backend, chosen by the environment:
    KLAPKA_TEST_DB=sqlite      (default) a SQLite file per test
    KLAPKA_TEST_DB=postgresql  a database per test in a throwaway PostgreSQL cluster
scripts/test.sh runs both.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from pgcluster import PostgresCluster

BACKENDS = ("sqlite", "postgresql")
TEMPLATE_DATABASE = "klapka_template"


def pytest_report_header() -> str:
    return f"klapka database backend: {os.environ.get('KLAPKA_TEST_DB', 'sqlite')}"


# --- database backends ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def db_backend() -> str:
    """The database backend this run tests against: "sqlite" or "postgresql"."""
    backend = os.environ.get("KLAPKA_TEST_DB", "sqlite")
    if backend not in BACKENDS:
        raise pytest.UsageError(f"KLAPKA_TEST_DB={backend!r}: must be one of {BACKENDS}")
    return backend


@pytest.fixture(scope="session")
def _pg_cluster(db_backend: str) -> Iterator[PostgresCluster | None]:
    """The session's PostgreSQL server when testing PostgreSQL, else None.

    Started on first use (about a second), removed at the end of the session.
    """
    if db_backend != "postgresql":
        yield None
        return
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def _template_database_url(
    db_backend: str,
    _pg_cluster: PostgresCluster | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A database migrated to head once per session; each test gets a copy of it.

    Migrating takes far longer than copying, so database_url copies this one.
    """
    from klapka.store.migrate import upgrade  # imported here: only DB tests need the store

    if _pg_cluster is None:
        path = tmp_path_factory.mktemp("db-template") / "klapka.db"
        upgrade(f"sqlite:///{path}")
        # In WAL mode, recent writes may still sit in klapka.db-wal: fold them into the file
        # that database_url copies.
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return f"sqlite:///{path}"

    _pg_cluster.create_database(TEMPLATE_DATABASE)
    upgrade(_pg_cluster.url(TEMPLATE_DATABASE))
    # CREATE DATABASE ... TEMPLATE fails while a connection (e.g. a pooled one left by the
    # migration) is open to the template.
    _pg_cluster.seal_template(TEMPLATE_DATABASE)
    return _pg_cluster.url(TEMPLATE_DATABASE)


_database_numbers = itertools.count(1)


@pytest.fixture
def database_url(
    _template_database_url: str,
    _pg_cluster: PostgresCluster | None,
    tmp_path: Path,
) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, fully migrated, empty database of its own for this test."""
    if _pg_cluster is None:
        template = Path(_template_database_url.removeprefix("sqlite:///"))
        path = tmp_path / "klapka.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return

    name = f"test_{next(_database_numbers)}"
    _pg_cluster.create_database(name, template=TEMPLATE_DATABASE)
    try:
        yield _pg_cluster.url(name)
    finally:
        _pg_cluster.drop_database(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that never touch the test database (no ``database_url`` among their fixtures,
    or marked ``backend_independent``) run once, in the SQLite pass."""
    if os.environ.get("KLAPKA_TEST_DB", "sqlite") != "postgresql":
        return
    skip = pytest.mark.skip(reason="independent of the database backend: run in the SQLite pass")
    database = {"database_url", "_pg_cluster", "_template_database_url"}
    for item in items:
        uses_database = bool(database & set(getattr(item, "fixturenames", ())))
        if item.get_closest_marker("backend_independent") or not uses_database:
            item.add_marker(skip)
