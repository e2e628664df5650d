"""WAV files of 16-bit mono PCM, written as the audio arrives.

The header's sizes are rewritten every second, so a file cut short by a crash or a restart is
still a valid WAV of what was recorded up to then; ``repair`` fixes the sizes of any file left
open from the actual length.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

RATE = 8000
HEADER = 44


def _header(data_bytes: int, rate: int = RATE) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class WavWriter:
    """Appends PCM to a WAV file; the header is kept current every ``sync_every`` bytes."""

    def __init__(self, path: Path, rate: int = RATE, sync_every: int = RATE * 2) -> None:
        self.path = path
        self.rate = rate
        self.sync_every = sync_every
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.file.write(_header(0, rate))
        self.data_bytes = 0
        self._unsynced = 0

    def write(self, pcm: bytes) -> None:
        self.file.write(pcm)
        self.data_bytes += len(pcm)
        self._unsynced += len(pcm)
        if self._unsynced >= self.sync_every:
            self.sync()

    def sync(self) -> None:
        self.file.seek(0)
        self.file.write(_header(self.data_bytes, self.rate))
        self.file.seek(0, os.SEEK_END)
        self.file.flush()
        self._unsynced = 0

    @property
    def seconds(self) -> float:
        return self.data_bytes / (2 * self.rate)

    def close(self) -> None:
        if not self.file.closed:
            self.sync()
            self.file.close()


def repair(path: Path) -> float:
    """Set the header's sizes from the file's length; returns the duration in seconds."""
    size = path.stat().st_size
    data_bytes = max(0, size - HEADER) // 2 * 2
    with open(path, "r+b") as f:
        f.write(_header(data_bytes))
        f.truncate(HEADER + data_bytes)
    return data_bytes / (2 * RATE)


def read_pcm(path: Path) -> bytes:
    """The 16-bit mono 8 kHz PCM of a WAV file (as written here, by sox or an upload)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1 or w.getframerate() != RATE:
            raise ValueError(f"{path.name}: not 16-bit mono 8 kHz PCM")
        return w.readframes(w.getnframes())


def write_pcm(path: Path, pcm: bytes) -> None:
    writer = WavWriter(path)
    writer.write(pcm)
    writer.close()
