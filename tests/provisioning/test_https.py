"""``klapka serve`` serves provisioning over HTTPS on its own port with the certificate
``klapka init`` makes; without a certificate, or with the port taken, it warns and goes on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects
from klapka.services.pbx import Pbx
from klapka.sip.tls import TlsFiles, ensure_certificate

pytestmark = pytest.mark.slow

MAC = "805ec0123401"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(
    database_url: str, data: Path, tmp_path: Path
) -> Iterator[Callable[[int], tuple[str, Path]]]:
    """``serve(https_port)``: klapka serve --no-sip; answers the API's base URL and its log."""
    pbx = Pbx.from_url(database_url)
    Objects(pbx).create(
        Kind.EXTENSION, {"number": "101", "voicemail": {"pin": "4711"}, "phones": [{"mac": MAC}]}
    )
    pbx.close()
    processes: list[subprocess.Popen[bytes]] = []

    def start(https_port: int) -> tuple[str, Path]:
        port = free_port()
        log = tmp_path / f"serve-{https_port}.log"
        env = {**os.environ, "KLAPKA_DATABASE_URL": database_url, "KLAPKA_DATA_DIR": str(data)}
        klapka = str(Path(sys.executable).parent / "klapka")
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [
                        klapka,
                        "serve",
                        "--no-sip",
                        "--port",
                        str(port),
                        "--provisioning-https-port",
                        str(https_port),
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                )
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    return base, log
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(log.read_text())

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def test_phones_fetch_over_https_with_the_certificate_klapka_init_makes(
    serve: Callable[[int], tuple[str, Path]], data: Path
) -> None:
    ensure_certificate(TlsFiles(data / "tls"), "localhost")
    https = free_port()
    base, log = serve(https)
    url = f"https://127.0.0.1:{https}/provisioning/{MAC}.cfg"
    deadline = time.monotonic() + 10
    while True:  # the HTTPS listener starts beside the API
        try:
            response = httpx.get(url, auth=("101", "4711"), verify=False)
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    assert response.status_code == 200
    assert "account.1.user_name = 101" in response.text
    assert f"https://127.0.0.1:{https}/provisioning/phonebook/{MAC}.xml" in response.text
    # Over HTTP on the API's port too; the API is not on the HTTPS port.
    assert httpx.get(f"{base}/provisioning/{MAC}.cfg", auth=("101", "4711")).status_code == 200
    api = httpx.get(f"https://127.0.0.1:{https}/api/v1/health", verify=False)
    assert api.status_code == 404


def test_without_a_certificate_or_with_the_port_taken_it_warns_and_goes_on(
    serve: Callable[[int], tuple[str, Path]], data: Path
) -> None:
    base, log = serve(free_port())
    assert "provisioning over HTTPS is off: no TLS certificate" in log.read_text()
    assert httpx.get(f"{base}/provisioning/{MAC}.cfg", auth=("101", "4711")).status_code == 200
    ensure_certificate(TlsFiles(data / "tls"), "localhost")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        base, log = serve(taken.getsockname()[1])
        assert "provisioning over HTTPS is off: port" in log.read_text()
        assert httpx.get(f"{base}/api/v1/health").status_code == 200
