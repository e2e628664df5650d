"""`klapka calls history`: the call history in the PBX's local time, filtered, as a table,
JSON or CSV; a bad filter is one line naming the flag, exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from klapka.cli import app
from klapka.services.call_history import CallRecorder
from klapka.services.directory.system import SystemSettings
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM

runner = CliRunner()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()  # 10:00 in Prague


@pytest.fixture
def pbx(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Iterator[Pbx]:
    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "data"))
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def klapka(*args: str) -> Result:
    return runner.invoke(app, list(args))


def test_history_in_local_time_filtered_and_exported(pbx: Pbx) -> None:
    SystemSettings(pbx, SYSTEM).patch({"timezone": "Europe/Prague"})
    assert klapka("calls", "history").stdout == "No calls.\n"
    CallRecorder(pbx).apply([
        {"e": "start", "ci": "a", "t": T0, "from": "101", "name": "Jana Nováková",
         "ext": "101", "to": "102", "path": "direct"},
        {"e": "ring", "ci": "a", "t": T0, "owner": "102", "rung": ["102"], "numbers": []},
        {"e": "answer", "ci": "a", "t": T0 + 5, "ext": "102", "endpoint": "desk"},
        {"e": "end", "ci": "a", "t": T0 + 65, "how": "bye", "by": "callee"},
        {"e": "start", "ci": "b", "t": T0 + 600, "from": "103", "name": "", "ext": "103",
         "to": "101", "path": "direct"},
    ], (1, 0))  # fmt: skip
    shown = klapka("calls", "history")
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[1].split()[:4] == ["2026-03-02", "10:10:00", "103", "101"]
    assert "in progress" in lines[1]
    assert lines[2].split() == ["2026-03-02", "10:00:00", "101", "(Jana", "Nováková)", "102",
                                "102", "answered", "5s", "60s"]  # fmt: skip
    assert lines[-1] == "(2 calls; times in Europe/Prague)"
    only = json.loads(klapka("calls", "history", "--outcome", "answered", "--json").stdout)
    assert [c["call_id"] for c in only["items"]] == ["a"] and only["timezone"] == "Europe/Prague"
    # --since without a zone is local time: 10:05 Prague is after the first call.
    later = json.loads(klapka("calls", "history", "--since", "2026-03-02T10:05", "--json").stdout)
    assert [c["call_id"] for c in later["items"]] == ["b"]
    csv = klapka("calls", "history", "--extension", "102", "--csv").stdout.splitlines()
    assert csv[0].startswith("started_at,") and len(csv) == 2


def test_a_bad_filter_is_one_line_naming_the_flag(pbx: Pbx) -> None:
    for args, flag in ((["--outcome", "lost"], "--outcome"), (["--since", "March"], "--since")):
        result = klapka("calls", "history", *args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"error: {flag}: ") and result.output.count("\n") == 1
