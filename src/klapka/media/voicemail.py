"""What a call to the media service does, by its request URI (set by the KEMI adapter):

vm-<mailbox>      deposit: greeting (of the presence status in X-Klapka-Status), tone,
                  record until # / hang-up / the length limit; kept unless too short or
                  silent
greet-<mailbox>   the greeting, then hang up
vmr-<mailbox>     retrieval (``*2`` own mailbox, ``*3<mailbox>`` any): PIN, menu
vmr               retrieval asking for the mailbox number first
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections.abc import Callable
from zoneinfo import ZoneInfo

from klapka.media.prompts import PHRASES, Prompts, language_of, silence, tone
from klapka.media.ua import Call
from klapka.services.telephony import wav
from klapka.services.telephony.voicemail import NEW, OLD, Mailbox, Message, VoicemailStore

log = logging.getLogger("klapka.media")

VOICE_LEVEL = 600  # peak of a 20 ms frame that counts as sound (about -35 dBFS)
VOICED_FRAMES = 5  # 100 ms of sound makes a message worth keeping
DIGIT_WAIT = 6.0
PIN_ATTEMPTS = 3
GREETING_DIGITS = {"0": "default", "1": "available", "2": "away", "3": "business_trip",
                   "4": "do_not_disturb", "5": "lunch_break", "6": "off_work"}  # fmt: skip
MAX_GREETING_SECONDS = 120


class VoiceDetector:
    """Counts 20 ms frames with sound in them."""

    def __init__(self) -> None:
        self.voiced = 0
        self.pending = b""

    def feed(self, pcm: bytes) -> None:
        if self.voiced >= VOICED_FRAMES:
            return  # decided: nothing more to look at
        data = self.pending + pcm
        usable = len(data) // 320 * 320
        self.pending = data[usable:]
        for start in range(0, usable, 320):
            frame = array("h", data[start : start + 320])
            if max(frame) > VOICE_LEVEL or -min(frame) > VOICE_LEVEL:
                self.voiced += 1

    @property
    def has_voice(self) -> bool:
        return self.voiced >= VOICED_FRAMES


class VoicemailApp:
    def __init__(
        self,
        store: VoicemailStore,
        prompts: Prompts,
        changed: Callable[[str], None] = lambda mailbox: None,
    ) -> None:
        self.store = store
        self.prompts = prompts
        self.changed = changed  # a mailbox's messages changed: MWI, email

    async def on_invite(self, call: Call) -> None:
        target = call.target
        kind, _, mailbox = target.partition("-")
        if kind == "vm" and mailbox:
            await self.deposit(call, mailbox)
        elif kind == "greet" and mailbox:
            await self.greeting_only(call, mailbox)
        elif kind == "vmr":
            await self.retrieval(call, mailbox or None)
        else:
            call.reject(404, "No such mailbox service")

    async def say(self, text: str, language: str) -> bytes:
        return await asyncio.to_thread(self.prompts.say, text, language)

    async def system_language(self) -> str:
        """The PBX's prompt language: before a mailbox is known, or without one."""
        return await asyncio.to_thread(self.store.language)

    async def greeting(self, box: Mailbox, status: str | None) -> bytes:
        path = self.store.greeting_for(box, status)
        if path is not None:
            try:
                return await asyncio.to_thread(wav.read_pcm, path)
            except (OSError, ValueError, EOFError):
                log.warning("greeting %s unreadable; the generated one is played", path)
        language = language_of(box.language)
        if not box.number:
            return self.prompts.get("unavailable", language)
        return await self.say(PHRASES[language].unavailable(box.number), language)

    # --- deposit ----------------------------------------------------------------------

    async def deposit(self, call: Call, number: str) -> None:
        box = await asyncio.to_thread(self.store.mailbox, number)
        if box is None or not box.settings.enabled:
            call.reject(404, "No such mailbox")
            return
        new, old = await asyncio.to_thread(self.store.counts, number)
        await call.answer()
        language = box.language  # the callee's: the caller hears its mailbox's prompts
        if new + old >= box.settings.max_messages:
            await call.play(self.prompts.get("mailbox_full", language))
            return
        greeting = await self.greeting(box, call.header("X-Klapka-Status"))
        await call.play(greeting + silence(0.2) + self.prompts.get("leave_message", language),
                        "#")  # fmt: skip
        await call.play(tone(1000, 0.4))
        message_id, path = await asyncio.to_thread(
            self.store.begin, number, call.caller_number, call.caller_name
        )
        writer = wav.WavWriter(path)
        voice = VoiceDetector()

        def sink(pcm: bytes) -> None:
            writer.write(pcm)
            voice.feed(pcm)

        try:
            ended = await call.record(sink, box.settings.max_message_seconds, "#")
        finally:
            writer.close()
        seconds = writer.seconds
        keep = seconds >= box.settings.min_message_seconds and (
            voice.has_voice or not box.settings.discard_silence
        )
        message = await asyncio.to_thread(self.store.finish, message_id, int(seconds * 1000), keep)
        log.info(
            "mailbox %s: %.1f s from %s %s (%s)", number, seconds, call.caller_number,
            "kept" if message else "discarded (too short or silent)", ended,
        )  # fmt: skip
        if message is not None:
            self.changed(number)
        if ended != "hangup":
            await call.play(self.prompts.get("goodbye", language))

    async def greeting_only(self, call: Call, number: str) -> None:
        box = await asyncio.to_thread(self.store.mailbox, number)
        await call.answer()
        if box is None:
            await call.play(self.prompts.get("greeting_is", await self.system_language()))
            return
        await call.play(await self.greeting(box, call.header("X-Klapka-Status")))

    # --- retrieval --------------------------------------------------------------------

    async def retrieval(self, call: Call, number: str | None) -> None:
        await call.answer()
        system = await self.system_language()
        if number is None:
            first = await call.play(self.prompts.get("enter_mailbox", system), "0123456789#")
            number = await call.read_digits(DIGIT_WAIT, first)
        box = await asyncio.to_thread(self.store.mailbox, number) if number else None
        if box is None or not box.settings.enabled:
            await call.play(self.prompts.get("goodbye", system))
            return
        if box.settings.pin_authentication and not await self.login(call, box):
            await call.play(self.prompts.get("goodbye", box.language))
            return
        await self.main_menu(call, box)
        await call.play(self.prompts.get("goodbye", box.language))

    async def login(self, call: Call, box: Mailbox) -> bool:
        for _ in range(PIN_ATTEMPTS):
            first = await call.play(self.prompts.get("enter_pin", box.language), "0123456789*#")
            entered = await call.read_digits(DIGIT_WAIT, first)
            if box.settings.pin and entered == box.settings.pin:
                return True
            log.info("mailbox %s: wrong PIN from %s", box.number, call.caller_number)
            await call.play(self.prompts.get("wrong_pin", box.language))
        return False

    async def main_menu(self, call: Call, box: Mailbox) -> None:
        silent_rounds = 0
        while silent_rounds < 3:
            new, old = await asyncio.to_thread(self.store.counts, box.number)
            language = language_of(box.language)
            summary = await self.say(PHRASES[language].counts(new, old), language)
            digit = await call.play(summary + self.prompts.get("main_menu", language), "19*")
            if digit is None:
                digit = await call.digit(DIGIT_WAIT)
            if digit is None:
                silent_rounds += 1
                continue
            silent_rounds = 0
            if digit == "1":
                await self.listen(call, box)
            elif digit == "9":
                await self.record_greeting(call, box)
            elif digit == "*":
                return

    async def envelope(self, box: Mailbox, message: Message) -> bytes:
        language = language_of(box.language)
        phrases, parts = PHRASES[language], []
        if box.settings.play_date_and_time:
            at = message.received_at.astimezone(ZoneInfo(box.timezone))  # the PBX's local time
            parts.append(phrases.received(at))
        if box.settings.play_caller_number:
            parts.append(phrases.caller(message.caller_number or ""))
        if box.settings.play_duration:
            parts.append(phrases.seconds(max(1, round(message.duration_ms / 1000))))
        return await self.say(" ".join(parts), language) if parts else b""

    async def listen(self, call: Call, box: Mailbox) -> None:
        queue = await asyncio.to_thread(self.store.messages, box.number, NEW)
        queue += await asyncio.to_thread(self.store.messages, box.number, OLD)
        index = 0
        while index < len(queue):
            message = queue[index]
            audio = await asyncio.to_thread(wav.read_pcm, self.store.audio_path(message))
            envelope = await self.envelope(box, message)
            digit = await call.play(envelope + audio + silence(0.3), "137*")
            if message.state == NEW:
                await asyncio.to_thread(self.store.mark, box.number, message.id, OLD)
                self.changed(box.number)
            if digit is None:
                digit = await call.play(self.prompts.get("message_menu", box.language), "137*")
            if digit is None:
                digit = await call.digit(DIGIT_WAIT)
            if digit == "1":
                continue  # the same message again
            if digit == "7":
                await asyncio.to_thread(self.store.delete, box.number, message.id)
                self.changed(box.number)
                await call.play(self.prompts.get("deleted", box.language))
            elif digit == "*":
                return
            index += 1
        await call.play(self.prompts.get("no_more_messages", box.language))

    async def record_greeting(self, call: Call, box: Mailbox) -> None:
        digit = await call.play(self.prompts.get("greeting_menu", box.language), "0123456")
        if digit is None:
            digit = await call.digit(DIGIT_WAIT)
        slot = GREETING_DIGITS.get(digit or "")
        if slot is None:
            return
        await call.play(self.prompts.get("record_greeting", box.language))
        await call.play(tone(1000, 0.4))
        recorded = bytearray()
        await call.record(recorded.extend, MAX_GREETING_SECONDS, "#")
        await asyncio.to_thread(self.store.record_greeting, box.number, slot, bytes(recorded))
        await call.play(self.prompts.get("greeting_saved", box.language))
