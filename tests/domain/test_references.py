"""Who points at whom, and what deleting a referenced object with cascade leaves behind."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from klapka.domain.destinations import Destination
from klapka.domain.document import ConfigDocument, parse_document
from klapka.domain.references import Kind, Ref, refs_of, without_refs

from .documents import parse

OWN_VOICEMAIL = Destination(voicemail=True)
ModelT = TypeVar("ModelT", bound=BaseModel)

KINDS = {
    "extensions": Kind.EXTENSION,
    "groups": Kind.GROUP,
    "ring_groups": Kind.RING_GROUP,
    "queues": Kind.QUEUE,
    "inbound_routes": Kind.INBOUND_ROUTE,
    "outbound_routes": Kind.OUTBOUND_ROUTE,
}

COMPANY = """
    extensions:
      - number: "101"
        mobile: "+420777101101"
        trunk_caller_ids: {Provider Two: "+420530335501"}
        presence_settings:
          available:
            internal: {busy: {extension: "102"}, always: {extension: "102"}}
            external: {no_answer: {voicemail: "102"}}
          do_not_disturb:
            external: {always: {extension: "102"}}
          away:
            external: {no_answer: {voicemail: "101"}}
        features:
          boss: {secretary: {extension: "102"}, call_type: external}
          caller_rules:
            - {pattern: "111", action: {hangup: true}}
            - {pattern: "222", action: {extension: "102"}}
            - {pattern: "333", action: {voicemail: true}}
        function_keys:
          - {key: 1, type: blf, extension: "102"}
          - {key: 2, type: blf, extension: "101"}
          - {key: 3, type: dnd}
      - {number: "102"}
      - {number: "103"}
    groups:
      - {name: Sales, members: ["101", "102"]}
    ring_groups:
      - {number: "6300", members: ["101", "102", "103"], failover: {voicemail: "102"}}
    queues:
      - {number: "6400", members: ["102"], failover: {ring_group: "6300"}}
    trunks:
      - {name: provider, type: peer, host: 192.0.2.1}
      - {name: Provider Two, type: peer, host: 192.0.2.2}
    inbound_routes:
      - {name: main, did: "+420530335500", destination: {extension: "102"},
         outside_business_hours: {voicemail: "102"}}
    outbound_routes:
      - {name: boss-only, patterns: ["00Z."], trunks: [provider], extensions: ["102"]}
      - {name: sales, patterns: ["+Z."], trunks: [provider], extensions: ["102"],
         groups: [Sales]}
      - {name: national, patterns: [NXXXXXXXX], trunks: [provider, Provider Two]}
    """


def company() -> ConfigDocument:
    return parse(COMPANY)


def delete_with_cascade(obj: ModelT, kind: Kind, target_kind: Kind, target: str) -> ModelT:
    """``obj`` as it is after ``target`` was deleted with cascade: its references removed."""
    paths = [r.path for r in refs_of(obj) if r.target_kind is target_kind and r.target == target]
    data = without_refs(kind, obj.model_dump(mode="json"), paths)
    return type(obj).model_validate(data)


# --- refs_of ----------------------------------------------------------------------------


def test_an_extension_lists_every_reference_it_makes() -> None:
    jana = company().extensions[0]
    assert refs_of(jana) == [
        Ref("presence_settings.available.internal.always", Kind.EXTENSION, "102"),
        Ref("presence_settings.available.internal.busy", Kind.EXTENSION, "102"),
        Ref("presence_settings.available.external.no_answer", Kind.EXTENSION, "102"),
        Ref("presence_settings.do_not_disturb.external.always", Kind.EXTENSION, "102"),
        Ref("features.boss.secretary", Kind.EXTENSION, "102"),
        Ref("features.caller_rules[1].action", Kind.EXTENSION, "102"),
        Ref("function_keys[0]", Kind.EXTENSION, "102"),
        Ref("trunk_caller_ids.Provider Two", Kind.TRUNK, "Provider Two"),
    ]


def test_an_extensions_own_mailbox_and_own_key_are_not_references() -> None:
    paths = [r.path for r in refs_of(company().extensions[0])]
    assert "presence_settings.away.external.no_answer" not in paths
    assert "function_keys[1]" not in paths


def test_group_membership_does_not_block_deleting_an_extension() -> None:
    refs = refs_of(company().groups[0])
    assert [(r.path, r.target, r.blocking) for r in refs] == [
        ("members[0]", "101", False),
        ("members[1]", "102", False),
    ]


def test_ring_group_queue_and_route_references() -> None:
    doc = company()
    assert [(r.path, r.target_kind, r.target) for r in refs_of(doc.ring_groups[0])] == [
        ("members[0]", Kind.EXTENSION, "101"),
        ("members[1]", Kind.EXTENSION, "102"),
        ("members[2]", Kind.EXTENSION, "103"),
        ("failover", Kind.EXTENSION, "102"),
    ]
    assert [(r.path, r.target_kind, r.target) for r in refs_of(doc.queues[0])] == [
        ("members[0]", Kind.EXTENSION, "102"),
        ("failover", Kind.RING_GROUP, "6300"),
    ]
    assert [(r.path, r.target) for r in refs_of(doc.inbound_routes[0])] == [
        ("destination", "102"),
        ("outside_business_hours", "102"),
    ]
    assert [(r.path, r.target_kind, r.target) for r in refs_of(doc.outbound_routes[1])] == [
        ("trunks[0]", Kind.TRUNK, "provider"),
        ("extensions[0]", Kind.EXTENSION, "102"),
        ("groups[0]", Kind.GROUP, "Sales"),
    ]


def test_every_reference_blocks_except_group_membership() -> None:
    doc = company()
    for section, kind in KINDS.items():
        for obj in getattr(doc, section):
            for ref in refs_of(obj):
                assert ref.blocking is (kind is not Kind.GROUP), (section, ref)


# --- without_refs: what deleting 102 with cascade does to each object --------------------


def test_a_forward_rule_falls_back_to_its_default() -> None:
    jana = delete_with_cascade(company().extensions[0], Kind.EXTENSION, Kind.EXTENSION, "102")
    available = jana.presence_settings.available
    assert available.internal.always is False  # always: back to off
    assert available.internal.busy == OWN_VOICEMAIL
    assert available.external.no_answer == OWN_VOICEMAIL
    assert jana.presence_settings.do_not_disturb.external.always == OWN_VOICEMAIL


def test_the_boss_setting_is_removed_with_its_secretary() -> None:
    jana = delete_with_cascade(company().extensions[0], Kind.EXTENSION, Kind.EXTENSION, "102")
    assert jana.features.boss is None


def test_a_caller_rule_pointing_at_the_deleted_extension_is_removed() -> None:
    jana = delete_with_cascade(company().extensions[0], Kind.EXTENSION, Kind.EXTENSION, "102")
    assert [r.pattern for r in jana.features.caller_rules] == ["111", "333"]


def test_a_function_key_watching_the_deleted_extension_is_removed() -> None:
    jana = delete_with_cascade(company().extensions[0], Kind.EXTENSION, Kind.EXTENSION, "102")
    assert [k.key for k in jana.function_keys] == [2, 3]


def test_nothing_else_of_the_extension_changes() -> None:
    before = company().extensions[0]
    after = delete_with_cascade(before, Kind.EXTENSION, Kind.EXTENSION, "102")
    assert after.presence_settings.away == before.presence_settings.away
    assert after.mobile == before.mobile
    assert after.trunk_caller_ids == before.trunk_caller_ids
    assert refs_of(after) == [r for r in refs_of(before) if r.target != "102"]


def test_a_per_trunk_caller_id_goes_with_its_trunk_whatever_the_trunk_is_called() -> None:
    jana = delete_with_cascade(company().extensions[0], Kind.EXTENSION, Kind.TRUNK, "Provider Two")
    assert jana.trunk_caller_ids == {}


def test_a_member_is_removed_from_ring_groups_queues_and_groups() -> None:
    doc = company()
    group = delete_with_cascade(doc.ring_groups[0], Kind.RING_GROUP, Kind.EXTENSION, "102")
    queue = delete_with_cascade(doc.queues[0], Kind.QUEUE, Kind.EXTENSION, "102")
    sales = delete_with_cascade(doc.groups[0], Kind.GROUP, Kind.EXTENSION, "102")
    assert group.members == ["101", "103"]
    assert queue.members == []
    assert sales.members == ["101"]


def test_a_failover_to_the_deleted_object_becomes_hang_up() -> None:
    doc = company()
    group = delete_with_cascade(doc.ring_groups[0], Kind.RING_GROUP, Kind.EXTENSION, "102")
    queue = delete_with_cascade(doc.queues[0], Kind.QUEUE, Kind.RING_GROUP, "6300")
    assert str(group.failover) == "hangup"
    assert str(queue.failover) == "hangup"


def test_an_inbound_route_to_the_deleted_object_hangs_up_open_or_closed() -> None:
    route = delete_with_cascade(
        company().inbound_routes[0], Kind.INBOUND_ROUTE, Kind.EXTENSION, "102"
    )
    assert str(route.destination) == "hangup"
    assert str(route.outside_business_hours) == "hangup"


def test_an_outbound_route_that_would_open_to_everyone_is_disabled() -> None:
    route = delete_with_cascade(
        company().outbound_routes[0], Kind.OUTBOUND_ROUTE, Kind.EXTENSION, "102"
    )
    assert route.extensions == []
    assert route.enabled is False


def test_an_outbound_route_still_limited_to_a_group_stays_enabled() -> None:
    route = delete_with_cascade(
        company().outbound_routes[1], Kind.OUTBOUND_ROUTE, Kind.EXTENSION, "102"
    )
    assert (route.extensions, route.groups, route.enabled) == ([], ["Sales"], True)


def test_an_outbound_route_losing_its_last_permitted_group_is_disabled() -> None:
    route = delete_with_cascade(
        company().outbound_routes[1], Kind.OUTBOUND_ROUTE, Kind.GROUP, "Sales"
    )
    assert route.groups == []
    assert route.extensions == ["102"]
    assert route.enabled is True
    both = delete_with_cascade(route, Kind.OUTBOUND_ROUTE, Kind.EXTENSION, "102")
    assert both.enabled is False


def test_an_outbound_route_keeps_working_with_its_remaining_trunk() -> None:
    route = delete_with_cascade(
        company().outbound_routes[2], Kind.OUTBOUND_ROUTE, Kind.TRUNK, "provider"
    )
    assert (route.trunks, route.enabled) == (["Provider Two"], True)


def test_an_outbound_route_without_trunks_is_disabled() -> None:
    route = company().outbound_routes[0]
    after = delete_with_cascade(route, Kind.OUTBOUND_ROUTE, Kind.TRUNK, "provider")
    assert (after.trunks, after.enabled) == ([], False)


def test_after_a_cascade_the_document_has_no_dangling_reference() -> None:
    doc = company()
    data = doc.model_dump(mode="json")
    data["extensions"] = [e for e in data["extensions"] if e["number"] != "102"]
    for section, kind in KINDS.items():
        data[section] = [
            delete_with_cascade(obj, kind, Kind.EXTENSION, "102").model_dump(mode="json")
            for obj in getattr(doc, section)
            if not (section == "extensions" and obj.number == "102")
        ]
    after = parse_document(data)  # would list every reference to a missing object
    for section in KINDS:
        for obj in getattr(after, section):
            assert all(r.target != "102" for r in refs_of(obj))
