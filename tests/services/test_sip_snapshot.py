"""The SIP core's snapshot follows every change: changed extensions one by one, the rest in
full; the reader (as Kamailio's workers use it) sees the change at its next request."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klapka.domain.references import Kind
from klapka.kemi.snapshot import Snapshot
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.telephony.sip_paths import SipPaths
from klapka.sip.supervisor import SnapshotRefresher

DOC: dict[str, Any] = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": f"Secret{n}ab"} for n in ("101", "102", "103")],
    "groups": [{"name": "Sales", "members": ["101"]}],
}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Pbx, SnapshotRefresher, Snapshot]]:
    pbx = Pbx.from_url(database_url)
    ConfigService(pbx).apply(DOC)
    paths = SipPaths(tmp_path)
    refresher = SnapshotRefresher(pbx, paths)
    refresher.refresh()
    yield pbx, refresher, Snapshot(str(paths.snapshot))
    pbx.close()


def test_the_reader_sees_every_extension_account_and_group(
    world: tuple[Pbx, SnapshotRefresher, Snapshot],
) -> None:
    _pbx, _refresher, reader = world
    snap = reader.fresh()
    assert set(snap.directory.extensions) == {"101", "102", "103"}
    assert snap.directory.extensions["101"].groups == frozenset({"Sales"})
    assert snap.accounts["102"]["password"] == "Secret102ab"
    assert "999" not in snap.directory.extensions


def test_a_changed_extension_reaches_the_reader(
    world: tuple[Pbx, SnapshotRefresher, Snapshot],
) -> None:
    pbx, refresher, reader = world
    assert reader.fresh().directory.extensions["101"].presence == "available"
    Objects(pbx).patch(Kind.EXTENSION, "101", {"presence": "away", "sip_password": "NewSecret1x"})
    refresher.refresh()
    snap = reader.fresh()
    assert snap.directory.extensions["101"].presence == "away"
    assert snap.accounts["101"]["password"] == "NewSecret1x"
    assert snap.directory.extensions["101"].groups == frozenset({"Sales"})  # kept


def test_changes_in_quick_succession_each_reach_the_next_request(
    world: tuple[Pbx, SnapshotRefresher, Snapshot],
) -> None:
    """The reader asks SQLite only when the writer's stamp moved: no change may be missed,
    however close together (and no waiting for the reader's periodic re-check)."""
    pbx, refresher, reader = world
    reader.fresh()
    for presence in ("away", "lunch_break", "available", "off_work"):
        Objects(pbx).patch(Kind.EXTENSION, "102", {"presence": presence})
        refresher.refresh()
        assert reader.fresh().directory.extensions["102"].presence == presence


def test_a_deleted_and_a_new_extension(world: tuple[Pbx, SnapshotRefresher, Snapshot]) -> None:
    pbx, refresher, reader = world
    reader.fresh()
    Objects(pbx).delete(Kind.EXTENSION, "103", cascade=True)
    Objects(pbx).create(Kind.EXTENSION, {"number": "104"})
    refresher.refresh()
    snap = reader.fresh()
    assert "103" not in snap.directory.extensions
    assert "103" not in snap.accounts
    assert "104" in snap.directory.extensions


def test_a_group_change_refreshes_the_members(
    world: tuple[Pbx, SnapshotRefresher, Snapshot],
) -> None:
    pbx, refresher, reader = world
    reader.fresh()
    Objects(pbx).patch(Kind.GROUP, "Sales", {"members": ["102"]})
    refresher.refresh()
    snap = reader.fresh()
    assert snap.directory.extensions["101"].groups == frozenset()
    assert snap.directory.extensions["102"].groups == frozenset({"Sales"})


def rows_written(refresher: SnapshotRefresher) -> dict[str, int]:
    """Each extension's SQLite row id in the snapshot file (a rewritten row gets a new one)."""
    conn = sqlite3.connect(refresher.writer.path)
    try:
        return dict(conn.execute("SELECT number, rowid FROM extensions").fetchall())
    finally:
        conn.close()


def test_a_change_elsewhere_rewrites_only_the_extensions_it_changes(
    world: tuple[Pbx, SnapshotRefresher, Snapshot],
) -> None:
    pbx, refresher, reader = world
    before = rows_written(refresher)
    Objects(pbx).patch(Kind.GROUP, "Sales", {"members": ["101", "102"]})  # 102's view changes
    refresher.refresh()
    after = rows_written(refresher)
    assert set(after) == {"101", "102", "103"}
    assert after["101"] == before["101"] and after["103"] == before["103"]
    assert after["102"] != before["102"]
    assert reader.fresh().directory.extensions["102"].groups == frozenset({"Sales"})
    # A change of one extension, then of something else: the others stay as written.
    Objects(pbx).patch(Kind.EXTENSION, "103", {"presence": "away"})
    refresher.refresh()
    assert set(rows_written(refresher)) == {"101", "102", "103"}
    assert reader.fresh().directory.extensions["103"].presence == "away"
