"""One-time tokens for links in emails: single use, expiring, for one purpose, stored as a
digest only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from klapka.domain.problems import NotFound
from klapka.domain.references import Kind
from klapka.services.accounts import links
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.store import tables as t
from klapka.store.repository import now


@pytest.fixture
def extension(pbx: Pbx) -> str:
    Objects(pbx).create(Kind.EXTENSION, {"number": "101"})
    return "101"


def test_a_token_is_accepted_once_and_names_its_extension(pbx: Pbx, extension: str) -> None:
    token = links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    assert links.consume(pbx, links.APP_LOGIN, token) == "101"
    assert links.consume(pbx, links.APP_LOGIN, token) is None


def test_a_token_expires(pbx: Pbx, extension: str) -> None:
    token = links.issue(pbx, links.APP_LOGIN, extension, 3600)
    assert links.consume(pbx, links.APP_LOGIN, token, at=now() + timedelta(seconds=3601)) is None
    # Not used up by the failed attempt: still good within its time.
    assert links.consume(pbx, links.APP_LOGIN, token) == "101"


def test_a_token_is_good_only_for_its_purpose(pbx: Pbx, extension: str) -> None:
    token = links.issue(pbx, links.PASSWORD_RESET, extension, timedelta(hours=1))
    assert links.consume(pbx, links.APP_LOGIN, token) is None
    assert links.consume(pbx, links.PASSWORD_RESET, token) == "101"


@pytest.mark.parametrize("token", ["", "made-up", "x" * 1000])
def test_an_unknown_token_is_not_accepted(pbx: Pbx, extension: str, token: str) -> None:
    links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    assert links.consume(pbx, links.APP_LOGIN, token) is None


def test_only_a_digest_of_the_token_is_stored(pbx: Pbx, extension: str) -> None:
    token = links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    with pbx.tx() as repo:
        rows = repo.conn.execute(select(t.one_time_tokens)).all()
    assert len(rows) == 1
    assert token not in str(rows[0])
    assert len(token) >= 40  # 256 random bits


def test_issuing_within_a_transaction_uses_it(pbx: Pbx, extension: str) -> None:
    with pbx.tx() as repo:
        token = links.issue(repo.conn, links.APP_LOGIN, extension, timedelta(hours=1))
    assert links.consume(pbx, links.APP_LOGIN, token) == "101"


def test_revoking_uses_up_every_valid_token_of_the_extension(pbx: Pbx, extension: str) -> None:
    first = links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    second = links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    reset = links.issue(pbx, links.PASSWORD_RESET, extension, timedelta(hours=1))
    assert links.revoke(pbx, links.APP_LOGIN, extension) == 2
    assert links.consume(pbx, links.APP_LOGIN, first) is None
    assert links.consume(pbx, links.APP_LOGIN, second) is None
    assert links.consume(pbx, links.PASSWORD_RESET, reset) == "101"


def test_a_token_for_an_unknown_extension_is_refused(pbx: Pbx) -> None:
    with pytest.raises(NotFound, match="extension 999 does not exist"):
        links.issue(pbx, links.APP_LOGIN, "999", timedelta(hours=1))


def test_deleting_the_extension_removes_its_tokens(pbx: Pbx, extension: str) -> None:
    token = links.issue(pbx, links.APP_LOGIN, extension, timedelta(hours=1))
    Objects(pbx).delete(Kind.EXTENSION, extension)
    Objects(pbx).create(Kind.EXTENSION, {"number": "101"})
    assert links.consume(pbx, links.APP_LOGIN, token) is None


def test_spent_tokens_are_cleared_away_a_day_later(pbx: Pbx, extension: str) -> None:
    old = links.issue(pbx, links.APP_LOGIN, extension, 60, at=now() - timedelta(days=2))
    links.issue(pbx, links.APP_LOGIN, extension, 60)
    with pbx.tx() as repo:
        assert len(repo.conn.execute(select(t.one_time_tokens)).all()) == 1
    assert links.consume(pbx, links.APP_LOGIN, old) is None
