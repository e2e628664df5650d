"""Many writers at once, as ``klapka serve`` has them (API threads, SIP core, voicemail):
every write lands, none is refused as "database is locked", and a write transaction that
fails or that a thread cannot finish does not keep the others waiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx

NUMBERS = [str(101 + i) for i in range(5)]
STATUSES = [PresenceStatus.AWAY, PresenceStatus.AVAILABLE, PresenceStatus.LUNCH_BREAK]


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    for number in NUMBERS:
        Objects(pbx).create(Kind.EXTENSION, {"number": number})
    yield pbx
    pbx.close()


def version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        return repo.system()[3]


def run_threads(target: object, count: int) -> list[BaseException]:
    failures: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)  # type: ignore[operator]
        except BaseException as e:  # reported by the test
            failures.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)  # a guard against a hang, not a measurement
        assert not thread.is_alive(), "a writer never finished"
    return failures


def test_many_threads_writing_at_once_all_succeed(pbx: Pbx) -> None:
    before = version(pbx)

    def writer(i: int) -> None:
        objects = Objects(pbx)
        for w in range(10):
            number = NUMBERS[(i + w) % len(NUMBERS)]
            if w % 2:
                objects.set_presence(number, STATUSES[(i + w) % len(STATUSES)])
            else:
                objects.patch_part(
                    Kind.EXTENSION,
                    number,
                    "presence_settings.available",
                    {"ring_timeout": 10 + (i * 10 + w) % 50},
                )

    assert run_threads(writer, 20) == []
    assert version(pbx) - before == 200  # every write was one transaction, none lost


def test_a_failed_write_transaction_lets_the_next_writer_in(pbx: Pbx) -> None:
    with pytest.raises(RuntimeError, match="changed my mind"), pbx.tx() as repo:
        repo.bump_version()
        raise RuntimeError("changed my mind")
    before = version(pbx)
    assert run_threads(lambda _i: Objects(pbx).set_presence("101", PresenceStatus.AWAY), 1) == []
    assert version(pbx) == before + 1


def test_reading_while_another_transaction_writes_does_not_wait(pbx: Pbx) -> None:
    before = version(pbx)
    seen: list[int] = []
    with pbx.tx() as writing:
        writing.bump_version()
        assert run_threads(lambda _i: seen.append(version(pbx)), 1) == []
    assert seen == [before]  # what was committed, read while the write was under way
    assert version(pbx) == before + 1


def test_a_second_write_transaction_in_the_same_thread_fails_at_once(
    pbx: Pbx, db_backend: str
) -> None:
    if db_backend != "sqlite":
        pytest.skip("SQLite has one writer at a time; PostgreSQL locks rows")
    with pbx.tx() as outer:
        outer.bump_version()
        # Waiting would never end: the turn to write is this thread's outer transaction's.
        with (
            pytest.raises(OperationalError, match="this thread writes in another transaction"),
            pbx.tx() as inner,
        ):
            inner.bump_version()
    assert run_threads(lambda _i: Objects(pbx).set_presence("102", PresenceStatus.AWAY), 1) == []
