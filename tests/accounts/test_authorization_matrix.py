"""Who may call what: every route of the app × {anonymous, user, another user, admin}.

The routes come from the app's route table, so a new endpoint without a line in EXPECTED
fails ``test_every_route_has_an_expectation``: decide who may call it, then add it here.

The world: 101 (Jana) is "the user"; 102 (Petr) is "another user", and a client permission
rule hides 101 from him; 100 (Alena) is an admin. Users and the admin call with personal
tokens (read + write; the admin's also ``admin``); the path parameters name the user's own
objects (extension 101, a token of 101), so "another user" tries to reach someone else's.

Admin-only routes are called with keys that do not exist and a malformed body: the answer
shows whether the caller got past the permission check (404, 422...) without changing
anything, so the order of the calls does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from accounts_world import API, EMAILS, PASSWORDS, check, token_client
from fastapi import Depends
from fastapi.testclient import TestClient
from starlette.routing import Mount

from klapka.api.auth import current_principal, require_admin
from klapka.services.principal import Principal

PERSONAS = ("anonymous", "user", "other", "admin")
OK = "2xx"  # any success
PASSED = "passed"  # got past the permission checks: anything but 401, 403 and 5xx
ANY = "any"  # a public route: anything but 5xx
REFUSED = "refused"  # 403, or 404 for what the caller may not see
MALFORMED = b"{not json"


@dataclass(frozen=True)
class Expect:
    anonymous: int | str
    user: int | str
    other: int | str
    admin: int | str
    body: Any = MALFORMED
    params: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"  # for a body given as bytes
    # Run with the persona's client before the call (e.g. start an enrolment).
    prepare: Callable[[TestClient], None] | None = None


ADMIN_KEYS = {"number": "999", "name": "nope", "id": "999999", "extension": "999"}


def admin_only() -> Expect:
    return Expect(401, 403, 403, PASSED, params=ADMIN_KEYS)


def signed_in(user: int | str, other: int | str, admin: int | str, body: Any = None) -> Expect:
    return Expect(401, user, other, admin, body=body)


def everyone(status: int | str, body: Any = None) -> Expect:
    return Expect(status, status, status, status, body=body)


def _start_enrolment(client: TestClient) -> None:
    client.post(f"{API}/auth/two-factor/enrolment")


ME_STATUS = {"status": "away"}
VM_MESSAGE = {"message_id": "999999"}
VM_SLOT = {"slot": "away"}
EXPECTED: dict[tuple[str, str], Expect] = {
    # --- public --------------------------------------------------------------------------
    ("GET", "/"): everyone(ANY),
    ("GET", "/api/v1/docs"): everyone(200),
    ("GET", "/api/v1/docs/oauth2-redirect"): everyone(200),
    ("GET", "/api/v1/openapi.json"): everyone(200),
    ("GET", "/api/v1/health"): everyone(200),
    # Desk phones authenticate themselves (Basic or Digest; docs/provisioning.md).
    ("GET", "/provisioning/{file}"): everyone(404),
    # --- signing in ----------------------------------------------------------------------
    ("POST", "/api/v1/auth/login"): everyone(
        200, {"email": EMAILS["101"], "password": PASSWORDS["101"]}
    ),
    ("POST", "/api/v1/auth/login/second-factor"): everyone(
        401, {"challenge": "not-a-challenge", "code": "123456"}
    ),
    ("POST", "/api/v1/auth/password-reset"): everyone(202, {"email": EMAILS["101"]}),
    ("POST", "/api/v1/auth/password-reset/confirm"): everyone(
        422, {"token": "not-a-token", "new_password": "Nove-Heslo-2028"}
    ),
    # The app login link's one-time token is the credential (welcome email).
    ("POST", "/api/v1/auth/app-login"): everyone(ANY, {"token": "not-a-token"}),
    ("GET", "/api/v1/auth/app-login/{token}/linphone.xml"): Expect(
        410, 410, 410, 410, params={"token": "not-a-token"}
    ),
    ("POST", "/api/v1/auth/logout"): signed_in(204, 204, 204),
    ("GET", "/api/v1/auth/session"): signed_in(200, 200, 200),
    ("GET", "/api/v1/auth/sessions"): signed_in(200, 200, 200),
    ("DELETE", "/api/v1/auth/sessions/{id}"): Expect(401, 404, 404, 404, params={"id": "999999"}),
    ("POST", "/api/v1/auth/password"): signed_in(
        422, 422, 422, {"current_password": "Wrong-Pass-123", "new_password": "Nove-Heslo-2028"}
    ),
    ("GET", "/api/v1/auth/tokens"): signed_in(200, 200, 200),
    ("POST", "/api/v1/auth/tokens"): signed_in(201, 201, 201, {"name": "m", "scopes": ["read"]}),
    # {id}: a token of 101's; only 101 can revoke it, nobody else even sees it.
    ("DELETE", "/api/v1/auth/tokens/{id}"): signed_in(204, 404, 404),
    ("GET", "/api/v1/auth/two-factor"): signed_in(200, 200, 200),
    ("POST", "/api/v1/auth/two-factor/enrolment"): signed_in(200, 200, 200),
    ("GET", "/api/v1/auth/two-factor/enrolment/qr.png"): Expect(
        401, 200, 200, 200, prepare=_start_enrolment
    ),
    ("POST", "/api/v1/auth/two-factor/enrolment/confirm"): Expect(
        401, 422, 422, 422, body={"code": "000000"}, prepare=_start_enrolment
    ),
    ("POST", "/api/v1/auth/two-factor/recovery-codes"): signed_in(
        422, 422, 422, {"password": "Wrong-Pass-123"}
    ),
    ("POST", "/api/v1/auth/two-factor/disable"): signed_in(
        422, 422, 422, {"password": "Wrong-Pass-123"}
    ),
    # --- self-service --------------------------------------------------------------------
    ("GET", "/api/v1/me"): signed_in(200, 200, 200),
    ("GET", "/api/v1/me/permissions"): signed_in(200, 200, 200),
    ("GET", "/api/v1/me/call-history"): signed_in(200, 200, 200),
    ("GET", "/api/v1/call-history"): signed_in(403, 403, 200),
    ("GET", "/api/v1/me/calls/active"): signed_in(200, 200, 200),
    ("GET", "/api/v1/calls/active"): signed_in(403, 403, 200),
    ("DELETE", "/api/v1/calls/active/{id}"): Expect(401, 403, 403, 404, params={"id": "999999"}),
    # Personal contacts: one's own only; another user's (or a missing) contact is a 404.
    ("GET", "/api/v1/me/contacts"): signed_in(200, 200, 200),
    ("POST", "/api/v1/me/contacts"): signed_in(201, 201, 201, {"first_name": "Eva"}),
    ("GET", "/api/v1/me/contacts/{id}"): Expect(401, 404, 404, 404, params={"id": "999999"}),
    ("PUT", "/api/v1/me/contacts/{id}"): Expect(
        401, 404, 404, 404, body={"first_name": "Eva"}, params={"id": "999999"}
    ),
    ("PATCH", "/api/v1/me/contacts/{id}"): Expect(
        401, 404, 404, 404, body={"company": "X"}, params={"id": "999999"}
    ),
    ("DELETE", "/api/v1/me/contacts/{id}"): Expect(401, 404, 404, 404, params={"id": "999999"}),
    ("GET", "/api/v1/me/presence"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/presence"): signed_in(200, 200, 200, ME_STATUS),
    ("PATCH", "/api/v1/me/presence"): signed_in(200, 200, 200, {"note": "x"}),
    ("GET", "/api/v1/me/presence/{status}"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/presence/{status}"): signed_in(200, 200, 200, {}),
    ("PATCH", "/api/v1/me/presence/{status}"): signed_in(200, 200, 200, {"ring_timeout": 20}),
    ("GET", "/api/v1/me/voicemail"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/voicemail"): signed_in(200, 200, 200, {}),
    ("PATCH", "/api/v1/me/voicemail"): signed_in(200, 200, 200, {"pin": "2468"}),
    # Voicemail: my own mailbox (message 999999 does not exist for anyone).
    ("GET", "/api/v1/me/voicemail/messages"): signed_in(200, 200, 200),
    ("GET", "/api/v1/me/voicemail/messages/{message_id}"): Expect(
        401, 404, 404, 404, params=VM_MESSAGE
    ),
    ("GET", "/api/v1/me/voicemail/messages/{message_id}/audio"): Expect(
        401, 404, 404, 404, params=VM_MESSAGE
    ),
    ("PATCH", "/api/v1/me/voicemail/messages/{message_id}"): Expect(
        401, 404, 404, 404, body={"state": "old"}, params=VM_MESSAGE
    ),
    ("DELETE", "/api/v1/me/voicemail/messages/{message_id}"): Expect(
        401, 404, 404, 404, params=VM_MESSAGE
    ),
    ("GET", "/api/v1/me/voicemail/greetings"): signed_in(200, 200, 200),
    ("GET", "/api/v1/me/voicemail/greetings/{slot}"): Expect(401, 404, 404, 404, params=VM_SLOT),
    ("PUT", "/api/v1/me/voicemail/greetings/{slot}"): Expect(401, 422, 422, 422, params=VM_SLOT),
    ("DELETE", "/api/v1/me/voicemail/greetings/{slot}"): Expect(401, 404, 404, 404, params=VM_SLOT),
    # Any mailbox: admins; a user only their own (101 is the user's).
    ("GET", "/api/v1/extensions/{number}/voicemail/messages"): signed_in(200, 403, 200),
    ("GET", "/api/v1/extensions/{number}/voicemail/messages/{message_id}"): Expect(
        401, 404, 403, 404, params=VM_MESSAGE
    ),
    ("GET", "/api/v1/extensions/{number}/voicemail/messages/{message_id}/audio"): Expect(
        401, 404, 403, 404, params=VM_MESSAGE
    ),
    ("PATCH", "/api/v1/extensions/{number}/voicemail/messages/{message_id}"): Expect(
        401, 404, 403, 404, body={"state": "old"}, params=VM_MESSAGE
    ),
    ("DELETE", "/api/v1/extensions/{number}/voicemail/messages/{message_id}"): Expect(
        401, 404, 403, 404, params=VM_MESSAGE
    ),
    ("GET", "/api/v1/extensions/{number}/voicemail/greetings"): signed_in(200, 403, 200),
    ("GET", "/api/v1/extensions/{number}/voicemail/greetings/{slot}"): Expect(
        401, 404, 403, 404, params=VM_SLOT
    ),
    ("PUT", "/api/v1/extensions/{number}/voicemail/greetings/{slot}"): Expect(
        401, 422, 403, 422, params=VM_SLOT
    ),
    ("DELETE", "/api/v1/extensions/{number}/voicemail/greetings/{slot}"): Expect(
        401, 404, 403, 404, params=VM_SLOT
    ),
    ("GET", "/api/v1/me/notifications"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/notifications"): signed_in(200, 200, 200, {}),
    ("PATCH", "/api/v1/me/notifications"): signed_in(200, 200, 200, {}),
    ("GET", "/api/v1/me/caller-rules"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/caller-rules"): signed_in(200, 200, 200, []),
    ("GET", "/api/v1/me/url-popup"): signed_in(200, 200, 200),
    ("PUT", "/api/v1/me/url-popup"): signed_in(200, 200, 200, {}),
    ("PATCH", "/api/v1/me/url-popup"): signed_in(200, 200, 200, {}),
    # --- the directory: users read the extensions they may see ---------------------------
    ("GET", "/api/v1/extensions"): signed_in(200, 200, 200),
    # 101 is hidden from 102: not found, as if it did not exist.
    ("GET", "/api/v1/extensions/{number}"): signed_in(200, 404, 200),
    # Company contacts: nobody but admins until a rule grants them (contact visibility).
    ("GET", "/api/v1/contacts"): signed_in(403, 403, 200),
    ("GET", "/api/v1/contacts.csv"): signed_in(403, 403, 200),
    # (The contacts service checks the permission after reading the body: valid bodies.)
    ("POST", "/api/v1/contacts"): signed_in(403, 403, 201, {"company": "ACME"}),
    ("POST", "/api/v1/contacts/import"): Expect(
        401, 403, 403, PASSED, body=b"company\nACME\n", content_type="text/csv"
    ),
    ("GET", "/api/v1/contacts/{id}"): Expect(401, 403, 403, 404, params={"id": "999999"}),
    ("PUT", "/api/v1/contacts/{id}"): Expect(
        401, 403, 403, 404, body={"company": "ACME"}, params={"id": "999999"}
    ),
    ("PATCH", "/api/v1/contacts/{id}"): Expect(
        401, 403, 403, 404, body={"company": "ACME"}, params={"id": "999999"}
    ),
    ("DELETE", "/api/v1/contacts/{id}"): Expect(401, 403, 403, 404, params={"id": "999999"}),
    ("GET", "/api/v1/phonebooks"): signed_in(403, 403, 200),
    ("GET", "/api/v1/phonebooks/{name}"): Expect(401, 403, 403, 404, params={"name": "nope"}),
    ("POST", "/api/v1/phonebooks"): signed_in(403, 403, 201, {"name": "Suppliers"}),
    ("PUT", "/api/v1/phonebooks/{name}"): Expect(
        401, 403, 403, PASSED, body={"name": "nope"}, params={"name": "nope"}
    ),
    ("PATCH", "/api/v1/phonebooks/{name}"): Expect(
        401, 403, 403, PASSED, body={"description": "x"}, params={"name": "nope"}
    ),
    ("DELETE", "/api/v1/phonebooks/{name}"): Expect(401, 403, 403, 404, params={"name": "nope"}),
}

# Everything else that exists is for admins only.
ADMIN_ONLY = [
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/events"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{name}"),
    ("PATCH", "/api/v1/webhooks/{name}"),
    ("DELETE", "/api/v1/webhooks/{name}"),
    ("GET", "/api/v1/webhooks/{name}/deliveries"),
    ("POST", "/api/v1/webhooks/{name}/test"),
    ("GET", "/api/v1/business-hours"),
    ("PUT", "/api/v1/business-hours"),
    ("PATCH", "/api/v1/business-hours"),
    ("POST", "/api/v1/calls/simulate"),
    ("GET", "/api/v1/client-permissions"),
    ("POST", "/api/v1/client-permissions"),
    ("GET", "/api/v1/client-permissions/preview/{number}"),
    ("GET", "/api/v1/client-permissions/{name}"),
    ("PUT", "/api/v1/client-permissions/{name}"),
    ("PATCH", "/api/v1/client-permissions/{name}"),
    ("DELETE", "/api/v1/client-permissions/{name}"),
    ("GET", "/api/v1/client-permissions/{name}/position"),
    ("PUT", "/api/v1/client-permissions/{name}/position"),
    ("GET", "/api/v1/config"),
    ("PUT", "/api/v1/config"),
    ("POST", "/api/v1/extensions"),
    ("GET", "/api/v1/extensions.csv"),
    ("POST", "/api/v1/extensions/import"),
    ("POST", "/api/v1/extensions/welcome-email"),
    ("PUT", "/api/v1/extensions/{number}"),
    ("PATCH", "/api/v1/extensions/{number}"),
    ("DELETE", "/api/v1/extensions/{number}"),
    ("GET", "/api/v1/extensions/{number}/account"),
    ("DELETE", "/api/v1/extensions/{number}/sessions"),
    ("DELETE", "/api/v1/extensions/{number}/sign-in-lockout"),
    ("DELETE", "/api/v1/extensions/{number}/two-factor"),
    ("POST", "/api/v1/extensions/{number}/welcome-email"),
    ("GET", "/api/v1/extensions/{number}/call-paths"),
    ("GET", "/api/v1/extensions/{number}/registrations"),
    ("GET", "/api/v1/extensions/{number}/phones/{mac}/provisioning"),
    ("POST", "/api/v1/extensions/{number}/phones/{mac}/reprovision"),
    ("GET", "/api/v1/hot-desk/logins"),
    ("DELETE", "/api/v1/hot-desk/logins/{mac}"),
    ("GET", "/api/v1/extensions/{number}/status"),
    ("GET", "/api/v1/trunk-status"),
    ("GET", "/api/v1/trunks/{name}/status"),
    ("GET", "/api/v1/extensions/{number}/user"),
    ("PATCH", "/api/v1/extensions/{number}/user"),
    ("GET", "/api/v1/extensions/{number}/presence"),
    ("PUT", "/api/v1/extensions/{number}/presence"),
    ("PATCH", "/api/v1/extensions/{number}/presence"),
    ("GET", "/api/v1/extensions/{number}/presence/{status}"),
    ("PUT", "/api/v1/extensions/{number}/presence/{status}"),
    ("PATCH", "/api/v1/extensions/{number}/presence/{status}"),
    *[
        (method, f"/api/v1/extensions/{{number}}/{part}")
        for part in (
            "presence-settings",
            "voicemail",
            "features",
            "advanced",
            "security",
            "clients",
        )
        for method in ("GET", "PUT", "PATCH")
    ],
    *[
        (method, f"/api/v1/extensions/{{number}}/{part}")
        for part in ("phones", "function-keys")
        for method in ("GET", "PUT")
    ],
    *[
        (method, f"/api/v1/{kind}{key}")
        for kind, key_name in (
            ("groups", "name"),
            ("ring-groups", "number"),
            ("queues", "number"),
            ("trunks", "name"),
            ("inbound-routes", "name"),
            ("outbound-routes", "name"),
        )
        for method, key in (
            ("GET", ""),
            ("POST", ""),
            ("GET", f"/{{{key_name}}}"),
            ("PUT", f"/{{{key_name}}}"),
            ("PATCH", f"/{{{key_name}}}"),
            ("DELETE", f"/{{{key_name}}}"),
        )
    ],
    ("GET", "/api/v1/queues/{number}/agents"),
    ("PATCH", "/api/v1/queues/{number}/agents/{extension}"),
    ("GET", "/api/v1/system"),
    ("PUT", "/api/v1/system"),
    ("PATCH", "/api/v1/system"),
    ("POST", "/api/v1/system/smtp/test"),
]
for _route in ADMIN_ONLY:
    assert _route not in EXPECTED, _route
    EXPECTED[_route] = admin_only()


def route_table(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, from its routes (the docs' static files aside)."""
    found: set[tuple[str, str]] = set()

    def add(route: Any) -> None:
        # As the OpenAPI names it: /extensions/{number}, not /extensions/{number:digits}.
        path = getattr(route, "path_format", None) or route.path
        for method in (getattr(route, "methods", None) or set()) - {"HEAD"}:
            found.add((method, path))

    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # an included router
            for context in route.effective_route_contexts():
                add(context)
        elif not isinstance(route, Mount):
            add(route)
    return found


