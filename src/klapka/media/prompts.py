"""Voice prompts, in English and Czech: generated with espeak-ng and sox into
``<data dir>/voicemail/prompts/`` (English) and ``prompts/<language>/`` (at first start),
each replaceable by a recorded file of the same name in ``prompts/custom/`` (English) or
``prompts/custom/<language>/`` (any WAV sox reads; converted on first use). Sentences that
depend on the message (the envelope, counts) are worded per language (``PHRASES``), spoken
on demand and cached.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from klapka.services.telephony import wav

log = logging.getLogger("klapka.media")

LANGUAGES = ("en", "cs")  # klapka.domain.values.VoiceLanguage
VOICES = {"en": "en", "cs": "cs"}  # espeak-ng's voice of each language
DEFAULT_LANGUAGE = "en"

ENGLISH = {
    "leave_message": "Please leave a message after the tone. Press hash when you are done.",
    "unavailable": "The person you are calling is not available.",
    "extension_unavailable": "is not available.",
    "mailbox_full": "The mailbox is full. Goodbye.",
    "enter_pin": "Please enter your PIN, then press hash.",
    "wrong_pin": "That PIN is not right.",
    "enter_mailbox": "Please enter the mailbox number, then press hash.",
    "goodbye": "Goodbye.",
    "main_menu": "Press 1 to listen to your messages. Press 9 to record a greeting. "
    "Press star to hang up.",
    "message_menu": "Press 1 to repeat, 7 to delete, 3 for the next message, "
    "star for the main menu.",
    "no_more_messages": "There are no more messages.",
    "deleted": "Message deleted.",
    "greeting_menu": "Press 0 for your default greeting, 1 for available, 2 for away, "
    "3 for business trip, 4 for do not disturb, 5 for lunch break, 6 for off work.",
    "record_greeting": "Record your greeting after the tone. Press hash when you are done.",
    "greeting_saved": "Greeting saved.",
    "greeting_is": "Thank you for calling. Goodbye.",
}
CZECH = {
    "leave_message": "Zanechte prosím vzkaz po zaznění tónu. Až budete hotovi, stiskněte mřížku.",
    "unavailable": "Volaný účastník není dostupný.",
    "extension_unavailable": "není dostupná.",
    "mailbox_full": "Schránka je plná. Na shledanou.",
    "enter_pin": "Zadejte prosím svůj PIN a stiskněte mřížku.",
    "wrong_pin": "Tento PIN není správný.",
    "enter_mailbox": "Zadejte prosím číslo schránky a stiskněte mřížku.",
    "goodbye": "Na shledanou.",
    "main_menu": "Pro poslech zpráv stiskněte 1. Pro nahrání pozdravu stiskněte 9. "
    "Pro zavěšení stiskněte hvězdičku.",
    "message_menu": "Pro opakování stiskněte 1, pro smazání 7, pro další zprávu 3, "
    "pro hlavní nabídku hvězdičku.",
    "no_more_messages": "Žádné další zprávy nejsou.",
    "deleted": "Zpráva byla smazána.",
    "greeting_menu": "Stiskněte 0 pro výchozí pozdrav, 1 pro dostupný, 2 pro nepřítomen, "
    "3 pro služební cestu, 4 pro nerušit, 5 pro oběd, 6 pro mimo pracovní dobu.",
    "record_greeting": "Po zaznění tónu nahrajte svůj pozdrav. Až budete hotovi, stiskněte mřížku.",
    "greeting_saved": "Pozdrav byl uložen.",
    "greeting_is": "Děkujeme za zavolání. Na shledanou.",
}
PROMPTS = {"en": ENGLISH, "cs": CZECH}


def _spell(digits: str) -> str:
    return " ".join(digits)


def _cs_plural(n: int, one: str, few: str, many: str) -> str:
    """Czech: 1 zpráva, 2-4 zprávy, 0 and 5+ zpráv."""
    return one if n == 1 else few if 2 <= n <= 4 else many


_CS_MONTHS = ("ledna", "února", "března", "dubna", "května", "června", "července", "srpna",
              "září", "října", "listopadu", "prosince")  # fmt: skip


@dataclass(frozen=True)
class Phrases:
    """The sentences spoken on demand, in one language."""

    unavailable: Callable[[str], str]  # the extension's number
    counts: Callable[[int, int], str]  # new, old
    received: Callable[[datetime], str]  # local time
    caller: Callable[[str], str]  # the caller's number ("" unknown)
    seconds: Callable[[int], str]


PHRASES = {
    "en": Phrases(
        unavailable=lambda n: f"Extension {_spell(n)} is not available.",
        counts=lambda new, old: (
            f"You have {new} new {'message' if new == 1 else 'messages'} and "
            f"{old} old {'message' if old == 1 else 'messages'}."
        ),
        received=lambda at: f"Received {at:%B} {at.day}, at {at:%H:%M}.",
        caller=lambda n: f"From {_spell(n) if n else 'an unknown number'}.",
        seconds=lambda s: f"{s} seconds.",
    ),
    "cs": Phrases(
        unavailable=lambda n: f"Klapka {_spell(n)} není dostupná.",
        counts=lambda new, old: (
            f"Máte {new} {_cs_plural(new, 'novou zprávu', 'nové zprávy', 'nových zpráv')} a "
            f"{old} {_cs_plural(old, 'starou zprávu', 'staré zprávy', 'starých zpráv')}."
        ),
        received=lambda at: f"Přijato {at.day}. {_CS_MONTHS[at.month - 1]} v {at:%H:%M}.",
        caller=lambda n: f"Od {_spell(n)}." if n else "Od neznámého čísla.",
        seconds=lambda s: f"{s} {_cs_plural(s, 'sekunda', 'sekundy', 'sekund')}.",
    ),
}


def language_of(code: str | None) -> str:
    """A language klapka speaks (English for anything else)."""
    return code if code in PROMPTS else DEFAULT_LANGUAGE


SAMPLE_RATE = 8000


def tone(hz: float = 1000.0, seconds: float = 0.4, level: int = 8000) -> bytes:
    n = int(SAMPLE_RATE * seconds)
    return struct.pack(
        f"<{n}h", *(int(level * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)) for i in range(n))
    )


def silence(seconds: float) -> bytes:
    return bytes(int(SAMPLE_RATE * seconds) * 2)


def synthesize(text: str, target: Path, language: str = DEFAULT_LANGUAGE) -> bool:
    """Speak ``text`` in ``language`` into ``target`` (8 kHz mono 16-bit WAV); False
    without espeak/sox."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="klapka-prompt-") as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        voice = VOICES.get(language, VOICES[DEFAULT_LANGUAGE])
        spoke = subprocess.run([espeak, "-v", voice, "-s", "155", "-w", str(raw), text],
                               capture_output=True, timeout=30)  # fmt: skip
        if spoke.returncode != 0:
            return False
        converted = subprocess.run(
            [sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(out)],
            capture_output=True, timeout=30,
        )  # fmt: skip
        if converted.returncode != 0:
            return False
        shutil.move(out, target)
    return True


