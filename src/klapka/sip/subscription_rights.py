"""Subscriptions that the directory no longer allows are ended at once, as registrations are.

A phone's SUBSCRIBE, and each refresh of it, is checked when it arrives
(``klapka.kemi.subscriptions``): its credentials, its extension enabled, the watched
extension visible to it. When one of those changes (the watched extension is deleted or
hidden from the watcher by a client permission rule, the watcher is disabled or deleted, its
SIP password changed), ``klapka serve`` ends the subscriptions made before at once: the
phone gets a NOTIFY within the subscription's dialog with ``Subscription-State:
terminated``, ``reason=rejected`` (RFC 6665: the authorization policy changed, do not
subscribe again) or, for a changed password, ``reason=deactivated`` (subscribe again at
once: a phone given the new password gets its subscription back, one with the old password
is challenged in vain). The presence module forgets the subscription at its next NOTIFY,
which the phone answers 481; a refresh it might still send is answered 481.

The NOTIFYs are sent by Kamailio (``tm.t_uac_send`` in the KEMI adapter: the RPC
``tm.t_uac_start`` of Debian 12's Kamailio 5.6.3 adds a second From tag to a request within
a dialog), asked by a MESSAGE that Kamailio sends to itself (``tm.t_uac_start``): a request
from Kamailio's own socket, which nobody else can send. The subscriptions are read from the
presence module's table, written back every ``WRITE_BACK_SECONDS``: the check runs at the
change and once more after a write-back, so that one made in the seconds before is seen too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from klapka.kemi.subscription_rules import CONTROL_USER, sees
from klapka.services.telephony.sip_rpc import KamailioRpc, RpcError
from klapka.sip.state_db import WRITE_BACK_SECONDS

log = logging.getLogger(__name__)

# The NOTIFY's CSeq is this far above the last one written back: above any the presence
# module sent meanwhile, so that the phone takes it.
CSEQ_LEAP = 1000
BATCH = 20  # subscriptions per MESSAGE (a UDP datagram: each takes about 500 bytes)


def rights_of(account: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of an account decides whether its phones may keep their subscriptions."""
    return (account["enabled"], account.get("password", ""), json.dumps(account.get("sees")))


@dataclass(frozen=True)
class Subscription:
    watcher: str  # the watching extension (the presence module's watcher user)
    target: str  # the watched extension (the presentity's user)
    event: str
    call_id: str
    contact: str
    socket: str
    headers: str  # the NOTIFY's headers but Subscription-State


def read(db: Path) -> list[Subscription]:
    """The subscriptions as last written back (none when the file is not there yet)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute(
            "SELECT presentity_uri, watcher_username, event, event_id, to_tag, from_tag,"
            " callid, local_cseq, contact, record_route, socket_info, local_contact,"
            " from_user, from_domain FROM active_watchers WHERE expires > ?",
            (int(time.time()),),
        ).fetchall()
    except sqlite3.Error:
        return []  # the table is made by Kamailio at its first start
    finally:
        conn.close()
    found = []
    for (presentity, watcher, event, event_id, to_tag, from_tag, call_id, cseq, contact,
         route, socket, local_contact, from_user, from_domain) in rows:  # fmt: skip
        target = presentity.removeprefix("sip:").split("@", 1)[0]
        headers = (
            f"From: <{presentity}>;tag={to_tag}\r\n"
            f"To: <sip:{from_user}@{from_domain}>;tag={from_tag}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {int(cseq) + CSEQ_LEAP} NOTIFY\r\n"
            f"Event: {event}{f';id={event_id}' if event_id else ''}\r\n"
            f"Contact: <{local_contact}>\r\n" + (f"Route: {route}\r\n" if route else "")
        )
        found.append(Subscription(watcher, target, event, call_id, contact, socket or "", headers))
    return found


def allowed(sub: Subscription, accounts: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the directory (``accounts`` by extension) still allows the subscription."""
    account = accounts.get(sub.watcher)
    if account is None or not account["enabled"]:
        return False
    if sub.event == "message-summary":
        return True  # its own mailbox
    return sub.target in accounts and sees(account, sub.target)


