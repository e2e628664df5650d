"""Time-conditional presence switching, applied: at each transition of the business hours,
a holiday or an extension's own schedule, the extension's stored presence becomes the
status its schedule names for the new period.

The rule of a call decision (``klapka.routing.schedule.effective_presence``) is the one rule:
the schedule sets the status at each transition; a manual change made after the last
transition stands until the next one. This module writes what that rule says is due, so the
API, the lists, the web UI (and later the phones' lamps) show the status calls follow, the
status's agent auto switch runs (queue agents log in, out or pause), and the audit log names
the schedule as the one who changed it.

``klapka serve`` runs a ``PresenceScheduler``: it applies what is due at start (so a
transition missed while klapka was down is applied then) and again just after every minute
boundary (business hours are given to the minute). Instants are compared in UTC and every
local reading goes through the time zone, so DST moves the transitions with the wall clock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from klapka.domain.values import PresenceStatus
from klapka.routing.model import Directory
from klapka.routing.schedule import describe_state, effective_presence, hours_state, hours_zone
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.directory_view import load_directory

log = logging.getLogger(__name__)

TICK_DELAY_SECONDS = 0.5  # after the minute boundary: the transition instant has passed


@dataclass(frozen=True)
class Switch:
    """A presence change that is due: ``number`` to ``status`` because of ``period``."""

    number: str
    before: str
    status: str
    period: str  # "outside business hours", "holiday 'Christmas'", ...


def due(d: Directory, at: datetime) -> list[Switch]:
    """The presence changes due at ``at``: every enabled extension with a schedule whose
    stored status is not the one its calls follow now."""
    out = []
    for ext in d.extensions.values():
        schedule = ext.schedule
        if schedule is None or not ext.enabled:
            continue
        # The call decision's own rule: a status differing from it is due to change.
        status, _why = effective_presence(ext, d, at)
        if status == ext.presence:
            continue
        state, detail = hours_state(d.business_hours, hours_zone(d, schedule), at)
        out.append(Switch(ext.number, ext.presence, status, describe_state(state, detail)))
    return out


def scheduled_numbers(pbx: Pbx) -> list[str]:
    """The extensions with a presence schedule (the others never switch by time)."""
    with pbx.tx() as repo:
        rows = repo.conn.execute(select(t.extensions.c.number, t.extensions.c.data))
        return [
            n
            for n, data in rows
            if (data.get("features") or {}).get("presence_schedule") is not None
        ]


def apply_due(pbx: Pbx, at: datetime | None = None) -> list[Switch]:
    """Write the presence changes due now (``at``: the instant to judge by, default now)."""
    at = at or datetime.now(UTC)
    numbers = scheduled_numbers(pbx)
    if not numbers:
        return []
    with pbx.tx() as repo:
        d = load_directory(repo.conn, numbers)
    applied = []
    for switch in due(d, at):
        who = Principal(role="system", name=f"presence schedule ({switch.period})")
        try:
            Objects(pbx, who).set_presence(switch.number, PresenceStatus(switch.status))
        except Exception as e:  # one extension must not stop the others
            log.error("presence of %s not switched to %s: %s", switch.number, switch.status, e)
            continue
        log.info(
            "presence of %s: %s -> %s (%s)",
            switch.number,
            switch.before,
            switch.status,
            switch.period,
        )
        applied.append(switch)
    return applied


class PresenceScheduler:
    """Applies the due presence at start and after every minute boundary, in a thread."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="presence-schedule", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                apply_due(self.pbx)
            except Exception:
                log.exception("presence schedule not applied")
            now = datetime.now(UTC)
            to_next_minute = 60 - now.second - now.microsecond / 1e6
            self.stopping.wait(to_next_minute + TICK_DELAY_SECONDS)
