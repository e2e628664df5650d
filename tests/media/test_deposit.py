"""Leaving a message with the media service directly (the SIP core's part is in
test_through_kamailio.py)."""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time
from pathlib import Path
from typing import Any

from mailbox_config import data_dir, doc
from phone import Phone

from klapka.media import g711
from klapka.media.service import MediaService
from klapka.services.directory.config import ConfigService
from klapka.services.telephony import wav


def speech_like(seconds: float) -> bytes:
    """A tone sweep loud enough to count as voice."""
    n = int(8000 * seconds)
    return struct.pack(
        f"<{n}h", *(int(9000 * math.sin(2 * math.pi * (300 + i / 20) * i / 8000)) for i in range(n))
    )


async def leave_message(media: MediaService, audio: bytes, codecs: tuple[int, ...] = (0, 8),
                        hang_up: bool = True, skip_greeting: bool = False) -> Phone:  # fmt: skip
    phone = await Phone("102", "", ("127.0.0.1", media.port)).open()
    final = await phone.dial("vm-101", codecs=codecs,
                             extra=[("X-Klapka-Caller", "102"), ("X-Klapka-Caller-Name", "Bob")])  # fmt: skip
    assert final.status == 200, final.first_line
    if skip_greeting:
        await phone.dtmf("#")  # straight to the tone
    # The greeting ends with a tone: record starts after it; wait until the service is quiet.
    await wait_for_tone_end(phone)
    await phone.send_audio(audio)
    await asyncio.sleep(0.1)
    if hang_up:
        assert (await phone.bye()).status == 200
    return phone


