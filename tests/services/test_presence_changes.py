"""A presence change through the services: agent auto switch and the schedule's edge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx

DOC = {
    "version": 1,
    "extensions": [
        {
            "number": "101",
            "presence_settings": {
                "lunch_break": {"agent_auto_switch": "pause"},
                "off_work": {"agent_auto_switch": "logout"},
                "available": {"agent_auto_switch": "login"},
            },
        },
        {"number": "102"},
    ],
    "queues": [
        {"number": "6400", "members": ["101", "102"]},
        {"number": "6401", "members": ["101"]},
    ],
}


@pytest.fixture
def objects(database_url: str) -> Iterator[Objects]:
    pbx = Pbx.from_url(database_url)
    ConfigService(pbx).apply(DOC)
    yield Objects(pbx)
    pbx.close()


def agent(objects: Objects, queue: str, ext: str) -> dict[str, object]:
    return next(a for a in objects.queue_agents(queue) if a["extension"] == ext)


def test_switching_to_lunch_break_pauses_the_agent_in_every_queue(objects: Objects) -> None:
    objects.set_presence("101", PresenceStatus.LUNCH_BREAK)
    assert agent(objects, "6400", "101") == {"extension": "101", "logged_in": True, "paused": True}
    assert agent(objects, "6401", "101")["paused"] is True
    assert agent(objects, "6400", "102")["paused"] is False  # others are untouched


def test_switching_to_off_work_logs_out_and_back_to_available_logs_in(objects: Objects) -> None:
    objects.set_presence("101", PresenceStatus.OFF_WORK)
    assert agent(objects, "6400", "101")["logged_in"] is False
    objects.set_presence("101", PresenceStatus.AVAILABLE)
    assert agent(objects, "6400", "101") == {"extension": "101", "logged_in": True, "paused": False}


def test_a_status_with_no_action_leaves_the_queues_alone(objects: Objects) -> None:
    objects.set_presence("101", PresenceStatus.LUNCH_BREAK)
    objects.set_presence("101", PresenceStatus.AWAY)  # away: no_action (the default)
    assert agent(objects, "6400", "101")["paused"] is True


def test_a_presence_change_is_stored_with_its_note(objects: Objects) -> None:
    result = objects.set_presence("101", PresenceStatus.BUSINESS_TRIP, note="in Brno")
    assert result == {"presence": "business_trip", "presence_note": "in Brno"}
    assert objects.get(Kind.EXTENSION, "101")["presence"] == "business_trip"
