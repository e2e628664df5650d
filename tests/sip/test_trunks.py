"""Trunks on the wire: a register trunk registers, outbound calls leave through the outbound
routes (strip/prepend, caller ID, authentication, failover), inbound calls arrive by DID.
Each call is also simulated: ``klapka simulate`` predicts what happened on the wire."""

from __future__ import annotations

import time
from typing import Any

import pytest
from parity import assert_parity, mark
from pbx4sip import Pbx4Sip
from provider import Provider
from sipp import free_udp_port

from klapka.services.call_history import CallFilter, CallHistory
from klapka.services.telephony.trunk_status import TrunkStatus

PASSWORDS = {n: f"Secret{n}ab" for n in ("101", "102", "103")}


def last_call(sip: Pbx4Sip) -> dict[str, Any]:
    """The newest call of the call history, once it ended."""
    deadline = time.monotonic() + 10
    while True:
        found = CallHistory(sip.pbx).search(CallFilter(), limit=1).items
        if found and not found[0]["in_progress"]:
            return found[0]
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def document(trunks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    extensions = [{"number": n, "sip_password": pw} for n, pw in PASSWORDS.items()]
    for ext in extra.pop("extensions", []):
        next(e for e in extensions if e["number"] == ext["number"]).update(ext)
    return {
        "version": 1,
        "system": {"country_code": "420", "international_prefix": "00"},
        "extensions": extensions,
        "trunks": trunks,
        "outbound_routes": [
            {
                "name": "national",
                "patterns": ["0NXXXXXXXX"],
                "strip": 1,
                "prepend": "+420",
                "trunks": [t["name"] for t in trunks],
            },
            {"name": "international", "patterns": ["00X."], "trunks": [trunks[0]["name"]]},
        ],
        **extra,
    }


def peer(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "peer", "host": "127.0.0.1", "port": port, **extra}


@pytest.fixture
def provider(sip: Pbx4Sip) -> Provider:
    return Provider(free_udp_port(), sip.port, sip.sipp.workdir)


def predicted(sip: Pbx4Sip, since: int, caller: str, dialled: str, **world: Any) -> dict[str, Any]:
    """What the simulator predicts, checked against what happened on the wire since ``since``."""
    return assert_parity(sip, since, caller, dialled, list(PASSWORDS), world)


def test_an_outbound_call_leaves_through_the_route_with_strip_prepend_and_caller_id(
    sip: Pbx4Sip, provider: Provider
) -> None:
    sip.apply(document([peer("carrier", provider.port, caller_id="+420530335500")]))
    far = provider.far_end(
        "answer",
        expect_uri="sip:\\+420601111222@127.0.0.1",
        expect_headers=("P-Asserted-Identity: <sip:\\+420530335500@",),
    )
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=200)
        provider_side = far.finish()
        assert call.ok, call.output + provider_side.output
        assert provider_side.ok, provider_side.output
    finally:
        far.stop()
    outcome = predicted(sip, since, "101", "0601111222")["outcome"]
    assert outcome == {"result": "external", "number": "+420601111222", "trunk": "carrier"}


def test_a_failing_trunk_fails_over_to_the_next(sip: Pbx4Sip, provider: Provider) -> None:
    second = Provider(free_udp_port(), sip.port, sip.sipp.workdir)
    sip.apply(document([peer("first", provider.port), peer("second", second.port)]))
    down = provider.far_end("503")
    up = second.far_end("answer", expect_uri="sip:\\+420601111222@127.0.0.1")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=200)
        assert call.ok, call.output
        assert down.finish().ok
        answered = up.finish()
        assert answered.ok, answered.output
    finally:
        down.stop()
        up.stop()
    predicted(sip, since, "101", "0601111222")
    record = last_call(sip)
    assert (record["direction"], record["outcome"], record["answered_number"]) == (
        "outbound", "answered", "+420601111222",
    )  # fmt: skip
    assert [(a["trunk"], a["code"]) for a in record["trunk_attempts"]] == [
        ("first", 503), ("second", 200),
    ]  # fmt: skip


def test_a_busy_callee_does_not_fail_over(sip: Pbx4Sip, provider: Provider) -> None:
    second = Provider(free_udp_port(), sip.port, sip.sipp.workdir)
    sip.apply(document([peer("first", provider.port), peer("second", second.port)]))
    busy = provider.far_end("486")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=486)
        assert call.ok, call.output
        assert busy.finish().ok
    finally:
        busy.stop()
    predicted(sip, since, "101", "0601111222")


