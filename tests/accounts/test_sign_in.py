"""Signing in and out with email and password; the session cookie; CSRF."""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import pytest
from accounts_world import API, EMAILS, PASSWORDS, Clock, SignedIn, check, problems
from fastapi.testclient import TestClient


def set_cookies(response: Any) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def login(client: TestClient, number: str, password: str | None = None, **kw: Any) -> Any:
    return client.post(
        f"{API}/auth/login",
        json={"email": EMAILS[number], "password": password or PASSWORDS[number]},
        **kw,
    )


def test_a_user_signs_in_with_email_and_password_and_gets_a_session(
    anonymous: TestClient, people: None
) -> None:
    answer = check(login(anonymous, "101"))
    assert answer["status"] == "signed_in"
    assert answer["extension"] == "101"
    assert answer["role"] == "user"
    assert answer["csrf_token"]
    session = check(anonymous.get(f"{API}/auth/session"))
    assert session["method"] == "session"
    assert session["extension"] == "101"
    assert session["state"] == "active"
    assert session["csrf_token"] == answer["csrf_token"]


def test_the_email_is_matched_whatever_its_case(anonymous: TestClient, people: None) -> None:
    response = anonymous.post(
        f"{API}/auth/login", json={"email": " JANA@Example.com", "password": PASSWORDS["101"]}
    )
    assert check(response)["extension"] == "101"


def test_the_session_cookie_is_http_only_same_site_lax_and_not_secure_over_plain_http(
    anonymous: TestClient, people: None
) -> None:
    cookies = set_cookies(login(anonymous, "101"))
    session = cookies["klapka_session"]["klapka_session"]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert not session["secure"]
    assert session["path"] == "/"
    csrf = cookies["klapka_csrf"]["klapka_csrf"]
    assert not csrf["httponly"]  # the page's script reads it for the X-CSRF-Token header


def test_the_session_cookie_is_secure_behind_a_proxy_that_speaks_https(
    anonymous: TestClient, people: None
) -> None:
    response = login(anonymous, "101", headers={"X-Forwarded-Proto": "https"})
    assert set_cookies(response)["klapka_session"]["klapka_session"]["secure"]


def test_the_session_cookie_is_secure_over_https(app: Any, people: None) -> None:
    with TestClient(app, base_url="https://pbx.example.com") as client:
        response = login(client, "101")
    assert set_cookies(response)["klapka_session"]["klapka_session"]["secure"]


@pytest.mark.parametrize(("setting", "secure"), [("always", True), ("never", False)])
def test_secure_cookies_can_be_forced_on_or_off(
    anonymous: TestClient, people: None, monkeypatch: pytest.MonkeyPatch, setting: str, secure: bool
) -> None:
    monkeypatch.setenv("KLAPKA_SECURE_COOKIES", setting)
    response = login(anonymous, "101", headers={"X-Forwarded-Proto": "https"})
    assert bool(set_cookies(response)["klapka_session"]["klapka_session"]["secure"]) is secure


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    anonymous: TestClient, people: None
) -> None:
    wrong = anonymous.post(
        f"{API}/auth/login", json={"email": "jana@example.com", "password": "Not-Her-Pass-1"}
    )
    unknown = anonymous.post(
        f"{API}/auth/login", json={"email": "nobody@example.com", "password": "Not-Her-Pass-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "unauthorized",
            "message": "the email or password is wrong",
        }
    )
    assert "set-cookie" not in wrong.headers


def test_a_user_without_a_password_or_a_disabled_extension_cannot_sign_in(
    anonymous: TestClient, admin: TestClient, given: Callable[[str], None], people: None
) -> None:
    given('extensions: [{number: "103", email: "nopass@example.com"}]')
    response = anonymous.post(
        f"{API}/auth/login", json={"email": "nopass@example.com", "password": "Anything-12345"}
    )
    assert response.status_code == 401
    check(admin.patch(f"{API}/extensions/101", json={"enabled": False}))
    response = login(anonymous, "101")
    assert response.json()["message"] == "the email or password is wrong"


def test_a_sign_in_without_email_or_password_names_the_field(
    anonymous: TestClient, people: None
) -> None:
    assert problems(anonymous.post(f"{API}/auth/login", json={"email": "jana@example.com"})) == [
        "password: required"
    ]
    assert problems(anonymous.post(f"{API}/auth/login", json=[])) == [
        ": must be a JSON object with email and password"
    ]


def test_signing_out_ends_the_session_and_clears_the_cookie(
    sign_in: Callable[..., SignedIn],
) -> None:
    client = sign_in("101").client
    response = client.post(f"{API}/auth/logout")
    assert response.status_code == 204
    assert 'klapka_session=""' in response.headers["set-cookie"]
    client.cookies.clear()
    assert client.get(f"{API}/auth/session").status_code == 401


def test_a_session_id_stops_working_after_sign_out_even_if_replayed(
    sign_in: Callable[..., SignedIn], anonymous: TestClient
) -> None:
    client = sign_in("101").client
    stolen = client.cookies["klapka_session"]
    check(client.post(f"{API}/auth/logout"), 204)
    replay = anonymous.get(f"{API}/auth/session", cookies={"klapka_session": stolen})
    assert replay.status_code == 401


