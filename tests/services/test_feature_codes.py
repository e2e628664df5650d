"""Feature codes as the phone user dials them: each changes the current status's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from klapka.domain.references import Kind
from klapka.routing.featurecodes import is_feature_code
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.services.telephony.feature_codes import FeatureCodes

DOC: dict[str, Any] = {
    "version": 1,
    "groups": [{"name": "Temps", "members": ["104"]}],
    "extensions": [{"number": n} for n in ("101", "102", "103", "104")],
    "ring_groups": [{"number": "6300", "members": ["102", "103"]}],
    "client_permissions": [
        {
            "name": "temps",
            "target": {"groups": ["Temps"]},
            "preferences": {"presence_forwarding": False},
        }
    ],
}


@pytest.fixture
def pbx(database_url: str) -> Iterator[Pbx]:
    pbx = Pbx.from_url(database_url)
    ConfigService(pbx).apply(DOC)
    yield pbx
    pbx.close()


def ext(pbx: Pbx, number: str) -> dict[str, Any]:
    return Objects(pbx).get(Kind.EXTENSION, number)


def test_dnd_on_and_off(pbx: Pbx) -> None:
    on = FeatureCodes(pbx).dial("101", "*78")
    assert (on.sip_code, on.message) == (200, "Do not disturb on")
    assert ext(pbx, "101")["presence"] == "do_not_disturb"
    off = FeatureCodes(pbx).dial("101", "*79")
    assert off.sip_code == 200
    assert ext(pbx, "101")["presence"] == "available"


def test_presence_switch_by_digit(pbx: Pbx) -> None:
    assert FeatureCodes(pbx).dial("101", "*805").message == "Presence: lunch break"
    assert ext(pbx, "101")["presence"] == "lunch_break"
    assert FeatureCodes(pbx).dial("101", "*809").sip_code == 404
    assert ext(pbx, "101")["presence"] == "lunch_break"


def test_forward_always_to_an_extension_applies_to_the_current_status(pbx: Pbx) -> None:
    FeatureCodes(pbx).dial("101", "*802")  # away
    result = FeatureCodes(pbx).dial("101", "*72102")
    assert result.message == "Forward always to 102 (away)"
    away = ext(pbx, "101")["presence_settings"]["away"]
    assert away["internal"]["always"] == {"extension": "102"}
    assert away["external"]["always"] == {"extension": "102"}
    assert ext(pbx, "101")["presence_settings"]["available"]["internal"]["always"] is False
    FeatureCodes(pbx).dial("101", "*73")
    assert ext(pbx, "101")["presence_settings"]["away"]["internal"]["always"] is False


def test_forward_busy_to_an_outside_number_and_back_to_voicemail(pbx: Pbx) -> None:
    assert FeatureCodes(pbx).dial("101", "*90+420601111222").sip_code == 200
    rules = ext(pbx, "101")["presence_settings"]["available"]["external"]
    assert rules["busy"] == {"external_number": "+420601111222"}
    FeatureCodes(pbx).dial("101", "*91")
    rules = ext(pbx, "101")["presence_settings"]["available"]["external"]
    assert rules["busy"] == {"voicemail": True}


def test_forward_no_answer_to_a_ring_group(pbx: Pbx) -> None:
    FeatureCodes(pbx).dial("101", "*926300")
    rules = ext(pbx, "101")["presence_settings"]["available"]["internal"]
    assert rules["no_answer"] == {"ring_group": "6300"}


def test_busy_forward_in_dnd_is_refused(pbx: Pbx) -> None:
    FeatureCodes(pbx).dial("101", "*78")
    result = FeatureCodes(pbx).dial("101", "*90102")
    assert result.sip_code == 403


def test_a_forward_code_without_a_number_is_incomplete(pbx: Pbx) -> None:
    assert FeatureCodes(pbx).dial("101", "*72").sip_code == 484


def test_a_user_without_the_presence_preference_is_refused(pbx: Pbx) -> None:
    result = FeatureCodes(pbx).dial("104", "*72102")
    assert result.sip_code == 403
    assert ext(pbx, "104")["presence_settings"]["available"]["internal"]["always"] is False


def test_feature_code_recognition() -> None:
    assert all(is_feature_code(c) for c in ("*78", "*79", "*801", "*72102", "*73", "*93"))
    assert not any(is_feature_code(c) for c in ("*2", "*3101", "101", "*8", "*8012", "*1"))


def test_changes_are_audited_as_the_user(pbx: Pbx) -> None:
    from klapka.services.audit_log import AuditLog

    FeatureCodes(pbx).dial("101", "*78")
    entries = AuditLog(pbx).list(limit=5).items
    assert any("feature code" in str(e.get("actor", "")) for e in entries), entries
