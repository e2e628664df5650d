"""Each rule of an extension refuses bad input with the setting's path and the rule in words."""

from __future__ import annotations

import pytest

from .documents import extension, extension_problems

E = "extensions[0]"


# --- User -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1", "123456789", "10a", "+101", "", "1 01"])
def test_an_extension_number_must_be_2_to_8_digits(number: str) -> None:
    assert extension_problems(f'number: "{number}"') == [f"{E}.number: must be 2-8 digits"]


@pytest.mark.parametrize("number", ["10", "12345678", "0101"])
def test_two_to_eight_digits_are_accepted_leading_zero_kept(number: str) -> None:
    assert extension(f'number: "{number}"').number == number


def test_an_unquoted_number_with_a_leading_zero_stays_text() -> None:
    assert extension("number: 0101").number == "0101"


def test_a_missing_number_is_required() -> None:
    assert extension_problems("first_name: Jana") == [f"{E}.number: required"]


def test_names_are_at_most_63_characters() -> None:
    assert extension_problems(f'{{number: "101", first_name: {"x" * 64}}}') == [
        f"{E}.first_name: must have at most 63 characters"
    ]


def test_an_email_must_look_like_one() -> None:
    assert extension_problems('{number: "101", email: jana}') == [
        f"{E}.email: must be an email address like name@example.com"
    ]


@pytest.mark.parametrize("mobile", ["+420 777 123 456", "(0777) 123-456", "777.123.456*1#"])
def test_a_mobile_may_use_phone_punctuation(mobile: str) -> None:
    assert extension(f'{{number: "101", mobile: "{mobile}"}}').mobile == mobile


def test_a_mobile_must_not_contain_letters() -> None:
    assert extension_problems('{number: "101", mobile: "call me"}') == [
        f"{E}.mobile: must contain digits and only + ( ) - . * #"
    ]


@pytest.mark.parametrize(("count", "ok"), [(0, False), (1, True), (5, True), (6, False)])
def test_concurrent_registrations_are_1_to_5(count: int, ok: bool) -> None:
    text = f'{{number: "101", concurrent_registrations: {count}}}'
    if ok:
        assert extension(text).concurrent_registrations == count
    else:
        assert extension_problems(text) == [f"{E}.concurrent_registrations: must be 1..5"]


def test_a_sip_password_must_be_strong() -> None:
    assert extension_problems('{number: "101", sip_password: "short"}') == [
        f"{E}.sip_password: must be 8-63 characters"
    ]
    assert extension_problems('{number: "101", sip_password: "alllowercase1"}') == [
        f"{E}.sip_password: must contain digits, upper-case and lower-case letters"
    ]


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short1", "must be 10-63 characters"),
        ("nouppercase123", "must contain digits, upper-case and lower-case letters"),
        ("Secret101Pass", "must not contain the extension number"),
        ("MyNovakovaPass1", "must not contain the user's name"),
    ],
)
def test_the_portal_password_policy(password: str, rule: str) -> None:
    text = f'{{number: "101", first_name: Jana, last_name: Novakova, user_password: {password}}}'
    assert extension_problems(text) == [f"{E}.user_password: {rule}"]


def test_an_unknown_presence_status_lists_the_statuses() -> None:
    assert extension_problems('{number: "101", presence: holiday}') == [
        f"{E}.presence: must be one of available, away, business_trip, do_not_disturb, "
        "lunch_break or off_work"
    ]


# --- Presence ---------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [4, 301, 0])
def test_ring_timeout_must_be_5_to_300_seconds(timeout: int) -> None:
    text = f'{{number: "101", presence_settings: {{away: {{ring_timeout: {timeout}}}}}}}'
    assert extension_problems(text) == [f"{E}.presence_settings.away.ring_timeout: must be 5..300"]


@pytest.mark.parametrize("timeout", [5, 300])
def test_ring_timeout_limits_are_inclusive(timeout: int) -> None:
    text = f'{{number: "101", presence_settings: {{away: {{ring_timeout: {timeout}}}}}}}'
    assert extension(text).presence_settings.away.ring_timeout == timeout


