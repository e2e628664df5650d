"""Call history: a record of every call, made from the SIP core's call journal.

The KEMI adapter appends each call's events to the journal (``klapka.kemi.journal``: start,
ring steps, outcome, trunk attempts, answer, cancel, end); ``klapka serve`` reads it
(``klapka.sip.call_journal``) and hands each batch to ``CallRecorder.apply``, which updates
the calls' rows in one transaction, together with how far the journal was read: an event is
applied once, and none is lost when klapka serve stops (it reads on from there at its next
start). A row is written at the call's start (``outcome`` NULL: in progress) and completed
at its end; a call whose SIP dialog is gone when klapka serve starts (Kamailio or klapka
died meanwhile) is closed as ``interrupted`` (``close_interrupted``).

Outcomes (docs/call-history.md): ``answered``, ``voicemail``, ``busy``, ``no_answer`` (no
phone answered in time, none registered, or the caller hung up first: the cause says
which), ``rejected`` (declined on the phone), ``failed`` (refused by a rule, no route, a
trunk's error), ``interrupted``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from klapka.domain.extension import UrlPopup
from klapka.domain.permissions import Menu
from klapka.domain.problems import Forbidden, InvalidInput, NotFound, Problem
from klapka.services import url_popup, webhooks
from klapka.services.pbx import Pbx
from klapka.services.permissions import NO_EXTENSION, Action, check, require_admin
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t

OUTCOMES = ("answered", "voicemail", "busy", "no_answer", "rejected", "failed", "interrupted")
DIRECTIONS = ("internal", "inbound", "outbound")
DECLINED = (600, 603)  # a phone's "reject" (Decline)
# A missed call (the filter outcome=missed): nobody answered, not even voicemail.
MISSED = ("no_answer", "busy", "rejected")
# A hang-up with nobody rung: by the engine's cause ("rule": the admin's rule says hang up,
# the caller hears 603 Declined).
_HANGUP_OUTCOMES = {"busy": "busy", "no_answer": "no_answer", "unavailable": "no_answer",
                    "rule": "rejected", "voicemail_disabled": "no_answer"}  # fmt: skip
_TRUNK_CODES = {486: "busy", 600: "rejected", 603: "rejected", 408: "no_answer",
                480: "no_answer", 487: "no_answer"}  # fmt: skip
COLUMNS = (
    "call_id", "started_at", "answered_at", "ended_at", "direction", "path", "caller",
    "caller_name", "caller_extension", "caller_endpoint", "dialled", "did", "trunk",
    "answered_by", "answered_endpoint", "answered_number", "outcome", "sip_code", "cause",
    "ended_by", "ring_seconds", "talk_seconds", "steps", "forwards", "trunk_attempts",
)  # fmt: skip


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _cut(value: Any, size: int) -> Any:
    """A text as long as its column allows (PostgreSQL refuses longer ones)."""
    return value[:size] if isinstance(value, str) else value


@dataclass
class CallState:
    """One call as its events so far tell it (``row``: the columns), and what its end
    needs to decide the outcome."""

    row: dict[str, Any]
    id: int | None = None  # the row's, once written
    outcome: dict[str, Any] = field(default_factory=dict)  # the engine's last outcome
    final: dict[str, Any] = field(default_factory=dict)  # klapka's own answer to the caller
    cancelled: bool = False
    dirty: bool = True
    parties_written: set[str] | None = None  # None: not known (a row loaded at start)

    @classmethod
    def start(cls, event: dict[str, Any]) -> CallState:
        trunk = event.get("trunk")
        row = dict.fromkeys(COLUMNS)
        row.update(
            call_id=_cut(event["ci"], 255),
            started_at=_at(event["t"]),
            direction="inbound" if trunk else "internal",
            path=_cut(event.get("path") or "direct", 16),
            caller=_cut(event.get("from") or "", 64),
            caller_name=_cut(event.get("name") or "", 255),
            caller_extension=_cut(event.get("ext"), 8),
            caller_endpoint=_cut(event.get("endpoint"), 16),
            dialled=_cut(event.get("to") or "", 64),
            did=_cut(event.get("to"), 64) if trunk else None,
            trunk=_cut(trunk, 64),
            steps=[],
            forwards=[],
            trunk_attempts=[],
        )
        return cls(row)

    def apply(self, event: dict[str, Any]) -> None:
        kind, row = event["e"], self.row
        self.dirty = True
        if kind == "ring":
            row["steps"] = [*row["steps"], {
                "at": _at(event["t"]).isoformat(), "owner": event.get("owner"),
                "rung": event.get("rung") or [], "numbers": event.get("numbers") or [],
                "timeout": event.get("timeout"),
            }]  # fmt: skip
            owner = event.get("owner")
            if owner and (not row["forwards"] or row["forwards"][-1] != owner):
                row["forwards"] = [*row["forwards"], owner]
        elif kind == "step_end" and row["steps"]:
            last = {**row["steps"][-1], "code": event.get("code"), "ended": event.get("why")}
            row["steps"] = [*row["steps"][:-1], last]
        elif kind == "outcome":
            self.outcome = event
            if event.get("result") == "external":
                if row["caller_extension"]:
                    row["direction"] = "outbound"
                attempt = {"trunk": event.get("trunk"), "number": event.get("number")}
                row["trunk_attempts"] = [*row["trunk_attempts"], attempt]
        elif kind == "trunk":
            self._attempt(event.get("trunk"), event.get("code"))
        elif kind == "answer":
            if row["answered_at"] is not None:
                return  # a retransmitted 200, or a second phone answering at once
            row["answered_at"] = _at(event["t"])
            row["answered_by"] = _cut(event.get("ext"), 8)
            row["answered_endpoint"] = _cut(event.get("endpoint"), 16)
            row["answered_number"] = _cut(event.get("number"), 64)
            if event.get("trunk"):
                self._attempt(event["trunk"], 200)
        elif kind == "final":
            self.final = event
        elif kind == "cancel":
            self.cancelled = True
        elif kind == "end":
            self._end(event)

    def _attempt(self, trunk: str | None, code: int | None) -> None:
        attempts = list(self.row["trunk_attempts"])
        for i, a in enumerate(attempts):
            if a.get("trunk") == trunk and a.get("code") is None:
                attempts[i] = {**a, "code": code}
                break
        else:
            attempts.append({"trunk": trunk, "number": None, "code": code})
        self.row["trunk_attempts"] = attempts

    def _end(self, event: dict[str, Any]) -> None:
        row, how = self.row, event.get("how")
        row["ended_at"] = _at(event["t"])
        result = self.outcome.get("result")
        steps = row["steps"]
        last_code = steps[-1].get("code") if steps else None
        if row["answered_at"] is not None and how != "failed":
            row["outcome"] = "voicemail" if result in ("voicemail", "greeting") else "answered"
            row["sip_code"] = 200
        elif self.cancelled:
            row["outcome"], row["cause"], row["sip_code"] = "no_answer", "caller_hung_up", 487
        elif result == "hangup":
            # Hung up by a rule after a ring step (the step's answer tells how it ended), or
            # with nobody to ring (the engine's cause).
            cause = self.outcome.get("cause") or ""
            last_end = steps[-1].get("ended") if steps else None
            if last_code in DECLINED:
                outcome = "rejected"
            elif last_code == 486:
                outcome = "busy"
            elif last_end == "no_answer":
                outcome = "no_answer"
            else:
                outcome = _HANGUP_OUTCOMES.get(cause, "failed")
            row["outcome"], row["cause"] = outcome, _cut(cause, 64)
            row["sip_code"] = self.outcome.get("code") or last_code
        elif result in ("voicemail", "greeting") and self.final.get("code"):
            # The media service could not take it: the caller got klapka's answer.
            row["outcome"], row["cause"] = "failed", "voicemail_unavailable"
            row["sip_code"] = self.final["code"]
        elif result in ("voicemail", "greeting"):
            row["outcome"], row["cause"] = "voicemail", result
        elif result == "external":
            code = next(
                (a.get("code") for a in reversed(row["trunk_attempts"]) if a.get("code")), None
            )
            row["outcome"] = _TRUNK_CODES.get(code or 0, "failed")
            row["sip_code"], row["cause"] = code, "trunk"
        else:
            row["outcome"], row["sip_code"] = "failed", last_code
        if how == "bye":
            row["ended_by"] = event.get("by")
        elif how == "timeout":
            row["ended_by"] = "timeout"
        elif self.cancelled:
            row["ended_by"] = "caller"
        self._durations()
        limit = event.get("limit")
        if how == "timeout" and limit and (row["talk_seconds"] or 0) >= limit - 1:
            row["ended_by"], row["cause"] = "limit", "max_call_length"  # the length limit

    def _durations(self) -> None:
        row = self.row
        end = row["ended_at"]
        rang_until = row["answered_at"] or end
        row["ring_seconds"] = round((rang_until - row["started_at"]).total_seconds())
        if row["answered_at"] is not None and end is not None:
            row["talk_seconds"] = round((end - row["answered_at"]).total_seconds())

    @property
    def ended(self) -> bool:
        return self.row["outcome"] is not None

    def parties(self) -> set[str]:
        """The extensions the call involved."""
        row = self.row
        found = {row["caller_extension"], row["answered_by"]}
        if row["direction"] != "inbound":
            found.add(row["dialled"])
        for step in row["steps"]:
            found.update(step.get("rung") or ())
            found.add(step.get("owner"))
        return {p for p in found if p and p.isdigit() and len(p) <= 8}


def _ended(outbox: webhooks.Outbox, state: CallState) -> None:
    """The event ``call.ended``: the call's whole record."""
    row = state.row
    ended = {c: (v.isoformat() if isinstance(v, datetime) else v) for c, v in row.items()}
    outbox.emit("call.ended", ended)


