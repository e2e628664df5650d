"""klapka's event stream, and its webhooks: the events delivered to admin-defined HTTP
endpoints.

An event (``emit``) is written to the ``events`` table, and as one delivery per subscribed
webhook, in the transaction that made it (an outbox: no event is sent for a change that was
rolled back, none is lost when klapka serve stops). ``klapka serve`` sends the deliveries
(``klapka.notify.webhooks``): a POST of the JSON body, signed with the webhook's secret,
retried with back-off while the endpoint fails; every attempt is in the delivery log. The
live listeners (the web UI, the API's event stream) read the events (``klapka.services.live``).
docs/webhooks.md.

Events: ``call.ringing`` (a ring step rings extensions), ``call.answered``, ``call.ended``
(the call's record), ``voicemail.left``, ``url_popup``, ``presence.changed`` (an
extension's effective presence), ``registration.changed`` (an extension's phones registered
or not).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator
from sqlalchemy import Connection, delete, insert, select, update

from klapka.domain.problems import Conflict, InvalidInput, NotFound, problems_from_validation
from klapka.notify.webhooks import post
from klapka.services import audit, live
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t

log = logging.getLogger(__name__)

EVENTS = (
    "call.ringing",
    "call.answered",
    "call.ended",
    "voicemail.left",
    "url_popup",
    "presence.changed",
    "registration.changed",
)
MAX_ATTEMPTS = 12  # then the delivery is given up ("failed")
KIND = "webhook"  # the audit log's kind
FORGET_SECONDS = 3600  # how often the sender deletes the stream's events older than a day


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 1 s, 2 s, 4 s... 1 h."""
    return timedelta(seconds=min(2 ** (attempts - 1), 3600))


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")
    url: HttpUrl
    events: list[str] = Field(default_factory=list)  # empty: every event
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]}: must be one of {', '.join(EVENTS)}")
        return sorted(set(v))


def _view(row: Any, secret: bool = False) -> dict[str, Any]:
    out = {
        "name": row.name,
        "url": row.url,
        "events": list(row.events),
        "enabled": row.enabled,
        "created_at": row.created_at.isoformat(),
    }
    if secret:
        out["secret"] = row.secret
    return out


def _delivery(row: Any) -> dict[str, Any]:
    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id,
        "event": row.event,
        "created_at": at(row.created_at),
        "status": row.status,
        "attempts": row.attempts,
        "next_at": at(row.next_at) if row.status == "pending" else None,
        "delivered_at": at(row.delivered_at),
        "last_code": row.last_code,
        "last_error": row.last_error,
        "body": json.loads(row.body),
    }


class Webhooks:
    """The webhooks (admins only)."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    def _parse(self, data: Any) -> WebhookIn:
        try:
            return WebhookIn.model_validate(data)
        except ValidationError as e:
            raise InvalidInput(problems_from_validation(e)) from None

    def _row(self, conn: Connection, name: str) -> Any:
        w = t.webhooks
        row = conn.execute(select(w).where(w.c.name == name)).first()
        if row is None:
            raise NotFound("webhook", name)
        return row

    def all(self) -> list[dict[str, Any]]:
        require_admin(self.principal)
        w = t.webhooks
        with self.pbx.tx() as repo:
            return [_view(r) for r in repo.conn.execute(select(w).order_by(w.c.name))]

    def get(self, name: str) -> dict[str, Any]:
        require_admin(self.principal)
        with self.pbx.tx() as repo:
            return _view(self._row(repo.conn, name))

    def create(self, data: Any) -> dict[str, Any]:
        """A new webhook; the answer carries its ``secret`` (shown this once)."""
        require_admin(self.principal)
        hook = self._parse(data)
        w = t.webhooks
        with self.pbx.tx() as repo:
            if repo.conn.execute(select(w.c.id).where(w.c.name == hook.name)).first():
                raise Conflict(f"a webhook named {hook.name} exists", path="name")
            values = {**hook.model_dump(), "url": str(hook.url),
                      "secret": secrets.token_urlsafe(32), "created_at": datetime.now(UTC)}  # fmt: skip
            repo.conn.execute(insert(w).values(**values))
            row = self._row(repo.conn, hook.name)
            audit.record(repo.conn, self.principal, "create", KIND, hook.name, None,
                         _view(row))  # fmt: skip
            return _view(row, secret=True)

    def update(self, name: str, data: Any) -> dict[str, Any]:
        """Change the URL, events or ``enabled`` (the name stays)."""
        require_admin(self.principal)
        w = t.webhooks
        with self.pbx.tx() as repo:
            row = self._row(repo.conn, name)
            if not isinstance(data, Mapping):
                raise InvalidInput.one("", "must be an object")
            if "name" in data and data["name"] != name:
                raise InvalidInput.one("name", "cannot be changed")
            current = {k: _view(row)[k] for k in ("name", "url", "events", "enabled")}
            hook = self._parse({**current, **data})
            repo.conn.execute(update(w).where(w.c.id == row.id).values(
                url=str(hook.url), events=hook.events, enabled=hook.enabled))  # fmt: skip
            new = self._row(repo.conn, name)
            audit.record(repo.conn, self.principal, "update", KIND, name, _view(row), _view(new))
            return _view(new)

    def delete(self, name: str) -> None:
        require_admin(self.principal)
        w = t.webhooks
        with self.pbx.tx() as repo:
            row = self._row(repo.conn, name)
            repo.conn.execute(delete(w).where(w.c.id == row.id))
            audit.record(repo.conn, self.principal, "delete", KIND, name, _view(row), None)

    def deliveries(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The webhook's delivery log, newest first."""
        require_admin(self.principal)
        d = t.webhook_deliveries
        with self.pbx.tx() as repo:
            row = self._row(repo.conn, name)
            rows = repo.conn.execute(
                select(d).where(d.c.webhook == row.id)
                .order_by(d.c.created_at.desc(), d.c.id.desc()).limit(limit)
            ).all()  # fmt: skip
        return [_delivery(r) for r in rows]

    def test(self, name: str) -> dict[str, Any]:
        """Queue a ``ping`` event to this webhook alone (its delivery shows in the log)."""
        require_admin(self.principal)
        with self.pbx.tx() as repo:
            row = self._row(repo.conn, name)
            body = _body("ping", {"webhook": name})
            _queue(repo.conn, [row.id], "ping", body)
        return {"queued": True}


