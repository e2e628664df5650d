"""Brute-force protection: lockout per account and per address, back-off, no leak."""

from __future__ import annotations

from typing import Any

import pytest
from accounts_world import API, PASSWORDS, Clock, check
from fastapi.testclient import TestClient

from klapka.services.accounts import sign_in as sign_in_service


def attempt(client: TestClient, email: str, password: str = "Wrong-Pass-123", **kw: Any) -> Any:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password}, **kw)


def test_an_account_is_locked_after_five_failures_even_for_the_right_password(
    anonymous: TestClient, people: None
) -> None:
    for _ in range(5):
        assert attempt(anonymous, "jana@example.com").status_code == 401
    locked = attempt(anonymous, "jana@example.com", PASSWORDS["101"])
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_requests"
    assert locked.headers["Retry-After"] == "60"
    # Another account from the same address is not locked.
    assert attempt(anonymous, "petr@example.com", PASSWORDS["102"]).status_code == 200


def test_the_lockout_ends_and_each_further_one_lasts_twice_as_long(
    anonymous: TestClient, people: None, clock: Clock
) -> None:
    for _ in range(5):
        attempt(anonymous, "jana@example.com")
    clock.advance(seconds=61)
    for _ in range(5):
        assert attempt(anonymous, "jana@example.com").status_code == 401
    assert attempt(anonymous, "jana@example.com").headers["Retry-After"] == "120"
    clock.advance(seconds=121)
    for _ in range(5):
        attempt(anonymous, "jana@example.com")
    assert attempt(anonymous, "jana@example.com").headers["Retry-After"] == "240"
    clock.advance(seconds=241)
    assert attempt(anonymous, "jana@example.com", PASSWORDS["101"]).status_code == 200


def test_a_success_clears_the_failures_of_the_account(anonymous: TestClient, people: None) -> None:
    for _ in range(4):
        attempt(anonymous, "jana@example.com")
    check(attempt(anonymous, "jana@example.com", PASSWORDS["101"]))
    for _ in range(4):
        assert attempt(anonymous, "jana@example.com").status_code == 401


def test_an_address_trying_many_accounts_is_locked_out(
    anonymous: TestClient, admin: TestClient, people: None
) -> None:
    check(admin.patch(f"{API}/system", json={"sign_in": {"max_failures_per_address": 6}}))
    for i in range(6):
        assert attempt(anonymous, f"guess{i}@example.com").status_code == 401
    assert attempt(anonymous, "jana@example.com", PASSWORDS["101"]).status_code == 429


def test_an_unknown_account_locks_exactly_like_a_real_one(
    anonymous: TestClient, people: None
) -> None:
    real = [attempt(anonymous, "jana@example.com") for _ in range(6)]
    ghost = [attempt(anonymous, "ghost@example.com") for _ in range(6)]
    assert [r.status_code for r in real] == [r.status_code for r in ghost] == [401] * 5 + [429]
    assert [r.json() for r in real] == [r.json() for r in ghost]
    assert real[-1].headers["Retry-After"] == ghost[-1].headers["Retry-After"]


def test_an_unknown_account_costs_a_password_check_like_a_real_one(
    anonymous: TestClient, people: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = sign_in_service.verify_password

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(sign_in_service, "verify_password", counting)
    attempt(anonymous, "jana@example.com")
    attempt(anonymous, "ghost@example.com")
    assert len(checked) == 2
    assert all(h.startswith("$argon2id$") for h in checked)
    # Same algorithm and cost for the dummy as for the real hash.
    assert checked[0].split("$")[1:4] == checked[1].split("$")[1:4]


def test_each_lockout_is_in_the_audit_log(
    anonymous: TestClient, admin: TestClient, people: None
) -> None:
    for _ in range(5):
        attempt(anonymous, "jana@example.com")
    entries = check(admin.get(f"{API}/audit", params={"action": "lockout"}))["items"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["kind"] == "sign_in"
    assert entry["key"] == "jana@example.com"
    assert entry["source_ip"] == "testclient"
    changes = {c["path"]: c["after"] for c in entry["changes"]}
    assert changes["locked"] == "account"
    assert changes["seconds"] == 60


def test_an_admin_lifts_a_lockout(anonymous: TestClient, admin: TestClient, people: None) -> None:
    for _ in range(5):
        attempt(anonymous, "jana@example.com")
    assert check(admin.get(f"{API}/extensions/101/account"))["locked_until"] is not None
    assert check(admin.delete(f"{API}/extensions/101/sign-in-lockout")) == {"unlocked": True}
    check(attempt(anonymous, "jana@example.com", PASSWORDS["101"]))


def test_wrong_current_passwords_count_towards_the_lockout(
    jana: TestClient, anonymous: TestClient
) -> None:
    for _ in range(5):
        response = jana.post(
            f"{API}/auth/password",
            json={"current_password": "Wrong-Pass-123", "new_password": "Nove-Heslo-2028"},
        )
        assert response.status_code == 422
    assert attempt(anonymous, "jana@example.com", PASSWORDS["101"]).status_code == 429