TRUNK_USER, TRUNK_PASSWORD = "530335500", "TrunkSecret1"  # what the provider accepts


def register_at_provider(sip: Pbx4Sip, provider: Provider, password: str) -> None:
    """The register trunk ``carrier`` (with ``password``) registers once at the provider."""
    trunk = {
        "name": "carrier",
        "type": "register",
        "host": "127.0.0.1",
        "port": provider.port,
        "username": TRUNK_USER,
        "password": password,
    }
    registrar = provider.registrar("carrier", TRUNK_USER, TRUNK_PASSWORD)
    try:
        sip.apply(document([trunk]))
        assert registrar.finish(25).ok
    finally:
        registrar.stop()


def test_a_provider_challenge_is_answered_with_the_trunk_credentials(
    sip: Pbx4Sip, provider: Provider
) -> None:
    register_at_provider(sip, provider, TRUNK_PASSWORD)
    assert wait_status(sip, "carrier", "registered") == "registered"
    far = provider.far_end("answer", auth=(TRUNK_USER, TRUNK_PASSWORD))
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=200)
        assert call.ok, call.output
        assert far.finish().ok
    finally:
        far.stop()
    predicted(sip, since, "101", "0601111222")


def test_a_register_trunk_with_a_wrong_password_shows_auth_failed(
    sip: Pbx4Sip, provider: Provider
) -> None:
    register_at_provider(sip, provider, "WrongSecret1")
    assert wait_status(sip, "carrier", "auth_failed") == "auth_failed"


def test_a_peer_trunk_is_reachable_while_it_answers_options(
    sip: Pbx4Sip, provider: Provider
) -> None:
    sip.apply(document([peer("carrier", free_udp_port())]))
    status = TrunkStatus(sip.pbx, sip.core.paths).all("carrier")[0]
    assert status["status"] == "unreachable"
    # Kamailio itself answers OPTIONS: a peer pointing at it is reachable.
    sip.apply(document([peer("carrier", sip.port)]))
    assert TrunkStatus(sip.pbx, sip.core.paths).all("carrier")[0]["status"] == "reachable"