@pytest.mark.parametrize("rule", ["busy", "no_answer"])
def test_do_not_disturb_has_only_an_always_rule(rule: str) -> None:
    text = f"""
        number: "101"
        presence_settings:
          do_not_disturb:
            internal: {{{rule}: {{hangup: true}}}}
        """
    assert extension_problems(text) == [
        f"{E}.presence_settings.do_not_disturb.internal: "
        "do_not_disturb has only an always rule (nothing rings in DND)"
    ]


def test_do_not_disturb_has_no_ring_settings() -> None:
    text = '{number: "101", presence_settings: {do_not_disturb: {ring_timeout: 20}}}'
    assert extension_problems(text) == [
        f"{E}.presence_settings.do_not_disturb.ring_timeout: "
        "not available in do_not_disturb (nothing rings)"
    ]


def test_a_class_cannot_ring_in_both_stages() -> None:
    text = """
        number: "101"
        presence_settings:
          available: {ring_first: [desk, web], ring_second: [web]}
        """
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.ring_second: web already rings in ring_first"
    ]


def test_an_unknown_endpoint_class_lists_the_classes() -> None:
    text = '{number: "101", presence_settings: {available: {ring_first: [desk, fax]}}}'
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.ring_first[1]: "
        "must be one of desk, mobile_app, desktop_app or web"
    ]


def test_ring_mobile_needs_a_mobile_number() -> None:
    text = '{number: "101", presence_settings: {away: {ring_mobile: {enabled: true}}}}'
    assert extension_problems(text) == [
        f"{E}.presence_settings.away.ring_mobile.enabled: "
        "needs the extension's mobile number (mobile)"
    ]


def test_ring_mobile_with_a_mobile_number_is_accepted() -> None:
    ext = extension(
        """
        number: "101"
        mobile: "+420777123456"
        presence_settings: {away: {ring_mobile: {enabled: true, prefix: "0"}}}
        """
    )
    assert ext.presence_settings.away.ring_mobile.enabled is True
    assert ext.presence_settings.away.ring_mobile.prefix == "0"


def test_forwarding_to_the_mobile_needs_a_mobile_number() -> None:
    text = """
        number: "101"
        presence_settings:
          away: {external: {no_answer: {mobile_number: true}}}
        """
    assert extension_problems(text) == [
        f"{E}.presence_settings.away.external.no_answer: "
        "needs the extension's mobile number (mobile)"
    ]


def test_an_extension_cannot_forward_to_itself() -> None:
    text = """
        number: "101"
        presence_settings:
          available: {internal: {busy: {extension: "101"}}}
        """
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.internal.busy: an extension cannot forward to itself"
    ]


def test_its_own_mailbox_by_number_is_fine() -> None:
    ext = extension(
        '{number: "101", presence_settings: {away: {external: {always: {voicemail: "101"}}}}}'
    )
    assert ext.presence_settings.away.external.always is not False


def test_a_destination_has_exactly_one_key() -> None:
    text = """
        number: "101"
        presence_settings:
          available: {external: {busy: {extension: "102", hangup: true}}}
        """
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.external.busy: a destination has exactly one key, "
        "one of: extension, voicemail, mobile_number, external_number, ring_group, queue, "
        "play_greeting_then_hangup, hangup"
    ]


def test_a_forward_rule_is_a_destination_or_false() -> None:
    text = '{number: "101", presence_settings: {available: {external: {busy: "102"}}}}'
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.external.busy: "
        'must be a destination like {extension: "102"}, or false'
    ]


def test_a_bad_forward_target_is_reported_once_at_the_target() -> None:
    text = '{number: "101", presence_settings: {available: {external: {busy: {extension: "1"}}}}}'
    assert extension_problems(text) == [
        f"{E}.presence_settings.available.external.busy.extension: must be 2-8 digits"
    ]


# --- Voicemail --------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["without_attachment", "off"])
def test_delete_after_emailing_needs_the_audio_attached(email: str) -> None:
    text = f"""
        number: "101"
        email: jana@example.com
        voicemail: {{new_message_email: {email}, after_emailing: delete}}
        """
    assert extension_problems(text) == [
        f"{E}.voicemail.after_emailing: delete needs new_message_email: with_attachment "
        "(a message is deleted only when its audio was sent)"
    ]


