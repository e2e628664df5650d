"""The throwaway PostgreSQL cluster the PostgreSQL test run relies on."""

import os

import psycopg
import pytest
from pgcluster import PostgresCluster

pytestmark = pytest.mark.skipif(
    os.environ.get("KLAPKA_TEST_DB", "sqlite") != "postgresql",
    reason="PostgreSQL tests run with KLAPKA_TEST_DB=postgresql",
)


def test_cluster_serves_a_created_database_and_removes_itself_on_stop() -> None:
    with PostgresCluster() as cluster:
        cluster.create_database("smoke")
        with psycopg.connect(cluster.dsn("smoke")) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        base_dir = cluster.base_dir
        assert base_dir is not None and base_dir.exists()
    assert not base_dir.exists()


def test_database_created_from_a_sealed_template_has_its_tables() -> None:
    with PostgresCluster() as cluster:
        cluster.create_database("template_db")
        with psycopg.connect(cluster.dsn("template_db"), autocommit=True) as conn:
            conn.execute("create table marker (id int)")
            # an open session must not block copying the template once sealed
            cluster.seal_template("template_db")
        cluster.create_database("copy", template="template_db")
        left_open = psycopg.connect(cluster.dsn("copy"))
        assert left_open.execute("select count(*) from marker").fetchone() == (0,)
        cluster.drop_database("copy")  # must not wait for the session a test left open
        left_open.close()
        with psycopg.connect(cluster.dsn("postgres")) as conn:
            names = {row[0] for row in conn.execute("select datname from pg_database")}
        assert "copy" not in names


def test_url_is_a_sqlalchemy_psycopg_url() -> None:
    with PostgresCluster() as cluster:
        assert cluster.url("db") == f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/db"
