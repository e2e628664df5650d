"""Subscriptions in the SIP core: BLF (dialog), presence (PIDF) and message waiting."""

from __future__ import annotations

import time

import pytest
from pbx4sip import Pbx4Sip
from watcher import Watcher

from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.telephony.mwi import notify_mailbox
from klapka.sip.kamailio_cfg import presence_available

pytestmark = pytest.mark.skipif(
    not presence_available(), reason="kamailio-presence-modules is not installed"
)

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103", "104")}


def doc(*extensions: dict[str, object], **extra: object) -> dict[str, object]:
    by_number = {e["number"]: e for e in extensions}
    exts = [
        {"number": n, "sip_password": pw, **by_number.get(n, {})} for n, pw in PASSWORDS.items()
    ]
    return {"version": 1, "extensions": exts, **extra}


def test_blf_follows_a_call(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    try:
        assert watcher.subscribe("102", "dialog") in (200, 202)
        watcher.wait_for(r"dialog-info")
        phone = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=1000)
        try:
            call = sip.sipp.call("103", PASSWORDS["103"], "102", expect=200, talk_ms=1000)
            assert call.ok, call.output
            assert phone.finish().ok
        finally:
            phone.stop()
        watcher.wait_for(r"<state>early</state>.*<identity>sip:103@")
        watcher.wait_for(r"<state>confirmed</state>")
        watcher.wait_for(r"<state>terminated</state>")
    finally:
        watcher.close()


def test_presence_follows_the_extensions_status_and_note(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    try:
        assert watcher.subscribe("102", "presence") in (200, 202)
        watcher.wait_for(r"<basic>open</basic>.*<note>Available</note>")
        seen = len(watcher.notifies)
        started = time.monotonic()
        Objects(sip.pbx).set_presence("102", PresenceStatus.LUNCH_BREAK, "Back at 1")
        notify = watcher.wait_for(r"<rpid:meal/>.*<dm:note>Back at 1</dm:note>", since=seen)
        print(f"presence change -> NOTIFY {1000 * (notify.at - started):.0f} ms")
    finally:
        watcher.close()


HIDDEN = {
    "client_permissions": [
        {"name": "no-boss", "target": {"extensions": ["101"]},
         "extension_visibility": {"deny": {"extensions": ["104"]}}},
    ]
}  # fmt: skip


def test_only_visible_extensions_may_be_watched(sip: Pbx4Sip) -> None:
    """A hidden extension does not exist for the watcher (404), as in the portal; another
    extension's mailbox is refused; a wrong password is challenged again."""
    sip.apply(doc(**HIDDEN))
    watcher = Watcher(sip.port, "101", PASSWORDS["101"])
    other = Watcher(sip.port, "103", PASSWORDS["103"])
    intruder = Watcher(sip.port, "102", "WrongPassword1")
    try:
        assert watcher.subscribe("104", "dialog") == 404
        assert watcher.subscribe("104", "presence") == 404
        assert watcher.subscribe("999", "dialog") == 404
        assert watcher.subscribe("102", "message-summary") == 403
        assert watcher.subscribe("102", "conference") == 489
        assert other.subscribe("104", "dialog") in (200, 202)  # not hidden from 103
        assert intruder.subscribe("101", "dialog") == 407
    finally:
        for w in (watcher, other, intruder):
            w.close()


def test_message_summary_follows_the_mailbox(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    watcher = Watcher(sip.port, "102", PASSWORDS["102"])
    try:
        assert watcher.subscribe("102", "message-summary") in (200, 202)
        seen = len(watcher.notifies)
        notify_mailbox(sip.core.paths.root.parent, "102", 2, 1)
        notify = watcher.wait_for(r"Messages-Waiting: yes.*Voice-Message: 2/1", since=seen)
        assert "active" in notify.state
        seen = len(watcher.notifies)
        notify_mailbox(sip.core.paths.root.parent, "102", 0, 3)
        watcher.wait_for(r"Messages-Waiting: no.*Voice-Message: 0/3", since=seen)
    finally:
        watcher.close()