def test_an_inbound_call_rings_the_extension_of_its_did(sip: Pbx4Sip, provider: Provider) -> None:
    sip.apply(
        document(
            [peer("carrier", provider.port)],
            inbound_routes=[
                {"name": "main", "did": "+420530335500", "destination": {"extension": "102"}}
            ],
        )
    )
    phone = sip.sipp.phone("102", PASSWORDS["102"], "answer")
    try:
        since = mark(sip)
        call = provider.call("601111222", "+420530335500", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    simulated = predicted(sip, since, "601111222", "+420530335500", answer=["102"])
    assert simulated["steps"][0]["ring"] == [{"extension": "102", "endpoint": "desk"}]
    assert simulated["outcome"]["result"] == "answered"
    record = last_call(sip)
    assert (record["direction"], record["did"], record["trunk"], record["caller"]) == (
        "inbound", "+420530335500", "carrier", "601111222",
    )  # fmt: skip
    assert (record["outcome"], record["answered_by"]) == ("answered", "102")


def test_an_inbound_call_for_an_unknown_did_is_refused(sip: Pbx4Sip, provider: Provider) -> None:
    sip.apply(document([peer("carrier", provider.port)]))
    since = mark(sip)
    call = provider.call("601111222", "+420999999999", expect=404)
    assert call.ok, call.output
    assert predicted(sip, since, "601111222", "+420999999999")["outcome"]["cause"] == "not_found"


def test_an_international_call_is_refused_for_an_extension_without_it(
    sip: Pbx4Sip, provider: Provider
) -> None:
    sip.apply(
        document(
            [peer("carrier", provider.port)],
            extensions=[{"number": "101", "security": {"international_calls": False}}],
        )
    )
    since = mark(sip)
    call = sip.sipp.call("101", PASSWORDS["101"], "00491511234567", expect=403)
    assert call.ok, call.output
    outcome = predicted(sip, since, "101", "00491511234567")["outcome"]
    assert outcome == {"result": "hangup", "cause": "restricted"}


def test_a_phone_on_the_trunk_address_still_authenticates_as_an_extension(
    sip: Pbx4Sip, provider: Provider
) -> None:
    """Phones and a trunk may share an address (here 127.0.0.1): only the trunk's port is
    the trunk, a phone's call from another port is challenged and routed as internal."""
    sip.apply(document([peer("carrier", provider.port)]))
    phone = sip.sipp.phone("102", PASSWORDS["102"], "answer")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert phone.finish().ok
    finally:
        phone.stop()
    predicted(sip, since, "101", "102", answer=["102"])


def wait_status(sip: Pbx4Sip, name: str, wanted: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = TrunkStatus(sip.pbx, sip.core.paths).all(name)[0]["status"]
        if status == wanted:
            break
        time.sleep(0.2)
    return status


def test_the_outbound_frequency_limit_counts_calls_on_the_wire(
    sip: Pbx4Sip, provider: Provider
) -> None:
    limit = {"enabled": True, "calls": 1, "period_seconds": 60}
    sip.apply(
        document(
            [peer("carrier", provider.port)],
            extensions=[{"number": "101", "security": {"frequency_limit": limit}}],
        )
    )
    far = provider.far_end("answer")
    try:
        first = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=200)
        assert first.ok, first.output
        assert far.finish().ok
    finally:
        far.stop()
    second = sip.sipp.call("101", PASSWORDS["101"], "0601111222", expect=403)
    assert second.ok, second.output
    # Another extension is not limited by 101's calls.
    far = provider.far_end("answer")
    try:
        other = sip.sipp.call("102", PASSWORDS["102"], "0601111222", expect=200)
        assert other.ok, other.output
    finally:
        far.stop()


def with_mobile_ring(provider: Provider, *extensions: dict[str, Any]) -> dict[str, Any]:
    """102's mobile +420601111222 rings with its desk, through the trunk ``carrier``."""
    mobile = {
        "number": "102",
        "mobile": "+420601111222",
        "presence_settings": {"available": {"ring_mobile": {"enabled": True}}},
    }
    doc = document([peer("carrier", provider.port)], extensions=[mobile, *extensions])
    doc["outbound_routes"].append(
        {"name": "mobile", "patterns": ["+420NXXXXXXXX"], "trunks": ["carrier"]}
    )
    return doc


def test_the_mobile_rings_through_the_trunk_at_the_same_time_as_the_desk(
    sip: Pbx4Sip, provider: Provider
) -> None:
    sip.apply(with_mobile_ring(provider))
    desk = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    mobile = provider.far_end("answer", expect_uri="sip:\\+420601111222@127.0.0.1")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "102", expect=200)
        assert call.ok, call.output
        assert mobile.finish().ok
        assert desk.finish().ok  # cancelled when the mobile answered
    finally:
        desk.stop()
        mobile.stop()
    predicted = assert_parity(
        sip, since, "101", "102", list(PASSWORDS), {"answer": ["+420601111222"]}
    )
    assert predicted["steps"][0]["ring"] == [
        {"extension": "102", "endpoint": "desk"},
        {"number": "+420601111222", "trunk": "carrier"},
    ]


def test_a_register_trunk_without_a_password_is_not_registered(sip: Pbx4Sip) -> None:
    trunk = {"name": "carrier", "type": "register", "host": "127.0.0.1", "username": "u1"}
    sip.apply(document([trunk]))
    status = TrunkStatus(sip.pbx, sip.core.paths).all("carrier")[0]
    assert status == {
        "name": "carrier",
        "type": "register",
        "status": "registration_failed",
        "detail": "no password set",
    }
    assert sip.rpc.call("uac.reg_dump") in ([], None, {})


def test_a_mobile_answering_in_a_later_ring_step_is_the_answer(
    sip: Pbx4Sip, provider: Provider
) -> None:
    """103 declines and forwards to 102, whose desk and mobile ring in the second step (from
    the failure route, where the transaction's branch numbers go on from the first step)."""
    forward = {"available": {"internal": {"busy": {"extension": "102"}}}}
    sip.apply(with_mobile_ring(provider, {"number": "103", "presence_settings": forward}))
    busy = sip.sipp.phone("103", PASSWORDS["103"], "decline")
    desk = sip.sipp.phone("102", PASSWORDS["102"], "ring")
    mobile = provider.far_end("answer", expect_uri="sip:\\+420601111222@127.0.0.1")
    try:
        since = mark(sip)
        call = sip.sipp.call("101", PASSWORDS["101"], "103", expect=200)
        assert call.ok, call.output
        assert mobile.finish().ok
        assert busy.finish().ok
        assert desk.finish().ok
    finally:
        busy.stop()
        desk.stop()
        mobile.stop()
    world = {"reject": ["103"], "answer": ["+420601111222"]}
    prediction = predicted(sip, since, "101", "103", **world)
    assert prediction["outcome"] == {"result": "answered", "number": "+420601111222"}
