"""SIP over TLS: the certificate ``klapka init`` generates, and whether Kamailio can use it.

The certificate is self-signed (phones are told to accept it, or an admin replaces the two
files with a real certificate and key: klapka never overwrites them). It is made with the
``cryptography`` package when it is installed, else with the ``openssl`` command.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")
VALID_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """``<data dir>/tls/``: the certificate (PEM) and its private key (PEM, mode 0600)."""

    root: Path

    @property
    def certificate(self) -> Path:
        return self.root / "klapka.crt"

    @property
    def key(self) -> Path:
        return self.root / "klapka.key"

    def present(self) -> bool:
        return self.certificate.is_file() and self.key.is_file()

    def unusable(self) -> str | None:
        """Why the certificate and key cannot serve TLS (unreadable, not PEM, not a pair),
        or None when they can."""
        import ssl

        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.certificate, self.key)
        except (ssl.SSLError, OSError) as e:
            return f"the certificate and key in {self.root} are not usable ({e})"
        return None


def tls_module_available() -> bool:
    """Is Kamailio's ``tls.so`` installed (Debian package ``kamailio-tls-modules``)?"""
    return any(Path(d, "tls.so").is_file() for d in MODULE_DIRS)


def websocket_module_available() -> bool:
    """Is Kamailio's ``websocket.so`` installed (``kamailio-websocket-modules``)?"""
    return any(Path(d, "websocket.so").is_file() for d in MODULE_DIRS)


def ensure_certificate(files: TlsFiles, common_name: str | None = None) -> bool:
    """Generate a self-signed certificate and key unless both exist; True if it made them."""
    if files.present():
        return False
    files.root.mkdir(parents=True, exist_ok=True)
    os.chmod(files.root, 0o700)
    name = common_name or socket.getfqdn() or "klapka"
    try:
        import cryptography  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        _with_openssl(files, name)
    else:
        _with_cryptography(files, name)
    os.chmod(files.key, 0o600)
    return True


def _with_cryptography(files: TlsFiles, name: str) -> None:
    # An optional package (not a dependency of klapka): typed where it is installed.
    from cryptography import x509  # type: ignore[import-not-found,unused-ignore]
    from cryptography.hazmat.primitives import (  # type: ignore[import-not-found,unused-ignore]
        hashes,
        serialization,
    )
    from cryptography.hazmat.primitives.asymmetric import (  # type: ignore[import-not-found,unused-ignore]
        ec,
    )
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found,unused-ignore]

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name[:64])]), critical=False)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    files.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _with_openssl(files: TlsFiles, name: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor openssl is installed")
    tmp_key = files.key.with_suffix(".tmp")
    old = os.umask(0o077)
    try:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", str(VALID_DAYS), "-subj", f"/CN={name[:64]}",
             "-addext", f"subjectAltName=DNS:{name[:64]}",
             "-keyout", str(tmp_key), "-out", str(files.certificate)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"openssl could not make a certificate: {e.stderr.decode()}") from None
    finally:
        os.umask(old)
    os.replace(tmp_key, files.key)


def tls_cfg(files: TlsFiles) -> str:
    """Kamailio's ``tls.cfg``: the server certificate; client certificates are not asked for
    (phones authenticate with digest, as over UDP and TCP)."""
    return f"""# Generated by klapka; do not edit.
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = {files.key}
certificate = {files.certificate}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""
