"""The world of the accounts tests: who works here, their passwords, a clock the test
moves, a browser signed in as someone, and an inbox of a real SMTP server. The fixtures in
conftest.py build it per test.
"""

from __future__ import annotations

import email
import email.policy
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"
PASSWORDS = {
    "100": "Adm1nistrace-Heslo",
    "101": "Zelena-Louka-2027",
    "102": "Modre-Nebe-Ctyri4",
}
PEOPLE = f"""
extensions:
  - number: "100"
    first_name: Alena
    last_name: Adminová
    email: alena@example.com
    role: admin
    user_password: "{PASSWORDS["100"]}"
  - number: "101"
    first_name: Jana
    last_name: Nováková
    email: jana@example.com
    user_password: "{PASSWORDS["101"]}"
  - number: "102"
    first_name: Petr
    last_name: Svoboda
    email: petr@example.com
    user_password: "{PASSWORDS["102"]}"
"""
EMAILS = {"100": "alena@example.com", "101": "jana@example.com", "102": "petr@example.com"}

SECTION_URLS = (
    ("extensions", "/extensions"),
    ("groups", "/groups"),
    ("ring_groups", "/ring-groups"),
    ("queues", "/queues"),
    ("client_permissions", "/client-permissions"),
)


def check(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problems(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [f"{p['path']}: {p['rule']}" for p in response.json()["problems"]]


class Clock:
    """The time the accounts services see; starts now, moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class SignedIn:
    """A browser signed in as one extension: cookies kept, the CSRF header sent."""

    client: TestClient
    number: str
    csrf: str
    answer: dict[str, Any] = field(default_factory=dict)


def sign_in_as(app: Any, number: str, password: str | None = None, **client_kw: Any) -> SignedIn:
    client = TestClient(app, **client_kw)
    answer = check(
        client.post(
            f"{API}/auth/login",
            json={"email": EMAILS[number], "password": password or PASSWORDS[number]},
        )
    )
    assert answer["status"] == "signed_in", answer
    client.headers["X-CSRF-Token"] = answer["csrf_token"]
    return SignedIn(client, number, answer["csrf_token"], answer)


def token_client(app: Any, session: TestClient, scopes: list[str], name: str = "t") -> TestClient:
    """A client with a new personal token of the session's user."""
    made = check(session.post(f"{API}/auth/tokens", json={"name": name, "scopes": scopes}), 201)
    return TestClient(app, headers={"Authorization": f"Bearer {made['token']}"})


class Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    def handle(self, envelope: Any) -> None:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, seconds: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    @staticmethod
    def text(msg: EmailMessage) -> str:
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content())