def _body(event: str, data: Mapping[str, Any]) -> str:
    return json.dumps(
        {"event": event, "at": datetime.now(UTC).isoformat(), "data": dict(data)},
        ensure_ascii=False,
        default=str,
    )


def _pending(hook: int, event: str, body: str, now: datetime) -> dict[str, Any]:
    return {"webhook": hook, "event": event, "body": body, "created_at": now, "next_at": now,
            "status": "pending", "attempts": 0}  # fmt: skip


def _queue(conn: Connection, hooks: list[int], event: str, body: str) -> None:
    now = datetime.now(UTC)
    conn.execute(insert(t.webhook_deliveries), [_pending(h, event, body, now) for h in hooks])


Hooks = list[tuple[int, frozenset[str]]]  # (id, events wanted: empty = all)


def enabled_hooks(conn: Connection) -> Hooks:
    """The enabled webhooks and what each wants (read once per batch of events)."""
    w = t.webhooks
    rows = conn.execute(select(w.c.id, w.c.events).where(w.c.enabled.is_(True))).all()
    return [(r.id, frozenset(r.events)) for r in rows]


class Outbox:
    """The events of one transaction, written to the stream, and queued for every enabled
    webhook that wants them, at ``flush``: two multi-row inserts for a whole batch (the
    call history's reader applies many calls' events in one transaction)."""

    def __init__(self, conn: Connection, hooks: Hooks | None = None) -> None:
        self.conn = conn
        self.hooks = enabled_hooks(conn) if hooks is None else hooks
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []

    def emit(self, event: str, data: Mapping[str, Any]) -> None:
        body, now = _body(event, data), datetime.now(UTC)
        self.events.append({"event": event, "body": body, "created_at": now})
        self.deliveries += [_pending(h, event, body, now) for h, wanted in self.hooks
                            if not wanted or event in wanted]  # fmt: skip

    def flush(self) -> int:
        """Write what was emitted; the number of deliveries queued."""
        queued = len(self.deliveries)
        if self.events:
            self.conn.execute(insert(t.events), self.events)
        if self.deliveries:
            self.conn.execute(insert(t.webhook_deliveries), self.deliveries)
        self.events, self.deliveries = [], []
        return queued


def emit(conn: Connection, event: str, data: Mapping[str, Any], hooks: Hooks | None = None) -> int:
    """Write ``event`` to the stream and queue it for every enabled webhook that wants it, in
    ``conn``'s transaction; the number of deliveries queued."""
    outbox = Outbox(conn, hooks)
    outbox.emit(event, data)
    return outbox.flush()


# --- sending (klapka serve) -----------------------------------------------------------------


class WebhookSender:
    """Sends the pending deliveries that are due, in a thread of ``klapka serve``: polls
    every ``poll`` seconds; a 2xx answer delivers, anything else (or no answer) is retried
    after ``backoff`` until ``MAX_ATTEMPTS``."""

    def __init__(self, pbx: Pbx, poll: float = 0.05) -> None:
        self.pbx = pbx
        self.poll = poll
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(10)

    def _run(self) -> None:
        forget_at = 0.0
        with httpx.Client() as client:
            while not self.stopping.wait(self.poll):
                try:
                    while self.send_due(client):
                        pass
                    if time.monotonic() >= forget_at:  # the stream keeps a day of events
                        live.forget_old(self.pbx)
                        forget_at = time.monotonic() + FORGET_SECONDS
                except Exception:
                    log.exception("could not send webhooks")
                    self.stopping.wait(1)

    def send_due(self, client: httpx.Client, limit: int = 20) -> int:
        """Send up to ``limit`` due deliveries; the number attempted."""
        d, w = t.webhook_deliveries, t.webhooks
        now = datetime.now(UTC)
        with self.pbx.tx() as repo:
            due = repo.conn.execute(
                select(d.c.id, d.c.event, d.c.body, d.c.attempts, w.c.url, w.c.secret)
                .join(w, w.c.id == d.c.webhook)
                .where(d.c.status == "pending", d.c.next_at <= now)
                .order_by(d.c.next_at, d.c.id).limit(limit)
            ).all()  # fmt: skip
        for row in due:
            code, error = post(client, row.url, row.secret, row.event, row.id, row.body)
            attempts = row.attempts + 1
            done = code is not None and 200 <= code < 300
            if done:
                values: dict[str, Any] = {"status": "delivered", "delivered_at": datetime.now(UTC)}
            elif attempts >= MAX_ATTEMPTS:
                values = {"status": "failed"}
            else:
                values = {"next_at": datetime.now(UTC) + backoff(attempts)}
            with self.pbx.tx() as repo:
                repo.conn.execute(update(d).where(d.c.id == row.id).values(
                    attempts=attempts, last_code=code,
                    last_error=error or (None if done else f"HTTP {code}"), **values))  # fmt: skip
            if not done:
                log.info("webhook delivery %s (%s) failed, attempt %d: %s", row.id, row.event,
                         attempts, error or f"HTTP {code}")  # fmt: skip
        return len(due)
