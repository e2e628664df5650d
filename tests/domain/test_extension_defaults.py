"""A new extension needs only a number and gets the defaults of docs/settings.md."""

from __future__ import annotations

import pytest

from klapka.domain.destinations import Destination
from klapka.domain.extension import (
    AfterEmailing,
    AgentAutoSwitch,
    Codec,
    DndSettings,
    DtmfMode,
    Extension,
    NewMessageEmail,
    Role,
    StatusSettings,
    Transport,
)
from klapka.domain.values import EndpointClass, PresenceStatus

from .documents import extension

OWN_VOICEMAIL = Destination(voicemail=True)
RINGING_STATUSES = [s for s in PresenceStatus if s is not PresenceStatus.DO_NOT_DISTURB]


@pytest.fixture
def new() -> Extension:
    return extension('number: "101"')


def test_a_number_is_all_a_new_extension_needs(new: Extension) -> None:
    assert new.number == "101"
    assert new.enabled is True
    assert new.role is Role.USER
    assert new.presence is PresenceStatus.AVAILABLE
    assert new.presence_note == ""


@pytest.mark.parametrize("status", RINGING_STATUSES, ids=str)
@pytest.mark.parametrize("kind", ["internal", "external"])
def test_no_answer_and_busy_go_to_own_voicemail_in_every_status(
    new: Extension, status: PresenceStatus, kind: str
) -> None:
    settings = new.presence_settings.of(status)
    assert isinstance(settings, StatusSettings)
    rules = getattr(settings, kind)
    assert rules.no_answer == OWN_VOICEMAIL
    assert rules.busy == OWN_VOICEMAIL


@pytest.mark.parametrize("status", RINGING_STATUSES, ids=str)
@pytest.mark.parametrize("kind", ["internal", "external"])
def test_always_forwarding_is_off_in_every_status(
    new: Extension, status: PresenceStatus, kind: str
) -> None:
    settings = new.presence_settings.of(status)
    assert getattr(settings, kind).always is False


@pytest.mark.parametrize("kind", ["internal", "external"])
def test_do_not_disturb_sends_every_call_to_own_voicemail(new: Extension, kind: str) -> None:
    dnd = new.presence_settings.do_not_disturb
    assert isinstance(dnd, DndSettings)
    assert getattr(dnd, kind).always == OWN_VOICEMAIL


@pytest.mark.parametrize("status", RINGING_STATUSES, ids=str)
def test_every_endpoint_class_rings_first_for_30_seconds(
    new: Extension, status: PresenceStatus
) -> None:
    settings = new.presence_settings.of(status)
    assert isinstance(settings, StatusSettings)
    assert settings.ring_first == [
        EndpointClass.DESK,
        EndpointClass.MOBILE_APP,
        EndpointClass.DESKTOP_APP,
        EndpointClass.WEB,
    ]
    assert settings.ring_second == []
    assert settings.ring_timeout == 30
    assert settings.ring_mobile.enabled is False
    assert settings.ring_mobile.prefix == ""
    assert settings.agent_auto_switch is AgentAutoSwitch.NO_ACTION


def test_voicemail_is_on_and_not_emailed(new: Extension) -> None:
    vm = new.voicemail
    assert vm.enabled is True
    assert vm.new_message_email is NewMessageEmail.OFF
    assert vm.after_emailing is AfterEmailing.NOTHING
    assert vm.pin_authentication is True
    assert (vm.play_date_and_time, vm.play_caller_number, vm.play_duration) == (
        False,
        False,
        False,
    )
    assert (vm.min_message_seconds, vm.max_message_seconds, vm.max_messages) == (2, 600, 100)


def test_secrets_left_out_are_none_for_the_service_to_keep_or_generate(new: Extension) -> None:
    assert new.sip_password is None
    assert new.user_password is None
    assert new.voicemail.pin is None


def test_features_all_busy_and_all_reject_off_monitoring_allowed(new: Extension) -> None:
    f = new.features
    assert f.all_busy is False
    assert f.all_reject is False
    assert f.allow_monitoring is True
    assert f.notify_password_change is True
    assert f.notify_missed_call is False
    assert f.presence_schedule is None
    assert f.boss is None
    assert f.caller_rules == []
    assert f.url_popup.enabled is False
    assert f.door_phone.enabled is False
    assert f.hot_desking is False


def test_outbound_and_international_calls_allowed_five_calls_per_second(
    new: Extension,
) -> None:
    s = new.security
    assert s.outbound_calls is True
    assert s.international_calls is True
    # true = calls are allowed outside business hours too: the restriction is off.
    assert s.outbound_outside_business_hours is True
    assert s.frequency_limit.enabled is True
    assert (s.frequency_limit.calls, s.frequency_limit.period_seconds) == (5, 1)
    assert s.allowed_ips == []
    assert s.max_call_seconds == 0
    assert s.require_2fa is False


def test_one_desk_registration_and_every_client_enabled(new: Extension) -> None:
    assert new.concurrent_registrations == 1
    assert new.clients.mobile_client is True
    assert new.clients.desktop_client is True
    assert new.clients.web_client is True


def test_advanced_defaults_rfc4733_udp_qualify_nat_no_srtp(new: Extension) -> None:
    a = new.advanced
    assert a.dtmf_mode is DtmfMode.RFC4733
    assert a.transport is Transport.UDP
    assert (a.qualify, a.nat, a.srtp) == (True, True, False)
    assert a.codecs == [Codec.PCMU, Codec.PCMA, Codec.G722, Codec.OPUS]


def test_without_names_the_first_name_is_the_number(new: Extension) -> None:
    assert new.first_name == "101"
    assert new.last_name == ""
    assert new.full_name == "101"


def test_a_last_name_alone_leaves_the_first_name_empty() -> None:
    ext = extension('{number: "101", last_name: Nováková}')
    assert ext.first_name == ""
    assert ext.full_name == "Nováková"


def test_caller_id_and_sip_username_default_to_name_and_number() -> None:
    ext = extension('{number: "101", first_name: Jana, last_name: Nováková}')
    assert ext.effective_caller_id_name == "Jana Nováková"
    assert ext.effective_caller_id_number == "101"
    assert ext.effective_sip_username == "101"


def test_a_status_written_in_the_document_changes_only_that_status() -> None:
    ext = extension(
        """
        number: "101"
        presence_settings:
          away: {ring_timeout: 20}
        """
    )
    away = ext.presence_settings.away
    assert away.ring_timeout == 20
    assert away.external.no_answer == OWN_VOICEMAIL
    assert ext.presence_settings.available.ring_timeout == 30


def test_a_forward_rule_set_to_false_is_off() -> None:
    ext = extension(
        """
        number: "101"
        presence_settings:
          available: {internal: {busy: false}}
        """
    )
    assert ext.presence_settings.available.internal.busy is False
    assert ext.presence_settings.available.external.busy == OWN_VOICEMAIL