def test_every_route_has_an_expectation(app: Any) -> None:
    routes = route_table(app)
    assert len(routes) > 150
    missing = sorted(routes - set(EXPECTED), key=lambda r: (r[1], r[0]))
    assert not missing, f"routes without a line in EXPECTED (who may call them?): {missing}"
    stale = sorted(set(EXPECTED) - routes, key=lambda r: (r[1], r[0]))
    assert not stale, f"EXPECTED names routes that do not exist: {stale}"


def matches(status: int, expected: int | str) -> bool:
    if expected == OK:
        return 200 <= status < 300
    if expected == PASSED:
        return status not in (401, 403) and status < 500
    if expected == REFUSED:
        return status in (403, 404)
    if expected == ANY:
        return status < 500
    return status == expected


@pytest.fixture
def world(app: Any, people: None, given: Callable[[str], None], sign_in: Any) -> dict[str, Any]:
    given(
        "client_permissions: [{name: hide-jana-from-petr, target: {extensions: ['102']}, "
        "extension_visibility: {deny: {extensions: ['101']}}}]"
    )
    jana = sign_in("101").client
    clients = {
        "anonymous": TestClient(app),
        "user": token_client(app, jana, ["read", "write"], "matrix"),
        "other": token_client(app, sign_in("102").client, ["read", "write"], "matrix"),
        "admin": token_client(app, sign_in("100").client, ["read", "write", "admin"], "matrix"),
    }
    return {"clients": clients, "jana": jana}