def test_an_unsafe_request_with_the_cookie_but_without_the_csrf_token_is_refused(
    sign_in: Callable[..., SignedIn],
) -> None:
    session = sign_in("101")
    client = session.client
    del client.headers["X-CSRF-Token"]
    response = client.put(f"{API}/me/presence", json={"status": "away"})
    assert response.status_code == 403
    assert "X-CSRF-Token" in response.json()["message"]
    wrong = client.put(
        f"{API}/me/presence", json={"status": "away"}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403
    # Reading needs no token; with it, the change goes through.
    assert check(client.get(f"{API}/me/presence"))["status"] == "available"
    right = client.put(
        f"{API}/me/presence", json={"status": "away"}, headers={"X-CSRF-Token": session.csrf}
    )
    assert check(right)["status"] == "away"


def test_the_csrf_token_of_one_session_does_not_work_for_another(
    sign_in: Callable[..., SignedIn],
) -> None:
    jana, other = sign_in("101"), sign_in("101")
    response = jana.client.put(
        f"{API}/me/presence", json={"status": "away"}, headers={"X-CSRF-Token": other.csrf}
    )
    assert response.status_code == 403


def test_a_session_ends_after_the_idle_timeout(
    sign_in: Callable[..., SignedIn], clock: Clock
) -> None:
    client = sign_in("101").client
    clock.advance(minutes=59)
    assert client.get(f"{API}/auth/session").status_code == 200
    clock.advance(minutes=59)  # each request counts as activity
    assert client.get(f"{API}/auth/session").status_code == 200
    clock.advance(minutes=61)
    assert client.get(f"{API}/auth/session").status_code == 401


def test_a_session_ends_after_its_lifetime_however_busy(
    sign_in: Callable[..., SignedIn], clock: Clock
) -> None:
    client = sign_in("101").client
    for _ in range(13):
        clock.advance(minutes=55)
        assert client.get(f"{API}/auth/session").status_code == 200
    clock.advance(minutes=10)  # 12 h 5 min after signing in
    assert client.get(f"{API}/auth/session").status_code == 401


def test_session_lifetime_and_idle_timeout_are_system_settings(
    admin: TestClient, sign_in: Callable[..., SignedIn], clock: Clock
) -> None:
    check(admin.patch(f"{API}/system", json={"sign_in": {"idle_minutes": 5}}))
    client = sign_in("101").client
    clock.advance(minutes=6)
    assert client.get(f"{API}/auth/session").status_code == 401
    assert problems(admin.patch(f"{API}/system", json={"sign_in": {"idle_minutes": 1}})) == [
        "sign_in.idle_minutes: must be 5..1440"
    ]


def test_disabling_the_extension_ends_its_sessions(
    admin: TestClient, sign_in: Callable[..., SignedIn]
) -> None:
    client = sign_in("101").client
    check(admin.patch(f"{API}/extensions/101", json={"enabled": False}))
    assert client.get(f"{API}/auth/session").status_code == 401


def test_a_user_lists_their_sessions_and_signs_one_out(
    sign_in: Callable[..., SignedIn],
) -> None:
    laptop, phone = sign_in("101"), sign_in("101", headers={"User-Agent": "phone"})
    sessions = check(laptop.client.get(f"{API}/auth/sessions"))
    assert len(sessions) == 2
    assert [s["current"] for s in sessions].count(True) == 1
    other = next(s for s in sessions if not s["current"])
    assert other["user_agent"] == "phone"
    check(laptop.client.delete(f"{API}/auth/sessions/{other['id']}"), 204)
    assert phone.client.get(f"{API}/auth/session").status_code == 401
    # Someone else's session is not found.
    petr = sign_in("102")
    mine = check(laptop.client.get(f"{API}/auth/sessions"))[0]["id"]
    assert petr.client.delete(f"{API}/auth/sessions/{mine}").status_code == 404


def test_an_admin_signs_everyone_out_of_an_extension(
    admin: TestClient, sign_in: Callable[..., SignedIn]
) -> None:
    client = sign_in("101").client
    assert check(admin.get(f"{API}/extensions/101/account"))["sessions"] == 1
    assert check(admin.delete(f"{API}/extensions/101/sessions")) == {"ended": 1}
    assert client.get(f"{API}/auth/session").status_code == 401


def test_an_admin_extension_signs_in_as_admin(
    sign_in: Callable[..., SignedIn],
) -> None:
    alena = sign_in("100")
    assert alena.answer["role"] == "admin"
    assert check(alena.client.get(f"{API}/system"))["timezone"] == "UTC"
    assert check(alena.client.get(f"{API}/extensions/101", params={"include_secrets": True}))[
        "voicemail"
    ]["pin"].isdigit()


def test_the_admin_token_has_no_session_and_no_extension(admin: TestClient) -> None:
    session = check(admin.get(f"{API}/auth/session"))
    assert session == {
        "method": "token",
        "name": "token admin",
        "role": "admin",
        "extension": None,
        "state": "active",
        "csrf_token": None,
        "expires_at": None,
        "scopes": [],
    }
    assert admin.get(f"{API}/me").status_code == 403
