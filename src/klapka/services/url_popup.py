"""URL popup (``features.url_popup``): at a call's trigger (ringing, answered, call end) the
extension's URL template is filled in with the call and opened in its user's web portal.

The call history's recorder (``CallRecorder``) asks ``popups`` at each call event and emits
one ``url_popup`` event per extension, in the transaction of the call event: the user's
open portal page gets it live (``klapka.services.live``) and opens the URL; the webhooks get
it too, for desktop integrations.

Which extensions: ringing, the extensions a ring step rings; answered, the one that
answered; call end, the one that answered, else the extension dialled. Call types: a call
from a trunk is ``inbound``, between extensions ``internal``; calls out open nothing. The
caller's name: the one the call brought, else the caller's number looked up in the user's
personal contacts, then in the company contacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select

from klapka.domain.extension import UrlPopup
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.store import tables as t

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
    """The popups of one call event (``kind``: ring, answer, end) for ``extensions``: the
    extension, the URL, the trigger and the Call-ID of each."""
    trigger = TRIGGERS[kind]
    call_type = {"inbound": "inbound", "internal": "internal"}.get(call["direction"])
    if call_type is None:
        return []
    written = []
    for number in dict.fromkeys(extensions):
        popup = settings.get(number)
        if popup is None or trigger not in popup.triggers or call_type not in popup.call_types:
            continue
        name = call["caller_name"] or contact_name(conn, call["caller"], number)
        url = fill(popup.url, {
            "CallerNumber": call["caller"], "CallerDisplayName": name,
            "CalleeNumber": number, "CallID": call["call_id"], "Event": trigger,
        })  # fmt: skip
        written.append({"extension": number, "url": url, "trigger": trigger,
                        "call_id": call["call_id"]})  # fmt: skip
    return written


def opens_for(pbx: Pbx, principal: Principal) -> str | None:
    """The extension whose URL popups the principal's open portal opens: their own, when
    its URL popup is on; else None."""
    number = principal.extension
    if number is None:
        return None
    e = t.extensions
    with pbx.tx() as repo:
        data = repo.conn.execute(select(e.c.data).where(e.c.number == number)).scalar()
    return number if enabled_popup(data) is not None else None
