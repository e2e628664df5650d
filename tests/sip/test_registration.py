"""Phones register over SIP with their extension's credentials."""

from __future__ import annotations

import time

import pytest
from pbx4sip import Pbx4Sip

DOC = {
    "version": 1,
    "extensions": [
        {"number": "101", "sip_password": "Secret1234a"},
        {"number": "102", "sip_password": "Secret1234b", "concurrent_registrations": 1},
        {"number": "103", "sip_password": "Secret1234c", "enabled": False},
        {
            "number": "104",
            "sip_password": "Secret1234d",
            "security": {"allowed_ips": ["192.0.2.0/24"]},
        },
        {
            "number": "105",
            "sip_password": "Secret1234e",
            "security": {"user_agent_prefix": "Yealink"},
        },
        {
            "number": "106",
            "sip_password": "Secret1234f",
            "clients": {"mobile_client": False},
        },
    ],
}


def test_a_phone_registers_with_the_extensions_credentials(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.register("101", "Secret1234a")
    assert result.ok, result.output
    contacts = sip.contacts("101")
    assert len(contacts) == 1
    assert contacts[0]["User-Agent"] == "klapka-test-phone"


def test_a_wrong_password_is_challenged_again_and_nothing_registers(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.register("101", "WrongPassword1", expect=401)
    assert result.ok, result.output
    assert sip.contacts("101") == []


def test_a_disabled_extension_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    result = sip.sipp.register("103", "Secret1234c", expect=403)
    assert result.ok, result.output
    assert sip.contacts("103") == []


def test_registration_from_a_disallowed_address_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    assert sip.sipp.register("104", "Secret1234d", expect=403).ok
    assert sip.contacts("104") == []


def test_a_user_agent_outside_the_allowed_prefix_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    assert sip.sipp.register("105", "Secret1234e", expect=403).ok
    assert sip.sipp.register("105", "Secret1234e", agent="Yealink SIP-T46S").ok
    assert len(sip.contacts("105")) == 1


def test_a_desk_phone_over_the_limit_replaces_the_oldest(sip: Pbx4Sip) -> None:
    """More in test_registration_rules.py."""
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b", contact_port=5999).ok
    second = sip.sipp.register("102", "Secret1234b", contact_port=5998)
    assert second.ok, second.output
    assert [c["Address"] for c in sip.contacts("102")] == ["sip:102@127.0.0.1:5998"]


def test_the_apps_register_in_addition_to_the_desk_phone_limit(sip: Pbx4Sip) -> None:
    """Concurrent registrations (here 1) limit the desk phones; the mobile and desktop apps
    (told apart by their User-Agent) register beside them."""
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b").ok
    assert sip.sipp.register("102", "Secret1234b", agent="klapka Mobile 2.1 (Android)").ok
    assert sip.sipp.register("102", "Secret1234b", agent="klapka Desktop 1.4").ok
    # A second desk phone replaces the first (the limit is 1), not an app's registration.
    second_desk = sip.sipp.register("102", "Secret1234b", agent="Yealink SIP-T46S")
    assert second_desk.ok, second_desk.output
    agents = sorted(c["User-Agent"] for c in sip.contacts("102"))
    assert agents == ["Yealink SIP-T46S", "klapka Desktop 1.4", "klapka Mobile 2.1 (Android)"]


def test_a_desk_phone_at_the_limit_refreshes_its_registration(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    assert sip.sipp.register("102", "Secret1234b", contact_port=5999).ok
    assert sip.sipp.register("102", "Secret1234b", contact_port=5999).ok  # the same contact
    assert len(sip.contacts("102")) == 1


def test_each_app_registers_at_most_five_times(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    for _ in range(5):
        assert sip.sipp.register("101", "Secret1234a", agent="klapka Mobile 2.1").ok
    sixth = sip.sipp.register("101", "Secret1234a", agent="klapka Mobile 2.1", expect=503)
    assert sixth.ok, sixth.output
    assert sip.sipp.register("101", "Secret1234a").ok  # the desk phone still has its place
    assert len(sip.contacts("101")) == 6


def test_a_client_turned_off_for_the_extension_cannot_register(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    refused = sip.sipp.register("106", "Secret1234f", agent="klapka Mobile 2.1", expect=403)
    assert refused.ok, refused.output
    assert sip.contacts("106") == []
    assert sip.sipp.register("106", "Secret1234f", agent="klapka Desktop 1.4").ok
    assert sip.sipp.register("106", "Secret1234f").ok
    assert len(sip.contacts("106")) == 2


def test_turning_a_client_off_unregisters_it_at_once(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    assert sip.sipp.register("101", "Secret1234a").ok
    assert sip.sipp.register("101", "Secret1234a", agent="klapka Mobile 2.1").ok
    assert len(sip.contacts("101")) == 2
    off = {**DOC, "extensions": [{"number": "101", "clients": {"mobile_client": False}}]}
    sip.apply(off)
    deadline = time.monotonic() + 3
    while len(sip.contacts("101")) == 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c["User-Agent"] for c in sip.contacts("101")] == ["klapka-test-phone"]


def test_a_password_change_applies_to_the_next_registration_without_a_restart(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    doc = {**DOC, "extensions": [{"number": "101", "sip_password": "Changed1234x"}]}
    sip.apply(doc)
    assert sip.sipp.register("101", "Secret1234a", expect=401).ok
    assert sip.sipp.register("101", "Changed1234x").ok


def test_registrations_are_visible_through_the_api(
    sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from klapka.api.app import create_app
    from klapka.services.accounts.tokens import Tokens

    sip.apply(DOC)
    assert sip.sipp.register("101", "Secret1234a").ok
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(sip.core.paths.root.parent))
    token = Tokens(sip.pbx).create()
    client = TestClient(create_app(sip.pbx), headers={"Authorization": f"Bearer {token}"})
    regs = client.get("/api/v1/extensions/101/registrations").json()
    assert len(regs) == 1
    assert regs[0]["endpoint"] == "desk"
    assert regs[0]["user_agent"] == "klapka-test-phone"
    assert regs[0]["contact"].startswith("sip:101@127.0.0.1:")
    assert 0 < regs[0]["expires"] <= 300
    assert client.get("/api/v1/extensions/102/registrations").json() == []
    assert client.get("/api/v1/extensions/999/registrations").status_code == 404
