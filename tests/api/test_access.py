"""Who may call the API, and what it serves without a token."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from klapka.services.accounts.tokens import Tokens
from klapka.services.pbx import Pbx

# Reachable without signing in: health, and the ways to sign in (tests/accounts has them).
PUBLIC = {
    "/api/v1/health",
    "/api/v1/auth/login",
    "/api/v1/auth/login/second-factor",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/auth/app-login",  # the one-time token in the body is the credential
    "/api/v1/auth/app-login/{token}/linphone.xml",  # ...or in the URL (Linphone's)
}


def protected_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every documented method and URL but the public ones."""
    found = []
    for path, operations in client.get("/api/v1/openapi.json").json()["paths"].items():
        if path in PUBLIC:
            continue
        # Any value will do for the path parameters: the token is checked first.
        url = re.sub(r"\{[^}]+\}", "101", path)
        found += [(method.upper(), url) for method in operations]
    return found


def test_health_answers_without_a_token(anonymous: TestClient) -> None:
    response = anonymous.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_other_endpoint_refuses_a_request_without_a_token(
    anonymous: TestClient,
) -> None:
    routes = protected_routes(anonymous)
    assert len(routes) > 60
    for method, path in routes:
        response = anonymous.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorized"


def test_an_unknown_token_is_refused(anonymous: TestClient) -> None:
    response = anonymous.get(
        "/api/v1/extensions", headers={"Authorization": "Bearer klp_not-a-real-token"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "unknown or revoked" in response.json()["message"]


def test_a_revoked_token_is_refused(anonymous: TestClient, pbx: Pbx) -> None:
    tokens = Tokens(pbx)
    token = tokens.create(name="ci")
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/api/v1/extensions", headers=headers).status_code == 200
    info = tokens.verify(token)
    assert info is not None
    tokens.revoke(info.id)
    assert anonymous.get("/api/v1/extensions", headers=headers).status_code == 401


def test_a_token_sent_with_another_scheme_is_refused(
    anonymous: TestClient, admin_token: str
) -> None:
    response = anonymous.get(
        "/api/v1/extensions", headers={"Authorization": f"Basic {admin_token}"}
    )
    assert response.status_code == 401


def test_a_token_without_the_admin_role_is_forbidden(anonymous: TestClient, pbx: Pbx) -> None:
    token = Tokens(pbx).create(name="reader", role="user")
    response = anonymous.get("/api/v1/extensions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_the_root_leads_to_the_interactive_docs(anonymous: TestClient) -> None:
    response = anonymous.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/api/v1/docs"
    docs = anonymous.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_the_openapi_schema_describes_every_resource_and_sub_resource(
    anonymous: TestClient,
) -> None:
    schema = anonymous.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "klapka"
    paths = schema["paths"]
    for path in (
        "/api/v1/extensions",
        "/api/v1/extensions/{number}",
        "/api/v1/extensions/{number}/user",
        "/api/v1/extensions/{number}/presence",
        "/api/v1/extensions/{number}/presence/{status}",
        "/api/v1/extensions/{number}/presence-settings",
        "/api/v1/extensions/{number}/voicemail",
        "/api/v1/extensions/{number}/features",
        "/api/v1/extensions/{number}/advanced",
        "/api/v1/extensions/{number}/security",
        "/api/v1/extensions/{number}/clients",
        "/api/v1/extensions/{number}/phones",
        "/api/v1/extensions/{number}/function-keys",
        "/api/v1/groups/{name}",
        "/api/v1/ring-groups/{number}",
        "/api/v1/queues/{number}/agents/{extension}",
        "/api/v1/trunks/{name}",
        "/api/v1/inbound-routes/{name}",
        "/api/v1/outbound-routes/{name}",
        "/api/v1/contacts/{id}",
        "/api/v1/system",
        "/api/v1/business-hours",
        "/api/v1/config",
        "/api/v1/hot-desk/logins",
        "/api/v1/hot-desk/logins/{mac}",
    ):
        assert path in paths, path
    # Bodies are documented by the domain models, down to a field's rule.
    away = paths["/api/v1/extensions/{number}/presence/{status}"]["put"]
    body = away["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/StatusSettings"} in body["anyOf"]
    ring_timeout = schema["components"]["schemas"]["StatusSettings"]["properties"]["ring_timeout"]
    assert ring_timeout["default"] == 30
    assert away["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InvalidBody"
    }
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"


def test_every_schema_the_openapi_refers_to_is_in_it(anonymous: TestClient) -> None:
    schema = anonymous.get("/api/v1/openapi.json").json()
    text = str(schema)
    names = set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", text))
    assert names
    assert names <= set(schema["components"]["schemas"])


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/extensions/101/nothing"])
def test_an_unknown_url_is_a_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
