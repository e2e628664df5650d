"""Calls between extensions through Kamailio follow the routing engine's decisions."""

from __future__ import annotations

import time

import pytest
from parity import assert_parity, mark
from pbx4sip import Pbx4Sip

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103", "104", "105")}
NUMBERS = list(PASSWORDS)


def doc(*extensions: dict[str, object], **extra: object) -> dict[str, object]:
    by_number = {e["number"]: e for e in extensions}
    exts = [
        {"number": n, "sip_password": pw, **by_number.get(n, {})} for n, pw in PASSWORDS.items()
    ]
    return {"version": 1, "extensions": exts, **extra}


def test_an_internal_call_is_answered(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    phone = sip.sipp.phone("102", PASSWORDS["102"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"answer": ["102"]})


REASONS = ("presence of 102 is available", "102 has no registered endpoint to ring: unavailable")


def _log_of_a_call_to_an_unregistered_extension(sip: Pbx4Sip) -> str:
    sip.apply(doc())
    since = mark(sip)
    assert sip.sipp.call("101", PASSWORDS["101"], "102", expect=480).ok
    time.sleep(0.2)
    return sip.core.paths.log.read_bytes()[since:].decode(errors="replace")


def test_the_log_has_each_step_and_outcome_but_not_the_engines_reasons(sip: Pbx4Sip) -> None:
    log = _log_of_a_call_to_an_unregistered_extension(sip)
    assert "klapka: outcome " in log
    assert not any(reason in log for reason in REASONS), log


@pytest.mark.sip_trace
def test_with_sip_trace_the_log_has_the_engines_reasons_too(sip: Pbx4Sip) -> None:
    log = _log_of_a_call_to_an_unregistered_extension(sip)
    assert all(f"klapka: {reason}" in log for reason in REASONS), log


def test_calling_an_unknown_number_without_routes_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    since = mark(sip)
    call = sip.sipp.call("101", PASSWORDS["101"], "999", expect=404)
    assert call.ok, call.output
    assert_parity(sip, since, "101", "999", NUMBERS, None)


def test_a_busy_extension_follows_its_busy_rule_to_another_extension(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "102",
                "presence_settings": {"available": {"internal": {"busy": {"extension": "103"}}}},
            }
        )
    )
    busy = sip.sipp.phone("102", PASSWORDS["102"], "decline")
    other = sip.sipp.phone("103", PASSWORDS["103"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert busy.finish().ok
        assert other.finish().ok
    finally:
        busy.stop()
        other.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"reject": ["102"], "answer": ["103"]})


def test_no_answer_follows_the_no_answer_rule_after_the_ring_timeout(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "102",
                "presence_settings": {
                    "available": {
                        "ring_timeout": 5,
                        "internal": {"no_answer": {"extension": "103"}},
                    }
                },
            }
        )
    )
    ringing = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    other = sip.sipp.phone("103", PASSWORDS["103"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert ringing.finish().ok  # it was cancelled after its 5 s
        assert other.finish().ok
    finally:
        ringing.stop()
        other.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"answer": ["103"]})


def test_do_not_disturb_without_always_rule_answers_busy(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "102",
                "presence": "do_not_disturb",
                "presence_settings": {"do_not_disturb": {"internal": {"always": False}}},
            }
        )
    )
    since = mark(sip)
    call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
    assert call.ok, call.output
    assert_parity(sip, since, "101", "102", NUMBERS, None)


def test_a_busy_rule_that_is_off_answers_busy_to_the_caller(sip: Pbx4Sip) -> None:
    sip.apply(
        doc({"number": "102", "presence_settings": {"available": {"internal": {"busy": False}}}})
    )
    phone = sip.sipp.phone("102", PASSWORDS["102"], "decline")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
        assert call.ok, call.output
    finally:
        phone.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"reject": ["102"]})


def test_a_ring_group_rings_its_members_and_ignores_their_forwarding(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "103",
                "presence_settings": {"available": {"internal": {"always": {"extension": "104"}}}},
            },
            ring_groups=[{"number": "6300", "members": ["102", "103"]}],
        )
    )
    declines = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    answers = sip.sipp.phone("103", PASSWORDS["103"], "answer", ring_ms=300)
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "6300", expect=200)
        assert call.ok, call.output
        assert answers.finish().ok
        assert declines.finish().ok  # cancelled when 103 answered
    finally:
        declines.stop()
        answers.stop()
    assert_parity(sip, since, "101", "6300", NUMBERS, {"answer": ["103"]})