class CallRecorder:
    """Applies journal events to the call history (kept by klapka serve's journal reader).
    ``known``: the extensions' numbers, so that parties are only extensions."""

    def __init__(self, pbx: Pbx, journal: str = "calls") -> None:
        self.pbx = pbx
        self.journal = journal
        self.popup_settings = url_popup.Settings()
        self.open: dict[str, CallState] = {}
        self.loaded = False

    def position(self) -> tuple[int, int] | None:
        """Where the journal was read up to: (inode, byte offset), None at the first start."""
        p = t.journal_positions
        with self.pbx.tx() as repo:
            row = repo.conn.execute(select(p).where(p.c.name == self.journal)).first()
        return None if row is None else (int(row.inode), int(row.position))

    def apply(self, events: Iterable[dict[str, Any]], position: tuple[int, int]) -> int:
        """Apply ``events`` (read up to ``position``) in one transaction; the number of
        calls ended."""
        with self._rolled_back_forgets():
            return self._apply(events, position)

    @contextmanager
    def _rolled_back_forgets(self) -> Iterator[None]:
        """A transaction that rolls back leaves memory ahead of the database: the open
        calls are read again from it (the events come again)."""
        try:
            yield
        except Exception:
            self.open.clear()
            self.loaded = False
            raise

    def _apply(self, events: Iterable[dict[str, Any]], position: tuple[int, int]) -> int:
        with self.pbx.tx() as repo:
            conn = repo.conn
            if not self.loaded:
                self._load(conn)
            touched: dict[str, CallState] = {}
            outbox = webhooks.Outbox(conn)  # the call events, written at the end
            popups = self.popup_settings.of(conn)  # the extensions' URL popups
            for event in events:
                call_id = event.get("ci")
                if not call_id or "e" not in event:
                    continue
                state = self.open.get(call_id)
                if event["e"] == "start":
                    if state is None:
                        state = self.open[call_id] = CallState.start(event)
                elif state is not None:
                    answered = state.row["answered_at"]
                    state.apply(event)
                    self._call_event(outbox, popups, state, event, answered)
                if state is not None:
                    touched[call_id] = state
            ended = 0
            self._write_all(conn, list(touched.values()))
            for call_id, state in touched.items():
                if state.ended:
                    del self.open[call_id]
                    ended += 1
            outbox.flush()
            self._save_position(conn, position)
        return ended

    def _call_event(
        self,
        outbox: webhooks.Outbox,
        popups: dict[str, UrlPopup],
        state: CallState,
        event: dict[str, Any],
        answered_before: datetime | None,
    ) -> None:
        """The call's events for the webhooks and the URL popups: a ring step rings
        extensions, the call is answered (the first answer), the call ended (its whole
        record)."""
        row, kind = state.row, event["e"]
        who = {"call_id": row["call_id"], "direction": row["direction"],
               "caller": row["caller"], "caller_name": row["caller_name"],
               "dialled": row["dialled"], "did": row["did"]}  # fmt: skip
        opened: list[dict[str, Any]] = []
        if kind == "ring" and (event.get("rung") or event.get("numbers")):
            outbox.emit("call.ringing", {**who, "rung": event.get("rung") or [],
                                         "numbers": event.get("numbers") or []})  # fmt: skip
            opened = url_popup.popups(outbox.conn, popups, who, "ring", event.get("rung") or [])
        elif kind == "answer" and answered_before is None and row["answered_at"] is not None:
            outbox.emit("call.answered", {**who, "answered_by": row["answered_by"],
                                          "answered_number": row["answered_number"]})  # fmt: skip
            if row["answered_by"]:
                opened = url_popup.popups(outbox.conn, popups, who, "answer", [row["answered_by"]])
        elif kind == "end" and state.ended:
            _ended(outbox, state)
            opened = url_popup.popups(outbox.conn, popups, who, "end",
                                      [row["answered_by"] or row["dialled"]])  # fmt: skip
        for popup in opened:
            outbox.emit("url_popup", {**who, "extension": popup["extension"],
                                      "url": popup["url"], "trigger": popup["trigger"]})  # fmt: skip

    def _load(self, conn: Connection) -> None:
        """The calls still open (klapka serve restarted during them)."""
        h = t.call_history
        for row in conn.execute(select(h).where(h.c.outcome.is_(None))):
            values = {c: getattr(row, c) for c in COLUMNS}
            self.open[row.call_id] = CallState(values, id=row.id, dirty=False)
        self.loaded = True

    def _write(self, conn: Connection, state: CallState) -> None:
        self._write_all(conn, [state])

    def _write_all(self, conn: Connection, states: list[CallState]) -> None:
        """Write the calls that changed: the new ones in one multi-row insert, the others in
        one executemany update, their new parties in one insert (a compiled statement
        each, whatever the number of calls: about 10x cheaper than a statement per call)."""
        h, cp = t.call_history, t.call_parties
        dirty = [s for s in states if s.dirty]
        new = [s for s in dirty if s.id is None]
        changed = [s for s in dirty if s.id is not None]
        if new:
            ids = conn.execute(
                insert(h).returning(h.c.id, sort_by_parameter_order=True),
                [dict(s.row) for s in new],
            ).scalars().all()  # fmt: skip
            for state, id_ in zip(new, ids, strict=True):
                state.id, state.parties_written = id_, set()
        if changed:
            conn.execute(update(h).where(h.c.id == bindparam("row_id")),
                         [{"row_id": s.id, **s.row} for s in changed])  # fmt: skip
        parties = []
        for state in dirty:
            if state.parties_written is None:  # read from the database after a restart
                state.parties_written = set(
                    conn.execute(select(cp.c.extension).where(cp.c.call == state.id)).scalars()
                )
            started = state.row["started_at"]
            for n in state.parties() - state.parties_written:
                parties.append({"call": state.id, "extension": n, "started_at": started})
                state.parties_written.add(n)
            state.dirty = False
        if parties:
            conn.execute(insert(cp), parties)

    def _save_position(self, conn: Connection, position: tuple[int, int]) -> None:
        p = t.journal_positions
        inode, offset = position
        done = conn.execute(
            update(p).where(p.c.name == self.journal).values(inode=inode, position=offset)
        ).rowcount
        if not done:
            conn.execute(insert(p).values(name=self.journal, inode=inode, position=offset))

    def close_interrupted(
        self, live: set[str], candidates: set[str] | None = None, at: datetime | None = None
    ) -> int:
        """Close the calls still open whose SIP dialog is not among ``live`` (Call-IDs):
        Kamailio or klapka died during them (``candidates``: only those open before
        ``live`` was asked for). The number closed."""
        at = at or datetime.now(UTC)
        with self._rolled_back_forgets(), self.pbx.tx() as repo:
            if not self.loaded:
                self._load(repo.conn)
            return self._close(repo.conn, live, candidates, at)

    def open_calls(self, older_than: float = 0) -> set[str]:
        """The Call-IDs of the calls open now (as read so far), started at least
        ``older_than`` seconds ago."""
        if not self.loaded:
            with self.pbx.tx() as repo:
                self._load(repo.conn)
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        return {c for c, s in self.open.items() if s.row["started_at"] <= cutoff}

    def close_gone(self, live: set[str], candidates: set[str]) -> int:
        """End the ``candidates`` whose SIP dialog is gone though no end was journalled
        (Kamailio 5.6.3 runs no end event when both parties' BYEs cross): as ended by a
        timeout, now. The number closed."""
        now = datetime.now(UTC).timestamp()
        closed = 0
        with self._rolled_back_forgets(), self.pbx.tx() as repo:
            outbox = webhooks.Outbox(repo.conn)
            for call_id in candidates - live:
                state = self.open.get(call_id)
                if state is None:
                    continue
                state.apply({"e": "end", "t": now, "how": "timeout"})
                self._write(repo.conn, state)
                _ended(outbox, state)
                del self.open[call_id]
                closed += 1
            outbox.flush()
        return closed

    def _close(
        self, conn: Connection, live: set[str], candidates: set[str] | None, at: datetime
    ) -> int:
        closed = 0
        outbox = webhooks.Outbox(conn)
        for call_id, state in list(self.open.items()):
            if call_id in live or (candidates is not None and call_id not in candidates):
                continue
            row = state.row
            row.update(outcome="interrupted", ended_at=at, cause="sip_core_restarted")
            state._durations()
            state.dirty = True
            self._write(conn, state)
            _ended(outbox, state)
            del self.open[call_id]
            closed += 1
        outbox.flush()
        return closed

    def purge(self, now: datetime | None = None) -> int:
        """Delete the calls that started more than ``system.call_history_days`` ago (0:
        keep all); the number deleted."""
        h = t.call_history
        with self.pbx.tx() as repo:
            days = repo.system()[0].call_history_days
            if days <= 0:
                return 0
            cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
            return int(
                repo.conn.execute(
                    delete(h).where(h.c.started_at < cutoff, h.c.outcome.is_not(None))
                ).rowcount
            )


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    extension: str | None = None
    direction: str | None = None
    outcome: str | None = None
    number: str | None = None  # part of the caller's, the dialled or the answering number

    def check(self) -> None:
        problems = []
        if self.direction is not None and self.direction not in DIRECTIONS:
            problems.append(("direction", f"must be one of {', '.join(DIRECTIONS)}"))
        if self.outcome is not None and self.outcome not in (*OUTCOMES, "in_progress", "missed"):
            problems.append(
                ("outcome", f"must be one of {', '.join(OUTCOMES)}, in_progress, missed")
            )
        for name, at in (("since", self.since), ("until", self.until)):
            if at is not None and at.tzinfo is None:
                problems.append((name, "must name its time zone (2026-03-01T00:00:00Z)"))
        if problems:
            raise InvalidInput([Problem(path, rule) for path, rule in problems])
        if self.since and self.until and self.until <= self.since:
            problems.append(("until", "must be after since"))
        if problems:
            raise InvalidInput([Problem(path, rule) for path, rule in problems])