def convert(source: Path, target: Path) -> bool:
    sox = shutil.which("sox")
    if sox is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sox, str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
         str(target)],
        capture_output=True, timeout=30,
    )  # fmt: skip
    return done.returncode == 0


class Prompts:
    """The prompts' audio as PCM, loaded once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, bytes] = {}

    def folder(self, language: str, custom: bool = False) -> Path:
        base = self.root / "custom" if custom else self.root
        return base if language == DEFAULT_LANGUAGE else base / language

    def generate(self) -> int:
        """Create every missing prompt of every language; returns how many were made."""
        made = 0
        for language, prompts in PROMPTS.items():
            for name, text in prompts.items():
                path = self.folder(language) / f"{name}.wav"
                if not path.exists():
                    if synthesize(text, path, language):
                        made += 1
                    else:
                        log.warning("espeak-ng or sox missing: prompt %s will be a tone", name)
                        return made
        return made

    def get(self, name: str, language: str = DEFAULT_LANGUAGE) -> bytes:
        language = language_of(language)
        key = f"{language}/{name}"
        if key in self.cache:
            return self.cache[key]
        pcm = self._load(name, language)
        self.cache[key] = pcm
        return pcm

    def _load(self, name: str, language: str) -> bytes:
        custom = self.folder(language, custom=True) / f"{name}.wav"
        if custom.exists():
            converted = custom.parent / "8k" / f"{name}.wav"
            if not converted.exists() or converted.stat().st_mtime < custom.stat().st_mtime:
                convert(custom, converted)
            try:
                return wav.read_pcm(converted)
            except (OSError, ValueError, EOFError):
                log.warning("custom prompt %s unreadable; using the generated one", name)
        path = self.folder(language) / f"{name}.wav"
        if not path.exists() and name in PROMPTS[language]:
            synthesize(PROMPTS[language][name], path, language)
        try:
            return wav.read_pcm(path)
        except (OSError, ValueError, EOFError):
            return tone(600, 0.3)

    def say(self, text: str, language: str = DEFAULT_LANGUAGE) -> bytes:
        """``text`` spoken in ``language`` (cached on disk by its hash); blocking: call in
        a thread."""
        language = language_of(language)
        key = hashlib.sha256(f"{language}:{text}".encode()).hexdigest()[:20]
        if key in self.cache:
            return self.cache[key]
        path = self.root / "spoken" / f"{key}.wav"
        pcm = (
            wav.read_pcm(path)
            if path.exists() or synthesize(text, path, language)
            else tone(600, 0.3)
        )
        if len(self.cache) < 500:
            self.cache[key] = pcm
        return pcm
