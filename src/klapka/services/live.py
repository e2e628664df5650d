"""klapka's events, live: the listeners of this process (the web UI's open pages, the API's
event stream) get each event of the stream within ``POLL_SECONDS`` of its commit.

The stream is the ``events`` table (``klapka.services.webhooks.emit`` writes it in the
transaction that made the event, from any process: the call journal's reader, the voicemail
service, the presence feed...). One thread per database (``LiveEvents.of(pbx)``) reads the
new rows while anyone listens and stops ``IDLE_SECONDS`` after the last listener left.
Events are kept ``KEEP``: a stream that comes back with the id of the last event it got
(``after``) gets what it missed meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import delete, func, select

from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.store import tables as t

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
IDLE_SECONDS = 30.0
KEEP = timedelta(days=1)
BACKLOG = 1000  # at most this many missed events are given to a listener that comes back
QUEUE = 1000  # a listener that falls further behind loses its oldest events
# Ids are taken at insert and committed in any order (PostgreSQL's sequence): each step
# reads again this many ids below the newest seen, so one committed late is not skipped.
LATE_WINDOW = 200


@dataclass(frozen=True)
class LiveEvent:
    id: int
    event: str
    body: str  # the JSON document the webhooks get: {"event", "at", "data"}

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.body).get("data") or {})


Wanted = Callable[[LiveEvent], bool]


class Listener:
    """One listener's events, in order; ``get`` from a thread, ``next`` from asyncio."""

    def __init__(self, hub: LiveEvents, wanted: Wanted | None) -> None:
        self.hub = hub
        self.wanted = wanted
        self.events: deque[LiveEvent] = deque(maxlen=QUEUE)
        self.ready = threading.Condition()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.woken: asyncio.Event | None = None
        self.closed = False

    def _put(self, event: LiveEvent) -> None:
        if self.wanted is not None and not self.wanted(event):
            return
        with self.ready:
            self.events.append(event)
            self.ready.notify_all()
        if self.loop is not None and self.woken is not None:
            try:
                self.loop.call_soon_threadsafe(self.woken.set)
            except RuntimeError:  # the loop is closed: the page or stream is gone
                self.closed = True  # the hub drops it after this step (it holds its lock)

    def drain(self) -> list[LiveEvent]:
        """The events received since the last call, oldest first (without waiting)."""
        with self.ready:
            out = list(self.events)
            self.events.clear()
        return out

    def get(self, timeout: float) -> LiveEvent | None:
        """The next event, waiting up to ``timeout`` seconds for it."""
        with self.ready:
            if not self.events:
                self.ready.wait(timeout)
            return self.events.popleft() if self.events else None

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event, waiting up to ``timeout`` seconds (in the caller's event loop)."""
        if self.woken is None:
            self.loop, self.woken = asyncio.get_running_loop(), asyncio.Event()
        with self.ready:
            if self.events:
                return self.events.popleft()
            self.woken.clear()
        try:
            await asyncio.wait_for(self.woken.wait(), timeout)
        except TimeoutError:
            return None
        with self.ready:
            return self.events.popleft() if self.events else None

    def close(self) -> None:
        self.closed = True
        self.hub._remove(self)


class LiveEvents:
    """The live events of one database, for the listeners of this process."""

    _hubs: ClassVar[weakref.WeakKeyDictionary[Pbx, LiveEvents]] = weakref.WeakKeyDictionary()
    _hubs_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def of(cls, pbx: Pbx) -> LiveEvents:
        with cls._hubs_lock:
            hub = cls._hubs.get(pbx)
            if hub is None:
                hub = cls._hubs[pbx] = cls(pbx)
            return hub

    def __init__(self, pbx: Pbx, poll: float = POLL_SECONDS) -> None:
        self.pbx = pbx
        self.poll = poll
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        self.last = 0  # the newest event's id given to the listeners
        self.given: set[int] = set()  # the ids given within LATE_WINDOW below ``last``
        self.thread: threading.Thread | None = None

    def listen(self, wanted: Wanted | None = None, after: int | None = None) -> Listener:
        """A new listener of the events ``wanted`` (all: None) from now on; with ``after``
        (an event's id), first those after it that are still kept (at most ``BACKLOG``)."""
        listener = Listener(self, wanted)
        with self.lock:
            if self.thread is None:
                self.last = self._newest()
                self.given = set(range(max(0, self.last - LATE_WINDOW) + 1, self.last + 1))
                self.thread = threading.Thread(target=self._run, name="live-events", daemon=True)
                self.thread.start()
            if after is not None and after < self.last:
                for event in self._read(after, upto=self.last, limit=BACKLOG):
                    listener._put(event)
            self.listeners.append(listener)
        return listener

    def _remove(self, listener: Listener) -> None:
        with self.lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def _newest(self) -> int:
        with self.pbx.tx() as repo:
            return int(repo.conn.execute(select(func.max(t.events.c.id))).scalar() or 0)

    def _read(self, after: int, upto: int | None = None, limit: int = 500) -> list[LiveEvent]:
        e = t.events
        query = select(e.c.id, e.c.event, e.c.body).where(e.c.id > after)
        if upto is not None:
            query = query.where(e.c.id <= upto)
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(query.order_by(e.c.id).limit(limit)).all()
        return [LiveEvent(r.id, r.event, r.body) for r in rows]

    def step(self) -> int:
        """Give the listeners the events written since the last step (and any committed
        late below it); how many."""
        with self.lock:
            newest = self._newest()
            if newest < self.last - LATE_WINDOW:  # the table was emptied and ids start again
                self.last, self.given = newest, set()
            floor = max(0, self.last - LATE_WINDOW)
            events = [e for e in self._read(floor) if e.id not in self.given]
            for event in events:
                for listener in list(self.listeners):
                    listener._put(event)
                self.given.add(event.id)
            if events:
                self.last = max(self.last, max(e.id for e in events))
            self.given = {i for i in self.given if i > self.last - LATE_WINDOW}
            self.listeners = [x for x in self.listeners if not x.closed]
        return len(events)

    def _run(self) -> None:
        idle_since: float | None = None
        clock = threading.Event()
        while True:
            try:
                while self.step() >= 500 - LATE_WINDOW:
                    pass
            except Exception:
                log.exception("could not read the live events")
                clock.wait(1)
            with self.lock:
                if self.listeners:
                    idle_since = None
                else:
                    now = datetime.now(UTC).timestamp()
                    idle_since = idle_since if idle_since is not None else now
                    if now - idle_since >= IDLE_SECONDS:
                        self.thread = None  # the next listener starts a new one
                        return
            clock.wait(self.poll)


def forget_old(pbx: Pbx, keep: timedelta = KEEP) -> int:
    """Delete the events older than ``keep``; how many."""
    with pbx.tx() as repo:
        e = t.events
        cutoff = datetime.now(UTC) - keep
        return int(repo.conn.execute(delete(e).where(e.c.created_at < cutoff)).rowcount or 0)


def may_stream(principal: Principal) -> None:
    """The event stream is for admins only (the events tell of every extension)."""
    require_admin(principal)


def stream(pbx: Pbx, principal: Principal, wanted: Wanted | None, after: int | None) -> Listener:
    """The event stream of an API client (``may_stream``)."""
    may_stream(principal)
    return LiveEvents.of(pbx).listen(wanted, after)
