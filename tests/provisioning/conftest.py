"""Fixtures: a PBX on a fresh database (SQLite or PostgreSQL, see tests/conftest.py) with
API clients, and a data directory of its own (device key, an admin's templates)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_clients import admin_token, anonymous, client, pbx

__all__ = ["admin_token", "anonymous", "client", "data", "pbx"]


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The data directory the provisioning server uses (``KLAPKA_DATA_DIR``)."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(root))
    yield root
