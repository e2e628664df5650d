"""The live event stream of one process: every committed event reaches the listeners once,
also one whose id was taken before another's but committed after it (PostgreSQL's
sequence), and ids are never used again after the table was emptied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from klapka.services import webhooks
from klapka.services.live import LiveEvents, forget_old
from klapka.services.pbx import Pbx
from klapka.store import tables as t


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


def emit(pbx: Pbx, event: str) -> None:
    with pbx.tx() as repo:
        webhooks.emit(repo.conn, event, {"n": event})


def row(pbx: Pbx, id_: int, event: str) -> None:
    """An event with the id it took when its transaction began (committed now)."""
    with pbx.tx() as repo:
        repo.conn.execute(insert(t.events).values(
            id=id_, event=event, body='{"data": {}}', created_at=datetime.now(UTC)))  # fmt: skip


def test_each_event_reaches_a_listener_once_also_one_committed_late(pbx: Pbx) -> None:
    listener = LiveEvents.of(pbx).listen()
    try:
        emit(pbx, "call.ringing")
        first = listener.get(5)
        assert first is not None and first.event == "call.ringing"
        row(pbx, first.id + 5, "call.answered")  # committed first...
        answered = listener.get(5)
        assert answered is not None and answered.event == "call.answered"
        row(pbx, first.id + 2, "url_popup")  # ...than this one, whose id is lower
        late = listener.get(5)
        assert late is not None and (late.id, late.event) == (first.id + 2, "url_popup")
        assert listener.get(0.5) is None  # nothing twice
    finally:
        listener.close()


def test_ids_are_not_used_again_after_the_table_was_emptied(pbx: Pbx) -> None:
    emit(pbx, "call.ringing")
    emit(pbx, "call.ended")
    with pbx.tx() as repo:
        newest = max(r.id for r in repo.conn.execute(t.events.select()))
    assert forget_old(pbx, keep=timedelta(seconds=-1)) == 2
    emit(pbx, "call.ringing")
    with pbx.tx() as repo:
        [row] = repo.conn.execute(t.events.select()).all()
    assert row.id > newest
