"""The event stream follows the SIP core: an extension's phones registering and going away
(``registration.changed``), its presence changing (``presence.changed``), as a webhook or
the web UI gets them."""

from __future__ import annotations

import time

from pbx4sip import Pbx4Sip

from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.live import LiveEvent, LiveEvents
from klapka.services.telephony.sip_rpc import KamailioRpc

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103")}
DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": pw} for n, pw in PASSWORDS.items()],
}


def next_event(listener: object, timeout: float = 15) -> LiveEvent:
    event = listener.get(timeout)  # type: ignore[attr-defined]
    assert event is not None, "no event came"
    return event


def test_registrations_and_presence_changes_are_events(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    listener = LiveEvents.of(sip.pbx).listen(
        lambda e: e.event in ("registration.changed", "presence.changed")
    )
    try:
        time.sleep(2)  # the feeds have read where the stream starts
        assert listener.drain() == []
        assert sip.sipp.register("103", PASSWORDS["103"]).ok
        event = next_event(listener)
        assert (event.event, event.data) == (
            "registration.changed",
            {"extension": "103", "registered": True},
        )
        # Its contact removed (as klapka does when a rule no longer allows it): not registered.
        KamailioRpc(sip.core.paths.rpc_socket, timeout=2).call("ul.rm", "location", "103")
        event = next_event(listener)
        assert (event.event, event.data) == (
            "registration.changed",
            {"extension": "103", "registered": False},
        )
        Objects(sip.pbx).set_presence("102", PresenceStatus.LUNCH_BREAK, "Back at 1")
        event = next_event(listener)
        assert event.event == "presence.changed"
        assert event.data == {"extension": "102", "status": "lunch_break", "note": "Back at 1",
                              "previous_status": "available"}  # fmt: skip
        assert listener.get(2) is None  # once each
    finally:
        listener.close()
