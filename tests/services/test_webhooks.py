"""Webhooks: call events reach a local HTTP endpoint as signed POSTs; while it is down they
are retried with back-off and delivered once it answers; the delivery log shows each."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx
from klapka.services.webhooks import Webhooks, WebhookSender

T = 1_800_000_000.0


class Endpoint:
    """A local HTTP server recording the requests it gets; ``status`` is its answer."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                endpoint.got.append({"headers": dict(self.headers), "body": body,
                                     "path": self.path, "at": time.monotonic()})  # fmt: skip
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


def a_call(pbx: Pbx) -> None:
    """101 calls 102, which answers; the call ends."""
    start = {"e": "start", "ci": "c1", "t": T, "from": "101", "name": "Jana", "ext": "101",
             "to": "102", "path": "direct"}  # fmt: skip
    CallRecorder(pbx).apply([
        start,
        {"e": "ring", "ci": "c1", "t": T, "owner": "102", "rung": ["102"], "numbers": []},
        {"e": "answer", "ci": "c1", "t": T + 3, "ext": "102", "endpoint": "desk"},
        {"e": "end", "ci": "c1", "t": T + 30, "how": "bye", "by": "caller"},
    ], (1, 0))  # fmt: skip


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """Check the signature as a receiver would; the body."""
    parts = dict(p.split("=", 1) for p in request["headers"]["X-Klapka-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.{request['body']}".encode(),
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 60
    body: dict[str, Any] = json.loads(request["body"])
    assert request["headers"]["X-Klapka-Event"] == body["event"]
    return body


def test_call_events_are_delivered_signed(pbx: Pbx, endpoint: Endpoint) -> None:
    hook = Webhooks(pbx).create({"name": "crm", "url": endpoint.url})
    Webhooks(pbx).create({"name": "only-ends", "url": endpoint.url + "?ends",
                          "events": ["call.ended"]})  # fmt: skip
    a_call(pbx)
    with httpx.Client() as client:
        assert WebhookSender(pbx).send_due(client) == 4
    bodies = [verify(hook["secret"], r) for r in endpoint.got if r["path"] == "/hook"]
    assert [b["event"] for b in bodies] == ["call.ringing", "call.answered", "call.ended"]
    assert bodies[0]["data"]["rung"] == ["102"] and bodies[0]["data"]["caller_name"] == "Jana"
    assert bodies[1]["data"]["answered_by"] == "102"
    assert (bodies[2]["data"]["outcome"], bodies[2]["data"]["talk_seconds"]) == ("answered", 27)
    log = Webhooks(pbx).deliveries("crm")
    assert [(d["event"], d["status"], d["attempts"], d["last_code"]) for d in log] == [
        ("call.ended", "delivered", 1, 200), ("call.answered", "delivered", 1, 200),
        ("call.ringing", "delivered", 1, 200),
    ]  # fmt: skip
    assert [d["event"] for d in Webhooks(pbx).deliveries("only-ends")] == ["call.ended"]


def test_a_failing_endpoint_is_retried_with_back_off_until_it_answers(
    pbx: Pbx, endpoint: Endpoint
) -> None:
    Webhooks(pbx).create({"name": "crm", "url": endpoint.url, "events": ["call.answered"]})
    endpoint.status = 503
    a_call(pbx)
    with httpx.Client() as client:
        sender = WebhookSender(pbx)
        assert sender.send_due(client) == 1
        [pending] = Webhooks(pbx).deliveries("crm")
        assert (pending["status"], pending["attempts"], pending["last_code"]) == ("pending", 1, 503)
        wait = datetime.fromisoformat(pending["next_at"]) - datetime.now(UTC)
        assert 0.5 < wait.total_seconds() <= 1.0  # the first back-off: 1 s
        assert sender.send_due(client) == 0  # not due yet
        time.sleep(wait.total_seconds() + 0.05)
        assert sender.send_due(client) == 1  # due: 503 again, now 2 s
        endpoint.status = 204
        time.sleep(2.05)
        assert sender.send_due(client) == 1
    [delivered] = Webhooks(pbx).deliveries("crm")
    assert (delivered["status"], delivered["attempts"], delivered["last_code"]) == (
        "delivered", 3, 204,
    )  # fmt: skip
    ids = {r["headers"]["X-Klapka-Delivery"] for r in endpoint.got}
    assert len(endpoint.got) == 3 and len(ids) == 1  # the same delivery each time


def test_the_sender_delivers_within_a_fraction_of_a_second(pbx: Pbx, endpoint: Endpoint) -> None:
    Webhooks(pbx).create({"name": "crm", "url": endpoint.url, "events": ["call.ended"]})
    sender = WebhookSender(pbx)
    sender.start()
    try:
        queued = time.monotonic()
        a_call(pbx)
        deadline = time.monotonic() + 5
        while not endpoint.got:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert endpoint.got[0]["at"] - queued < 1.0
    finally:
        sender.stop()


def test_a_voicemail_left_is_an_event(pbx: Pbx, endpoint: Endpoint, tmp_path: Path) -> None:
    from klapka.domain.references import Kind
    from klapka.services.directory.objects import Objects
    from klapka.services.principal import SYSTEM
    from klapka.services.telephony.voicemail import VoicemailStore

    Objects(pbx, SYSTEM).create(Kind.EXTENSION, {"number": "101"})
    hook = Webhooks(pbx).create({"name": "crm", "url": endpoint.url,
                                 "events": ["voicemail.left"]})  # fmt: skip
    store = VoicemailStore(pbx, tmp_path)
    message, path = store.begin("101", "+420601111222", "Eva")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    store.finish(message, 4200, keep=True)
    dropped, _ = store.begin("101", "102", "")
    store.finish(dropped, 100, keep=False)  # too short, not kept: no event
    with httpx.Client() as client:
        assert WebhookSender(pbx).send_due(client) == 1
    body = verify(hook["secret"], endpoint.got[0])
    assert body["event"] == "voicemail.left"
    assert {k: body["data"][k] for k in ("mailbox", "caller", "caller_name", "seconds")} == {
        "mailbox": "101", "caller": "+420601111222", "caller_name": "Eva", "seconds": 4,
    }  # fmt: skip
