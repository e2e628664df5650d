"""The call journal read into the call history: outcomes decided from the events, every
event applied exactly once across restarts of the reader, and the journal rotated without
losing what the SIP core writes meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from klapka.kemi import journal
from klapka.services.call_history import CallFilter, CallHistory, CallRecorder
from klapka.services.pbx import Pbx
from klapka.sip import call_journal

T = 1_800_000_000.0


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def record(pbx: Pbx, call_id: str) -> dict[str, Any]:
    [found] = [c for c in CallHistory(pbx).search(CallFilter(), limit=100).items
               if c["call_id"] == call_id]  # fmt: skip
    return found


def events(ci: str, *rest: dict[str, Any], ext: str | None = "101") -> list[dict[str, Any]]:
    start = {"e": "start", "ci": ci, "t": T, "from": "101", "name": "", "ext": ext,
             "to": "102", "trunk": None if ext else "carrier", "path": "direct"}  # fmt: skip
    return [start, *({"ci": ci, "t": T + 1, **e} for e in rest)]


RING = {"e": "ring", "owner": "102", "rung": ["102"], "numbers": []}


@pytest.mark.parametrize(
    ("rest", "outcome", "cause", "code"),
    [
        ([RING, {"e": "answer", "ext": "102"}, {"e": "end", "how": "bye", "by": "callee"}],
         "answered", None, 200),
        ([RING, {"e": "step_end", "code": 486, "why": "busy"},
          {"e": "outcome", "result": "hangup", "cause": "busy", "code": 486},
          {"e": "final", "code": 486}, {"e": "end", "how": "failed"}], "busy", "busy", 486),
        ([RING, {"e": "step_end", "code": 603, "why": "busy"},
          {"e": "outcome", "result": "hangup", "cause": "busy", "code": 486},
          {"e": "end", "how": "failed"}], "rejected", "busy", 486),
        ([RING, {"e": "step_end", "code": 408, "why": "no_answer"},
          {"e": "outcome", "result": "voicemail", "mailbox": "102"},
          {"e": "answer"}, {"e": "end", "how": "bye", "by": "caller"}], "voicemail", None, 200),
        ([RING, {"e": "cancel"}, {"e": "end", "how": "failed"}],
         "no_answer", "caller_hung_up", 487),
        ([{"e": "outcome", "result": "hangup", "cause": "restricted", "code": 403},
          {"e": "final", "code": 403}, {"e": "end", "how": "failed"}],
         "failed", "restricted", 403),
        ([{"e": "outcome", "result": "external", "number": "+420601", "trunk": "a"},
          {"e": "trunk", "trunk": "a", "code": 503}, {"e": "trunk", "trunk": "b", "code": 486},
          {"e": "end", "how": "failed"}], "busy", "trunk", 486),
    ],
    ids=["answered", "busy", "rejected", "voicemail", "caller-hung-up", "restricted",
         "trunk-busy"],
)  # fmt: skip
def test_the_outcome_follows_from_the_events(
    pbx: Pbx, rest: list[dict[str, Any]], outcome: str, cause: str | None, code: int
) -> None:
    CallRecorder(pbx).apply(events("c", *rest), (1, 0))
    found = record(pbx, "c")
    assert (found["outcome"], found["cause"], found["sip_code"]) == (outcome, cause, code)


def write(path: Path, *lines: dict[str, Any]) -> None:
    with open(path, "a") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def test_every_event_is_applied_once_across_reader_restarts(pbx: Pbx, tmp_path: Path) -> None:
    path = tmp_path / journal.NAME
    write(path, *events("a", RING))
    with open(path, "a") as f:
        f.write('{"e": "answer", "ci": "a", "t": ')  # a line the SIP core is still writing
    reader = call_journal.JournalReader(CallRecorder(pbx), tmp_path)
    reader.catch_up()
    assert record(pbx, "a")["in_progress"] and record(pbx, "a")["answered_at"] is None
    with open(path, "a") as f:
        f.write(f'{T + 2}, "ext": "102"}}\n')
    write(path, {"e": "end", "ci": "a", "t": T + 9, "how": "bye", "by": "caller"})
    # klapka serve restarted: a new reader (and recorder) goes on where the last one stopped.
    again = call_journal.JournalReader(CallRecorder(pbx), tmp_path)
    again.catch_up()
    found = record(pbx, "a")
    assert (found["outcome"], found["ring_seconds"], found["talk_seconds"]) == ("answered", 2, 7)
    assert len(found["steps"]) == 1  # the ring step not applied twice


def test_the_journal_is_rotated_without_losing_events(
    pbx: Pbx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_journal, "ROTATE_BYTES", 100)
    monkeypatch.setattr(call_journal, "DRAIN_SECONDS", 0.3)
    path, old = tmp_path / journal.NAME, tmp_path / f"{journal.NAME}.old"
    write(path, *events("a", RING))
    reader = call_journal.JournalReader(CallRecorder(pbx), tmp_path)
    reader.catch_up()  # everything read and over the size: renamed
    assert old.exists() and not path.exists()
    # A worker that has not reopened yet writes to the old file, a reopened one to the new.
    write(old, {"e": "answer", "ci": "a", "t": T + 3, "ext": "102"})
    write(path, {"e": "end", "ci": "a", "t": T + 5, "how": "bye", "by": "caller"})
    reader.catch_up()
    assert old.exists()  # drained for a while: a late worker may still write to it
    time.sleep(0.35)
    reader.catch_up()
    assert not old.exists()
    found = record(pbx, "a")
    assert (found["outcome"], found["talk_seconds"]) == ("answered", 2)


def test_a_csv_cell_a_spreadsheet_would_run_is_quoted() -> None:
    from klapka.services.call_history import CSV_COLUMNS, to_csv

    row = dict.fromkeys(CSV_COLUMNS, "")
    line = to_csv([{**row, "caller_name": "=HYPERLINK(1)", "caller": "+420601", "forwards": []}])
    assert ",'=HYPERLINK(1)," in line and ",+420601," in line


def test_a_call_whose_dialog_is_gone_without_an_end_is_ended(pbx: Pbx) -> None:
    """Kamailio 5.6.3 runs no end event when both parties' BYEs cross: the periodic check
    against the SIP core's dialogs ends such a call (a live one stays open)."""
    recorder = CallRecorder(pbx)
    started = time.time() - 60  # a minute ago
    batch = [{**e, "t": started} for e in (*events("gone", RING, {"e": "answer", "ext": "102"}),
                                           *events("live", RING))]  # fmt: skip
    recorder.apply(batch, (1, 0))
    assert recorder.open_calls(older_than=5) == {"gone", "live"}
    assert recorder.close_gone({"live"}, {"gone", "live"}) == 1
    found = record(pbx, "gone")
    assert (found["outcome"], found["ended_by"]) == ("answered", "timeout")
    assert record(pbx, "live")["in_progress"]
