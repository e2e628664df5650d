"""The app login link provisions a standard softphone: Debian's Linphone (``linphonec``)
fetches its configuration from the link's one-time provisioning URL and registers with the
SIP core, on the port the SIP core really listens on; the URL works once."""

from __future__ import annotations

import os
import pty
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pbx4sip import Pbx4Sip, running
from served import served
from sipp import free_udp_port
from sqlalchemy import select

from klapka.services.pbx import Pbx
from klapka.services.welcome import Welcome, linphone_provisioning_url
from klapka.sip.supervisor import SipCore
from klapka.sip.tls import TlsFiles, ensure_certificate, tls_module_available
from klapka.store import tables as t

LINPHONEC = shutil.which("linphonec")
pytestmark = pytest.mark.skipif(
    LINPHONEC is None, reason="linphone-cli is needed (scripts/setup-env.sh installs it)"
)

PASSWORD = "Linphone-Secret-2027"


@contextmanager
def api_of(sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch, transport: str = "udp") -> Iterator[str]:
    """The REST API of the PBX under test, served over HTTP; the portal URL points at it.
    Extension 101 may use the apps, over ``transport``."""
    # The API reads the SIP core's ports where `klapka serve` keeps its files.
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(sip.core.paths.root.parent))
    with served(sip.pbx) as (host, port):
        url = f"http://{host}:{port}"
        sip.apply(
            {
                "version": 1,
                "system": {"portal_url": url},
                "extensions": [
                    {
                        "number": "101",
                        "first_name": "Jana",
                        "last_name": "Nováková",
                        "sip_password": PASSWORD,
                        "clients": {"mobile_client": True},
                        "advanced": {"transport": transport},
                    },
                    {"number": "102", "sip_password": "Other-Secret-2027"},
                ],
            }
        )
        yield url


@pytest.fixture
def api(sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with api_of(sip, monkeypatch) as url:
        yield url


class Linphonec:
    """Linphone's console client, headless, with its own home and configuration: it
    fetches its configuration from ``config_uri`` at start (remote provisioning).
    ``trust``: a certificate it accepts for TLS (whatever name it holds)."""

    def __init__(self, home: Path, config_uri: str, trust: Path | None = None) -> None:
        assert LINPHONEC is not None
        self.home = home
        # Its databases (call history, chat): without their directory, its core never starts.
        (home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        rc = home / "linphonerc"
        rc.write_text(
            "[misc]\n"
            f"config-uri={config_uri}\n"
            "[sip]\n"
            "sip_port=-1\nsip_tcp_port=-1\nsip_tls_port=-1\n"
            + (f"root_ca={trust}\nverify_server_cn=0\n" if trust else "")
            + "[rtp]\n"
            "audio_rtp_port=-1\n"
            "[video]\n"
            "capture=0\ndisplay=0\n"
        )
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "LANG": "C"}
        # A terminal for its input: on a pipe, linphonec waits for a line and does nothing
        # meanwhile; on a terminal, its prompt runs the SIP stack between keystrokes.
        self.terminal, other_end = pty.openpty()
        self.process = subprocess.Popen(
            [LINPHONEC, "-c", str(rc), "-d", "6", "-l", str(home / "linphone.log")],
            cwd=home,
            env=env,
            stdin=other_end,
            stdout=other_end,
            stderr=other_end,
            start_new_session=True,
        )
        os.close(other_end)
        self.output = bytearray()  # what it prints, read as it comes (a full terminal blocks it)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.terminal, 4096)
            except OSError:  # EIO: it has exited
                return
            if not data:
                return
            self.output += data

    def stop(self) -> None:
        try:
            os.write(self.terminal, b"quit\n")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)
        os.close(self.terminal)

    def log(self) -> str:
        text = (self.home / "linphone.log").read_text(errors="replace")
        return self.output.decode(errors="replace") + text[-5000:]


def wait_registered(sip: Pbx4Sip, number: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        contacts = sip.contacts(number)
        if contacts:
            return contacts
        time.sleep(0.1)
    return []


def test_linphone_fetches_its_configuration_once_and_registers(
    sip: Pbx4Sip, api: str, tmp_path: Path
) -> None:
    # The SIP core is not on the port of the system settings (5060): the answer must give
    # the port it really listens on, or Linphone would not reach it.
    assert sip.port != 5060
    home = tmp_path / "linphone"
    created = Welcome(sip.pbx).login_link("101")
    token = created["link"].split("#token=")[1]
    uri = linphone_provisioning_url(api, token)
    phone = Linphonec(home, uri)
    try:
        contacts = wait_registered(sip, "101")
    finally:
        phone.stop()
    assert contacts, phone.log()
    assert contacts[0]["User-Agent"].startswith("Linphone")
    assert ";transport=tcp" not in contacts[0]["Address"].lower()  # UDP, the default
    # Applied once: Linphone will not fetch the spent URL again at its next start.
    assert "config-uri" not in (home / "linphonerc").read_text()
    # The link is spent: a second fetch is refused, and says why.
    again = httpx.get(uri)
    assert again.status_code == 410
    assert "already used" in again.json()["message"]
    assert httpx.post(f"{api}/api/v1/auth/app-login", json={"token": token}).status_code == 401
    # In the audit log like every app login: who (the extension), from where, which client.
    with sip.pbx.tx() as repo:
        rows = repo.conn.execute(
            select(t.audit_log).where(t.audit_log.c.action == "app_login")
        ).all()
    assert [(r.key, r.actor_extension, r.source_ip) for r in rows] == [("101", "101", "127.0.0.1")]
    assert rows[0].changes == [{"path": "client", "before": None, "after": "linphone"}]


def test_linphone_registers_over_the_transport_of_the_extension(
    sip: Pbx4Sip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with api_of(sip, monkeypatch, "tcp") as api:
        contacts = provision(sip, api, tmp_path / "linphone")
    assert "transport=tcp" in contacts[0]["Address"].lower()
    assert contacts[0]["Socket"].startswith(f"tcp:127.0.0.1:{sip.core.tcp_port}")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_linphone_registers_over_tls_on_the_tls_port_the_sip_core_uses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not tls_module_available():
        pytest.skip("kamailio-tls-modules is needed (scripts/setup-env.sh installs it)")
    data = tmp_path / "data"
    files = TlsFiles(data / "tls")
    ensure_certificate(files, "pbx.test")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, data, "127.0.0.1", port, port, tls_port=free_tcp_port())
    with running(pbx, core, tmp_path / "sipp") as sip:
        assert core.tls_port and core.tls_port != 5061  # not the setting's
        with api_of(sip, monkeypatch, "tls") as api:
            contacts = provision(sip, api, tmp_path / "linphone", trust=files.certificate)
    assert "transport=tls" in contacts[0]["Address"].lower()
    assert contacts[0]["Socket"].startswith(f"tls:127.0.0.1:{core.tls_port}")


def provision(
    sip: Pbx4Sip, api: str, home: Path, trust: Path | None = None
) -> list[dict[str, Any]]:
    """A new app login link of 101; Linphone fetches its configuration and registers. Its
    contacts in the SIP core."""
    created = Welcome(sip.pbx).login_link("101")
    uri = linphone_provisioning_url(api, created["link"].split("#token=")[1])
    phone = Linphonec(home, uri, trust)
    try:
        contacts = wait_registered(sip, "101")
    finally:
        phone.stop()
    assert contacts, phone.log()
    assert contacts[0]["User-Agent"].startswith("Linphone")
    return contacts