# Query strings some routes are called with: the event stream ends after 0.1 s.
QUERIES = {"/api/v1/events": "?seconds=0.1"}


def wrong_answers(
    clients: dict[str, TestClient],
    jana: TestClient,
    expected: dict[tuple[str, str], Expect],
    personas: tuple[str, ...] = PERSONAS,
) -> list[str]:
    """Each route called as each persona: the answers that differ from what is expected."""
    wrong: list[str] = []
    for (method, path), expect in sorted(expected.items(), key=lambda i: (i[0][1], i[0][0])):
        for persona in personas:
            client = clients[persona]
            params = {"number": "101", "status": "away", "name": "nope", "extension": "101"}
            params |= expect.params
            if (
                "{id}" in path
                and path.startswith("/api/v1/auth/tokens")
                and "id" not in expect.params
            ):
                made = check(jana.post(f"{API}/auth/tokens", json={"name": "victim"}), 201)
                params["id"] = str(made["id"])
            url = path + QUERIES.get(path, "")
            for key, value in params.items():
                url = url.replace(f"{{{key}}}", value)
            if expect.prepare is not None and persona != "anonymous":
                expect.prepare(client)
            kwargs: dict[str, Any] = {}
            if method in ("POST", "PUT", "PATCH"):
                if isinstance(expect.body, bytes):
                    kwargs = {
                        "content": expect.body,
                        "headers": {"Content-Type": expect.content_type},
                    }
                else:
                    kwargs = {"json": expect.body if expect.body is not None else {}}
            client.cookies.clear()  # e.g. from signing in: the persona is its token only
            response = client.request(method, url, **kwargs)
            want = getattr(expect, persona)
            if not matches(response.status_code, want):
                wrong.append(
                    f"{method} {path} as {persona}: {response.status_code}, expected {want}"
                    f" ({response.text[:120]})"
                )
    return wrong


