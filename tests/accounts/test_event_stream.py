"""The event stream, live: an admin's client reads every event as it happens over
server-sent events (the same documents the webhooks get), filtered by type, and after a
reconnect gets what it missed; users are refused. Through a real uvicorn."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from served import served

from klapka.services.call_history import CallRecorder
from klapka.services.pbx import Pbx

T = time.time()


def a_call(pbx: Pbx, ci: str) -> None:
    """101 calls 102, which answers; the call ends."""
    CallRecorder(pbx).apply([
        {"e": "start", "ci": ci, "t": T, "from": "101", "name": "Jana", "ext": "101",
         "to": "102", "path": "direct"},
        {"e": "ring", "ci": ci, "t": T, "owner": "102", "rung": ["102"], "numbers": []},
        {"e": "answer", "ci": ci, "t": T + 3, "ext": "102", "endpoint": "desk"},
        {"e": "end", "ci": ci, "t": T + 30, "how": "bye", "by": "caller"},
    ], (1, 0))  # fmt: skip


class Reader:
    """Reads one event stream in a thread: the events (id, type, document) as they come."""

    def __init__(self, client: httpx.Client, params: dict[str, Any], headers: dict[str, str]):
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.opened = threading.Event()
        self.status = 0

        def read() -> None:
            with client.stream("GET", "/api/v1/events", params=params, headers=headers) as r:
                self.status = r.status_code
                self.opened.set()
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    if line.startswith(":"):
                        continue
                    if line:
                        key, _, value = line.partition(": ")
                        fields[key] = value
                    elif "event" in fields:
                        self.events.append((int(fields["id"]), fields["event"],
                                            json.loads(fields["data"])))  # fmt: skip
                        fields = {}

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()
        assert self.opened.wait(10)

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[int, str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events


@pytest.fixture
def base(pbx: Pbx, admin: TestClient) -> Iterator[str]:
    with served(pbx) as (host, port):
        yield f"http://{host}:{port}"


def test_an_admins_client_reads_the_events_live_filtered_and_resumes_after_a_gap(
    pbx: Pbx, base: str, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        everything = Reader(client, {"seconds": 8}, auth)
        ended_only = Reader(client, {"seconds": 8, "events": "call.ended"}, auth)
        time.sleep(0.3)  # both listen
        started = time.monotonic()
        a_call(pbx, "live-1")
        got = everything.wait_for(3)
        assert [e[1] for e in got] == ["call.ringing", "call.answered", "call.ended"]
        assert time.monotonic() - started < 5
        ringing = got[0][2]
        assert ringing["event"] == "call.ringing"
        assert ringing["data"]["rung"] == ["102"] and ringing["data"]["caller"] == "101"
        assert got[2][2]["data"]["outcome"] == "answered"
        assert [e[1] for e in ended_only.wait_for(1)] == ["call.ended"]
        # Ids grow; a client that comes back after the first event gets the two it missed.
        ids = [e[0] for e in got]
        assert ids == sorted(ids)
        back = Reader(client, {"seconds": 1}, {**auth, "Last-Event-ID": str(ids[0])})
        assert [e[0] for e in back.wait_for(2)] == ids[1:]


def test_users_and_bad_filters_are_refused(app: Any, admin: TestClient, jana: TestClient) -> None:
    assert jana.get("/api/v1/events", params={"seconds": 0.1}).status_code == 403
    bad = admin.get("/api/v1/events", params={"events": "call.exploded", "seconds": 0.1})
    assert bad.status_code == 422
    assert "events" in json.dumps(bad.json())
