"""Fixtures of the accounts tests: a PBX with people who can sign in, a clock the test sets,
clients signed in as an admin token, as users (by session or personal token), and a real
SMTP server (aiosmtpd) that keeps what arrives.

``given`` sets the PBX up from a configuration-document YAML snippet, so a test shows the
configuration it is about. The people every test has:

    100  Alena Adminová   role admin   alena@example.com
    101  Jana Nováková    user         jana@example.com
    102  Petr Svoboda     user         petr@example.com
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from accounts_world import API, PEOPLE, SECTION_URLS, Clock, Inbox, SignedIn, check, sign_in_as
from fastapi.testclient import TestClient

from klapka.api.app import create_app
from klapka.services.accounts.tokens import Tokens
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx


@pytest.fixture(autouse=True)
def quick_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2 with the production cost takes half a second per hash here; the tests check
    what happens, not how hard a hash is to crack, so they use a cheap one."""
    from argon2 import PasswordHasher

    from klapka.services.accounts import passwords, sign_in

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    sign_in.dummy_hash.cache_clear()
    yield
    sign_in.dummy_hash.cache_clear()  # the next tests hash at the production cost again


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(pbx: Pbx, clock: Clock) -> Any:
    app = create_app(pbx)
    app.state.clock = clock
    return app


@pytest.fixture
def admin_token(pbx: Pbx) -> str:
    return Tokens(pbx).create(name="admin")


@pytest.fixture
def admin(app: Any, admin_token: str) -> Iterator[TestClient]:
    """A client with the admin API token (klapka init's kind: no extension)."""
    with TestClient(app, headers={"Authorization": f"Bearer {admin_token}"}) as client:
        yield client


@pytest.fixture
def anonymous(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def given(admin: TestClient) -> Callable[[str], None]:
    """Create what a YAML snippet (configuration-document format) describes."""

    def create(document: str) -> None:
        data: dict[str, Any] = load_yaml(document)
        if "system" in data:
            check(admin.patch(f"{API}/system", json=data["system"]))
        for section, url in SECTION_URLS:
            for obj in data.get(section, []):
                check(admin.post(f"{API}{url}", json=obj), 201)

    return create


@pytest.fixture
def people(given: Callable[[str], None]) -> None:
    given(PEOPLE)


@pytest.fixture
def sign_in(app: Any, people: None) -> Iterator[Callable[..., SignedIn]]:
    """``sign_in("101")``: a browser session of the extension's user."""
    made: list[TestClient] = []

    def open_session(number: str, password: str | None = None, **kw: Any) -> SignedIn:
        session = sign_in_as(app, number, password, **kw)
        made.append(session.client)
        return session

    yield open_session
    for client in made:
        client.close()


@pytest.fixture
def jana(sign_in: Callable[..., SignedIn]) -> TestClient:
    """Extension 101's user, signed in in a browser."""
    return sign_in("101").client


@pytest.fixture
def petr(sign_in: Callable[..., SignedIn]) -> TestClient:
    return sign_in("102").client


@pytest.fixture
def alena(sign_in: Callable[..., SignedIn]) -> TestClient:
    """Extension 100's user: an admin, signed in in a browser."""
    return sign_in("100").client


# --- a real SMTP server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox(admin: TestClient) -> Iterator[Inbox]:
    """An SMTP server on localhost, and the PBX's system settings pointing at it."""
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    pytest.importorskip("klapka.notify.email")
    box = Inbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.handle(envelope)
            return "250 OK"

    port = _free_port()
    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    check(
        admin.patch(
            f"{API}/system",
            json={
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "from_address": "pbx@example.com",
                }
            },
        )
    )
    try:
        yield box
    finally:
        controller.stop()
