"""SIP over TLS: `klapka init` makes a certificate, Kamailio listens with it, phones register."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pbx4sip import Pbx4Sip, running
from sipp import free_udp_port

from klapka.services.directory.config import ConfigService
from klapka.services.pbx import Pbx
from klapka.sip.supervisor import SipCore
from klapka.sip.tls import TlsFiles, ensure_certificate, tls_module_available

pytestmark = pytest.mark.slow

DOC = {"version": 1, "extensions": [{"number": "101", "sip_password": "Secret1234a"}]}


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tls_sip(database_url: str, tmp_path: Path) -> Iterator[Pbx4Sip]:
    if not tls_module_available():
        pytest.skip("kamailio-tls-modules is needed (scripts/setup-env.sh installs it)")
    data = tmp_path / "data"
    ensure_certificate(TlsFiles(data / "tls"), "pbx.test")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, data, "127.0.0.1", port, port, tls_port=free_tcp_port())
    with running(pbx, core, tmp_path / "sipp") as sip:
        assert core.tls_port and not core.warnings
        yield sip


class TlsPhone:
    """A SIP client over TLS with the Python standard library (certificate not verified,
    as a phone told to accept a self-signed certificate)."""

    def __init__(self, port: int, certificate: Path) -> None:
        context = ssl.create_default_context(cafile=str(certificate))
        context.check_hostname = False  # the certificate names pbx.test, we dial 127.0.0.1
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = context.wrap_socket(raw)
        self.local = self.sock.getsockname()
        self.buffer = b""

    def send(self, text: str) -> None:
        self.sock.sendall(text.replace("\n", "\r\n").encode())

    def response(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            assert data, "the server closed the TLS connection"
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        self.buffer = self.buffer[length:]
        return int(lines[0].split()[1]), headers

    def register(self, user: str, cseq: int, authorization: str = "") -> tuple[int, dict[str, str]]:
        host, port = self.local[0], self.local[1]
        auth = f"Authorization: {authorization}\n" if authorization else ""
        self.send(
            f"REGISTER sip:klapka SIP/2.0\n"
            f"Via: SIP/2.0/TLS {host}:{port};branch=z9hG4bK-tls-{cseq};rport\n"
            f"From: <sip:{user}@klapka>;tag=tls1\n"
            f"To: <sip:{user}@klapka>\n"
            f"Call-ID: tls-register-{user}@{host}\n"
            f"CSeq: {cseq} REGISTER\n"
            f"Contact: <sip:{user}@{host}:{port};transport=tls>\n"
            f"{auth}Max-Forwards: 70\nUser-Agent: tls-test-phone\nExpires: 300\n"
            f"Content-Length: 0\n\n"
        )
        return self.response()

    def close(self) -> None:
        self.sock.close()


def digest(
    user: str, password: str, challenge: str, uri: str = "sip:klapka", method: str = "REGISTER"
) -> str:
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)  # type: ignore[union-attr]
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)  # type: ignore[union-attr]
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )


def test_a_phone_registers_over_tls(tls_sip: Pbx4Sip) -> None:
    tls_sip.apply(DOC)
    assert tls_sip.core.tls_port is not None
    phone = TlsPhone(tls_sip.core.tls_port, tls_sip.core.tls_files.certificate)
    try:
        code, headers = phone.register("101", 1)
        assert code == 401
        code, _ = phone.register(
            "101", 2, digest("101", "Secret1234a", headers["www-authenticate"])
        )
        assert code == 200
        contacts = tls_sip.contacts("101")
        assert len(contacts) == 1
        assert contacts[0]["Socket"].startswith("tls:127.0.0.1:")
        assert contacts[0]["User-Agent"] == "tls-test-phone"
        # A wrong password over TLS is challenged again, as over UDP.
        code, headers = phone.register("101", 3)
        wrong = digest("101", "Wrong1234xx", headers["www-authenticate"])
        assert phone.register("101", 4, wrong)[0] == 401
    finally:
        phone.close()


def test_udp_still_works_next_to_tls(tls_sip: Pbx4Sip) -> None:
    tls_sip.apply(DOC)
    assert tls_sip.sipp.register("101", "Secret1234a").ok


def test_without_a_certificate_the_sip_core_runs_without_tls_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    tls_port = free_tcp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, tls_port=tls_port)
    core.start()
    try:
        assert core.wait_ready(), core.paths.log.read_text()
        assert core.tls_port is None
        assert any("SIP over TLS is off: no certificate" in w for w in core.warnings)
        assert "tls" not in core.paths.cfg.read_text().split("loadmodule", 1)[1].split("\n")[0]
        assert "listen=tls" not in core.paths.cfg.read_text()
        ConfigService(pbx).apply(DOC)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
    finally:
        core.stop()
        pbx.close()


def test_the_certificate_is_made_once_and_its_key_is_private(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    assert ensure_certificate(files, "pbx.test")
    assert files.key.stat().st_mode & 0o777 == 0o600
    cert = files.certificate.read_bytes()
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----")
    time.sleep(0.01)
    assert not ensure_certificate(files, "pbx.test")
    assert files.certificate.read_bytes() == cert
    # It is a certificate that TLS accepts, for its key.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certificate, files.key)


def test_klapka_init_makes_the_certificate_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from klapka.cli import app

    monkeypatch.setenv("KLAPKA_DATABASE_URL", database_url)
    monkeypatch.setenv("KLAPKA_DATA_DIR", str(tmp_path / "data"))
    first = CliRunner().invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    files = TlsFiles(tmp_path / "data" / "tls")
    assert files.present()
    assert "TLS certificate for SIP generated (self-signed)" in first.output
    cert = files.certificate.read_bytes()
    again = CliRunner().invoke(app, ["init"])
    assert again.exit_code == 0, again.output
    assert "TLS certificate for SIP kept" in again.output
    assert files.certificate.read_bytes() == cert


def _python_with_cryptography() -> str | None:
    import shutil
    import subprocess

    for python in (sys.executable, shutil.which("python3")):
        if python and subprocess.run([python, "-c", "import cryptography"]).returncode == 0:
            return python
    return None


def test_the_certificate_made_with_the_cryptography_package_works_too(tmp_path: Path) -> None:
    """Where ``cryptography`` is installed it makes the certificate (no openssl command)."""
    import subprocess

    python = _python_with_cryptography()
    if python is None:
        pytest.skip("no Python with the cryptography package here")
    src = Path(__file__).resolve().parents[2] / "src"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from klapka.sip.tls import TlsFiles, ensure_certificate\n"
        "import klapka.sip.tls as tls\n"
        "tls._with_openssl = None  # must not be used\n"
        "assert ensure_certificate(TlsFiles(Path(sys.argv[2])), 'pbx.test')\n"
    )
    subprocess.run([python, "-c", script, str(src), str(tmp_path / "tls")], check=True)
    files = TlsFiles(tmp_path / "tls")
    assert files.key.stat().st_mode & 0o777 == 0o600
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certificate, files.key)


def test_a_broken_certificate_turns_tls_off_and_the_sip_core_still_runs(
    database_url: str, tmp_path: Path
) -> None:
    files = TlsFiles(tmp_path / "data" / "tls")
    ensure_certificate(files, "pbx.test")
    files.key.write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    pbx = Pbx.from_url(database_url)
    port = free_udp_port()
    core = SipCore(pbx, tmp_path / "data", "127.0.0.1", port, port, tls_port=free_tcp_port())
    core.start()
    try:
        assert core.wait_ready(), core.paths.log.read_text()
        assert core.tls_port is None
        assert any("are not usable" in w for w in core.warnings), core.warnings
        assert "listen=tls" not in core.paths.cfg.read_text()
    finally:
        core.stop()
        pbx.close()


GARBAGE = (
    b"OPTIONS sip:klapka SIP/2.0\r\nContent-Length: 0\r\n\r\n",  # plain SIP on the TLS port
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a ClientHello cut short
    b"\x00" * 1000,
)


def test_broken_tls_clients_do_not_hold_up_the_others(tls_sip: Pbx4Sip) -> None:
    """Silent connections, plain SIP and garbage on the TLS port, a handshake cut short:
    a proper phone still gets its answer over TLS within a second."""

    tls_sip.apply(DOC)
    assert tls_sip.core.tls_port is not None
    port = tls_sip.core.tls_port
    held = []
    try:
        for payload in (b"", os.urandom(4000), *GARBAGE):
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                if payload:
                    s.sendall(payload)
                held.append(s)
        started = time.monotonic()
        phone = TlsPhone(port, tls_sip.core.tls_files.certificate)
        try:
            assert phone.register("101", 1)[0] == 401
        finally:
            phone.close()
        assert time.monotonic() - started < 1.0
        assert tls_sip.core.process is not None and tls_sip.core.process.poll() is None
        assert tls_sip.core.restarts == 0
    finally:
        for s in held:
            s.close()


def test_a_scanner_hammering_the_tls_port_never_crashes_the_sip_core(tls_sip: Pbx4Sip) -> None:
    """Four scanners at once throw garbage at the TLS port (each error is OpenSSL work in a
    TCP reader) while a phone keeps registering: every REGISTER is answered, Kamailio never
    restarts and its memory is never corrupted (OpenSSL 3 state is per process)."""
    tls_sip.apply(DOC)
    port = tls_sip.core.tls_port
    assert port is not None

    def scan() -> None:
        for _ in range(150):
            held = []
            for payload in (os.urandom(4000), *GARBAGE):
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=1)
                    s.sendall(payload)
                    held.append(s)
                except OSError:
                    pass  # refused or reset: the scanner moves on
            for s in held:
                s.close()

    scanners = [threading.Thread(target=scan) for _ in range(4)]
    for scanner in scanners:
        scanner.start()
    answers = []
    try:
        while any(scanner.is_alive() for scanner in scanners):
            phone = TlsPhone(port, tls_sip.core.tls_files.certificate)
            try:
                answers.append(phone.register("101", len(answers) + 1)[0])
            finally:
                phone.close()
    finally:
        for scanner in scanners:
            scanner.join()
    assert answers and set(answers) == {401}
    assert tls_sip.core.restarts == 0
    assert tls_sip.core.process is not None and tls_sip.core.process.poll() is None
    log = tls_sip.core.paths.log.read_text()
    assert "freeing already freed" not in log
    assert "exited by a signal" not in log
    assert "OpenSSL state of this process is its own (3 keys reset)" in log