def test_every_route_answers_each_persona_as_expected(app: Any, world: dict[str, Any]) -> None:
    clients: dict[str, TestClient] = world["clients"]
    wrong = wrong_answers(clients, world["jana"], EXPECTED)
    assert not wrong, "\n".join(wrong)
    for client in clients.values():
        client.close()


VALID_BODIES: dict[str, Any] = {
    "/api/v1/extensions/import": b"number,first_name\n100,Alena\n",
    "/api/v1/extensions/welcome-email": {"all": True},
    "/api/v1/client-permissions/{name}/position": {"position": 1},
    "/api/v1/extensions/{number}/phones": [],
    "/api/v1/extensions/{number}/function-keys": [],
    "/api/v1/extensions/{number}/presence": {"status": "away"},
    "/api/v1/system/smtp/test": {"to": "alena@example.com"},
}


SEEN_IN_THE_LIST = (
    "/api/v1/extensions/{number}/presence",
    "/api/v1/extensions/{number}/status",
    "/api/v1/extensions/{number}/user",
)


def test_the_services_refuse_users_without_the_api_gate(app: Any, world: dict[str, Any]) -> None:
    """Permissions are enforced once, in the services: with the API's admin gate taken off
    (``require_admin`` answering for anyone signed in), every admin-only route still refuses
    the users, for the service it calls checks the principal itself (the web UI, the CLI
    and the control socket reach the same services without any gate)."""

    async def anyone_signed_in(
        principal: Principal = Depends(current_principal),
    ) -> Principal:
        return principal

    app.dependency_overrides[require_admin] = anyone_signed_in
    clients: dict[str, TestClient] = world["clients"]
    # Valid bodies, and the admin's extension (which both users see, neither owns): what is
    # refused is refused by the service, not by a parser (403; 404 for an object that does
    # not exist: the directory services look an object up before they check).
    refused = {
        route: Expect(
            401,
            REFUSED,
            REFUSED,
            PASSED,
            params=ADMIN_KEYS | {"number": "100", "extension": "100"},
            body=VALID_BODIES.get(route[1], {}),
            content_type="text/csv",
        )
        for route in ADMIN_ONLY
    }
    # What the list of extensions shows anyone who sees the extension (the API offers these
    # routes to admins only; the services let a user read them of an extension they see):
    # 101 is the user's own, and hidden from "other".
    for path in SEEN_IN_THE_LIST:
        refused[("GET", path)] = Expect(401, OK, 404, PASSED, params={"number": "101"})
    wrong = wrong_answers(clients, world["jana"], refused, ("user", "other"))
    app.dependency_overrides.clear()
    assert not wrong, "\n".join(wrong)
    for client in clients.values():
        client.close()
