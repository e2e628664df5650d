"""Voicemail through the SIP core: Kamailio routes a call that nobody answers to the media
service, which records it; the access codes reach the mailbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mailbox_config import PASSWORDS, doc
from phone import Phone
from test_deposit import speech_like, wait_for_tone_end, wait_messages

from klapka.media import g711
from klapka.services.call_history import CallFilter, CallHistory
from klapka.services.directory.config import ConfigService
from klapka.services.telephony import wav
from klapka.services.telephony.sip_directory import directory_version

pytestmark = pytest.mark.slow


def apply(setup: tuple[Any, Any, Any], config: dict[str, Any]) -> None:
    pbx, core, _media = setup
    ConfigService(pbx).apply(config)
    deadline = time.monotonic() + 5
    while core.version != directory_version(pbx):
        assert time.monotonic() < deadline, "the SIP snapshot was not refreshed"
        time.sleep(0.05)


def test_a_call_to_an_extension_nobody_answers_lands_in_its_voicemail(pbx_with_sip: Any) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc({"number": "101", "first_name": "Alice"},
                            {"number": "102", "first_name": "Bob"}))  # fmt: skip
    audio = speech_like(2.5)

    async def run() -> None:
        phone = await Phone("102", PASSWORDS["102"], ("127.0.0.1", core.udp_port)).open()
        final = await phone.dial("101", codecs=(g711.PCMA,))
        assert final.status == 200, final.first_line
        await wait_for_tone_end(phone)
        await phone.send_audio(audio)
        await asyncio.sleep(0.1)
        assert (await phone.bye()).status == 200
        phone.close()

    asyncio.run(run())
    [message] = wait_messages(media, "101", 1)
    assert (message.caller_number, message.caller_name) == ("102", "Bob")
    stored = wav.read_pcm(media.store.audio_path(message))
    assert stored == g711.decode(g711.encode(audio, g711.PCMA), g711.PCMA)
    # The call history: not answered by a phone, left in voicemail (no registered phone:
    # no ring step), ended by the caller.
    deadline = time.monotonic() + 10
    while True:
        [record] = CallHistory(_pbx).search(CallFilter(), limit=1).items or [{"outcome": None}]
        if record["outcome"] is not None:
            break
        assert time.monotonic() < deadline, record
        time.sleep(0.1)
    assert (record["caller"], record["dialled"], record["outcome"]) == ("102", "101", "voicemail")
    assert (record["answered_by"], record["ended_by"]) == (None, "caller")


def test_a_greeting_outcome_plays_the_greeting_of_the_presence_status_then_hangs_up(
    pbx_with_sip: Any,
) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc({
        "number": "101", "presence": "away",
        "features": {"caller_rules": [{"pattern": "102", "action": {"play_greeting_then_hangup": True}}]},
    }))  # fmt: skip
    away = g711.decode(g711.encode(speech_like(1.2), g711.PCMU), g711.PCMU)
    wav.write_pcm(media.store.greeting_file("101", "away"), away)
    wav.write_pcm(media.store.greeting_file("101", "default"), bytes(16000))

    async def run() -> bytes:
        phone = await Phone("102", PASSWORDS["102"], ("127.0.0.1", core.udp_port)).open()
        final = await phone.dial("101", codecs=(g711.PCMU,))
        assert final.status == 200, final.first_line
        await asyncio.wait_for(phone.ended.wait(), 15)  # the service hangs up after it
        phone.close()
        return bytes(phone.heard)

    heard = asyncio.run(run())
    assert away in heard
    assert media.store.messages("101") == []  # nothing recorded


def test_a_new_message_lights_the_message_waiting_lamp_of_the_registered_phone(
    pbx_with_sip: Any,
) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc())

    async def run() -> None:
        desk = await Phone("101", PASSWORDS["101"], ("127.0.0.1", core.udp_port)).open()
        assert (await desk.register()).status == 200
        caller = await Phone("102", PASSWORDS["102"], ("127.0.0.1", core.udp_port)).open()
        # 101's phone is busy (486): the busy rule sends the call to 101's voicemail.
        assert (await caller.dial("101")).status == 200
        await caller.dtmf("#")  # skip the greeting
        await wait_for_tone_end(caller)
        await caller.send_audio(speech_like(2.5))
        await caller.bye()
        deadline = time.monotonic() + 10
        # The first NOTIFY came with the registration (no messages: lamp off); the next one
        # with the new message.
        while sum(r.method == "NOTIFY" for r in desk.requests) < 2:
            assert time.monotonic() < deadline, "no NOTIFY"
            await asyncio.sleep(0.05)
        first, notify = [r for r in desk.requests if r.method == "NOTIFY"][:2]
        assert "Messages-Waiting: no" in first.body.decode()
        assert notify.get("Event") == "message-summary"
        body = notify.body.decode()
        assert "Messages-Waiting: yes" in body and "Voice-Message: 1/0" in body
        assert [m.caller_number for m in media.store.messages("101")] == ["102"]
        desk.close()
        caller.close()

    asyncio.run(run())


def test_a_phone_that_registers_gets_the_message_waiting_state_at_once(pbx_with_sip: Any) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc())
    for _ in range(2):
        message_id, path = media.store.begin("101", "102", "Bob")
        wav.write_pcm(path, speech_like(1.0))
        media.store.finish(message_id, 1000, keep=True)
    media.store.mark("101", message_id, "old")

    async def run() -> str:
        desk = await Phone("101", PASSWORDS["101"], ("127.0.0.1", core.udp_port)).open()
        assert (await desk.register()).status == 200
        deadline = time.monotonic() + 10
        while not any(r.method == "NOTIFY" for r in desk.requests):
            assert time.monotonic() < deadline, "no NOTIFY after registering"
            await asyncio.sleep(0.05)
        desk.close()
        return next(r for r in desk.requests if r.method == "NOTIFY").body.decode()

    body = asyncio.run(run())
    assert "Messages-Waiting: yes" in body and "Voice-Message: 1/1" in body
