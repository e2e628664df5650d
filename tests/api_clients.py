"""Fixtures for tests that use the REST API: a PBX on a fresh database, an admin client and
a client without credentials. Conftests import them: ``from api_clients import ...``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens
from klapka.services.pbx import Pbx


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def admin_token(pbx: Pbx) -> str:
    return Tokens(pbx).create(name="admin")


@pytest.fixture
def client(pbx: Pbx, admin_token: str) -> Iterator[TestClient]:
    """A client authenticated with an admin API token."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(create_app(pbx), headers=headers) as client:
        yield client


@pytest.fixture
def anonymous(pbx: Pbx) -> Iterator[TestClient]:
    """A client that sends no credentials."""
    with TestClient(create_app(pbx)) as client:
        yield client


def check(response: Any, status: int = 200) -> Any:
    """The JSON body of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()
