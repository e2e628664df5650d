"""Hot-desk logins as stored (``hot_desk_logins``): who is logged in at which phone, and
ending a login (row gone, audit entry) in the caller's transaction.

Below ``services.directory`` and ``services.telephony`` alike: the hot-desk service
(``services.telephony.hot_desk``) logs users in and out with it, and the one writer of
directory objects (``services.directory.writer``) ends the login of a user whose extension
is disabled, deleted, renumbered or gets another voicemail PIN (``ended_by``: the rule,
here once). A phone whose login ended is told to fetch its file again after the commit:
the writer hands the ended logins to ``Repository.after_commit``, which calls the
listeners of ``when_ended`` (the hot-desk service registers the check-sync sender; this
module knows nothing of the SIP core). docs/provisioning.md, "Hot desking".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select

from klapka.domain.extension import Extension
from klapka.services import audit
from klapka.services.principal import Principal
from klapka.store import tables as t
from klapka.store.repository import join_secrets

KIND = "phone"  # the audit log's kind for a phone (key: its MAC), as provisioning's


@dataclass(frozen=True)
class Login:
    mac: str
    extension: str  # the user's extension logged in at the phone
    since: datetime
    logout_at: datetime | None


def _login(row: Any) -> Login:
    return Login(row.mac, row.extension, row.since, row.logout_at)


def login_of(conn: Connection, mac: str) -> Login | None:
    """Who is logged in at the phone ``mac`` (None: its guest account)."""
    h = t.hot_desk_logins
    row = conn.execute(select(h).where(h.c.mac == mac)).first()
    return None if row is None else _login(row)


def login_by_user(conn: Connection, number: str) -> Login | None:
    """Where the user of extension ``number`` is logged in (None: nowhere)."""
    h = t.hot_desk_logins
    row = conn.execute(select(h).where(h.c.extension == number)).first()
    return None if row is None else _login(row)


def all_logins(conn: Connection) -> list[Login]:
    """Every login, by MAC."""
    h = t.hot_desk_logins
    return [_login(r) for r in conn.execute(select(h).order_by(h.c.mac))]


def end(conn: Connection, who: Principal, login: Login, reason: str) -> None:
    """End ``login``: the phone has its guest account again; audited (``hot_desk_logout``,
    the reason) with ``who`` as the actor."""
    h = t.hot_desk_logins
    conn.execute(delete(h).where(h.c.mac == login.mac))
    audit.record(conn, who, "hot_desk_logout", KIND, login.mac,
                 {"extension": login.extension}, {"reason": reason})  # fmt: skip


def end_logins_of(conn: Connection, who: Principal, users: dict[str, str]) -> list[Login]:
    """End the logins of the users ``users`` (extension number -> the reason); returns
    those that were logged in."""
    if not users:
        return []
    # The table has a row per hot-desk phone in use: few, read whole (``users`` may be many).
    ended = [login for login in all_logins(conn) if login.extension in users]
    for login in ended:
        end(conn, who, login, users[login.extension])
    return ended


def end_logins_off_hot_desks(conn: Connection, who: Principal) -> list[Login]:
    """End the logins at phones that are no longer a hot desk: the phone is removed (or its
    guest extension deleted), its extension turns hot desking off or lists other phones
    too. Returns those ended (few rows: one per hot-desk phone in use)."""
    found = all_logins(conn)
    if not found:
        return []
    e, p = t.extensions, t.phones
    rows = conn.execute(
        select(p.c.mac, e.c.id, e.c.data, e.c.secrets)
        .join(e, e.c.id == p.c.extension_id)
        .where(p.c.mac.in_([login.mac for login in found]))
    ).all()
    guests = {r.mac: r for r in rows}
    ids = list({r.id for r in rows})
    phones: dict[int, int] = dict(
        conn.execute(
            select(p.c.extension_id, func.count())
            .where(p.c.extension_id.in_(ids))
            .group_by(p.c.extension_id)
        ).all()
    ) if ids else {}  # fmt: skip
    ended = []
    for login in found:
        guest = guests.get(login.mac)
        if guest is None:
            why = "phone removed"
        elif phones.get(guest.id, 0) != 1:
            why = "not a hot-desk phone: its extension has other phones"
        elif not Extension.model_validate(
            join_secrets(dict(guest.data), dict(guest.secrets))
        ).features.hot_desking:
            why = "hot desking turned off"
        else:
            continue
        end(conn, who, login, why)
        ended.append(login)
    return ended


def ended_by(op: str, old: Any, new: Any, old_pin: Any, new_pin: Any) -> str | None:
    """Why a change of an extension ends its user's hot-desk login (None: it does not).
    ``old``/``new``: the stored and the new state (number, enabled); the PINs as stored."""
    if op == "delete":
        return "extension deleted"
    if op != "update":
        return None
    if not new.enabled:
        return "extension disabled"
    if new.number != old.number:
        return "extension renumbered"
    if (old_pin or None) != (new_pin or None):
        return "PIN changed"
    return None


# --- after the commit: the phones whose login ended ---------------------------------------

Ended = Callable[[Engine, list[Login]], None]
_listeners: list[Ended] = []


def when_ended(listener: Ended) -> Ended:
    """Call ``listener(engine, logins)`` after a transaction that ended ``logins`` has
    committed (``announce``). Returns it (to ``forget`` it)."""
    _listeners.append(listener)
    return listener


def forget(listener: Ended) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def announce(engine: Engine, logins: Iterable[Login]) -> None:
    ended = list(logins)
    if ended:
        for listener in list(_listeners):
            listener(engine, ended)
