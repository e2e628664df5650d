"""The portal's browser phone, for real: klapka serve with its SIP core and media relay,
Chromium (a fake microphone playing a 440 Hz tone) signed in as 101's user, and Debian's
baresip as 102's desk phone (answering at once, playing 880 Hz and recording what it
hears). The user opens "Phone" from the menu, dials 102 and clicks Call: each side hears
the other's tone, through the relay (WebRTC to the browser, plain RTP to the desk phone);
then the user hangs up."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsing import DESKTOP, sign_in

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.sip.media_relay import rtpengine_binary
from klapka.sip.supervisor import kamailio_binary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.backend_independent,
    pytest.mark.skipif(
        shutil.which("baresip") is None or rtpengine_binary() is None or kamailio_binary() is None,
        reason="baresip-core, rtpengine and kamailio are needed",
    ),
]

USER_PASSWORD = "Zelena-Louka-2027"
DESK_PASSWORD = "Secret102ab"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phone_port() -> int:
    """A port free for UDP and TCP, with the next one free for TCP too (baresip binds its
    SIP port on UDP and TCP, and the next one for TLS)."""
    while True:
        port = free_port(socket.SOCK_DGRAM)
        try:
            for number, kind in ((port, socket.SOCK_STREAM), (port + 1, socket.SOCK_STREAM)):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", number))
        except OSError:
            continue
        return port


def tone(path: Path, hz: int, seconds: int, rate: int = 8000) -> Path:
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", "1", "-b", "16", str(path),
                    "synth", str(seconds), "sine", str(hz)], check=True, timeout=30)  # fmt: skip
    return path


@pytest.fixture
def served(pbx: Pbx, database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """klapka serve with its SIP core (UDP on a free port, WebSocket on another) and the
    media relay; the web UI's base URL and the SIP port."""
    objects = Objects(pbx)
    objects.create(Kind.EXTENSION, {"number": "101", "first_name": "Jana",
                                    "email": "jana@example.com", "user_password": USER_PASSWORD})  # fmt: skip
    for number in ("102", "103"):
        objects.create(Kind.EXTENSION, {"number": number, "first_name": "Desk",
                                        "sip_password": DESK_PASSWORD})  # fmt: skip
    port, sip_port, ws_port = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    env = {**os.environ, "KLAPKA_DATABASE_URL": database_url,
           "KLAPKA_DATA_DIR": str(tmp_path / "data"), "KLAPKA_SECURE_COOKIES": "never"}  # fmt: skip
    klapka = str(Path(sys.executable).parent / "klapka")
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [klapka, "serve", "--port", str(port), "--sip-host", "127.0.0.1",
             "--sip-port", str(sip_port), "--sip-ws-port", str(ws_port), "--sip-tls-port", "0",
             "--sip-wss-port", "0", "--provisioning-https-port", "0"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            log_text = (tmp_path / "serve.log").read_text(errors="replace")
            try:
                up = httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                up = False
            if up and "(Kamailio)" in log_text:
                break
            time.sleep(0.2)
        yield base, sip_port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def desk_phone(
    workdir: Path, sip_port: int, sound: Path, number: str = "102", dial: str = ""
) -> subprocess.Popen[bytes]:
    """Debian's baresip as ``number``: registers, answers at once (or dials ``dial``), plays
    ``sound``, records what it hears (``dump-*-dec.wav``)."""
    workdir.mkdir()
    listen = phone_port()
    (workdir / "config").write_text(
        f"sip_listen 127.0.0.1:{listen}\nmodule_path /usr/lib/baresip/modules\n"
        "module g711.so\nmodule menu.so\nmodule aufile.so\nmodule sndfile.so\n"
        f"module_app account.so\naudio_source aufile,{sound}\nsnd_path {workdir}\n"
    )
    (workdir / "accounts").write_text(
        f"<sip:{number}@127.0.0.1:{sip_port};transport=udp>;auth_pass={DESK_PASSWORD};"
        "answermode=auto;regint=300\n"
    )
    log = (workdir / "log").open("wb")
    commands = ["-e", f"/dial {dial}"] if dial else []
    return subprocess.Popen(["baresip", "-f", str(workdir), "-t", "40", *commands], stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip


def rough(path: Path) -> tuple[float, int]:
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True,
                          timeout=30).stderr  # fmt: skip
    length = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    hz = int(re.search(r"Rough\s+frequency:\s+(\d+)", stat).group(1))  # type: ignore[union-attr]
    return length, hz


def chromium_with_a_microphone(browser: Any, tmp_path: Path) -> Any:
    """Chromium whose (fake) microphone plays 440 Hz; WebRTC may use loopback addresses."""
    microphone = tone(tmp_path / "440.wav", 440, 30, rate=48000)
    return browser.browser_type.launch(
        executable_path=shutil.which("chromium"),
        args=["--no-sandbox", "--use-fake-ui-for-media-stream",
              "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone}",
              "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
              "--disable-features=WebRtcHideLocalIpsWithMdns"],
    )  # fmt: skip


def open_phone(chromium: Any, base: str) -> tuple[Any, list[str]]:
    """101's user signs in, opens "Phone" from the menu; it registers."""
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, base, "jana@example.com", USER_PASSWORD)
    page.get_by_test_id("nav-me-phone").click()
    status = page.get_by_test_id("phone-status")
    status.wait_for()
    wait_state(page, "phone-status", "registered")
    assert status.inner_text() == "Registered"
    return page, errors