def test_delete_after_emailing_with_attachment_is_accepted() -> None:
    ext = extension(
        """
        number: "101"
        email: jana@example.com
        voicemail: {new_message_email: with_attachment, after_emailing: delete}
        """
    )
    assert ext.voicemail.after_emailing.value == "delete"


def test_voicemail_email_needs_an_address() -> None:
    text = '{number: "101", voicemail: {new_message_email: with_attachment}}'
    assert extension_problems(text) == [
        f"{E}.voicemail.new_message_email: needs the extension's email or voicemail.email_address"
    ]


def test_voicemail_email_may_go_to_another_address() -> None:
    ext = extension(
        """
        number: "101"
        voicemail: {new_message_email: without_attachment, email_address: office@example.com}
        """
    )
    assert ext.voicemail.email_address == "office@example.com"


def test_new_message_email_off_is_read_as_text_not_as_false() -> None:
    assert extension('{number: "101", voicemail: {new_message_email: off}}').voicemail.enabled


@pytest.mark.parametrize("pin", ["123", "12345678901234567", "12a4"])
def test_a_voicemail_pin_is_4_to_16_digits(pin: str) -> None:
    assert extension_problems(f'{{number: "101", voicemail: {{pin: "{pin}"}}}}') == [
        f"{E}.voicemail.pin: must be 4-16 digits"
    ]


def test_a_pin_keeps_its_leading_zero() -> None:
    assert extension('{number: "101", voicemail: {pin: 0042}}').voicemail.pin == "0042"


# --- Features ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secretary", ['{voicemail: "102"}', '{queue: "6400"}', '{external_number: "+420601234567"}']
)
def test_a_secretary_must_be_an_extension_or_a_ring_group(secretary: str) -> None:
    text = f'{{number: "101", features: {{boss: {{secretary: {secretary}}}}}}}'
    assert extension_problems(text) == [
        f"{E}.features.boss.secretary: must be an extension or a ring group"
    ]


def test_a_boss_needs_a_secretary() -> None:
    assert extension_problems('{number: "101", features: {boss: {call_type: all}}}') == [
        f"{E}.features.boss.secretary: required"
    ]


def test_a_boss_is_not_their_own_secretary() -> None:
    text = '{number: "101", features: {boss: {secretary: {extension: "101"}}}}'
    assert extension_problems(text) == [
        f"{E}.features.boss.secretary: an extension cannot forward to itself"
    ]


def test_a_caller_rule_pattern_must_be_a_dial_pattern() -> None:
    text = """
        number: "101"
        features:
          caller_rules: [{pattern: "12[3", action: {hangup: true}}]
        """
    assert extension_problems(text) == [
        f"{E}.features.caller_rules[0].pattern: "
        "not a valid dial pattern: '[' at position 3 is never closed"
    ]


def test_a_caller_rule_may_accept_or_go_to_any_destination() -> None:
    ext = extension(
        """
        number: "101"
        features:
          caller_rules:
            - {pattern: "+420228880555", action: {accept: true}}
            - {pattern: "+42022888XXXX", action: {play_greeting_then_hangup: true}}
            - {pattern: "0090.", action: {extension: "102"}}
        """
    )
    assert [str(r.action) for r in ext.features.caller_rules] == [
        "accept",
        "play_greeting_then_hangup",
        "extension 102",
    ]


def test_accept_is_true_or_absent() -> None:
    text = '{number: "101", features: {caller_rules: [{pattern: "1", action: {accept: false}}]}}'
    assert extension_problems(text) == [f"{E}.features.caller_rules[0].action.accept: must be true"]


def test_a_url_popup_needs_an_http_url() -> None:
    text = '{number: "101", features: {url_popup: {enabled: true, url: "ftp://crm"}}}'
    assert extension_problems(text) == [
        f"{E}.features.url_popup.url: must start with http:// or https://"
    ]


# --- Security, phones, function keys ----------------------------------------------------


def test_allowed_ips_must_be_networks_and_are_normalised() -> None:
    ext = extension('{number: "101", security: {allowed_ips: ["192.0.2.7/24", "198.51.100.7"]}}')
    assert ext.security.allowed_ips == ["192.0.2.0/24", "198.51.100.7/32"]
    assert extension_problems('{number: "101", security: {allowed_ips: ["10.0.0.0/40"]}}') == [
        f"{E}.security.allowed_ips[0]: must be an IP address or network like 192.0.2.0/24"
    ]