class SubscriptionGuard:
    """Kept by the snapshot refresher: ``update`` after each snapshot refresh, ``run_due``
    at every poll of the directory."""

    def __init__(self, rpc_socket: Path) -> None:
        self.rpc_socket = rpc_socket
        # The presence modules' file (None while they are not loaded) and Kamailio's own
        # UDP socket ("udp:address:port"), set by the SipCore.
        self.db: Callable[[], Path | None] = lambda: None
        self.own_socket: Callable[[], str] = lambda: ""
        self.rights: dict[str, tuple[Any, ...]] | None = None
        self.accounts: dict[str, Mapping[str, Any]] = {}
        self.due: list[float] = []  # when to check (at the change, and after a write-back)
        self.rekeyed: set[str] = set()  # extensions whose password changed
        self.ended: dict[str, float] = {}  # Call-IDs of the subscriptions ended, and when

    def update(
        self,
        accounts: Iterable[Mapping[str, Any]],
        changed: Iterable[str] | None = None,
        removed: Iterable[str] = (),
    ) -> None:
        """The snapshot's accounts: all of them (``changed`` None), or those of the
        ``changed`` extensions, with the ``removed`` ones gone."""
        gone = set(removed) | set(changed or ())
        by_extension: dict[str, Mapping[str, Any]] = (
            {} if changed is None else {n: a for n, a in self.accounts.items() if n not in gone}
        )
        for account in accounts:
            by_extension.setdefault(account["extension"], account)
        rights = {n: rights_of(a) for n, a in by_extension.items()}
        if self.rights is not None and rights != self.rights:
            before = self.rights
            self.rekeyed |= {n for n, r in rights.items() if n in before and r[1] != before[n][1]}
            now = time.monotonic()
            self.due = [now, now + WRITE_BACK_SECONDS + 1]
        self.rights, self.accounts = rights, by_extension

    def run_due(self) -> int:
        """End what is no longer allowed, when a check is due; the number ended."""
        now = time.monotonic()
        if not self.due or self.due[0] > now:
            return 0
        self.due.pop(0)
        rekeyed = self.rekeyed
        if not self.due:
            self.rekeyed = set()
        db = self.db()
        if db is None:
            return 0
        self.ended = {c: t for c, t in self.ended.items() if t > now - 3600}
        ending = []
        for sub in read(db):
            if sub.call_id in self.ended:
                continue
            if not allowed(sub, self.accounts):
                ending.append((sub, "rejected"))
            elif sub.watcher in rekeyed:
                ending.append((sub, "deactivated"))
        ended = 0
        for i in range(0, len(ending), BATCH):
            ended += self._end(ending[i : i + BATCH])
        return ended

    def _end(self, batch: list[tuple[Subscription, str]]) -> int:
        own = self.own_socket()
        if not own:
            return 0
        hostport = own.split(":", 1)[1]  # udp:address:port
        host = hostport.rsplit(":", 1)[0]
        notifies = [
            {
                "uri": sub.contact,
                "socket": sub.socket,
                "headers": f"{sub.headers}Subscription-State: terminated;reason={reason}\r\n",
            }
            for sub, reason in batch
        ]
        try:
            KamailioRpc(self.rpc_socket, timeout=2).call(
                "tm.t_uac_start", "MESSAGE", f"sip:{CONTROL_USER}@{hostport}", ".", own,
                f"From: <sip:klapka@{host}>\r\nTo: <sip:{CONTROL_USER}@{host}>\r\n"
                "Content-Type: application/json\r\n",
                json.dumps({"notify": notifies}),
            )  # fmt: skip
        except (RpcError, OSError, ValueError) as e:
            log.warning("could not end %d subscription(s): %s", len(batch), e)
            return 0
        now = time.monotonic()
        for sub, reason in batch:
            self.ended[sub.call_id] = now
            log.info("%s's %s subscription to %s ended (%s)",
                     sub.watcher, sub.event, sub.target, reason)  # fmt: skip
        return len(batch)
