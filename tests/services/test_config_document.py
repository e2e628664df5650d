"""Configuration as code through the service: apply, export, dry run, secrets, integrity."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.services.directory.config import ConfigService
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml
from klapka.services.pbx import Pbx
from klapka.store.migrate import upgrade

EXAMPLE = Path(__file__).parent.parent / "data" / "config-format-example.yaml"


@pytest.fixture
def pbx(database_url: str) -> Pbx:
    pbx = Pbx.from_url(database_url)
    yield pbx
    pbx.close()


@pytest.fixture
def config(pbx: Pbx) -> ConfigService:
    return ConfigService(pbx)


def example() -> dict[str, Any]:
    return load_yaml(EXAMPLE.read_text())


def test_the_config_format_example_applies_to_an_empty_pbx(config: ConfigService) -> None:
    result = config.apply(example())
    assert result.summary["created"] == 11
    exported = config.export()
    assert [e["number"] for e in exported["extensions"]] == ["101", "102", "103", "104", "105"]
    jana = exported["extensions"][0]
    assert jana["presence_settings"]["available"]["ring_timeout"] == 20
    assert jana["features"]["boss"] == {"secretary": {"extension": "102"}, "call_type": "external"}
    # Defaults are left out of the export: a new extension is just its number.
    assert exported["extensions"][1] == {"number": "102"}


def test_applying_the_same_document_twice_changes_nothing(config: ConfigService) -> None:
    config.apply(example())
    result = config.apply(example())
    assert result.changes == []
    assert "No changes." in result.text()


def test_export_then_apply_into_an_empty_pbx_gives_the_same_configuration(
    config: ConfigService, tmp_path: Path, database_url: str
) -> None:
    config.apply(example())
    exported = config.export(include_secrets=True)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    other = ConfigService(Pbx.from_url(other_url))
    other.apply(load_yaml(dump_yaml(exported)))
    assert other.export(include_secrets=True) == exported
    # Secrets travel too: the SIP password of 101 is the same on both PBXs.
    sip = Objects(config.pbx).get(Kind.EXTENSION, "101", include_secrets=True)["sip_password"]
    again = Objects(other.pbx).get(Kind.EXTENSION, "101", include_secrets=True)["sip_password"]
    assert sip == again
    other.pbx.close()


def test_export_without_secrets_leaves_out_passwords_and_pins(config: ConfigService) -> None:
    config.apply(example())
    text = dump_yaml(config.export())
    assert "sip_password" not in text
    assert "4321" not in text  # 101's voicemail PIN
    assert "password: secret" not in text  # the trunk password
    with_secrets = dump_yaml(config.export(include_secrets=True))
    assert "4321" in with_secrets and "password: secret" in with_secrets


def test_a_document_without_secrets_keeps_the_stored_ones(config: ConfigService) -> None:
    config.apply(example())
    objects = Objects(config.pbx)
    before = objects.get(Kind.EXTENSION, "102", include_secrets=True)
    result = config.apply(config.export())  # secrets left out
    assert result.changes == []
    after = objects.get(Kind.EXTENSION, "102", include_secrets=True)
    assert after["sip_password"] == before["sip_password"]
    assert after["voicemail"]["pin"] == before["voicemail"]["pin"]


def test_dry_run_shows_the_difference_and_changes_nothing(config: ConfigService) -> None:
    config.apply(example())
    doc = example()
    doc["extensions"][0]["presence_settings"]["away"]["ring_timeout"] = 25
    doc["extensions"].append({"number": "106"})
    del doc["queues"]
    before = config.export(include_secrets=True)
    result = config.apply(doc, dry_run=True)
    text = result.text()
    assert "~ extension 101" in text
    assert "presence_settings.away.ring_timeout: (default) -> 25" in text
    assert "+ extension 106" in text
    assert "- queue 6400" in text
    assert "nothing was changed" in text
    assert config.export(include_secrets=True) == before


def test_apply_creates_updates_and_deletes_to_match_the_document(config: ConfigService) -> None:
    config.apply(example())
    doc = example()
    doc["extensions"] = [e for e in doc["extensions"] if e["number"] != "105"]
    doc["queues"][0]["members"] = ["104"]
    doc["ring_groups"][0]["name"] = "Front desk"
    result = config.apply(doc)
    assert result.summary == {"created": 0, "updated": 2, "deleted": 1}
    exported = config.export()
    assert "105" not in [e["number"] for e in exported["extensions"]]
    assert exported["ring_groups"][0]["name"] == "Front desk"


def test_an_invalid_document_changes_nothing_and_names_every_problem(
    config: ConfigService,
) -> None:
    config.apply(example())
    before = config.export(include_secrets=True)
    doc = example()
    doc["extensions"][0]["presence_settings"]["away"]["ring_timeout"] = 3
    doc["extensions"][1]["email"] = "not-an-email"
    with pytest.raises(InvalidInput) as err:
        config.apply(doc)
    paths = {p.path: p.rule for p in err.value.problems}
    assert paths["extensions[0].presence_settings.away.ring_timeout"] == "must be 5..300"
    assert "extensions[1].email" in paths
    assert config.export(include_secrets=True) == before


def test_a_forward_to_a_missing_extension_is_refused_by_path(config: ConfigService) -> None:
    doc = example()
    doc["extensions"][0]["presence_settings"]["available"]["internal"]["busy"] = {
        "extension": "999"
    }
    with pytest.raises(InvalidInput) as err:
        config.apply(doc)
    assert [str(p) for p in err.value.problems] == [
        "extensions[0].presence_settings.available.internal.busy: extension 999 does not exist"
    ]
    assert config.export().get("extensions") is None


def test_duplicate_numbers_across_kinds_are_refused(config: ConfigService) -> None:
    doc = example()
    doc["queues"][0]["number"] = "6300"
    with pytest.raises(InvalidInput) as err:
        config.apply(doc)
    assert "queues[0].number: 6300 is already used by a ring group" in [
        str(p) for p in err.value.problems
    ]


def test_malformed_yaml_is_reported_with_its_line() -> None:
    with pytest.raises(InvalidInput) as err:
        load_yaml("version: 1\nextensions:\n  - number: [101\n")
    assert err.value.problems[0].path.startswith("line ")
    assert "malformed YAML" in err.value.problems[0].rule


def test_emails_can_swap_between_extensions_in_one_apply(config: ConfigService) -> None:
    doc = {
        "version": 1,
        "extensions": [
            {"number": "101", "email": "a@example.com"},
            {"number": "102", "email": "b@example.com"},
        ],
    }
    config.apply(doc)
    swapped = copy.deepcopy(doc)
    swapped["extensions"][0]["email"] = "b@example.com"
    swapped["extensions"][1]["email"] = "a@example.com"
    config.apply(swapped)
    assert Objects(config.pbx).get(Kind.EXTENSION, "101")["email"] == "b@example.com"


def test_queue_login_state_survives_an_apply(config: ConfigService) -> None:
    config.apply(example())
    objects = Objects(config.pbx)
    objects.set_queue_agent("6400", "104", logged_in=False, paused=None)
    doc = example()
    doc["queues"][0]["timeout"] = 90
    config.apply(doc)
    agents = {a["extension"]: a for a in objects.queue_agents("6400")}
    assert agents["104"]["logged_in"] is False
    assert agents["105"]["logged_in"] is True


def test_references_are_rebuilt_so_deleting_a_referenced_extension_is_refused(
    config: ConfigService,
) -> None:
    config.apply(example())
    from klapka.domain.problems import Conflict

    with pytest.raises(Conflict) as err:
        Objects(config.pbx).delete(Kind.EXTENSION, "102")
    places = {str(p) for p in err.value.places}
    assert "extension 101: presence_settings.available.internal.busy" in places
    assert "extension 101: features.boss.secretary" in places
    assert "ring_group 6300: members[0]" in places
