"""Parity between the wire and the simulator: the SIP core logs each ring step and the
outcome as the simulator writes them; a test compares what Kamailio did with what
``klapka simulate`` predicts for the same world (who is registered, who answers)."""

from __future__ import annotations

import json
import time
from typing import Any

from pbx4sip import Pbx4Sip

from klapka.kemi.classify import classify
from klapka.services.telephony.simulator import Simulator


def mark(sip: Pbx4Sip) -> int:
    """Where the log is now: the wire of the next call starts after it."""
    return sip.core.paths.log.stat().st_size


def wire(sip: Pbx4Sip, since: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The ring steps and the last outcome Kamailio logged since ``since``."""
    time.sleep(0.2)  # the log line of an answer may trail the caller's 200 by a moment
    text = sip.core.paths.log.read_bytes()[since:].decode(errors="replace")
    steps, outcomes = [], []
    for line in text.splitlines():
        if "klapka: step " in line:
            steps.append(json.loads(line.split("klapka: step ", 1)[1]))
        elif "klapka: outcome " in line:
            outcomes.append(json.loads(line.split("klapka: outcome ", 1)[1]))
    return steps, (outcomes[-1] if outcomes else None)


def registered(sip: Pbx4Sip, numbers: list[str]) -> dict[str, list[str]]:
    """Each extension's registered endpoint classes, live from Kamailio."""
    sip_settings = {"mobile_app_user_agents": [], "desktop_app_user_agents": []}
    world = {}
    for n in numbers:
        world[n] = [
            classify(c["Address"], c.get("User-Agent", ""), c.get("Socket", ""), sip_settings)
            for c in sip.contacts(n)
        ]
    return world


def assert_parity(
    sip: Pbx4Sip,
    since: int,
    caller: str,
    dialled: str,
    numbers: list[str],
    world: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The wire since ``since`` is what the simulator predicts; returns the prediction.
    ``world`` adds ``answer``, ``reject``, ``in_call`` as ``klapka simulate`` takes them;
    the registrations are read from Kamailio after the call (phones stay registered)."""
    steps, outcome = wire(sip, since)
    request = {"from": caller, "to": dialled, "registered": registered(sip, numbers)}
    predicted = Simulator(sip.pbx).simulate({**request, **(world or {})})
    assert steps == predicted["steps"], (steps, predicted)
    assert outcome == predicted["outcome"], (outcome, predicted)
    return predicted
