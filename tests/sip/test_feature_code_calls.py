"""Feature codes dialled on a phone change the extension's settings; the next call follows."""

from __future__ import annotations

from parity import assert_parity, mark
from pbx4sip import Pbx4Sip

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.telephony.simulator import Simulator

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103")}
DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": pw} for n, pw in PASSWORDS.items()],
}


def test_dnd_on_by_phone_sets_the_presence(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.call("101", PASSWORDS["101"], "*78", expect=603)
    assert result.ok, result.output
    assert Objects(sip.pbx).get(Kind.EXTENSION, "101")["presence"] == "do_not_disturb"
    result = sip.sipp.call("101", PASSWORDS["101"], "*79", expect=603)
    assert result.ok, result.output
    assert Objects(sip.pbx).get(Kind.EXTENSION, "101")["presence"] == "available"


def test_forward_always_by_phone_applies_to_the_next_call(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.call("101", PASSWORDS["101"], "*72103", expect=603)
    assert result.ok, result.output
    sip.wait_snapshot()
    predicted = Simulator(sip.pbx).simulate({"from": "102", "to": "101", "answer": ["103"]})
    assert predicted["steps"][0]["ring"] == [{"extension": "103", "endpoint": "desk"}]
    phone = sip.sipp.phone("103", PASSWORDS["103"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("102", PASSWORDS["102"], "101", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    assert_parity(sip, since, "102", "101", list(PASSWORDS), {"answer": ["103"]})


def test_an_unknown_presence_digit_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.call("101", PASSWORDS["101"], "*809", expect=404)
    assert result.ok, result.output
