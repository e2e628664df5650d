"""The web UI lives in the API's app at /ui without changing the API: no route, nothing in
the OpenAPI document; its pages answer only a signed-in session (the API's own cookie)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from starlette.routing import Mount

from klapka.api.app import create_app
from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.web import mount
from klapka.web.session import hand_off


def api_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, Mount):
            for method in getattr(route, "methods", None) or ():
                found.add((method, route.path))
    return found


def test_the_ui_is_mounted_beside_the_api_and_needs_the_sessions_cookie(pbx: Pbx) -> None:
    Objects(pbx).create(
        Kind.EXTENSION,
        {"number": "101", "email": "jana@example.com", "user_password": "Zelena-Louka-2027"},
    )
    api_only = create_app(pbx)
    app = create_app(pbx)
    mount(app, pbx)
    assert api_routes(app) == api_routes(api_only)
    assert [m.path for m in app.routes if isinstance(m, Mount)].count("/ui") == 1

    with TestClient(app, follow_redirects=False) as client:
        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert paths and not [p for p in paths if not p.startswith("/api/v1/")]
        assert client.get("/").headers["location"] == "/ui/"
        assert client.get("/ui/").headers["location"] == "/ui/sign-in"
        # The emailed reset link (<portal_url>/reset-password#token=...) opens the UI's page.
        assert client.get("/reset-password").headers["location"] == "/ui/reset-password"
        assert client.post("/reset-password").status_code in (404, 405)
        refused = client.get("/ui/extensions/101")
        assert (refused.status_code, refused.headers["location"]) == (303, "/ui/sign-in")
        sign_in_page = client.get("/ui/sign-in")
        assert "Sign in" in sign_in_page.text
        assert sign_in_page.headers["x-frame-options"] == "DENY"
        # Another site's page may not open the UI's websocket.
        foreign = client.get(
            "/ui/_nicegui_ws/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 400 and "not an accepted origin" in foreign.text
        # A made-up hand-over code sets no cookie.
        bogus = client.get("/ui/auth/complete", params={"code": "made-up"})
        assert bogus.headers["location"] == "/ui/sign-in"
        assert "set-cookie" not in bogus.headers

        signed_in = client.post(
            "/api/v1/auth/login",
            json={"email": "jana@example.com", "password": "Zelena-Louka-2027"},
        )
        assert signed_in.json()["status"] == "signed_in"
        assert client.get("/ui/").headers["location"] == "/ui/me"
        # A hand-over code works only in the browser that opened the sign-in page.
        assert "klapka_sign_in" in client.cookies
        code = hand_off(client.cookies["klapka_session"], 3600, "another browser")
        elsewhere = client.get("/ui/auth/complete", params={"code": code})
        assert "set-cookie" not in elsewhere.headers
        code = hand_off(client.cookies["klapka_session"], 3600, client.cookies["klapka_sign_in"])
        here = client.get("/ui/auth/complete", params={"code": code})
        assert "klapka_session=" in here.headers["set-cookie"]
        assert client.get("/ui/auth/complete", params={"code": code}).headers["location"] == (
            "/ui/sign-in"
        )  # once
        page = client.get("/ui/me")
        assert page.status_code == 200 and "101" in page.text
        # Signed out: the same cookie, sent again, no longer opens a page.
        session = client.cookies["klapka_session"]
        client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": signed_in.json()["csrf_token"]})
        client.cookies.set("klapka_session", session)
        assert client.get("/ui/me").headers["location"] == "/ui/sign-in"
