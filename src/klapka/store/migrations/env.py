"""Alembic environment: runs migrations on the URL given by klapka.store.migrate."""

from __future__ import annotations

from alembic import context

from klapka.store.database import make_engine
from klapka.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url
engine = make_engine(url)
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
