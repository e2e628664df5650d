"""Subscriptions in the SIP core: BLF (dialog), presence (PIDF) and message waiting."""

from __future__ import annotations

import pytest
from pbx4sip import Pbx4Sip
from watcher import Watcher

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
