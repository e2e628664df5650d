"""Presence schedules really switch presence: at each transition of the business hours,
breaks and holidays, the stored status changes (the API shows it), the new status's agent
auto switch runs and the audit log names the schedule; a transition missed while klapka
was down is applied at start; DST moves the transitions with the wall clock; a manual
change stands until the next transition."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.config import ConfigService
from klapka.services.directory.presence_schedule import PresenceScheduler, apply_due
from klapka.services.pbx import Pbx
from klapka.store import tables as t

PRAGUE = ZoneInfo("Europe/Prague")
WEEKDAYS = {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
SWITCHES = {
    "available": {"agent_auto_switch": "login"},
    "off_work": {"agent_auto_switch": "logout"},
    "lunch_break": {"agent_auto_switch": "pause"},
}


def document(**business_hours: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "system": {"timezone": "Europe/Prague"},
        "business_hours": business_hours,
        "extensions": [
            {
                "number": "101",
                "features": {"presence_schedule": {}},
                "presence_settings": SWITCHES,
            },
            {"number": "102"},  # no schedule: never switched
        ],
        "queues": [{"number": "6400", "members": ["101"]}],
    }


SPRING = document(
    weekly=WEEKDAYS,
    breaks={"mon": ["12:00-12:30"]},
    holidays=[{"date": "2026-04-03", "name": "Good Friday"}],
)


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def client(pbx: Pbx) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {Tokens(pbx).create()}"}
    with TestClient(create_app(pbx), headers=headers) as client:
        yield client


def local(text: str) -> datetime:
    """A Prague wall-clock time as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=PRAGUE).astimezone(UTC)


def set_presence(pbx: Pbx, number: str, status: str, at: datetime) -> None:
    """The extension's stored status, as if set at ``at``."""
    with pbx.tx() as repo:
        row = repo.conn.execute(
            select(t.extensions.c.data).where(t.extensions.c.number == number)
        ).one()
        repo.conn.execute(
            update(t.extensions)
            .where(t.extensions.c.number == number)
            .values(data={**row.data, "presence": status}, presence_changed_at=at)
        )


def switch_at(pbx: Pbx, at: datetime) -> list[tuple[str, str, str]]:
    """Apply what is due at ``at``, and date the changes ``at`` (the scheduler writes them
    at that instant when it runs in real time)."""
    applied = apply_due(pbx, at)
    with pbx.tx() as repo:
        for s in applied:
            repo.conn.execute(
                update(t.extensions)
                .where(t.extensions.c.number == s.number)
                .values(presence_changed_at=at)
            )
    return [(s.number, s.status, s.period) for s in applied]


def presence(client: TestClient, number: str) -> str:
    response = client.get(f"/api/v1/extensions/{number}/presence")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def agent(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/queues/6400/agents")
    assert response.status_code == 200, response.text
    return dict(response.json()[0])


def test_a_transition_missed_while_down_is_applied_with_its_auto_switch_and_audit(
    pbx: Pbx, client: TestClient
) -> None:
    ConfigService(pbx).apply(SPRING)
    set_presence(pbx, "101", "available", local("2026-03-27T10:00"))  # Friday, at work
    set_presence(pbx, "102", "available", local("2026-03-27T10:00"))
    # klapka was down from Friday to Monday morning: 17:00 on Friday was missed.
    assert switch_at(pbx, local("2026-03-30T07:59")) == [
        ("101", "off_work", "outside business hours")
    ]
    assert presence(client, "101") == "off_work"
    assert presence(client, "102") == "available"
    listed = client.get("/api/v1/extensions", params={"limit": 10}).json()
    rows = listed["items"] if isinstance(listed, dict) else listed
    assert {r["number"]: r["presence"] for r in rows} == {"101": "off_work", "102": "available"}
    assert agent(client) == {"extension": "101", "logged_in": False, "paused": False}
    entries = client.get("/api/v1/audit", params={"key": "101", "limit": 5}).json()
    items = entries["items"] if isinstance(entries, dict) else entries
    assert items[0]["actor"] == "presence schedule (outside business hours)"
    assert switch_at(pbx, local("2026-03-30T07:59")) == []  # applied once


def test_transitions_follow_the_wall_clock_across_the_change_to_summer_time(pbx: Pbx) -> None:
    ConfigService(pbx).apply(SPRING)
    set_presence(pbx, "101", "off_work", local("2026-03-27T18:00"))
    # Summer time began on Sunday 29 March: 08:00 on Monday is 06:00 UTC, not 07:00.
    assert switch_at(pbx, datetime(2026, 3, 30, 5, 59, tzinfo=UTC)) == []
    assert switch_at(pbx, datetime(2026, 3, 30, 6, 0, tzinfo=UTC)) == [
        ("101", "available", "business hours")
    ]
    assert switch_at(pbx, local("2026-03-30T12:00")) == [("101", "lunch_break", "break hours")]
    assert switch_at(pbx, local("2026-03-30T12:30")) == [("101", "available", "business hours")]
    assert switch_at(pbx, local("2026-03-31T07:00")) == [
        ("101", "off_work", "outside business hours")  # Monday 17:00 was missed
    ]


def test_a_holiday_switches_and_is_named(pbx: Pbx) -> None:
    ConfigService(pbx).apply(SPRING)
    set_presence(pbx, "101", "available", local("2026-04-02T16:59"))
    assert switch_at(pbx, local("2026-04-03T00:01")) == [
        ("101", "off_work", "holiday 'Good Friday'")
    ]


def test_a_manual_change_stands_until_the_next_transition(pbx: Pbx) -> None:
    ConfigService(pbx).apply(SPRING)
    set_presence(pbx, "101", "available", local("2026-03-30T08:00"))
    set_presence(pbx, "101", "do_not_disturb", local("2026-03-30T09:15"))  # by the user
    assert switch_at(pbx, local("2026-03-30T10:00")) == []
    assert switch_at(pbx, local("2026-03-30T11:59")) == []
    assert switch_at(pbx, local("2026-03-30T12:00")) == [("101", "lunch_break", "break hours")]


def test_the_scheduler_applies_what_is_due_when_klapka_starts(pbx: Pbx, client: TestClient) -> None:
    # Yesterday was a holiday (the schedule says "away" then); today is outside business
    # hours all day (no weekly hours): the status changed at midnight, while klapka was down.
    today = datetime.now(PRAGUE).date()
    yesterday = today - timedelta(days=1)
    doc = document(holidays=[{"date": yesterday.isoformat(), "name": "Yesterday"}])
    doc["extensions"][0]["features"]["presence_schedule"] = {"holidays": "away"}
    ConfigService(pbx).apply(doc)
    set_presence(pbx, "101", "away", _midnight(yesterday) + timedelta(hours=10))
    scheduler = PresenceScheduler(pbx)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while presence(client, "101") != "off_work" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert presence(client, "101") == "off_work"
    finally:
        scheduler.stop()
    assert scheduler.thread is not None and not scheduler.thread.is_alive()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=PRAGUE).astimezone(UTC)
