"""The call history over HTTP: an admin reads every call with filters and as CSV; a user
reads the calls of their own extension under the ``call_logs`` menu permission. The calls
are made from call-journal events, as the SIP core writes them (tests/sip/test_call_history.py
makes them with real calls)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from accounts_world import API, check, problems
from fastapi.testclient import TestClient

from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
APRIL = datetime(2026, 4, 1, 9, 0, tzinfo=UTC).timestamp()


def call(ci: str, at: float, caller: str, dialled: str, *rest: dict[str, Any],
         trunk: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    start = {"e": "start", "ci": ci, "t": at, "kind": "external" if trunk else "internal",
             "from": caller, "name": "", "ext": None if trunk else caller, "to": dialled,
             "trunk": trunk, "path": "direct"}  # fmt: skip
    return [start, *({"ci": ci, **e} for e in rest)]


def answered(ci: str, at: float, caller: str, dialled: str, **kw: Any) -> list[dict[str, Any]]:
    return call(ci, at, caller, dialled,
                {"e": "ring", "t": at, "owner": dialled, "rung": [dialled], "numbers": []},
                {"e": "answer", "t": at + 4, "ext": dialled, "endpoint": "desk"},
                {"e": "end", "t": at + 64, "how": "bye", "by": "caller"}, **kw)  # fmt: skip


def missed(ci: str, at: float, caller: str, dialled: str, **kw: Any) -> list[dict[str, Any]]:
    return call(ci, at, caller, dialled,
                {"e": "ring", "t": at, "owner": dialled, "rung": [dialled], "numbers": []},
                {"e": "cancel", "t": at + 9},
                {"e": "end", "t": at + 9, "how": "failed"}, **kw)  # fmt: skip


@pytest.fixture
def calls(pbx: Pbx) -> None:
    """Four calls (the history keeps numbers: its extensions need not exist any more)."""
    events = [
        *answered("a", T0, "101", "102"),
        *missed("b", T0 + 100, "103", "101"),
        *answered("c", T0 + 200, "+420601111222", "102", trunk="operator"),
        *answered("d", APRIL, "102", "103"),
    ]
    CallRecorder(pbx).apply(events, (1, 0))


def test_an_admin_reads_every_call_newest_first_with_filters(
    admin: TestClient, calls: None
) -> None:
    page = check(admin.get(f"{API}/call-history"))
    assert [c["call_id"] for c in page["items"]] == ["d", "c", "b", "a"] and page["total"] == 4
    first = page["items"][3]
    assert (first["caller"], first["dialled"], first["answered_by"]) == ("101", "102", "102")
    assert (first["outcome"], first["ring_seconds"], first["talk_seconds"]) == ("answered", 4, 60)
    assert first["started_at"] == "2026-03-02T09:00:00+00:00"
    march = {"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}
    by_102 = check(admin.get(f"{API}/call-history", params={**march, "extension": "102"}))
    assert [c["call_id"] for c in by_102["items"]] == ["c", "a"]
    inbound = check(admin.get(f"{API}/call-history", params={"direction": "inbound"}))
    assert [(c["call_id"], c["did"], c["trunk"]) for c in inbound["items"]] == [
        ("c", "102", "operator")
    ]
    lost = check(admin.get(f"{API}/call-history", params={"outcome": "no_answer"}))
    assert [(c["call_id"], c["cause"]) for c in lost["items"]] == [("b", "caller_hung_up")]
    by_number = check(admin.get(f"{API}/call-history", params={"number": "601111"}))
    assert [c["call_id"] for c in by_number["items"]] == ["c"]
    paged = check(admin.get(f"{API}/call-history", params={"limit": 1, "offset": 1}))
    assert [c["call_id"] for c in paged["items"]] == ["c"] and paged["total"] == 4


def test_an_admin_exports_csv(admin: TestClient, calls: None) -> None:
    answer = admin.get(f"{API}/call-history", params={"format": "csv", "extension": "102"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["caller"], r["dialled"], r["outcome"]) for r in rows] == [
        ("102", "103", "answered"), ("+420601111222", "102", "answered"),
        ("101", "102", "answered"),
    ]  # fmt: skip


def test_bad_filters_are_refused_naming_the_field(admin: TestClient, calls: None) -> None:
    for params, field in (({"outcome": "lost"}, "outcome"), ({"direction": "up"}, "direction"),
                          ({"extension": "1x"}, "extension"),
                          ({"since": "2026-03-01T00:00:00"}, "since"),
                          ({"since": "2026-04-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
                           "until")):  # fmt: skip
        answer = admin.get(f"{API}/call-history", params=params)
        assert any(field in p for p in problems(answer)), answer.text


def test_a_user_reads_their_own_calls_only(jana: TestClient, petr: TestClient, calls: None) -> None:
    mine = check(jana.get(f"{API}/me/call-history"))
    assert [c["call_id"] for c in mine["items"]] == ["b", "a"]  # called by 103, called 102
    assert [c["call_id"] for c in check(petr.get(f"{API}/me/call-history"))["items"]] == [
        "d", "c", "a",
    ]  # fmt: skip
    missed_ones = check(jana.get(f"{API}/me/call-history", params={"outcome": "no_answer"}))
    assert [c["call_id"] for c in missed_ones["items"]] == ["b"]
    assert jana.get(f"{API}/call-history").status_code == 403  # everyone's: admins only


def test_without_the_call_logs_menu_a_user_gets_403(
    jana: TestClient, given: Callable[[str], None], calls: None
) -> None:
    given("client_permissions: [{name: r, target: {all: true}, menus: {call_logs: false}}]")
    answer = jana.get(f"{API}/me/call-history")
    assert answer.status_code == 403 and "call_logs" in answer.text
