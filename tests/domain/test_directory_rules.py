"""Rules of business hours, ring groups, queues, trunks, routes and system settings."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from klapka.domain.destinations import Destination

from .documents import parse, problems

# --- Business hours ---------------------------------------------------------------------


def test_weekly_ranges_are_normalised_and_sorted_by_day_and_time() -> None:
    doc = parse(
        """
        business_hours:
          weekly:
            fri: ["13:00-16:30", "8:00-12:00"]
            mon: ["08:00-24:00"]
        """
    )
    assert doc.business_hours.weekly == {
        "mon": ["08:00-24:00"],
        "fri": ["08:00-12:00", "13:00-16:30"],
    }


def test_a_day_with_no_ranges_is_closed_and_left_out() -> None:
    doc = parse("business_hours: {weekly: {mon: ['08:00-16:30'], sat: []}}")
    assert doc.business_hours.weekly == {"mon": ["08:00-16:30"]}


@pytest.mark.parametrize(
    ("time_range", "rule"),
    [
        ("8-16", "must be a time range HH:MM-HH:MM"),
        ("08:00", "must be a time range HH:MM-HH:MM"),
        ("25:00-26:00", "must be a time range HH:MM-HH:MM with valid times"),
        ("08:60-09:00", "must be a time range HH:MM-HH:MM with valid times"),
        ("08:00-24:30", "must be a time range HH:MM-HH:MM with valid times"),
        ("10:00-09:00", "must end after it starts (HH:MM-HH:MM)"),
        ("10:00-10:00", "must end after it starts (HH:MM-HH:MM)"),
    ],
)
def test_a_time_range_must_be_a_valid_hh_mm_range(time_range: str, rule: str) -> None:
    assert problems(f'business_hours: {{weekly: {{tue: ["{time_range}"]}}}}') == [
        f"business_hours.weekly.tue[0]: {rule}"
    ]


def test_overlapping_ranges_on_one_day_are_refused() -> None:
    assert problems('business_hours: {weekly: {mon: ["08:00-12:00", "11:00-13:00"]}}') == [
        "business_hours.weekly.mon: ranges 08:00-12:00 and 11:00-13:00 overlap"
    ]


def test_ranges_with_the_same_start_overlap() -> None:
    assert problems('business_hours: {breaks: {tue: ["08:00-12:00", "08:00-13:00"]}}') == [
        "business_hours.breaks.tue: ranges 08:00-12:00 and 08:00-13:00 overlap"
    ]


def test_the_same_range_twice_is_refused() -> None:
    assert problems('business_hours: {breaks: {tue: ["12:00-12:30", "12:00-12:30"]}}') == [
        "business_hours.breaks.tue: the same range is listed twice"
    ]


def test_adjacent_ranges_do_not_overlap() -> None:
    doc = parse('business_hours: {weekly: {mon: ["08:00-12:00", "12:00-16:00"]}}')
    assert doc.business_hours.weekly["mon"] == ["08:00-12:00", "12:00-16:00"]


def test_a_day_must_be_mon_to_sun() -> None:
    assert problems('business_hours: {weekly: {monday: ["08:00-16:30"]}}') == [
        "business_hours.weekly.monday: not a day; use one of mon, tue, wed, thu, fri, sat, sun"
    ]


def test_holidays_have_a_date_a_name_and_maybe_an_end_date() -> None:
    doc = parse(
        """
        business_hours:
          holidays:
            - {date: "2026-12-24", name: Christmas Eve}
            - {date: "2026-12-28", end_date: "2026-12-31", name: Closed}
        """
    )
    eve, closed = doc.business_hours.holidays
    assert (eve.date, eve.name, eve.end_date) == (dt.date(2026, 12, 24), "Christmas Eve", None)
    assert closed.end_date == dt.date(2026, 12, 31)


def test_a_holiday_date_must_be_a_date() -> None:
    assert problems('business_hours: {holidays: [{date: "24.12.2026"}]}') == [
        "business_hours.holidays[0].date: must be a date YYYY-MM-DD"
    ]


def test_a_holiday_cannot_end_before_it_starts() -> None:
    text = 'business_hours: {holidays: [{date: "2026-12-28", end_date: "2026-12-27"}]}'
    assert problems(text) == ["business_hours.holidays[0].end_date: must not be before date"]


# --- Ring groups and queues -------------------------------------------------------------


def test_a_ring_group_cannot_contain_itself() -> None:
    assert problems('ring_groups: [{number: "6300", members: ["6300"]}]') == [
        "ring_groups[0].members: a ring group cannot contain itself"
    ]


def test_a_ring_group_cannot_fail_over_to_itself() -> None:
    assert problems('ring_groups: [{number: "6300", failover: {ring_group: "6300"}}]') == [
        "ring_groups[0].failover: a ring group cannot fail over to itself"
    ]


def test_a_queue_cannot_contain_or_fail_over_to_itself() -> None:
    assert problems('queues: [{number: "6400", members: ["6400"]}]') == [
        "queues[0].members: a queue cannot contain itself"
    ]
    assert problems('queues: [{number: "6400", failover: {queue: "6400"}}]') == [
        "queues[0].failover: a queue cannot fail over to itself"
    ]


def test_a_group_failover_names_the_mailbox() -> None:
    assert problems('ring_groups: [{number: "6300", failover: {voicemail: true}}]') == [
        'ring_groups[0].failover: name the mailbox, e.g. {voicemail: "101"}'
    ]
    assert problems('queues: [{number: "6400", failover: {voicemail: true}}]') == [
        'queues[0].failover: name the mailbox, e.g. {voicemail: "101"}'
    ]


def test_a_member_is_listed_once() -> None:
    text = """
        extensions: [{number: "101"}]
        ring_groups: [{number: "6300", members: ["101", "101"]}]
        """
    assert problems(text) == ["ring_groups[0].members: must not list an extension twice"]


def test_a_ring_group_has_a_known_strategy_and_a_5_to_300_second_timeout() -> None:
    assert problems('ring_groups: [{number: "6300", strategy: random, ring_timeout: 2}]') == [
        "ring_groups[0].strategy: must be one of ring_all or sequential",
        "ring_groups[0].ring_timeout: must be 5..300",
    ]


def test_a_ring_group_and_a_queue_take_defaults_and_their_number_as_name() -> None:
    doc = parse('{ring_groups: [{number: "6300"}], queues: [{number: "6400"}]}')
    group, queue = doc.ring_groups[0], doc.queues[0]
    assert (group.name, group.strategy.value, group.ring_timeout) == ("6300", "ring_all", 30)
    assert str(group.failover) == "hangup"
    assert (queue.name, queue.timeout, str(queue.failover)) == ("6400", 60, "hangup")


def test_a_group_failover_cannot_be_a_mobile_number() -> None:
    assert problems('ring_groups: [{number: "6300", failover: {mobile_number: true}}]') == [
        "ring_groups[0].failover: mobile_number needs an extension; use external_number"
    ]


# --- Trunks and routes ------------------------------------------------------------------


def test_a_register_trunk_needs_a_username() -> None:
    assert problems("trunks: [{name: provider, type: register, host: sip.example.net}]") == [
        "trunks[0].username: required for a register trunk"
    ]


def test_a_peer_trunk_does_not_register() -> None:
    text = "trunks: [{name: office, type: peer, host: 192.0.2.1, username: x}]"
    assert problems(text) == [
        "trunks[0].username: a peer trunk does not register (use a register trunk)"
    ]


def test_a_trunk_needs_a_codec_listed_once() -> None:
    assert problems("trunks: [{name: office, type: peer, host: 192.0.2.1, codecs: []}]") == [
        "trunks[0].codecs: must list at least one codec"
    ]
    assert problems("trunks: [{name: o, type: peer, host: 192.0.2.1, codecs: [PCMA, PCMA]}]") == [
        "trunks[0].codecs: must not list a codec twice"
    ]


def test_names_are_readable_slugs() -> None:
    assert problems('trunks: [{name: "my trunk!", type: peer, host: 192.0.2.1}]') == [
        "trunks[0].name: must be 1-63 letters, digits, spaces, _ . or -, "
        "starting with a letter or digit"
    ]


def test_an_inbound_route_names_the_mailbox() -> None:
    text = "inbound_routes: [{name: main, did: '1', destination: {voicemail: true}}]"
    assert problems(text) == [
        'inbound_routes[0].destination: name the mailbox, e.g. {voicemail: "101"}'
    ]


def test_an_inbound_did_is_a_dial_pattern() -> None:
    text = "inbound_routes: [{name: main, did: '+420[5', destination: {hangup: true}}]"
    assert problems(text) == [
        "inbound_routes[0].did: not a valid dial pattern: '[' at position 5 is never closed"
    ]


def test_an_outbound_pattern_must_be_a_dial_pattern() -> None:
    text = """
        trunks: [{name: provider, type: peer, host: 192.0.2.1}]
        outbound_routes: [{name: national, patterns: ["NXX]"], trunks: [provider]}]
        """
    assert problems(text) == [
        "outbound_routes[0].patterns[0]: not a valid dial pattern: "
        "']' at position 4 has no matching '['"
    ]


def test_an_enabled_outbound_route_needs_a_trunk_and_a_pattern() -> None:
    assert problems("outbound_routes: [{name: national, patterns: []}]") == [
        "outbound_routes[0].patterns: must have at least 1 item"
    ]
    assert problems("outbound_routes: [{name: national, patterns: [NXXXXXXXX]}]") == [
        "outbound_routes[0].trunks: an enabled route needs at least one trunk"
    ]


def test_a_disabled_outbound_route_may_have_no_trunk() -> None:
    doc = parse("outbound_routes: [{name: old, enabled: false, patterns: [NXXXXXXXX]}]")
    assert doc.outbound_routes[0].trunks == []


@pytest.mark.parametrize(("strip", "ok"), [(0, True), (16, True), (17, False)])
def test_an_outbound_route_strips_0_to_16_digits(strip: int, ok: bool) -> None:
    text = f"""
        trunks: [{{name: provider, type: peer, host: 192.0.2.1}}]
        outbound_routes: [{{name: r, patterns: [X.], strip: {strip}, trunks: [provider]}}]
        """
    if ok:
        assert parse(text).outbound_routes[0].strip == strip
    else:
        assert problems(text) == ["outbound_routes[0].strip: must be 0..16"]


# --- System -----------------------------------------------------------------------------


def test_the_system_needs_an_iana_time_zone() -> None:
    assert problems("system: {timezone: Prague}") == [
        "system.timezone: must be an IANA time zone like Europe/Prague"
    ]


def test_emergency_numbers_are_2_to_8_digits_listed_once() -> None:
    assert problems('system: {emergency_numbers: ["1"]}') == [
        "system.emergency_numbers[0]: must be 2-8 digits"
    ]
    assert problems('system: {emergency_numbers: ["112", "112"]}') == [
        "system.emergency_numbers: must not list a number twice"
    ]


def test_system_prefixes_keep_their_zeros() -> None:
    doc = parse("system: {country_code: 420, international_prefix: 00}")
    assert (doc.system.country_code, doc.system.international_prefix) == ("420", "00")


@pytest.mark.parametrize("key", ["extension", "voicemail", "ring_group", "hangup"])
def test_a_destination_with_a_null_value_is_refused(key: str) -> None:
    """{"extension": null} names no destination: refused at validation (found by
    schemathesis: an inbound route stored so made every call-path and call decision fail)."""
    with pytest.raises(ValidationError, match=f"{key}: needs a value"):
        Destination.model_validate({key: None})
