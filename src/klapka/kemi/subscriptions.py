"""The KEMI adapter's subscriptions: SUBSCRIBE and PUBLISH (RFC 6665, 3903).

Kamailio's presence modules keep the subscriptions and send the NOTIFYs; this module decides
who may subscribe to what, and lets in the states klapka publishes to itself:

- ``dialog`` (BLF, RFC 4235): a phone of an extension watches another extension's calls;
- ``presence`` (PIDF): the extension's presence status and note, as klapka has it;
- ``message-summary`` (RFC 3842): a phone watches its own extension's mailbox (whatever
  the request URI names, unless it is another extension).

A new SUBSCRIBE is authenticated like an INVITE (digest, the extension's SIP account); the
watched extension must exist and be visible to the watcher by the client permission rules
(the account's ``sees`` in the snapshot; a hidden extension does not exist for it: 404).
Every presentity is ``sip:<number>@klapka`` whatever domain the phone uses. A PUBLISH is
accepted only from Kamailio itself (pua: ``klapka serve`` through pua_rpc; the states of
calls are written straight into the presence module by ``klapka.kemi.blf``): phones cannot
set states that klapka owns.

Standard library and ``klapka.routing`` only (runs inside Kamailio).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import KSR  # type: ignore[import-not-found]  # provided by Kamailio's app_python3

from klapka.kemi.snapshot import Snapshot
from klapka.kemi.subscription_rules import sees

AOR_DOMAIN = "klapka"
EVENTS = ("dialog", "presence", "message-summary")
ALLOW_EVENTS = "Allow-Events: " + ", ".join(EVENTS) + "\r\n"
# nat_uac_test as for INVITE: the subscriber's Contact is reached where it came from.
NAT_TESTS = 1 | 2 | 16 | 64


class Authenticator(Protocol):
    snapshot: Snapshot

    def _authenticate(self, source: str, snap: Snapshot | None = None) -> dict[str, Any] | None:
        """The account of the request's credentials, or None (a challenge was sent)."""


_loaded: bool | None = None


def available() -> bool:
    """Whether Kamailio runs the presence modules (``klapka serve`` loads them when the
    package is installed)."""
    global _loaded
    if _loaded is None:
        _loaded = hasattr(KSR, "presence")
    return _loaded


def _event() -> str:
    return (KSR.pv.get("$hdr(Event)") or "").split(";", 1)[0].strip().lower()


def request(adapter: Authenticator, source: str, method: str) -> None:
    """A new SUBSCRIBE or PUBLISH (no To-tag)."""
    if not available():
        KSR.sl.sl_send_reply(501, "Not Implemented")
        return
    if method == "PUBLISH":
        publish()
        return
    event = _event()
    if event not in EVENTS:
        KSR.hdr.append_to_reply(ALLOW_EVENTS)
        KSR.sl.sl_send_reply(489, "Bad Event")
        return
    snap = adapter.snapshot.fresh()
    account = adapter._authenticate(source, snap)
    if account is None:
        return
    if not account["enabled"]:
        KSR.sl.sl_send_reply(403, "Extension disabled")
        return
    watcher = account["extension"]
    target = KSR.pv.get("$rU") or ""
    if event == "message-summary":
        # The phone's own mailbox, whatever it names (its number, its SIP username, a
        # voicemail access code): only another extension's mailbox is refused.
        if target != watcher and target in snap.directory.extensions:
            KSR.sl.sl_send_reply(403, "Only the extension's own mailbox")
            return
        target = watcher
    elif target not in snap.directory.extensions or not sees(account, target):
        KSR.sl.sl_send_reply(404, "Not Found")
        return
    _subscribe(f"sip:{target}@{AOR_DOMAIN}", f"sip:{watcher}@{AOR_DOMAIN}")


def within_dialog(adapter: Authenticator, source: str) -> None:
    """A SUBSCRIBE within its subscription (a refresh, or Expires: 0 to end it): the
    presence module knows the dialog (its Call-ID and tags, which only the parties know)
    and answers 481 to anything else. A PUBLISH never comes within a dialog. A refresh is
    authenticated as a new SUBSCRIBE is, and answered 481 when the directory no longer
    allows the subscription (the watcher disabled, the watched extension gone or hidden
    from it): the phone's subscription ends, and subscribing anew is refused as usual. A
    changed SIP password so ends the subscriptions of a phone that still has the old one."""
    if not available() or not KSR.is_method("SUBSCRIBE"):
        KSR.sl.sl_send_reply(481, "Call/Transaction Does Not Exist")
        return
    if KSR.tm.t_check_trans() == 0:
        return  # a retransmission, absorbed
    if (KSR.pv.get("$hdr(Expires)") or "").strip() != "0":
        snap = adapter.snapshot.fresh()
        account = adapter._authenticate(source, snap)
        if account is None:
            return  # challenged
        if not _still_allowed(account, snap):
            KSR.sl.sl_send_reply(481, "Subscription no longer allowed")
            return
    _subscribe("", "")


def _still_allowed(account: dict[str, Any], snap: Snapshot) -> bool:
    """Whether the refreshing phone's account may still watch the refresh's To user."""
    if not account["enabled"]:
        return False
    if _event() == "message-summary":
        return True  # the own mailbox, whatever the phone names
    target = KSR.pv.get("$tU") or ""
    return target in snap.directory.extensions and sees(account, target)


def _subscribe(presentity: str, watcher: str) -> None:
    if KSR.tm.t_newtran() <= 0:
        return  # a retransmission (or no memory: tm answered)
    if KSR.nathelper.nat_uac_test(NAT_TESTS) > 0:
        KSR.nathelper.fix_nated_contact()
    if presentity:
        KSR.pv.sets("$ru", presentity)
        KSR.presence.handle_subscribe_uri(watcher)
    else:
        KSR.presence.handle_subscribe()


def _from_kamailio() -> bool:
    """A request from Kamailio's own socket (pua, or tm at klapka serve's request)."""
    return bool(KSR.pv.get("$si") == KSR.pv.get("$Ri") and KSR.pv.get("$sp") == KSR.pv.get("$Rp"))


def control() -> None:
    """The MESSAGE by which ``klapka serve`` ends subscriptions a change no longer allows
    (``klapka.sip.subscription_rights``): Kamailio sends it to itself, with the NOTIFYs to
    send within the subscriptions' dialogs (``tm.t_uac_send`` keeps their From tags)."""
    if not _from_kamailio():
        KSR.sl.sl_send_reply(403, "Forbidden")
        return
    try:
        notifies = json.loads(KSR.pv.get("$rb") or "{}").get("notify", [])
    except ValueError:
        KSR.sl.sl_send_reply(400, "Bad Request")
        return
    for n in notifies:
        KSR.tm.t_uac_send("NOTIFY", n["uri"], "", n.get("socket") or "", n["headers"], "")
    KSR.sl.sl_send_reply(200, "OK")


def publish() -> None:
    """Only Kamailio's own PUBLISHes (pua sends them from its SIP socket to itself)."""
    if not _from_kamailio():
        KSR.sl.sl_send_reply(403, "Presence is set in klapka")
        return
    if KSR.tm.t_newtran() <= 0:
        return
    KSR.presence.handle_publish()
