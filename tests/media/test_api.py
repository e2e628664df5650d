"""Voicemail in the portal and the API: list, download, mark, delete; greetings uploaded as
WAV or MP3 (converted to 8 kHz mono by sox); a user reaches only their own mailbox."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_clients import check
from fastapi.testclient import TestClient
from mailbox_config import doc
from test_deposit import speech_like

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.services.telephony import wav
from klapka.services.telephony.voicemail import VoicemailStore

API = "/api/v1"
USER_PASSWORDS = {"101": "Jana12345Secret", "102": "Petr12345Secret"}


@pytest.fixture
def world(pbx: Pbx, client: TestClient, tmp_path: Path) -> dict[str, Any]:
    ConfigService(pbx).apply(doc(
        {"number": "101", "email": "jana@example.com", "user_password": USER_PASSWORDS["101"]},
        {"number": "102", "email": "petr@example.com", "user_password": USER_PASSWORDS["102"]},
    ))  # fmt: skip
    client.app.state.data_dir = str(tmp_path)
    store = VoicemailStore(pbx, tmp_path)
    ids = []
    for seconds in (1.0, 2.0):
        message_id, path = store.begin("101", "0601555111", "Carol")
        wav.write_pcm(path, speech_like(seconds))
        store.finish(message_id, int(seconds * 1000), keep=True)
        ids.append(message_id)
    return {"store": store, "ids": ids}


def signed_in(client: TestClient, number: str, email: str) -> Iterator[TestClient]:
    with TestClient(client.app) as user:
        answer = check(user.post(f"{API}/auth/login",
                                 json={"email": email, "password": USER_PASSWORDS[number]}))  # fmt: skip
        user.headers["X-CSRF-Token"] = answer["csrf_token"]
        yield user


@pytest.fixture
def jana(client: TestClient, world: dict[str, Any]) -> Iterator[TestClient]:
    yield from signed_in(client, "101", "jana@example.com")


@pytest.fixture
def petr(client: TestClient, world: dict[str, Any]) -> Iterator[TestClient]:
    yield from signed_in(client, "102", "petr@example.com")


def test_an_admin_lists_downloads_marks_and_deletes_messages(
    client: TestClient, world: dict[str, Any]
) -> None:
    first, second = world["ids"]
    base = f"{API}/extensions/101/voicemail/messages"
    listed = check(client.get(base))
    assert [(m["id"], m["state"], m["caller_number"]) for m in listed] == [
        (first, "new", "0601555111"), (second, "new", "0601555111"),
    ]  # fmt: skip
    audio = client.get(f"{base}/{second}/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert (
        audio.content
        == world["store"].audio_path(world["store"].message("101", second)).read_bytes()
    )
    assert check(client.patch(f"{base}/{first}", json={"state": "old"}))["state"] == "old"
    assert [m["id"] for m in check(client.get(base, params={"state": "new"}))] == [second]
    path = world["store"].audio_path(world["store"].message("101", first))
    assert client.delete(f"{base}/{first}").status_code == 204
    assert not path.exists()
    assert client.get(f"{base}/{first}").status_code == 404
    assert client.patch(f"{base}/{second}", json={"state": "read"}).status_code == 422
    assert client.get(f"{API}/extensions/999/voicemail/messages").status_code == 404


def test_a_user_reaches_their_own_mailbox_only(
    jana: TestClient, petr: TestClient, world: dict[str, Any]
) -> None:
    first, _second = world["ids"]
    mine = check(jana.get(f"{API}/me/voicemail/messages"))
    assert [m["id"] for m in mine] == world["ids"]
    assert jana.get(f"{API}/me/voicemail/messages/{first}/audio").content[:4] == b"RIFF"
    assert (
        check(jana.patch(f"{API}/me/voicemail/messages/{first}", json={"state": "old"}))["state"]
        == "old"
    )
    assert check(petr.get(f"{API}/me/voicemail/messages")) == []
    assert petr.get(f"{API}/me/voicemail/messages/{first}").status_code == 404
    assert petr.get(f"{API}/extensions/101/voicemail/messages").status_code == 403
    assert petr.delete(f"{API}/extensions/101/voicemail/messages/{first}").status_code == 403
    assert len(check(jana.get(f"{API}/extensions/101/voicemail/messages"))) == 2


def _sox(args: list[str]) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox converts greetings")
def test_greetings_upload_as_wav_or_mp3_and_play_for_their_status(
    jana: TestClient, world: dict[str, Any], tmp_path: Path
) -> None:
    wav_44k = tmp_path / "hello.wav"
    _sox(["-n", "-r", "44100", "-c", "2", "-b", "16", str(wav_44k), "synth", "1.5", "sine", "440"])
    answer = jana.put(f"{API}/me/voicemail/greetings/away", content=wav_44k.read_bytes(),
                      headers={"Content-Type": "audio/wav"})  # fmt: skip
    assert answer.status_code == 204, answer.text
    stored = wav.read_pcm(world["store"].greeting_file("101", "away"))  # 8 kHz mono 16-bit
    assert abs(len(stored) - 2 * 8000 * 1.5) < 400
    mp3 = tmp_path / "hello.mp3"
    _sox(["-n", "-r", "16000", "-c", "1", str(mp3), "synth", "1.0", "sine", "300"])
    answer = jana.put(f"{API}/me/voicemail/greetings/default", content=mp3.read_bytes(),
                      headers={"Content-Type": "audio/mpeg"})  # fmt: skip
    assert answer.status_code == 204, answer.text
    assert sorted(check(jana.get(f"{API}/me/voicemail/greetings"))) == ["away", "default"]
    box = world["store"].mailbox("101")
    assert world["store"].greeting_for(box, "away").stem == "away"
    assert world["store"].greeting_for(box, "lunch_break").stem == "default"
    bad = jana.put(f"{API}/me/voicemail/greetings/default", content=b"not audio at all",
                   headers={"Content-Type": "audio/wav"})  # fmt: skip
    assert bad.status_code == 422
    assert jana.put(f"{API}/me/voicemail/greetings/holiday", content=wav_44k.read_bytes(),
                    headers={"Content-Type": "audio/wav"}).status_code == 422  # fmt: skip
    assert jana.get(f"{API}/me/voicemail/greetings/away").content[:4] == b"RIFF"
    assert jana.delete(f"{API}/me/voicemail/greetings/away").status_code == 204
    assert world["store"].greeting_for(world["store"].mailbox("101"), "away").stem == "default"
