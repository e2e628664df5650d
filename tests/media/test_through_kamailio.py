"""Voicemail through the SIP core: Kamailio routes a call that nobody answers to the media
service, which records it; the access codes reach the mailbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import PASSWORDS, doc
from phone import Phone
from test_deposit import speech_like, wait_for_tone_end, wait_messages

from klapka.media import g711, wav
from klapka.services.config import ConfigService
from klapka.services.sip_directory import directory_version

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