def test_a_sequential_ring_group_rings_one_member_after_another(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            ring_groups=[
                {
                    "number": "6300",
                    "strategy": "sequential",
                    "ring_timeout": 5,
                    "members": ["102", "103"],
                }
            ]
        )
    )
    first = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    second = sip.sipp.phone("103", PASSWORDS["103"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "6300", expect=200)
        assert call.ok, call.output
        assert first.finish().ok  # cancelled after its 5 s
        assert second.finish().ok
    finally:
        first.stop()
        second.stop()
    predicted = assert_parity(sip, since, "101", "6300", NUMBERS, {"answer": ["103"]})
    assert [s["ring"][0]["extension"] for s in predicted["steps"]] == ["102", "103"]


def test_a_forward_chain_is_followed_to_its_end(sip: Pbx4Sip) -> None:
    always = {"available": {"internal": {"always": {"extension": "104"}}}}
    sip.apply(
        doc(
            {
                "number": "102",
                "presence_settings": {"available": {"internal": {"always": {"extension": "103"}}}},
            },
            {"number": "103", "presence_settings": always},
        )
    )
    phone = sip.sipp.phone("104", PASSWORDS["104"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"answer": ["104"]})


def test_all_reject_mode_stops_every_phone_when_one_declines(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "102",
                "concurrent_registrations": 2,
                "features": {"all_reject": True},
                "presence_settings": {"available": {"internal": {"busy": False}}},
            }
        )
    )
    rejects = sip.sipp.phone("102", PASSWORDS["102"], "reject", ring_ms=300)
    rings = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
        assert call.ok, call.output
        assert rejects.finish().ok
        assert rings.finish(10).ok  # cancelled at once, not after the ring timeout
    finally:
        rejects.stop()
        rings.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"reject": ["102"]})


def test_a_queue_rings_its_members_and_ignores_their_forwarding(sip: Pbx4Sip) -> None:
    sip.apply(
        doc(
            {
                "number": "103",
                "presence_settings": {"available": {"internal": {"always": {"extension": "104"}}}},
            },
            queues=[{"number": "6400", "members": ["102", "103"]}],
        )
    )
    rings = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    answers = sip.sipp.phone("103", PASSWORDS["103"], "answer", ring_ms=300)
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "6400", expect=200)
        assert call.ok, call.output
        assert answers.finish().ok
        assert rings.finish().ok
    finally:
        rings.stop()
        answers.stop()
    assert_parity(sip, since, "101", "6400", NUMBERS, {"answer": ["103"]})


def test_all_busy_mode_makes_the_extension_busy_while_one_phone_is_in_a_call(
    sip: Pbx4Sip,
) -> None:
    import threading

    sip.apply(
        doc(
            {
                "number": "102",
                "concurrent_registrations": 2,
                "features": {"all_busy": True},
                "presence_settings": {"available": {"internal": {"busy": False}}},
            }
        )
    )
    talking = sip.sipp.phone("102", PASSWORDS["102"], "answer", ring_ms=100)
    idle = sip.sipp.phone("102", PASSWORDS["102"], "ring", wait_ms=8000)
    first: list[object] = []
    try:
        # 103 reaches 102 first; while that call lasts, 101's call finds 102 busy.
        thread = threading.Thread(
            target=lambda: first.append(
                sip.sipp.call("103", PASSWORDS["103"], "102", expect=200, talk_ms=4000)
            )
        )
        thread.start()
        deadline = time.monotonic() + 5
        while not sip.rpc.call("dlg.list") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
        assert call.ok, call.output
        thread.join(30)
    finally:
        talking.stop()
        idle.stop()
    assert_parity(sip, since, "101", "102", NUMBERS, {"in_call": ["102"]})


BOSS = {"number": "101", "features": {"boss": {"secretary": {"extension": "102"}}}}


def test_a_call_to_the_boss_rings_the_secretary(sip: Pbx4Sip) -> None:
    sip.apply(doc(BOSS))
    boss = sip.sipp.phone("101", PASSWORDS["101"], "answer")
    secretary = sip.sipp.phone("102", PASSWORDS["102"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("103", PASSWORDS["103"], "101", expect=200)
        assert call.ok, call.output
        assert secretary.finish().ok
    finally:
        boss.stop()
        secretary.stop()
    assert_parity(sip, since, "103", "101", NUMBERS, {"answer": ["102"]})


def test_a_call_the_secretary_transferred_rings_the_boss(sip: Pbx4Sip) -> None:
    """After a blind transfer (REFER) the transferred phone calls the target with a
    Referred-By naming who transferred it: the call's path is `transferred`, and a boss's
    secretary routing applies only to direct calls."""
    sip.apply(doc(BOSS))
    boss = sip.sipp.phone("101", PASSWORDS["101"], "answer")
    secretary = sip.sipp.phone("102", PASSWORDS["102"], "answer")
    try:
        since = mark(sip)
        referred = ("Referred-By: <sip:102@klapka>",)
        call = sip.sipp.call("103", PASSWORDS["103"], "101", expect=200, headers=referred)
        assert call.ok, call.output
        assert boss.finish().ok
    finally:
        boss.stop()
        secretary.stop()
    world = {"path": "transferred", "answer": ["101"]}
    assert_parity(sip, since, "103", "101", NUMBERS, world)
