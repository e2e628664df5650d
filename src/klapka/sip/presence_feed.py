"""Each extension's presence, published to the SIP core for its presence subscribers (PIDF).

``klapka serve`` compares every extension's effective presence (its status as routing sees
it, time-conditional switching included) and note with what it last published, and
PUBLISHes the difference through Kamailio's ``pua.send_publish`` RPC (pua sends the PUBLISH
to Kamailio itself, where the presence module NOTIFYs the watchers). After every (re)start
of Kamailio everything is published again (the published states live in its memory only),
and so are the counts of every mailbox that holds messages (message-summary: a phone that
subscribes before its mailbox next changes sees its lamp right).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from threading import Event
from xml.sax.saxutils import escape

from sqlalchemy import func, select

from klapka.routing.schedule import effective_presence
from klapka.services import webhooks
from klapka.services.pbx import Pbx
from klapka.services.telephony.mwi import AOR_DOMAIN, MWI_EXPIRES, publish, summary
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError
from klapka.services.telephony.voicemail import NEW, OLD
from klapka.store import tables as t
from klapka.store.directory_view import load_directory

log = logging.getLogger("klapka.sip")

# klapka's presence status -> (PIDF basic, RPID activity (RFC 4480), its label)
STATUSES = {
    "available": ("open", "", "Available"),
    "away": ("open", "away", "Away"),
    "business_trip": ("open", "travel", "Business trip"),
    "do_not_disturb": ("open", "busy", "Do not disturb"),
    "lunch_break": ("open", "meal", "Lunch break"),
    "off_work": ("closed", "away", "Off work"),
}
PUBLISH_EXPIRES = 3600  # pua refreshes the publication before it runs out
# How often every extension's effective presence is computed again: time-conditional
# switching changes it with no change in the directory.
FULL_SECONDS = 10.0


def pidf(number: str, status: str, note: str) -> str:
    """The PIDF document (RFC 3863, with RPID activities, RFC 4480) of an extension."""
    basic, activity, label = STATUSES.get(status, ("open", "", status))
    entity = f"sip:{number}@{AOR_DOMAIN}"
    text = escape(note or label)
    activities = f"<rpid:{activity}/>" if activity else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" '
        f'xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="{entity}">\n'
        f'<tuple id="t{number}"><status><basic>{basic}</basic></status>'
        f"<note>{text}</note></tuple>\n"
        f'<dm:person id="p{number}"><rpid:activities>{activities or "<rpid:unknown/>"}'
        f"</rpid:activities><dm:note>{text}</dm:note>"
        f'<klapka:status xmlns:klapka="urn:klapka:presence">{escape(status)}</klapka:status>'
        "</dm:person>\n</presence>\n"
    )


def presence_states(pbx: Pbx, numbers: Collection[str] | None = None) -> dict[str, tuple[str, str]]:
    """Each extension's (effective status, note), or only those of ``numbers``."""
    with pbx.tx() as repo:
        directory = load_directory(repo.conn, numbers)
        query = select(t.extensions.c.number, t.extensions.c.data)
        if numbers is not None:
            query = query.where(t.extensions.c.number.in_(list(numbers)))
        notes = {n: str((d or {}).get("presence_note") or "") for n, d in repo.conn.execute(query)}
    now = datetime.now(UTC)
    return {
        n: (effective_presence(e, directory, now)[0], notes.get(n, ""))
        for n, e in directory.extensions.items()
    }


def mailbox_counts(pbx: Pbx) -> dict[str, tuple[int, int]]:
    """(new, old) of every mailbox that holds messages (recordings under way left out)."""
    c = t.voicemail_messages.c
    counts: dict[str, list[int]] = {}
    with pbx.tx() as repo:
        rows = repo.conn.execute(
            select(c.mailbox, c.state, func.count())
            .where(c.state.in_((NEW, OLD)))
            .group_by(c.mailbox, c.state)
        ).all()
    for mailbox, state, n in rows:
        counts.setdefault(str(mailbox), [0, 0])[0 if state == NEW else 1] += int(n)
    return {m: (new, old) for m, (new, old) in counts.items()}