async def wait_for_tone_end(phone: Phone, timeout: float = 30) -> None:
    """Until the greeting and the beep have been heard: a second of silence after sound
    (pauses inside the spoken prompts are shorter)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    checked = 0
    last_loud: int | None = None
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        heard = bytes(phone.heard)
        fresh = heard[checked : len(heard) // 2 * 2]
        for start in range(0, len(fresh) - 1, 320):
            frame = struct.unpack(
                f"<{len(fresh[start : start + 320]) // 2}h", fresh[start : start + 320]
            )
            if frame and max(abs(s) for s in frame) > 3000:
                last_loud = checked + start
        checked += len(fresh)
        if last_loud is not None and checked - last_loud >= 16000:
            return
    raise AssertionError("no greeting and tone heard")


def wait_messages(media: MediaService, mailbox: str, count: int, timeout: float = 5) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = media.store.messages(mailbox)
        if len(messages) >= count:
            return messages
        time.sleep(0.05)
    return media.store.messages(mailbox)


def test_a_message_left_is_stored_as_the_audio_that_was_sent(media: MediaService) -> None:
    audio = speech_like(3.0)

    async def run() -> None:
        phone = await leave_message(media, audio)
        phone.close()

    asyncio.run(run())
    messages = wait_messages(media, "101", 1)
    assert len(messages) == 1
    m = messages[0]
    assert (m.state, m.caller_number, m.caller_name) == ("new", "102", "Bob")
    stored = wav.read_pcm(media.store.audio_path(m))
    expected = g711.decode(g711.encode(audio, g711.PCMU), g711.PCMU)
    assert expected in stored or stored.startswith(expected[: len(stored)])
    assert 2900 <= m.duration_ms <= 3100


def test_a_greeting_recorded_by_phone_is_played_to_the_next_caller(media: MediaService) -> None:
    greeting = g711.decode(g711.encode(speech_like(1.5), g711.PCMU), g711.PCMU)

    async def record() -> None:
        phone = await Phone("101", "", ("127.0.0.1", media.port)).open()
        assert (await phone.dial("vmr-101", codecs=(g711.PCMU,))).status == 200
        await asyncio.sleep(0.2)
        await phone.dtmf("4321#")
        await asyncio.sleep(0.5)
        await phone.dtmf("9")  # record a greeting
        await asyncio.sleep(0.3)
        await phone.dtmf("2")  # for "away"
        await wait_for_tone_end(phone)
        await phone.send_audio(greeting)
        await phone.dtmf("#")
        await asyncio.sleep(0.5)
        await phone.bye()
        phone.close()

    asyncio.run(record())
    path = media.store.greeting_file("101", "away")
    assert greeting in wav.read_pcm(path)

    async def call() -> bytes:
        phone = await Phone("102", "", ("127.0.0.1", media.port)).open()
        final = await phone.dial("vm-101", codecs=(g711.PCMU,), extra=[("X-Klapka-Status", "away")])
        assert final.status == 200
        await wait_for_tone_end(phone)
        await phone.bye()
        phone.close()
        return bytes(phone.heard)

    assert greeting in asyncio.run(call())


def _deposit(media: MediaService, audio: bytes) -> list:
    async def run() -> None:
        (await leave_message(media, audio, skip_greeting=True)).close()

    asyncio.run(run())
    time.sleep(0.5)  # the service finishes the message after the BYE
    return media.store.messages("101")


def test_silence_only_and_too_short_messages_are_discarded(media: MediaService) -> None:
    assert _deposit(media, bytes(2 * 8000 * 3)) == []  # three seconds of silence
    assert _deposit(media, speech_like(1.0)) == []  # shorter than min_message_seconds (2)
    assert [m.duration_ms for m in _deposit(media, speech_like(2.4))] == [2400]
    assert list(media.store.folder("101").glob("*.wav")) == [
        media.store.audio_path(media.store.messages("101")[0])
    ]  # the discarded recordings' files are gone too


def test_with_discard_silence_off_a_silent_message_is_kept(media: MediaService, pbx: Any) -> None:
    ConfigService(pbx).apply(
        doc(
            {
                "number": "101",
                "voicemail": {"pin": "4321", "discard_silence": False, "min_message_seconds": 0},
            }
        )
    )
    [message] = _deposit(media, bytes(2 * 8000 * 1))
    assert message.duration_ms == 1000


def test_the_service_starts_again_when_its_sip_socket_is_lost(media: MediaService) -> None:
    port = media.port
    assert media.loop is not None and media.ua is not None
    media.loop.call_soon_threadsafe(media.ua.transport.close)  # as if the socket failed
    deadline = time.monotonic() + 10
    while (
        media.restarts < 1 or not media.ready.is_set() or media.ua is None or media.ua.lost.is_set()
    ):
        assert time.monotonic() < deadline, "not restarted"
        time.sleep(0.05)
    assert media.port == port  # the same port again: Kamailio's view (media.json) holds
    options = (
        f"OPTIONS sip:vm@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKo1\r\n"
        "From: <sip:t@klapka>;tag=1\r\nTo: <sip:vm@klapka>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for _ in range(20):  # the new socket may take a moment
            sock.sendto(options, ("127.0.0.1", port))
            try:
                assert sock.recv(4096).startswith(b"SIP/2.0 200")
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no answer after the restart")
    assert media.address_file.exists()


def test_on_every_address_the_audio_is_answered_where_the_call_came_in(
    pbx: Any, tmp_path: Path, prompt_cache: Path
) -> None:
    """``klapka serve`` with SIP on 0.0.0.0: the SDP names the PBX address Kamailio received
    the call on (X-Klapka-Local), never 0.0.0.0, and the message is recorded."""
    from klapka.media.sdp import parse_offer

    ConfigService(pbx).apply(doc({"number": "101"}))
    service = MediaService(pbx, data_dir(tmp_path, prompt_cache), rtp_host="0.0.0.0")
    service.start()
    try:

        async def run() -> None:
            phone = await Phone("102", "", ("127.0.0.1", service.port)).open()
            extra = [("X-Klapka-Caller", "102"), ("X-Klapka-Local", "127.0.0.1")]
            final = await phone.dial("vm-101", extra=extra)
            assert final.status == 200, final.first_line
            assert parse_offer(final.body.decode()).address == "127.0.0.1"
            await wait_for_tone_end(phone)
            await phone.send_audio(speech_like(2.0))
            assert (await phone.bye()).status == 200
            phone.close()

        asyncio.run(run())
        assert len(wait_messages(service, "101", 1)) == 1
    finally:
        service.stop()


def test_a_caller_to_a_czech_mailbox_hears_its_prompts_in_czech(
    media: MediaService, pbx: Any
) -> None:
    ConfigService(pbx).apply(doc({"number": "101", "voicemail": {"language": "cs"}}))

    async def run() -> bytes:
        phone = await leave_message(media, speech_like(1.0), codecs=(g711.PCMU,))
        phone.close()
        return bytes(phone.heard)

    heard = asyncio.run(run())
    czech = media.prompts.get("leave_message", "cs")
    assert g711.decode(g711.encode(czech, g711.PCMU), g711.PCMU) in heard
    english = media.prompts.get("leave_message", "en")
    assert g711.decode(g711.encode(english, g711.PCMU), g711.PCMU)[:8000] not in heard