@pytest.mark.parametrize(
    "mac", ["00:15:65:1A:2B:3C", "00-15-65-1a-2b-3c", "0015.651a.2b3c", "001565 1A2B3C"]
)
def test_a_mac_address_is_normalised_to_12_lowercase_hex_digits(mac: str) -> None:
    ext = extension(f'{{number: "101", phones: [{{mac: "{mac}"}}]}}')
    assert ext.phones[0].mac == "0015651a2b3c"


@pytest.mark.parametrize("mac", ["00:15:65:1A:2B", "00:15:65:1A:2B:3G", ""])
def test_a_mac_address_must_have_12_hex_digits(mac: str) -> None:
    assert extension_problems(f'{{number: "101", phones: [{{mac: "{mac}"}}]}}') == [
        f"{E}.phones[0].mac: must be 12 hexadecimal digits (separators allowed)"
    ]


def test_the_same_phone_twice_is_refused_whatever_the_separators() -> None:
    text = '{number: "101", phones: [{mac: "00:15:65:1A:2B:3C"}, {mac: "0015651a2b3c"}]}'
    assert extension_problems(text) == [f"{E}.phones: the same MAC address is listed twice"]


def test_at_most_five_phones() -> None:
    phones = ", ".join(f'{{mac: "00156500000{i}"}}' for i in range(6))
    assert extension_problems(f'{{number: "101", phones: [{phones}]}}') == [
        f"{E}.phones: must have at most 5 items"
    ]


def test_a_function_key_position_is_used_once() -> None:
    text = '{number: "101", function_keys: [{key: 1, type: dnd}, {key: 1, type: park}]}'
    assert extension_problems(text) == [f"{E}.function_keys: the same key position is used twice"]


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("{key: 1, type: blf}", "function_keys[0].extension: required for a blf key"),
        ("{key: 1, type: speed_dial}", "function_keys[0].number: required for a speed_dial key"),
        ("{key: 1, type: presence}", "function_keys[0].status: required for a presence key"),
        (
            '{key: 1, type: dnd, extension: "102"}',
            "function_keys[0].extension: not used by a dnd key",
        ),
    ],
)
def test_a_function_key_has_exactly_the_value_its_type_needs(key: str, rule: str) -> None:
    assert extension_problems(f'{{number: "101", function_keys: [{key}]}}') == [f"{E}.{rule}"]


# --- Unknown fields and wrong types -----------------------------------------------------


def test_an_unknown_field_is_refused_where_it_is() -> None:
    assert extension_problems('{number: "101", colour: blue}') == [f"{E}.colour: unknown field"]
    assert extension_problems('{number: "101", presence_settings: {away: {ring_timout: 20}}}') == [
        f"{E}.presence_settings.away.ring_timout: unknown field"
    ]


@pytest.mark.parametrize(
    ("setting", "rule"),
    [
        ("concurrent_registrations: two", "concurrent_registrations: must be a whole number"),
        ("enabled: maybe", "enabled: must be true or false"),
        ("phones: none", "phones: must be a list"),
        ("voicemail: on", "voicemail: must be a mapping"),
        (
            "security: {frequency_limit: {calls: 1.5}}",
            "security.frequency_limit.calls: must be a whole number",
        ),
    ],
)
def test_a_wrong_type_names_the_type_expected(setting: str, rule: str) -> None:
    assert extension_problems(f'{{number: "101", {setting}}}') == [f"{E}.{rule}"]


def test_every_problem_of_an_extension_is_reported_at_once() -> None:
    text = """
        number: "101"
        colour: blue
        concurrent_registrations: 9
        presence_settings:
          away: {ring_timeout: 3}
        phones: [{mac: nope}]
        """
    assert sorted(extension_problems(text)) == sorted(
        [
            f"{E}.colour: unknown field",
            f"{E}.concurrent_registrations: must be 1..5",
            f"{E}.presence_settings.away.ring_timeout: must be 5..300",
            f"{E}.phones[0].mac: must be 12 hexadecimal digits (separators allowed)",
        ]
    )
