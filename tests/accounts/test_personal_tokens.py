"""Personal API tokens: made by the user, scoped, revocable."""

from __future__ import annotations

from typing import Any

from accounts_world import API, Clock, check, problems, token_client
from fastapi.testclient import TestClient


def test_a_user_makes_a_token_that_acts_for_them(app: Any, jana: TestClient) -> None:
    made = check(jana.post(f"{API}/auth/tokens", json={"name": "CRM"}), 201)
    assert made["token"].startswith("klpu_")
    assert made["scopes"] == ["read", "write"]
    with TestClient(app, headers={"Authorization": f"Bearer {made['token']}"}) as script:
        session = check(script.get(f"{API}/auth/session"))
        assert session["method"] == "token"
        assert session["extension"] == "101"
        assert session["role"] == "user"
        assert check(script.put(f"{API}/me/presence", json={"status": "away"}))["status"] == "away"
        # A token needs no CSRF header: it is not sent by the browser on its own.
        assert script.get(f"{API}/system").status_code == 403


def test_the_token_value_is_shown_once_and_never_listed(jana: TestClient) -> None:
    made = check(jana.post(f"{API}/auth/tokens", json={"name": "CRM"}), 201)
    listed = check(jana.get(f"{API}/auth/tokens"))
    assert [t["name"] for t in listed] == ["CRM"]
    assert "token" not in listed[0]
    assert made["token"] not in str(listed)


def test_a_read_token_may_read_but_not_change_anything(app: Any, jana: TestClient) -> None:
    with token_client(app, jana, ["read"]) as reader:
        assert check(reader.get(f"{API}/me/presence"))["status"] == "available"
        response = reader.put(f"{API}/me/presence", json={"status": "away"})
        assert response.status_code == 403
        assert "no write scope" in response.json()["message"]
        assert reader.post(f"{API}/auth/tokens", json={"name": "x"}).status_code == 403


def test_a_token_cannot_make_a_stronger_token(app: Any, jana: TestClient) -> None:
    with token_client(app, jana, ["write"]) as writer:
        assert problems(
            writer.post(f"{API}/auth/tokens", json={"name": "x", "scopes": ["read", "write"]})
        ) == ["scopes: a token may only make tokens with its own scopes or fewer"]
        check(writer.post(f"{API}/auth/tokens", json={"name": "x", "scopes": ["write"]}), 201)


def test_only_an_admin_token_with_the_admin_scope_acts_as_admin(
    app: Any, jana: TestClient, alena: TestClient
) -> None:
    assert problems(jana.post(f"{API}/auth/tokens", json={"name": "x", "scopes": ["admin"]})) == [
        "scopes: admin: only an admin's token may have it"
    ]
    with token_client(app, alena, ["read", "write"]) as plain:
        assert plain.get(f"{API}/system").status_code == 403
        assert check(plain.get(f"{API}/auth/session"))["role"] == "user"
    with token_client(app, alena, ["read", "write", "admin"]) as full:
        assert full.get(f"{API}/system").status_code == 200
        assert check(full.get(f"{API}/auth/session"))["role"] == "admin"


def test_an_admin_token_stops_acting_as_admin_when_its_user_is_no_longer_admin(
    app: Any, admin: TestClient, alena: TestClient
) -> None:
    with token_client(app, alena, ["read", "write", "admin"]) as full:
        assert full.get(f"{API}/system").status_code == 200
        check(admin.patch(f"{API}/extensions/100", json={"role": "user"}))
        assert full.get(f"{API}/system").status_code == 403


def test_a_revoked_token_is_refused(app: Any, jana: TestClient, petr: TestClient) -> None:
    made = check(jana.post(f"{API}/auth/tokens", json={"name": "CRM"}), 201)
    with TestClient(app, headers={"Authorization": f"Bearer {made['token']}"}) as script:
        assert script.get(f"{API}/me").status_code == 200
        # Someone else cannot revoke it: it does not exist for them.
        assert petr.delete(f"{API}/auth/tokens/{made['id']}").status_code == 404
        check(jana.delete(f"{API}/auth/tokens/{made['id']}"), 204)
        assert script.get(f"{API}/me").status_code == 401
        assert jana.delete(f"{API}/auth/tokens/{made['id']}").status_code == 404
    assert check(jana.get(f"{API}/auth/tokens")) == []


def test_a_token_with_an_expiry_stops_working_then(
    app: Any, jana: TestClient, clock: Clock
) -> None:
    made = check(jana.post(f"{API}/auth/tokens", json={"name": "x", "expires_in_days": 7}), 201)
    with TestClient(app, headers={"Authorization": f"Bearer {made['token']}"}) as script:
        clock.advance(days=6, hours=23)
        assert script.get(f"{API}/me").status_code == 200
        clock.advance(hours=2)
        assert script.get(f"{API}/me").status_code == 401


def test_a_bad_token_request_names_the_field(jana: TestClient) -> None:
    assert problems(jana.post(f"{API}/auth/tokens", json={"name": "", "scopes": ["root"]})) == [
        "name: must have at least 1 character",
        "scopes[0]: must be one of read, write or admin",
    ]


def test_the_admin_api_token_has_no_personal_tokens(admin: TestClient) -> None:
    response = admin.get(f"{API}/auth/tokens")
    assert response.status_code == 403
    assert "extension" in response.json()["message"]
