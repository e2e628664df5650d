"""Schema migrations with Alembic; ``klapka db upgrade`` and ``klapka init`` call these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from klapka.store.database import normalize_url

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to the newest schema (creates it when empty)."""
    command.upgrade(alembic_config(url), revision)
