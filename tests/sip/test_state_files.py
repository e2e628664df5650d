"""The files Kamailio keeps registrations and calls in hold disposable state: one that is
corrupt, of other table versions or half made is moved aside and made again, so the SIP core
starts (Kamailio refuses such a file and would be restarted forever) and writes to it."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from pbx4sip import running
from sipp import free_udp_port
from test_calls import PASSWORDS
from test_supervision import DOC, rows, wait_for

from klapka.services.pbx import Pbx
from klapka.sip import state_db
from klapka.sip.supervisor import SipCore

pytestmark = pytest.mark.skipif(not state_db.available(), reason="kamailio-sqlite-modules")

MODULE_FILES = {"usrloc": "location.sqlite", "dialog": "dialog.sqlite"}


def garbage(path: Path) -> None:
    path.write_bytes(b"not a database, just garbage " * 500)


def version_mismatch(path: Path) -> None:
    """A file of another Kamailio: every table there, the version table says otherwise."""
    assert state_db.prepare(path, "usrloc")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE version SET table_version=99 WHERE table_name='location'")
    db.close()


def half_made(path: Path) -> None:
    """A creation cut short: the version table made (with its rows), the module's missing."""
    sql = state_db.schema("usrloc")
    with sqlite3.connect(path) as db:
        db.executescript(sql[: sql.index("CREATE TABLE location ")])
        db.execute("INSERT INTO version (table_name, table_version) VALUES ('location', 9)")
    db.close()


BREAKAGES: dict[str, Callable[[Path], None]] = {
    "garbage": garbage,
    "version mismatch": version_mismatch,
    "half made": half_made,
}


def usable(path: Path, module: str) -> None:
    """The file has every table of the schema at its version, in WAL mode, readable by us only."""
    assert state_db.problem(path, state_db.schema(module)) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def aside(path: Path) -> list[Path]:
    return sorted(
        p
        for p in path.parent.glob(f"{path.name}.broken-*")
        if not p.name.endswith(state_db.COMPANIONS)
    )


def test_a_missing_file_is_made(tmp_path: Path) -> None:
    for module, name in MODULE_FILES.items():
        assert state_db.prepare(tmp_path / name, module)
        usable(tmp_path / name, module)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(MODULE_FILES.values())


def test_a_sound_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "location.sqlite"
    assert state_db.prepare(path, "usrloc")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO location (ruid, username, contact) VALUES ('r1', '101', 'sip:x')")
    db.close()
    assert state_db.prepare(path, "usrloc")
    assert rows(path, "location") == 1
    assert aside(path) == []


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_file_is_moved_aside_and_made_again(
    tmp_path: Path, breakage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "location.sqlite"
    BREAKAGES[breakage](path)
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="klapka.sip"):
        assert state_db.prepare(path, "usrloc")
    usable(path, "usrloc")
    [kept] = aside(path)
    assert kept.read_bytes() == before
    assert str(path) in caplog.text and kept.name in caplog.text
    expected = {
        "garbage": "unreadable",
        "version mismatch": "location 99 (expected 9)",
        "half made": "location, location_attrs missing",
    }[breakage]
    assert expected in caplog.text


def test_a_stale_write_ahead_log_is_not_replayed_into_the_new_file(tmp_path: Path) -> None:
    """The file gone (deleted by hand, say) but its log left: the new file is made without it."""
    path = tmp_path / "location.sqlite"
    Path(f"{path}-wal").write_bytes(b"a log of another file")
    Path(f"{path}-shm").write_bytes(b"\0" * 100)
    assert state_db.prepare(path, "usrloc")
    usable(path, "usrloc")
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.read_bytes() != b"a log of another file"


def test_an_empty_file_is_made_without_keeping_it(tmp_path: Path) -> None:
    path = tmp_path / "dialog.sqlite"
    path.touch()
    assert state_db.prepare(path, "dialog")
    usable(path, "dialog")
    assert aside(path) == []


def test_at_most_two_broken_files_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "location.sqlite"
    for stamp in ("20200101T000000Z", "20210101T000000Z", "20220101T000000Z"):
        Path(f"{path}.broken-{stamp}").write_bytes(b"old")
    Path(f"{path}.broken-20200101T000000Z-wal").write_bytes(b"old")
    garbage(path)
    assert state_db.prepare(path, "usrloc")
    kept = aside(path)
    assert len(kept) == state_db.KEEP_BROKEN
    assert kept[0].name == "location.sqlite.broken-20220101T000000Z"
    assert kept[1].read_bytes().startswith(b"not a database")
    assert not Path(f"{path}.broken-20200101T000000Z-wal").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to any directory")
def test_a_file_that_cannot_be_made_means_no_persistence_not_an_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "location.sqlite"
    garbage(path)
    tmp_path.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING, logger="klapka.sip"):
            assert not state_db.prepare(path, "usrloc")
    finally:
        tmp_path.chmod(0o700)
    assert "will not survive a restart" in caplog.text


def test_a_file_that_cannot_be_made_as_root_means_no_persistence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever runs it: making the file fails (the disk full, say)."""

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    path = tmp_path / "location.sqlite"
    garbage(path)
    monkeypatch.setattr(state_db.tempfile, "mkstemp", full)
    with caplog.at_level(logging.WARNING, logger="klapka.sip"):
        assert not state_db.prepare(path, "usrloc")
    assert "No space left on device" in caplog.text
    assert not list(tmp_path.glob(".location.sqlite.*"))  # no temporary file left


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_sip_core_starts_with_a_broken_file_and_writes_registrations_to_a_new_one(
    database_url: str, tmp_path: Path, breakage: str
) -> None:
    data, port = tmp_path / "data", free_udp_port()
    location = data / "sip" / "location.sqlite"
    location.parent.mkdir(parents=True)
    BREAKAGES[breakage](location)
    before = location.read_bytes()
    core = SipCore(Pbx.from_url(database_url), data, "127.0.0.1", port, port)
    with running(core.pbx, core, tmp_path / "sipp") as sip:
        assert 'modparam("usrloc", "db_mode", 2)' in core.paths.cfg.read_text()  # persisting
        sip.apply(DOC)
        assert sip.sipp.register("101", PASSWORDS["101"]).ok
        wait_for("the registration written", lambda: rows(location, "location"), timeout=10)
        assert core.restarts == 0
    [kept] = aside(location)
    assert kept.read_bytes() == before