@dataclass
class CallPage:
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    timezone: str  # the PBX's (``system.timezone``): where people read the times


def view(row: Any) -> dict[str, Any]:
    """A call as the API shows it (times in UTC, ISO 8601)."""
    out = {c: getattr(row, c) for c in COLUMNS}
    for c in ("started_at", "answered_at", "ended_at"):
        out[c] = out[c].isoformat() if out[c] is not None else None
    out["id"] = row.id
    out["in_progress"] = row.outcome is None
    return out


class CallHistory:
    """Reads the call history, newest first: an admin every call, a user their own."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    def timezone(self) -> str:
        """The PBX's time zone (``system.timezone``), in which people read the times."""
        with self.pbx.tx() as repo:
            return repo.system()[0].timezone

    def search(self, f: CallFilter, limit: int = 50, offset: int = 0) -> CallPage:
        require_admin(self.principal)
        return self._search(f, limit, offset)

    def mine(self, f: CallFilter, limit: int = 50, offset: int = 0) -> CallPage:
        """The calls of the principal's own extension (it called, was called, rang or
        answered), under the ``call_logs`` menu permission."""
        number = self.principal.extension
        if number is None:
            raise Forbidden(NO_EXTENSION)
        with self.pbx.tx() as repo:
            check(repo.conn, self.principal, Action.SEE_MENU, Menu.CALL_LOGS.value)
        return self._search(replace(f, extension=number), limit, offset)

    def _search(self, f: CallFilter, limit: int, offset: int) -> CallPage:
        f.check()
        if not 1 <= limit <= 1000:
            raise InvalidInput.one("limit", "must be 1..1000")
        if offset < 0:
            raise InvalidInput.one("offset", "must be 0 or more")
        h, cp = t.call_history, t.call_parties
        where: list[Any] = []
        if f.extension is not None:
            parties = select(cp.c.call).where(cp.c.extension == f.extension)
            if f.since is not None:
                parties = parties.where(cp.c.started_at >= f.since)
            if f.until is not None:
                parties = parties.where(cp.c.started_at < f.until)
            where.append(h.c.id.in_(parties))
        if f.since is not None:
            where.append(h.c.started_at >= f.since)
        if f.until is not None:
            where.append(h.c.started_at < f.until)
        if f.direction is not None:
            where.append(h.c.direction == f.direction)
        if f.outcome == "in_progress":
            where.append(h.c.outcome.is_(None))
        elif f.outcome == "missed":
            where.append(h.c.outcome.in_(MISSED))
        elif f.outcome is not None:
            where.append(h.c.outcome == f.outcome)
        if f.number:
            like = f"%{f.number}%"
            where.append(or_(h.c.caller.like(like), h.c.dialled.like(like),
                             h.c.answered_number.like(like)))  # fmt: skip
        cond = and_(*where) if where else None
        with self.pbx.tx() as repo:
            zone = repo.system()[0].timezone
            query = select(h)
            count = select(func.count()).select_from(h)
            if cond is not None:
                query, count = query.where(cond), count.where(cond)
            total = int(repo.conn.execute(count).scalar_one())
            rows = repo.conn.execute(
                query.order_by(h.c.started_at.desc(), h.c.id.desc()).limit(limit).offset(offset)
            ).all()
        return CallPage([view(r) for r in rows], total, limit, offset, zone)


