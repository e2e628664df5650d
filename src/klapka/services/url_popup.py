"""URL popup (``features.url_popup``): at a call's trigger (ringing, answered, call end) the
extension's URL template is filled in with the call and opened in its user's web portal.

The call history's recorder (``CallRecorder``) asks ``popups`` at each call event and writes
one ``url_popups`` row per extension, in the transaction of the event; the user's open
portal page polls for rows newer than it has seen (``newer``) and opens them. The same
popup goes to the webhooks (event ``url_popup``) for desktop integrations.

Which extensions: ringing, the extensions a ring step rings; answered, the one that
answered; call end, the one that answered, else the extension dialled. Call types: a call
from a trunk is ``inbound``, between extensions ``internal``; calls out open nothing. The
caller's name: the one the call brought, else the caller's number looked up in the user's
personal contacts, then in the company contacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, insert, select

from klapka.domain.extension import UrlPopup
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

KEEP = timedelta(hours=1)  # a popup not opened within this (no portal open) is dropped
TRIGGERS = {"ring": "ringing", "answer": "answered", "end": "call_end"}
MATCH_DIGITS = 9  # numbers match when their last 9 digits do (+420601111222 = 601111222)


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number or "")


def _same_number(a: str, b: str) -> bool:
    a, b = _digits(a), _digits(b)
    n = min(MATCH_DIGITS, len(a), len(b))
    return n > 0 and a[-n:] == b[-n:] and (len(a) == len(b) or n == MATCH_DIGITS)


def _card_name(row: Any) -> str:
    name = " ".join(x for x in (row.first_name, row.last_name) if x)
    return name or row.company


def contact_name(conn: Connection, number: str, extension: str) -> str:
    """The name of the contact with ``number``: the user's personal contacts first, then
    the company contacts; "" when none has it."""
    tail = _digits(number)[-MATCH_DIGITS:]
    if len(tail) < 3:
        return ""
    like = f"%{tail}%"
    pc, e, c = t.personal_contacts, t.extensions, t.contacts
    own = conn.execute(
        select(pc).join(e, e.c.id == pc.c.extension_id)
        .where(e.c.number == extension, pc.c.search.like(like))
    ).all()  # fmt: skip
    company = conn.execute(select(c).where(c.c.search.like(like))).all()
    for row in (*own, *company):
        numbers = (row.data or {}).get("numbers") or []
        if any(_same_number(n.get("number", ""), number) for n in numbers):
            return _card_name(row)
    return ""


def fill(template: str, values: dict[str, str]) -> str:
    """The URL: each ``{{.Variable}}`` replaced by its value, URL-encoded."""
    return re.sub(r"\{\{\.(\w+)\}\}", lambda m: quote(values.get(m.group(1), ""), safe=""),
                  template)  # fmt: skip


def enabled_popup(data: Any) -> UrlPopup | None:
    """An extension's URL popup (its stored settings ``data``) when it is on."""
    section = ((data or {}).get("features") or {}).get("url_popup")
    return UrlPopup.model_validate(section) if section and section.get("enabled") else None


class Settings:
    """Each extension's URL popup, read once per directory version."""

    def __init__(self) -> None:
        self.version = -1
        self.popups: dict[str, UrlPopup] = {}

    def of(self, conn: Connection) -> dict[str, UrlPopup]:
        version = int(conn.execute(select(t.system.c.directory_version)).scalar() or 0)
        if version != self.version:
            e = t.extensions
            found = {}
            for number, data in conn.execute(select(e.c.number, e.c.data)):
                popup = enabled_popup(data)
                if popup is not None:
                    found[number] = popup
            self.popups, self.version = found, version
        return self.popups


def popups(
    conn: Connection,
    settings: dict[str, UrlPopup],
    call: dict[str, Any],
    kind: str,
    extensions: Iterable[str],
) -> list[dict[str, Any]]:
    """Write the popups of one call event (``kind``: ring, answer, end) for ``extensions``;
    the rows written (for the webhooks)."""
    trigger = TRIGGERS[kind]
    call_type = {"inbound": "inbound", "internal": "internal"}.get(call["direction"])
    if call_type is None:
        return []
    written = []
    now = datetime.now(UTC)
    for number in dict.fromkeys(extensions):
        popup = settings.get(number)
        if popup is None or trigger not in popup.triggers or call_type not in popup.call_types:
            continue
        name = call["caller_name"] or contact_name(conn, call["caller"], number)
        url = fill(popup.url, {
            "CallerNumber": call["caller"], "CallerDisplayName": name,
            "CalleeNumber": number, "CallID": call["call_id"], "Event": trigger,
        })  # fmt: skip
        row = {"extension": number, "url": url, "trigger": trigger,
               "call_id": call["call_id"], "created_at": now}  # fmt: skip
        written.append(row)
    if written:
        conn.execute(insert(t.url_popups), written)
        conn.execute(delete(t.url_popups).where(t.url_popups.c.created_at < now - KEEP))
    return written


def latest(conn: Connection, extension: str) -> int:
    """The newest popup's id of ``extension`` (0: none): a portal page opened now starts
    after it."""
    u = t.url_popups
    found = conn.execute(select(u.c.id).where(u.c.extension == extension)
                         .order_by(u.c.id.desc()).limit(1)).scalar()  # fmt: skip
    return int(found or 0)


def newer(conn: Connection, extension: str, after: int) -> list[dict[str, Any]]:
    """The popups of ``extension`` after id ``after``, oldest first."""
    u = t.url_popups
    rows = conn.execute(select(u).where(u.c.extension == extension, u.c.id > after)
                        .order_by(u.c.id).limit(20)).all()  # fmt: skip
    return [{"id": r.id, "url": r.url, "trigger": r.trigger, "call_id": r.call_id} for r in rows]


class PortalPopups:
    """The URL popups of the signed-in user's own extension, for their open portal page."""

    def __init__(self, pbx: Pbx, principal: Principal) -> None:
        self.pbx = pbx
        self.number = principal.extension

    def start(self) -> int | None:
        """Where an open page starts (the newest popup's id), or None when the user has no
        extension or its URL popup is off (the page then does not poll)."""
        if self.number is None:
            return None
        e = t.extensions
        with self.pbx.tx() as repo:
            data = repo.conn.execute(select(e.c.data).where(e.c.number == self.number)).scalar()
            if enabled_popup(data) is None:
                return None
            return latest(repo.conn, self.number)

    def after(self, after: int) -> list[dict[str, Any]]:
        """The popups newer than ``after``, oldest first."""
        if self.number is None:
            return []
        with self.pbx.tx() as repo:
            return newer(repo.conn, self.number, after)
