"""Calls between extensions through Kamailio follow the routing engine's decisions."""

from __future__ import annotations

from conftest import Pbx4Sip

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103", "104", "105")}


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
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()


def test_calling_an_unknown_number_without_routes_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(doc())
    call = sip.sipp.call("101", PASSWORDS["101"], "999", expect=404)
    assert call.ok, call.output


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
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert busy.finish().ok
        assert other.finish().ok
    finally:
        busy.stop()
        other.stop()


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
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert ringing.finish().ok  # it was cancelled after its 5 s
        assert other.finish().ok
    finally:
        ringing.stop()
        other.stop()


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
    call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
    assert call.ok, call.output


def test_a_busy_rule_that_is_off_answers_busy_to_the_caller(sip: Pbx4Sip) -> None:
    sip.apply(
        doc({"number": "102", "presence_settings": {"available": {"internal": {"busy": False}}}})
    )
    phone = sip.sipp.phone("102", PASSWORDS["102"], "decline")
    try:
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=486)
        assert call.ok, call.output
    finally:
        phone.stop()


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
        call = sip.sipp.call("101", PASSWORDS["101"], "6300", expect=200)
        assert call.ok, call.output
        assert answers.finish().ok
        assert declines.finish().ok  # cancelled when 103 answered
    finally:
        declines.stop()
        answers.stop()
