"""Hot desking: a user logs in at a shared desk phone and it becomes their phone.

A *hot-desk phone* is a phone listed by an extension with ``features.hot_desking``: that
extension is the phone's *guest* account, which calls internal and emergency numbers only
(the routing engine's restriction). From the phone a user dials ``*62`` + their extension +
``*`` + their voicemail PIN; the login is stored (``hot_desk_logins``, by the phone's MAC),
the provisioning server then gives that MAC the user's account, name, keys and phonebook,
and the phone is told to fetch its file again (SIP NOTIFY check-sync), so it registers as
the user. ``*63`` (from the phone, now registered as the user) logs out; every login ends
at ``system.hot_desking_logout`` (local time) at the latest (``HotDeskLogout``, run by
``klapka serve``). An admin lists the logins and ends one (``HotDeskLogins``: the API, the
CLI, the admin console's Phones tab); a directory change that disables, deletes or gives
another PIN to a logged-in user's extension ends the login in the directory writer
(``services.hot_desk_logins``), and the phone gets check-sync after the commit
(``_check_sync_ended``). Each login, logout and refusal is in the audit log (kind
``phone``, key the MAC). docs/provisioning.md, "Hot desking".
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, insert, select

from klapka.domain.directory import System
from klapka.domain.extension import Extension
from klapka.domain.problems import NotFound
from klapka.services import audit
from klapka.services.hot_desk_logins import (
    KIND,
    Login,
    all_logins,
    end,
    login_by_user,
    login_of,
    when_ended,
)
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.services.telephony.check_sync import send_check_sync
from klapka.services.telephony.registrations import SipCoreUnavailable
from klapka.store import tables as t
from klapka.store.database import data_dir
from klapka.store.repository import join_secrets

log = logging.getLogger("klapka.provisioning")

LOGIN_CODE = "*62"  # + extension + "*" + PIN
LOGOUT_CODE = "*63"
MAX_WRONG_PINS = 5  # per phone within WRONG_PIN_WINDOW: then refused until it has passed
WRONG_PIN_WINDOW = 300.0  # seconds
CHECK_SYNC_DELAY = 0.3  # seconds: the phone first gets the answer to its call, then NOTIFY
TICK_DELAY_SECONDS = 0.5  # after the minute boundary


@dataclass(frozen=True)
class Answer:
    """What the phone is told: a SIP status (200: applied) and a reason phrase."""

    sip_code: int
    message: str


# (number registered, MAC): ask that phone to fetch its file again.
CheckSync = Callable[[str, str], None]


class WrongPins:
    """Wrong PINs per phone, in memory (per ``klapka serve`` process)."""

    def __init__(self, limit: int = MAX_WRONG_PINS, window: float = WRONG_PIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self.lock = threading.Lock()
        self.failures: dict[str, list[float]] = {}

    def _recent(self, mac: str, now: float) -> list[float]:
        kept = [f for f in self.failures.get(mac, []) if now - f < self.window]
        self.failures[mac] = kept
        return kept

    def blocked(self, mac: str) -> bool:
        with self.lock:
            return len(self._recent(mac, time.monotonic())) >= self.limit

    def failed(self, mac: str) -> None:
        with self.lock:
            self._recent(mac, time.monotonic()).append(time.monotonic())

    def clear(self, mac: str) -> None:
        with self.lock:
            self.failures.pop(mac, None)


WRONG_PINS = WrongPins()  # one per process: the control socket makes a service per request


def next_logout(system: System, since: datetime) -> datetime | None:
    """The first ``system.hot_desking_logout`` (local time in ``system.timezone``) after
    ``since``; None when it is "" (no automatic logout)."""
    if not system.hot_desking_logout:
        return None
    hour, minute = (int(p) for p in system.hot_desking_logout.split(":"))
    zone = ZoneInfo(system.timezone)
    local = since.astimezone(zone)
    day = local.date()
    for _ in range(3):  # today or tomorrow (a DST gap may skip one)
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        if candidate.astimezone(UTC) > since:
            return candidate.astimezone(UTC)
        day += timedelta(days=1)
    return None


def _extension(conn: Connection, number: str) -> Extension | None:
    e = t.extensions
    row = conn.execute(select(e.c.data, e.c.secrets).where(e.c.number == number)).first()
    if row is None:
        return None
    return Extension.model_validate(join_secrets(dict(row.data), dict(row.secrets)))


def _send_check_sync(pbx: Pbx, root: Path, number: str, mac: str) -> None:
    """Send check-sync to ``number``'s phone ``mac`` now; a SIP core not running is logged."""
    try:
        with pbx.tx() as repo:
            sip = repo.system()[0].sip.model_dump()
        sent = send_check_sync(root, sip, number, mac)
        log.info("hot desk %s: check-sync sent to %d contacts of %s", mac, sent, number)
    except SipCoreUnavailable as e:
        log.warning("hot desk %s: no check-sync: %s", mac, e)
    except Exception:
        log.exception("hot desk %s: check-sync to %s failed", mac, number)


