"""The answers the OpenAPI document promises: what a 405 allows, and the error answers
documented on the operations where they happen (docs/operations.md, "Limits and error
answers")."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/auth/tokens", {"GET", "HEAD", "POST"}),
        ("/api/v1/extensions/101/presence-settings", {"GET", "HEAD", "PUT", "PATCH"}),
        # Not an extension number: only what the import takes.
        ("/api/v1/extensions/import", {"POST"}),
        ("/api/v1/contacts/import", {"POST"}),
    ],
)
def test_a_405_names_every_method_of_the_path(
    client: TestClient, path: str, allowed: set[str]
) -> None:
    response = client.request("OPTIONS", path)
    assert response.status_code == 405, response.text
    assert response.json()["error"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == allowed


def test_a_word_where_a_number_goes_is_no_extension(client: TestClient) -> None:
    assert client.put("/api/v1/extensions/import", json={}).status_code == 405
    assert (
        client.put(
            "/api/v1/contacts/import", content="x", headers={"Content-Type": "text/csv"}
        ).status_code
        == 405
    )
    assert client.get("/api/v1/extensions/abc").status_code == 404
    assert client.get("/api/v1/extensions/0101").status_code == 404  # digits: looked up


def responses_of(client: TestClient, method: str, path: str) -> set[str]:
    openapi: dict[str, Any] = client.get("/api/v1/openapi.json").json()
    return set(openapi["paths"][path][method]["responses"])


def test_the_error_answers_are_documented_where_they_happen(client: TestClient) -> None:
    # A body: too large, wrong media type, breaks a rule, clashes; a caller is checked.
    assert {"401", "403", "409", "413", "415", "422", "503", "507"} <= responses_of(
        client, "post", "/api/v1/extensions"
    )
    # A path parameter: not found; a query: breaks a rule; reading: no body errors.
    documented = responses_of(client, "get", "/api/v1/me/voicemail/messages/{message_id}")
    assert {"401", "403", "404", "422"} <= documented
    assert not {"409", "413", "415"} & documented
    assert responses_of(client, "get", "/api/v1/health") == {"200"}


def test_list_sorting_documents_its_values(client: TestClient) -> None:
    openapi: dict[str, Any] = client.get("/api/v1/openapi.json").json()
    [sort] = [
        p for p in openapi["paths"]["/api/v1/groups"]["get"]["parameters"] if p["name"] == "sort"
    ]
    assert sort["schema"]["enum"] == ["name", "-name"]
    assert client.get("/api/v1/groups?sort=-name").status_code == 200


def test_request_texts_are_documented_without_nul(client: TestClient) -> None:
    openapi: dict[str, Any] = client.get("/api/v1/openapi.json").json()
    email = openapi["components"]["schemas"]["Credentials"]["properties"]["email"]
    assert email["pattern"] == "^[^\\x00]*$"
    refused = client.post("/api/v1/auth/login", json={"email": "a\u0000@x.cz", "password": "x"})
    assert refused.status_code == 422, refused.text
    # Error answers may quote what was sent: no such promise there.
    assert "pattern" not in openapi["components"]["schemas"]["ProblemView"]["properties"]["rule"]