def wait_state(page: Any, element: str, state: str, timeout: float = 20_000) -> None:
    page.wait_for_function(
        f"document.getElementById('{element}').dataset.state === '{state}'", timeout=timeout
    )


def wait_hearing(page: Any, hz: int) -> None:
    """Until the phone's level meter hears ``hz`` (its rough pitch)."""
    page.wait_for_function(
        "(() => { const m = document.getElementById('phone-meter');"
        f" return Number(m.dataset.level) > 0.01 && Math.abs(Number(m.dataset.hz) - {hz}) < 60;"
        " })()",
        timeout=15_000,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_the_browser_phone_calls_a_desk_phone_and_each_hears_the_other(
    served: tuple[str, int], browser: Any, tmp_path: Path
) -> None:
    base, sip_port = served
    desk = desk_phone(tmp_path / "desk", sip_port, tone(tmp_path / "880.wav", 880, 30))
    chromium = chromium_with_a_microphone(browser, tmp_path)
    try:
        page, errors = open_phone(chromium, base)
        page.get_by_test_id("phone-number").fill("102")
        page.get_by_test_id("phone-call").click()
        wait_state(page, "phone-call-state", "talking")
        wait_hearing(page, 880)  # the desk phone's tone arrives in the browser
        page.wait_for_timeout(3000)
        page.get_by_test_id("phone-hangup").click()
        wait_state(page, "phone-call-state", "idle")
        assert "Call ended" in page.get_by_test_id("phone-last").inner_text()
        assert not errors, errors
    finally:
        chromium.close()
        stop(desk)
    log = (tmp_path / "desk" / "log").read_text(errors="replace")
    assert "Call established" in log, log
    [heard] = (tmp_path / "desk").glob("dump-*-dec.wav")
    length, hz = rough(heard)
    assert length > 3, f"the desk phone heard {length} s"
    assert abs(hz - 440) < 60, f"the desk phone heard {hz} Hz"


def test_a_desk_phone_calls_the_browser_which_answers_holds_mutes_and_sends_digits(
    served: tuple[str, int], browser: Any, tmp_path: Path
) -> None:
    """103 (baresip, 660 Hz) calls 101: the open Phone page shows the incoming call with
    the caller's number; the user answers and hears 660 Hz; a keypad digit reaches the desk
    phone as DTMF; mute and hold toggle (hold is a re-INVITE through the relay), resume
    brings the call back; the user hangs up."""
    base, sip_port = served
    chromium = chromium_with_a_microphone(browser, tmp_path)
    desk = None
    try:
        page, errors = open_phone(chromium, base)
        desk = desk_phone(tmp_path / "desk103", sip_port, tone(tmp_path / "660.wav", 660, 30),
                          number="103", dial="101")  # fmt: skip
        wait_state(page, "phone-call-state", "incoming")
        assert "103" in page.get_by_test_id("phone-call-state").inner_text()
        page.get_by_test_id("phone-answer").click()
        wait_state(page, "phone-call-state", "talking")
        wait_hearing(page, 660)
        page.get_by_test_id("phone-key-5").click()
        mute = page.get_by_test_id("phone-mute")
        mute.click()
        assert mute.inner_text() == "Unmute"
        mute.click()
        assert mute.inner_text() == "Mute"
        page.get_by_test_id("phone-hold").click()
        wait_state(page, "phone-call-state", "held")
        assert page.get_by_test_id("phone-hold").inner_text() == "Resume"
        page.get_by_test_id("phone-hold").click()
        wait_state(page, "phone-call-state", "talking")
        page.get_by_test_id("phone-hangup").click()
        wait_state(page, "phone-call-state", "idle")
        assert not errors, errors
    finally:
        chromium.close()
        if desk is not None:
            stop(desk)
    log = (tmp_path / "desk103" / "log").read_text(errors="replace")
    assert "Call established" in log, log
    assert re.search(r"DTMF.*5|key.?=.?'?5", log, re.IGNORECASE), log[-3000:]