def default_check_sync(pbx: Pbx) -> CheckSync:
    """Send check-sync through the SIP core of this data directory, a moment later (in a
    thread: the phone first gets the answer to the code it dialled)."""
    root = data_dir()

    def send(number: str, mac: str) -> None:
        def later() -> None:
            time.sleep(CHECK_SYNC_DELAY)
            _send_check_sync(pbx, root, number, mac)

        threading.Thread(target=later, name="hot-desk-check-sync", daemon=True).start()

    return send


def check_sync_now(pbx: Pbx) -> CheckSync:
    """Send check-sync at once (an admin's logout, a directory change: no call to answer
    first; the command line exits right after)."""
    root = data_dir()
    return lambda number, mac: _send_check_sync(pbx, root, number, mac)


class HotDesk:
    def __init__(
        self, pbx: Pbx, check_sync: CheckSync | None = None, wrong_pins: WrongPins | None = None
    ) -> None:
        self.pbx = pbx
        self.check_sync = default_check_sync(pbx) if check_sync is None else check_sync
        self.wrong_pins = WRONG_PINS if wrong_pins is None else wrong_pins

    # --- the phone: which one dials ---------------------------------------------------

    def _phone_of(self, conn: Connection, dialling: str) -> tuple[str, str | None] | Answer:
        """The hot-desk phone ``dialling`` dials from: (MAC, the user logged in there) or
        the refusal. ``dialling`` is the guest extension, or the user logged in at it."""
        current = login_by_user(conn, dialling)
        if current is not None:
            return current.mac, current.extension
        ext = _extension(conn, dialling)
        if ext is None or not ext.features.hot_desking:
            return Answer(403, "Not a hot-desk phone")
        if len(ext.phones) != 1:
            return Answer(403, "Hot desk needs exactly one phone")
        mac = ext.phones[0].mac
        login = login_of(conn, mac)
        return mac, login.extension if login else None

    # --- login and logout -------------------------------------------------------------

    def login(self, dialling: str, number: str, pin: str, at: datetime | None = None) -> Answer:
        """``dialling`` (the phone's current account) logs ``number`` in with ``pin``."""
        at = at or datetime.now(UTC)
        notify: tuple[str, str] | None = None
        moved: tuple[str, str] | None = None
        with self.pbx.tx() as repo:
            conn = repo.conn
            phone = self._phone_of(conn, dialling)
            if isinstance(phone, Answer):
                return phone
            mac, current = phone
            who = Principal(role="user", extension=dialling, name=f"hot desk {mac}")
            if self.wrong_pins.blocked(mac):
                return self._refused(conn, who, mac, number, 403, "Too many wrong PINs, wait")
            user = _extension(conn, number)
            if user is None:
                self.wrong_pins.failed(mac)  # guessing numbers counts as guessing PINs
                return self._refused(conn, who, mac, number, 404, f"No extension {number}")
            if user.features.hot_desking:
                return self._refused(conn, who, mac, number, 403, f"{number} is a hot desk")
            if not user.enabled:
                return self._refused(conn, who, mac, number, 403, f"{number} is disabled")
            if not user.voicemail.pin:
                return self._refused(conn, who, mac, number, 403, f"{number} has no PIN")
            if not hmac.compare_digest(user.voicemail.pin.encode(), pin.encode()):
                self.wrong_pins.failed(mac)
                return self._refused(conn, who, mac, number, 403, "Wrong PIN")
            self.wrong_pins.clear(mac)
            h = t.hot_desk_logins
            elsewhere = login_by_user(conn, number)
            if elsewhere is not None and elsewhere.mac != mac:
                # One hot desk per user: the other phone goes back to its guest.
                conn.execute(delete(h).where(h.c.mac == elsewhere.mac))
                audit.record(conn, who, "hot_desk_logout", KIND, elsewhere.mac,
                             {"extension": number}, {"reason": f"logged in at {mac}"})  # fmt: skip
                moved = (number, elsewhere.mac)
            system = repo.system()[0]
            logout_at = next_logout(system, at)
            conn.execute(delete(h).where(h.c.mac == mac))
            conn.execute(insert(h).values(mac=mac, extension=number, since=at, logout_at=logout_at))
            before = {"extension": current} if current else None
            after = {
                "extension": number,
                "logout_at": logout_at.isoformat() if logout_at else None,
            }
            audit.record(conn, who, "hot_desk_login", KIND, mac, before, after)
            notify = (dialling, mac)
        log.info("hot desk %s: %s logged in (was %s)", mac, number, current or "the guest")
        if moved is not None:
            self.check_sync(*moved)
        self.check_sync(*notify)
        until = (
            f" until {logout_at.astimezone(ZoneInfo(system.timezone)):%H:%M}" if logout_at else ""
        )
        return Answer(200, f"Logged in as {number}{until}")

    def logout(self, dialling: str) -> Answer:
        """``dialling`` (the user logged in at a hot desk, from any of their phones) logs out."""
        with self.pbx.tx() as repo:
            login = login_by_user(repo.conn, dialling)
            if login is None:
                return Answer(404, "Not logged in at a hot desk")
            who = Principal(role="user", extension=dialling, name=f"hot desk {login.mac}")
            end(repo.conn, who, login, "logout code")
        self.check_sync(login.extension, login.mac)
        return Answer(200, f"Logged out {dialling}")

    def logout_due(self, at: datetime | None = None) -> list[Login]:
        """End the logins whose automatic logout time has come; returns them."""
        at = at or datetime.now(UTC)
        h = t.hot_desk_logins
        who = Principal(role="system", name="hot desk automatic logout")
        with self.pbx.tx() as repo:
            rows = repo.conn.execute(
                select(h).where(h.c.logout_at.is_not(None), h.c.logout_at <= at)
            ).all()
            due = [Login(r.mac, r.extension, r.since, r.logout_at) for r in rows]
            for login in due:
                end(repo.conn, who, login, "automatic logout")
        for login in due:
            log.info("hot desk %s: %s logged out automatically", login.mac, login.extension)
            self.check_sync(login.extension, login.mac)
        return due

    def _refused(
        self, conn: Connection, who: Principal, mac: str, number: str, code: int, why: str
    ) -> Answer:
        audit.record(conn, who, "hot_desk_login_refused", KIND, mac, None,
                     {"extension": number[:8], "reason": why})  # fmt: skip
        log.warning("hot desk %s: login of %s refused: %s", mac, number[:8], why)
        return Answer(code, why)