class PresenceFeed:
    """What was published per extension, in this life of Kamailio."""

    def __init__(self, pbx: Pbx, rpc: KamailioRpc, publishing: bool = True) -> None:
        self.pbx = pbx
        self.rpc = rpc
        # False: Kamailio has no presence modules; only the event stream is told.
        self.publishing = publishing
        self.published: dict[str, tuple[str, str]] = {}
        self.life = -1  # SipCore.restarts when last published: a new life publishes all
        # Each extension's presence as the event stream last told it (None: not read yet;
        # the first reading is where the stream starts, it tells nothing).
        self.announced: dict[str, tuple[str, str]] | None = None

    def update(self, life: int, numbers: Collection[str] | None = None) -> int:
        """Publish the changed presence of ``numbers`` (all when None, and after a restart);
        returns how many were published."""
        if not self.publishing:
            self._announce(presence_states(self.pbx, numbers))
            self.life = life
            return 0
        if life != self.life:
            self.published.clear()
            numbers = None
            try:
                for number, (new, old) in mailbox_counts(self.pbx).items():
                    publish(self.rpc, number, "message-summary", "application/simple-message-summary",
                            summary(number, new, old), MWI_EXPIRES)  # fmt: skip
            except (OSError, RpcError) as e:
                log.debug("mailbox counts not published: %s", e)
                return 0  # Kamailio (re)starting: the next update tries again
        states = presence_states(self.pbx, numbers)
        self._announce(states)
        sent = 0
        for number, state in states.items():
            if self.published.get(number) == state:
                continue
            try:
                publish(self.rpc, number, "presence", "application/pidf+xml",
                        pidf(number, *state), PUBLISH_EXPIRES)  # fmt: skip
            except (OSError, RpcError) as e:
                log.debug("presence of %s not published: %s", number, e)
                return sent  # Kamailio (re)starting: the next update tries again
            self.published[number] = state
            sent += 1
        self.life = life
        return sent

    def _announce(self, states: dict[str, tuple[str, str]]) -> None:
        """The event ``presence.changed`` for each extension whose presence (status or
        note) changed since the stream last told it."""
        if self.announced is None:
            self.announced = dict(states)
            return
        changed = {n: s for n, s in states.items() if self.announced.get(n, s) != s}
        if changed:
            with self.pbx.tx() as repo:
                for number, (status, note) in changed.items():
                    webhooks.emit(repo.conn, "presence.changed", {
                        "extension": number, "status": status, "note": note,
                        "previous_status": self.announced[number][0],
                    })  # fmt: skip
        self.announced.update(states)


POLL_SECONDS = 0.05  # the directory version, asked this often: lamps follow within 0.2 s


def _stamps(pbx: Pbx) -> dict[str, object]:
    with pbx.tx() as repo:
        rows = repo.conn.execute(select(t.extensions.c.number, t.extensions.c.updated_at))
        return {n: stamp for n, stamp in rows}


def _version(pbx: Pbx) -> int:
    with pbx.tx() as repo:
        return int(repo.conn.execute(select(t.system.c.directory_version)).scalar() or 0)


def run(feed: PresenceFeed, stopping: Event, life: Callable[[], int]) -> None:
    """Until ``stopping``: publish what changed whenever the directory version moves (only
    the extensions whose row changed; all of them when something else changed), all that
    changed every ``FULL_SECONDS`` (time-conditional switching), and everything in each new
    ``life`` of Kamailio (its process id)."""
    version, full_at = -1, 0.0
    stamps: dict[str, object] = {}
    while not stopping.wait(POLL_SECONDS):
        try:
            current, now = _version(feed.pbx), time.monotonic()
            if current == version and now < full_at and life() == feed.life:
                continue
            fresh = _stamps(feed.pbx)
            changed = {n for n, stamp in fresh.items() if stamps.get(n) != stamp}
            if life() != feed.life or now >= full_at or not changed:
                feed.update(life())
                full_at = now + FULL_SECONDS
            else:
                feed.update(life(), changed)
            version, stamps = current, fresh
            if feed.life != life():
                stopping.wait(1)  # Kamailio (re)starting or refusing: not every 0.05 s
        except Exception:
            log.exception("could not publish the extensions' presence")
            stopping.wait(1)
