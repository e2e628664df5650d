"""The configuration document: the example and the demo parse; rules across objects."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from klapka.domain.destinations import Destination
from klapka.domain.document import ConfigDocument

from .documents import parse, problems

EXAMPLE = Path(__file__).parent.parent / "data" / "config-format-example.yaml"


def demo_text() -> str:
    return files("klapka.demo").joinpath("demo.yaml").read_text(encoding="utf-8")


# --- Whole documents --------------------------------------------------------------------


def test_the_config_format_example_parses() -> None:
    doc = parse(EXAMPLE.read_text(encoding="utf-8"))
    jana = doc.extensions[0]
    assert jana.number == "101"
    assert jana.presence_settings.available.ring_timeout == 20
    assert jana.presence_settings.available.external.always == Destination(voicemail=True)
    assert jana.features.boss is not None
    assert jana.features.boss.secretary == Destination(extension="102")
    assert [e.number for e in doc.extensions] == ["101", "102", "103", "104", "105"]
    assert doc.system.international_prefix == "00"
    assert doc.outbound_routes[0].prepend == "+420"


def test_an_empty_document_is_an_empty_pbx_with_defaults() -> None:
    doc = parse("")
    assert doc == ConfigDocument()
    assert doc.system.emergency_numbers == ["112"]
    assert doc.extensions == []


def test_the_demo_company_parses() -> None:
    doc = parse(demo_text())
    numbers = [e.number for e in doc.extensions]
    assert len(numbers) == 15
    assert "112" not in numbers  # an emergency number
    assert [g.name for g in doc.groups] == ["Sales", "Support"]
    assert {r.number for r in doc.ring_groups} >= {"6300"}
    assert [q.number for q in doc.queues] == ["6400"]
    assert doc.outbound_routes[0].name == "emergency"
    assert len(doc.business_hours.holidays) > 20


def test_the_document_must_be_a_mapping_of_version_1() -> None:
    assert problems("- 1\n- 2\n") == ["the document must be a mapping with version: 1 at the top"]
    assert problems("version: 2") == [
        "version: must be 1 (the only format version this klapka knows)"
    ]


def test_an_unknown_section_is_refused() -> None:
    assert problems("extension: []") == ["extension: unknown field"]


def test_a_section_of_the_wrong_type_is_refused() -> None:
    assert problems("extensions: {number: '101'}") == ["extensions: must be a list"]


# --- One number space -------------------------------------------------------------------


def test_an_extension_number_listed_twice_is_refused() -> None:
    text = 'extensions: [{number: "101"}, {number: "101", sip_username: other}]'
    assert problems(text) == ["extensions[1].number: 101 is listed twice (first at index 0)"]


def test_a_ring_group_cannot_take_an_extension_number() -> None:
    text = """
        extensions: [{number: "101"}]
        ring_groups: [{number: "101"}]
        """
    assert problems(text) == ["ring_groups[0].number: 101 is already used by an extension"]


def test_a_queue_cannot_take_a_ring_group_number() -> None:
    text = """
        ring_groups: [{number: "6300"}]
        queues: [{number: "6300"}]
        """
    assert problems(text) == ["queues[0].number: 6300 is already used by a ring group"]


def test_no_extension_may_use_an_emergency_number() -> None:
    text = """
        system: {emergency_numbers: ["112", "155"]}
        extensions: [{number: "155"}]
        """
    assert problems(text) == ["extensions[0].number: 155 is already used by an emergency number"]


def test_an_email_belongs_to_one_extension_whatever_its_case() -> None:
    text = """
        extensions:
          - {number: "101", email: jana@example.com}
          - {number: "102", email: Jana@Example.com}
        """
    assert problems(text) == [
        "extensions[1].email: Jana@Example.com is already used by extensions[0]"
    ]


def test_a_sip_username_belongs_to_one_extension() -> None:
    text = 'extensions: [{number: "101"}, {number: "102", sip_username: "101"}]'
    assert problems(text) == ["extensions[1].sip_username: 101 is already used by extensions[0]"]


def test_a_phone_belongs_to_one_extension() -> None:
    text = """
        extensions:
          - {number: "101", phones: [{mac: "00:15:65:1A:2B:3C"}]}
          - {number: "102", phones: [{mac: "0015651a2b3c"}]}
        """
    assert problems(text) == ["extensions[1].phones[0].mac: already assigned to extension 101"]


def test_the_group_all_is_reserved() -> None:
    assert problems("groups: [{name: all}]") == [
        "groups[0].name: 'All' is reserved for the group of every extension"
    ]


def test_a_did_is_routed_by_one_inbound_route() -> None:
    text = """
        inbound_routes:
          - {name: main, did: "+420530335500", destination: {hangup: true}}
          - {name: again, did: "+420530335500", destination: {hangup: true}}
        """
    assert problems(text) == ["inbound_routes[1].did: already routed by inbound route main"]


def test_route_and_trunk_names_are_unique() -> None:
    text = """
        trunks:
          - {name: provider, type: peer, host: 192.0.2.1}
          - {name: provider, type: peer, host: 192.0.2.2}
        """
    assert problems(text) == ["trunks[1].name: provider is listed twice (first at index 0)"]


# --- References -------------------------------------------------------------------------


def test_a_forward_to_a_nonexistent_extension_is_refused() -> None:
    text = """
        extensions:
          - number: "101"
            presence_settings:
              available: {internal: {busy: {extension: "199"}}}
        """
    assert problems(text) == [
        "extensions[0].presence_settings.available.internal.busy: extension 199 does not exist"
    ]


def test_a_mailbox_must_exist() -> None:
    text = """
        ring_groups: [{number: "6300", failover: {voicemail: "101"}}]
        """
    assert problems(text) == ["ring_groups[0].failover: extension 101 does not exist"]


def test_members_of_groups_ring_groups_and_queues_must_exist() -> None:
    text = """
        extensions: [{number: "101"}]
        groups: [{name: Sales, members: ["101", "555"]}]
        ring_groups: [{number: "6300", members: ["556"]}]
        queues: [{number: "6400", members: ["101", "557"]}]
        """
    assert problems(text) == [
        "groups[0].members[1]: extension 555 does not exist",
        "ring_groups[0].members[0]: extension 556 does not exist",
        "queues[0].members[1]: extension 557 does not exist",
    ]


def test_an_outbound_route_naming_an_unknown_trunk_or_group_is_refused() -> None:
    text = """
        outbound_routes:
          - {name: national, patterns: [NXXXXXXXX], trunks: [nope], groups: [Nobody]}
        """
    assert problems(text) == [
        "outbound_routes[0].trunks[0]: trunk nope does not exist",
        "outbound_routes[0].groups[0]: group Nobody does not exist",
    ]


def test_an_outbound_route_may_name_the_group_of_everyone() -> None:
    text = """
        trunks: [{name: provider, type: peer, host: 192.0.2.1}]
        outbound_routes:
          - {name: national, patterns: [NXXXXXXXX], trunks: [provider], groups: [All]}
        """
    assert parse(text).outbound_routes[0].groups == ["All"]


def test_an_inbound_route_to_an_unknown_ring_group_is_refused() -> None:
    text = """
        inbound_routes:
          - {name: main, did: "+420530335500", destination: {ring_group: "6300"},
             outside_business_hours: {queue: "6400"}}
        """
    assert problems(text) == [
        "inbound_routes[0].destination: ring group 6300 does not exist",
        "inbound_routes[0].outside_business_hours: queue 6400 does not exist",
    ]


def test_references_may_point_at_objects_listed_later() -> None:
    doc = parse(
        """
        extensions:
          - number: "101"
            features: {boss: {secretary: {ring_group: "6300"}}}
          - {number: "102"}
        ring_groups: [{number: "6300", members: ["102"]}]
        """
    )
    assert doc.extensions[0].features.boss is not None


# --- Everything at once -----------------------------------------------------------------


def test_every_problem_in_a_document_is_listed_at_once() -> None:
    text = """
        extensions:
          - {number: "1"}
          - number: "102"
            presence_settings: {away: {ring_timeout: 3}}
          - {number: "103", colour: blue}
        ring_groups: [{number: "6300", members: ["6300"]}]
        business_hours: {weekly: {mon: ["16:00-08:00"]}}
        """
    assert problems(text) == [
        "business_hours.weekly.mon[0]: must end after it starts (HH:MM-HH:MM)",
        "extensions[0].number: must be 2-8 digits",
        "extensions[1].presence_settings.away.ring_timeout: must be 5..300",
        "extensions[2].colour: unknown field",
        "ring_groups[0].members: a ring group cannot contain itself",
    ]


def test_every_cross_object_problem_is_listed_at_once() -> None:
    text = """
        extensions:
          - {number: "101", email: a@example.com,
             presence_settings: {available: {internal: {busy: {extension: "199"}}}}}
          - {number: "102", email: A@example.com}
        ring_groups: [{number: "102"}]
        groups: [{name: All}]
        trunks: [{name: provider, type: peer, host: 192.0.2.1}]
        inbound_routes:
          - {name: a, did: "123", destination: {extension: "101"}}
          - {name: b, did: "123", destination: {queue: "6400"}}
        outbound_routes: [{name: x, patterns: [X.], trunks: [provider, nope]}]
        """
    assert sorted(problems(text)) == sorted(
        [
            "ring_groups[0].number: 102 is already used by an extension",
            "extensions[1].email: A@example.com is already used by extensions[0]",
            "groups[0].name: 'All' is reserved for the group of every extension",
            "inbound_routes[1].did: already routed by inbound route a",
            "extensions[0].presence_settings.available.internal.busy: extension 199 does not exist",
            "inbound_routes[1].destination: queue 6400 does not exist",
            "outbound_routes[0].trunks[1]: trunk nope does not exist",
        ]
    )
