"""A queue rings on the wire exactly the agents the simulator says: the agents' state
(logged in, paused) reaches the SIP core, also when a presence change switches it."""

from __future__ import annotations

from typing import Any

from parity import assert_parity, mark
from pbx4sip import Pbx4Sip
from test_calls import NUMBERS, PASSWORDS, doc

from klapka.domain.values import PresenceStatus
from klapka.services.directory.objects import Objects
from klapka.services.principal import SYSTEM

QUEUE = {"number": "6400", "members": ["102", "103", "104"]}
# Each call registers fresh phones; the last call's contacts stay registered meanwhile.
AGENTS = [{"number": n, "concurrent_registrations": 4} for n in ("102", "103", "104")]


def rung(predicted: dict[str, Any]) -> list[str]:
    """The extensions the first ring step of a prediction rings."""
    return sorted({t["extension"] for t in predicted["steps"][0]["ring"]})


def call_queue(sip: Pbx4Sip, answerer: str, idle: list[str]) -> dict[str, Any]:
    """101 calls the queue: ``answerer`` answers, the ``idle`` phones must not be rung.
    Returns the simulator's prediction, which the wire matched."""
    quiet = {n: sip.sipp.phone(n, PASSWORDS[n], "ring", wait_ms=4000) for n in idle}
    answers = sip.sipp.phone(answerer, PASSWORDS[answerer], "answer", ring_ms=300)
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "6400", expect=200)
        assert call.ok, call.output
        assert answers.finish().ok
        for number, phone in quiet.items():
            # The call is answered: a phone rung with it has had its INVITE and CANCEL by
            # now, and its scenario passed. One never rung still waits (killed: not ok).
            result = phone.finish(2)
            assert not result.ok, f"{number} was rung: {result.output}"
    finally:
        answers.stop()
        for phone in quiet.values():
            phone.stop()
    return assert_parity(sip, since, "101", "6400", NUMBERS, {"answer": [answerer]})


def test_a_paused_or_logged_out_agent_is_not_rung(sip: Pbx4Sip) -> None:
    sip.apply(doc(*AGENTS, queues=[QUEUE]))
    admin = Objects(sip.pbx, SYSTEM)
    admin.set_queue_agent("6400", "102", logged_in=None, paused=True)
    admin.set_queue_agent("6400", "103", logged_in=False, paused=None)
    sip.wait_snapshot()
    predicted = call_queue(sip, answerer="104", idle=["102", "103"])
    assert rung(predicted) == ["104"]
    trace = "\n".join(predicted["trace"])
    assert "102 is paused in queue 6400" in trace
    assert "103 is logged out of queue 6400" in trace

    # Back to work: no directory change, only the agent's state, and the wire follows.
    admin.set_queue_agent("6400", "102", logged_in=None, paused=False)
    sip.wait_snapshot()
    predicted = call_queue(sip, answerer="102", idle=["103"])
    assert "102" in rung(predicted)


def test_a_presence_change_switches_the_agent_and_the_wire_follows(sip: Pbx4Sip) -> None:
    agent = {
        **AGENTS[0],
        "presence_settings": {
            "lunch_break": {"agent_auto_switch": "pause"},
            "available": {"agent_auto_switch": "login"},
        },
    }
    sip.apply(doc(agent, *AGENTS[1:], queues=[QUEUE]))
    user = Objects(sip.pbx, SYSTEM)
    user.set_presence("102", PresenceStatus.LUNCH_BREAK)
    assert [a for a in user.queue_agents("6400") if a["extension"] == "102"] == [
        {"extension": "102", "logged_in": True, "paused": True}
    ]
    sip.wait_snapshot()
    predicted = call_queue(sip, answerer="103", idle=["102"])
    assert "102" not in rung(predicted)

    user.set_presence("102", PresenceStatus.AVAILABLE)  # "login": unpaused again
    sip.wait_snapshot()
    predicted = call_queue(sip, answerer="102", idle=[])
    assert "102" in rung(predicted)
