"""Listening to voicemail by phone through the SIP core: *2 for the own mailbox, *3 plus a
mailbox number; PIN, menu by RFC 4733 events and SIP INFO, delete."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mailbox_config import PASSWORDS, doc
from phone import Phone
from test_deposit import speech_like
from test_through_kamailio import apply

from klapka.media import g711
from klapka.services.directory.config import ConfigService
from klapka.services.telephony import wav
from klapka.services.telephony.voicemail import VoicemailStore

pytestmark = pytest.mark.slow


def store_message(store: VoicemailStore, mailbox: str, seconds: float) -> tuple[int, bytes]:
    message_id, path = store.begin(mailbox, "0601555111", "Carol")
    audio = g711.decode(g711.encode(speech_like(seconds), g711.PCMU), g711.PCMU)
    wav.write_pcm(path, audio)
    message = store.finish(message_id, int(seconds * 1000), keep=True)
    assert message is not None
    return message_id, audio


async def until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_own_mailbox_with_a_wrong_then_the_right_pin_plays_and_deletes(pbx_with_sip: Any) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc({"number": "101", "voicemail": {"pin": "4321"}}))
    first_id, first_audio = store_message(media.store, "101", 1.5)
    second_id, second_audio = store_message(media.store, "101", 1.0)

    async def run() -> None:
        phone = await Phone("101", PASSWORDS["101"], ("127.0.0.1", core.udp_port)).open()
        final = await phone.dial("*2")
        assert final.status == 200, final.first_line
        await asyncio.sleep(0.3)
        await phone.dtmf("1111#")  # wrong
        await asyncio.sleep(0.5)
        await phone.dtmf("4321#")
        await asyncio.sleep(1.0)
        await phone.dtmf("1")  # listen (interrupts the main menu)
        await until(lambda: first_audio in bytes(phone.heard))
        await until(lambda: media.store.message("101", first_id).state == "old", 5)  # heard
        await phone.dtmf("7")  # delete it
        await until(lambda: [m.id for m in media.store.messages("101")] == [second_id], 10)
        await until(lambda: second_audio in bytes(phone.heard))  # then the next one plays
        assert (await phone.info("*")).status == 200  # back to the main menu, by SIP INFO
        await asyncio.sleep(0.5)
        assert (await phone.info("*")).status == 200  # hang up
        await asyncio.wait_for(phone.ended.wait(), 20)  # the service says goodbye, hangs up
        phone.close()

    asyncio.run(run())
    assert media.store.message("101", second_id).state == "old"


def test_three_wrong_pins_end_the_call(pbx_with_sip: Any) -> None:
    _pbx, core, media = pbx_with_sip
    apply(pbx_with_sip, doc({"number": "103", "voicemail": {"pin": "4321"}}))
    message_id, _ = store_message(media.store, "103", 1.0)

    async def run() -> None:
        phone = await Phone("101", PASSWORDS["101"], ("127.0.0.1", core.udp_port)).open()
        final = await phone.dial("*3103")  # any mailbox, by its number
        assert final.status == 200, final.first_line
        await asyncio.sleep(0.3)
        for _ in range(3):
            await phone.dtmf("0000#")
            await asyncio.sleep(0.3)
        await asyncio.wait_for(phone.ended.wait(), 30)
        phone.close()

    asyncio.run(run())
    assert media.store.message("103", message_id).state == "new"


def test_the_envelope_says_the_caller_and_the_length_before_the_message(
    media: Any, pbx: Any
) -> None:
    ConfigService(pbx).apply(doc({"number": "101", "voicemail": {
        "pin": "4321", "play_caller_number": True, "play_duration": True}}))  # fmt: skip
    _id, audio = store_message(media.store, "101", 1.0)
    spoken = media.prompts.say("From 0 6 0 1 5 5 5 1 1 1. 1 seconds.")
    envelope = g711.decode(g711.encode(spoken, g711.PCMU), g711.PCMU)  # as the phone hears it

    async def run() -> bytes:
        phone = await Phone("101", "", ("127.0.0.1", media.port)).open()
        assert (await phone.dial("vmr-101", codecs=(g711.PCMU,))).status == 200
        await asyncio.sleep(0.2)
        await phone.dtmf("4321#")
        await asyncio.sleep(0.5)
        await phone.dtmf("1")
        await until(lambda: audio in bytes(phone.heard))
        await phone.bye()
        phone.close()
        return bytes(phone.heard)

    heard = asyncio.run(run())
    assert envelope + audio in heard


def test_repeat_plays_again_skip_moves_on_and_a_message_cut_by_hanging_up_stays_new(
    media: Any,
) -> None:
    first_id, first_audio = store_message(media.store, "101", 1.0)
    second_id, second_audio = store_message(media.store, "101", 1.0)

    async def run() -> None:
        phone = await Phone("101", "", ("127.0.0.1", media.port)).open()
        assert (await phone.dial("vmr-101", codecs=(g711.PCMU,))).status == 200
        await asyncio.sleep(0.2)
        await phone.dtmf("4321#")
        await asyncio.sleep(0.5)
        await phone.dtmf("1")  # listen
        await until(lambda: bytes(phone.heard).count(first_audio) == 1)
        await phone.dtmf("1")  # repeat
        await until(lambda: bytes(phone.heard).count(first_audio) == 2)
        await phone.dtmf("3")  # next, keeping the first
        await until(lambda: second_audio[:4000] in bytes(phone.heard))
        await phone.bye()  # while the second one plays
        phone.close()

    asyncio.run(run())
    states = {m.id: m.state for m in media.store.messages("101")}
    assert states == {first_id: "old", second_id: "new"}  # not heard to the end: still new


def _as_heard(pcm: bytes) -> bytes:
    return g711.decode(g711.encode(pcm, g711.PCMU), g711.PCMU)


def _owner_listens(media: Any, audio: bytes, first_prompt: bytes) -> bytes:
    """101 calls its mailbox, enters its PIN once ``first_prompt`` was heard, listens to
    its message (``audio``); what it heard."""

    async def run() -> bytes:
        phone = await Phone("101", "", ("127.0.0.1", media.port)).open()
        assert (await phone.dial("vmr-101", codecs=(g711.PCMU,))).status == 200
        await until(lambda: first_prompt in bytes(phone.heard))
        await phone.dtmf("4321#")
        await asyncio.sleep(0.5)
        await phone.dtmf("1")
        await until(lambda: audio in bytes(phone.heard))
        await phone.bye()
        phone.close()
        return bytes(phone.heard)

    return asyncio.run(run())


def test_a_czech_mailbox_speaks_czech_and_the_system_language_is_the_default(
    media: Any, pbx: Any
) -> None:
    """101's voicemail.language is cs: its owner hears the Czech PIN prompt and the Czech
    envelope ("Od 0 6 0 1 ... 1 sekunda."); with it unset, system.language (cs) speaks."""
    czech_pin = _as_heard(media.prompts.get("enter_pin", "cs"))[:8000]
    english_pin = _as_heard(media.prompts.get("enter_pin", "en"))[:8000]
    envelope = _as_heard(media.prompts.say("Od 0 6 0 1 5 5 5 1 1 1. 1 sekunda.", "cs"))
    for ext, system in (({"language": "cs"}, {}), ({}, {"language": "cs"})):
        ConfigService(pbx).apply(doc({"number": "101", "voicemail": {
            "pin": "4321", "play_caller_number": True, "play_duration": True, **ext}},
            system=system))  # fmt: skip
        message_id, audio = store_message(media.store, "101", 1.0)
        heard = _owner_listens(media, audio, czech_pin)
        assert english_pin not in heard
        assert envelope + audio in heard
        media.store.delete("101", message_id)
