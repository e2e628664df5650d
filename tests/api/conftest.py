"""Fixtures of the REST API tests: a PBX on a fresh database, an admin token, a client.

``given`` sets a PBX up from a YAML snippet in the configuration-document format, through
the API, so a test shows the configuration it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from http_checks import check

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx

# Document sections, in an order where what is referenced exists first.
SECTION_URLS = (
    ("trunks", "/api/v1/trunks"),
    ("extensions", "/api/v1/extensions"),
    ("groups", "/api/v1/groups"),
    ("ring_groups", "/api/v1/ring-groups"),
    ("queues", "/api/v1/queues"),
    ("inbound_routes", "/api/v1/inbound-routes"),
    ("outbound_routes", "/api/v1/outbound-routes"),
    ("contacts", "/api/v1/contacts"),
)


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def admin_token(pbx: Pbx) -> str:
    return Tokens(pbx).create()


@pytest.fixture
def anonymous(pbx: Pbx) -> Iterator[TestClient]:
    """A client that sends no API token."""
    with TestClient(create_app(pbx)) as client:
        yield client


@pytest.fixture
def client(pbx: Pbx, admin_token: str) -> Iterator[TestClient]:
    """A client authenticated with an admin API token."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(create_app(pbx), headers=headers) as client:
        yield client


@pytest.fixture
def given(client: TestClient) -> Callable[[str], None]:
    """Create what a YAML snippet (configuration-document format) describes."""

    def create(document: str) -> None:
        data: dict[str, Any] = load_yaml(document)
        if "system" in data:
            check(client.patch("/api/v1/system", json=data["system"]))
        if "business_hours" in data:
            check(client.put("/api/v1/business-hours", json=data["business_hours"]))
        for section, url in SECTION_URLS:
            for obj in data.get(section, []):
                check(client.post(url, json=obj), 201)

    return create