CSV_COLUMNS = (
    "started_at", "answered_at", "ended_at", "direction", "caller", "caller_name", "dialled",
    "did", "trunk", "answered_by", "answered_number", "outcome", "sip_code", "cause",
    "ring_seconds", "talk_seconds", "path", "forwards", "call_id",
)  # fmt: skip


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would take for a formula (a caller's name from a
    trunk: "=HYPERLINK(...)") starts with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value[1:2].isdigit():
        return "'" + value
    return value


def to_csv(items: Sequence[dict[str, Any]]) -> str:
    """The calls as CSV (one line per call; the forward chain joined by " > ")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerow([
            _cell(" > ".join(item[c]) if c == "forwards" else item[c]) for c in CSV_COLUMNS
        ])  # fmt: skip
    return out.getvalue()


# --- calls in progress --------------------------------------------------------------------


def _live(row: Any, now: datetime) -> dict[str, Any]:
    """A call in progress as people see it: who, since when, ringing or talking."""
    steps = row.steps or []
    return {
        "id": row.id,
        "call_id": row.call_id,
        "direction": row.direction,
        "caller": row.caller,
        "caller_name": row.caller_name,
        "caller_extension": row.caller_extension,
        "dialled": row.dialled,
        "state": "talking" if row.answered_at is not None else "ringing",
        "started_at": row.started_at.isoformat(),
        "answered_at": row.answered_at.isoformat() if row.answered_at else None,
        "seconds": round((now - row.started_at).total_seconds()),
        "rung": [] if row.answered_at is not None else (steps[-1].get("rung") if steps else []),
        "answered_by": row.answered_by,
        "answered_number": row.answered_number,
    }


class ActiveCalls:
    """The calls in progress (the call history's open records, as the SIP core's journal
    keeps them): an admin sees every one and may end an answered one; a user sees their
    own extension's. Ending goes through the SIP core (``dlg.end_dlg``: both parties get a
    BYE), so ``end_call`` takes the RPC client."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    def _open(self, extension: str | None) -> list[dict[str, Any]]:
        h, cp = t.call_history, t.call_parties
        query = select(h).where(h.c.outcome.is_(None))
        if extension is not None:
            query = query.where(h.c.id.in_(select(cp.c.call).where(cp.c.extension == extension)))
        now = datetime.now(UTC)
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(query.order_by(h.c.started_at.desc())).all()
        return [_live(r, now) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        require_admin(self.principal)
        return self._open(None)

    def mine(self) -> list[dict[str, Any]]:
        number = self.principal.extension
        if number is None:
            raise Forbidden(NO_EXTENSION)
        with self.pbx.tx() as repo:
            check(repo.conn, self.principal, Action.SEE_MENU, Menu.CALL_LOGS.value)
        return self._open(number)

    def call(self, call: int) -> dict[str, Any]:
        """One call in progress (admins); NotFound when it is not (or no longer) one."""
        require_admin(self.principal)
        h = t.call_history
        with self.pbx.tx() as repo:
            row = repo.conn.execute(select(h).where(h.c.id == call, h.c.outcome.is_(None))).first()
        if row is None:
            raise NotFound("call", str(call))
        return _live(row, datetime.now(UTC))
