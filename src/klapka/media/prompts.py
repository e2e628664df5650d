"""Voice prompts: generated with espeak-ng and sox into ``<data dir>/voicemail/prompts/``
(at first start), each replaceable by a recorded file of the same name in
``prompts/custom/`` (any WAV sox reads; converted on first use). Sentences that depend on the
message (the envelope, counts) are spoken on demand and cached.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from klapka.services.telephony import wav

log = logging.getLogger("klapka.media")

PROMPTS = {
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
SAMPLE_RATE = 8000


def tone(hz: float = 1000.0, seconds: float = 0.4, level: int = 8000) -> bytes:
    n = int(SAMPLE_RATE * seconds)
    return struct.pack(
        f"<{n}h", *(int(level * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)) for i in range(n))
    )


def silence(seconds: float) -> bytes:
    return bytes(int(SAMPLE_RATE * seconds) * 2)


def synthesize(text: str, target: Path) -> bool:
    """Speak ``text`` into ``target`` (8 kHz mono 16-bit WAV); False without espeak/sox."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="klapka-prompt-") as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        spoke = subprocess.run([espeak, "-v", "en", "-s", "155", "-w", str(raw), text],
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

    def generate(self) -> int:
        """Create every missing prompt; returns how many were made."""
        made = 0
        for name, text in PROMPTS.items():
            path = self.root / f"{name}.wav"
            if not path.exists():
                if synthesize(text, path):
                    made += 1
                else:
                    log.warning("espeak-ng or sox missing: prompt %s will be a tone", name)
                    break
        return made

    def get(self, name: str) -> bytes:
        if name in self.cache:
            return self.cache[name]
        pcm = self._load(name)
        self.cache[name] = pcm
        return pcm

    def _load(self, name: str) -> bytes:
        custom = self.root / "custom" / f"{name}.wav"
        if custom.exists():
            converted = self.root / "custom" / "8k" / f"{name}.wav"
            if not converted.exists() or converted.stat().st_mtime < custom.stat().st_mtime:
                convert(custom, converted)
            try:
                return wav.read_pcm(converted)
            except (OSError, ValueError, EOFError):
                log.warning("custom prompt %s unreadable; using the generated one", name)
        path = self.root / f"{name}.wav"
        if not path.exists() and name in PROMPTS:
            synthesize(PROMPTS[name], path)
        try:
            return wav.read_pcm(path)
        except (OSError, ValueError, EOFError):
            return tone(600, 0.3)

    def say(self, text: str) -> bytes:
        """``text`` spoken (cached on disk by its hash); blocking: call in a thread."""
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        if key in self.cache:
            return self.cache[key]
        path = self.root / "spoken" / f"{key}.wav"
        pcm = wav.read_pcm(path) if path.exists() or synthesize(text, path) else tone(600, 0.3)
        if len(self.cache) < 500:
            self.cache[key] = pcm
        return pcm