# --- what an admin sees and does ----------------------------------------------------------


def _local(at: datetime | None, zone: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(zone).isoformat(timespec="seconds")


class HotDeskLogins:
    """An admin's view of the hot-desk logins (who is logged in at which phone) and
    ending one."""

    def __init__(self, pbx: Pbx, principal: Principal, check_sync: CheckSync | None = None) -> None:
        self.pbx = pbx
        self.principal = principal
        self.check_sync = check_sync_now(pbx) if check_sync is None else check_sync

    def logins(self, guest: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Every login (or those at the phone of the guest extension ``guest``, of the user
        ``user``): ``mac``, ``guest`` (the extension the phone belongs to), ``extension``
        and ``name`` of the user, ``since`` and ``logout_at`` (UTC) with ``since_local``,
        ``logout_at_local`` in the PBX's time zone, ``timezone``."""
        require_admin(self.principal)
        e, p = t.extensions, t.phones
        with self.pbx.tx() as repo:
            zone_name = repo.system()[0].timezone
            zone = ZoneInfo(zone_name)
            found = all_logins(repo.conn)
            macs = [login.mac for login in found]
            guests = {
                r.mac: r.number
                for r in repo.conn.execute(
                    select(p.c.mac, e.c.number).join(e, e.c.id == p.c.extension_id)
                    .where(p.c.mac.in_(macs))
                )
            } if macs else {}  # fmt: skip
            numbers = [login.extension for login in found]
            names = {
                r.number: " ".join(n for n in (r.first_name, r.last_name) if n)
                for r in repo.conn.execute(
                    select(e.c.number, e.c.first_name, e.c.last_name).where(e.c.number.in_(numbers))
                )
            } if numbers else {}  # fmt: skip
        out = []
        for login in found:
            if guest is not None and guests.get(login.mac) != guest:
                continue
            if user is not None and login.extension != user:
                continue
            out.append({
                "mac": login.mac,
                "guest": guests.get(login.mac),
                "extension": login.extension,
                "name": names.get(login.extension, ""),
                "since": login.since,
                "since_local": _local(login.since, zone),
                "logout_at": login.logout_at,
                "logout_at_local": _local(login.logout_at, zone),
                "timezone": zone_name,
            })  # fmt: skip
        return out

    def logout(self, mac: str) -> dict[str, Any]:
        """End the login at the phone ``mac`` (any separators): the phone gets its guest
        account and a check-sync; audited with the admin as the actor. NotFound when nobody
        is logged in there."""
        require_admin(self.principal)
        wanted = re.sub(r"[:\-. ]", "", mac).lower()
        if not re.fullmatch(r"[0-9a-f]{12}", wanted):
            raise NotFound("hot-desk login", mac)
        with self.pbx.tx() as repo:
            login = login_of(repo.conn, wanted)
            if login is None:
                raise NotFound("hot-desk login", wanted)
            end(repo.conn, self.principal, login, "logged out by an admin")
        log.info("hot desk %s: %s logged out by %s", wanted, login.extension, self.principal.name)
        self.check_sync(login.extension, login.mac)
        return {"mac": wanted, "extension": login.extension}


def _check_sync_ended(engine: Engine, logins: list[Login]) -> None:
    """A directory change ended these logins (``hot_desk_logins.when_ended``): each phone,
    registered as the user still, fetches its file again (the guest's)."""
    send = check_sync_now(Pbx(engine))
    for login in logins:
        log.info("hot desk %s: %s logged out by a directory change", login.mac, login.extension)
        send(login.extension, login.mac)


when_ended(_check_sync_ended)


class HotDeskLogout:
    """Ends the logins due at start and after every minute boundary, in a thread."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="hot-desk-logout", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(2)

    def _run(self) -> None:
        desk = HotDesk(self.pbx)
        while not self.stopping.is_set():
            try:
                desk.logout_due()
            except Exception:
                log.exception("hot desk automatic logout failed")
            wait = 60 - time.time() % 60 + TICK_DELAY_SECONDS
            self.stopping.wait(wait)
