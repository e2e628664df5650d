"""The service entry point: one object per process, holding the database engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from klapka.store.database import database_url, make_engine
from klapka.store.repository import Repository


class Pbx:
    """Opens transactions; every service method runs in exactly one of them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str | None = None) -> Pbx:
        return cls(make_engine(url or database_url()))

    @contextmanager
    def tx(self) -> Iterator[Repository]:
        with self.engine.begin() as conn:
            repo = Repository(conn)
            yield repo
        repo.committed()

    def close(self) -> None:
        self.engine.dispose()
