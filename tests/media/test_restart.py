"""A service that dies mid-recording loses nothing already written: on the next start the
message is finalised from its WAV file (header repaired) and counts as new."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mailbox_config import data_dir, doc
from phone import Phone
from test_deposit import speech_like, wait_for_tone_end

from klapka.media import g711
from klapka.media.service import MediaService
from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.telephony import wav

pytestmark = pytest.mark.slow


def test_a_recording_cut_by_a_crash_is_kept_on_restart(
    pbx: Pbx, database_url: str, tmp_path: Path, prompt_cache: Path
) -> None:
    ConfigService(pbx).apply(doc({"number": "101", "voicemail": {"pin": "4321"}}))
    data = data_dir(tmp_path, prompt_cache)
    env = {**os.environ, "KLAPKA_DATABASE_URL": database_url, "KLAPKA_DATA_DIR": str(data)}
    service = subprocess.Popen(
        [sys.executable, "-m", "klapka.media"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None
        port = int(service.stdout.readline().split()[1])
        audio = speech_like(3.0)

        async def run() -> None:
            phone = await Phone("102", "", ("127.0.0.1", port)).open()
            assert (await phone.dial("vm-101")).status == 200
            await phone.dtmf("#")
            await wait_for_tone_end(phone)
            await phone.send_audio(audio)
            await asyncio.sleep(0.1)
            service.send_signal(signal.SIGKILL)  # mid-call: no BYE, no clean stop
            service.wait(10)
            phone.close()

        asyncio.run(run())
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()

    restarted = MediaService(pbx, data)
    restarted.start()
    try:
        [message] = restarted.store.messages("101")
        assert message.state == "new"
        kept = wav.read_pcm(restarted.store.audio_path(message))
        sent = g711.decode(g711.encode(audio, g711.PCMU), g711.PCMU)
        assert len(kept) >= len(sent) - 16000  # at most the last second's buffer is lost
        assert sent.startswith(kept)
        assert abs(message.duration_ms - len(kept) / 16) < 5
    finally:
        restarted.stop()
