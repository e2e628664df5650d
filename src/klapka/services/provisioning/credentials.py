"""Who may fetch a phone's file: HTTP Basic or Digest (RFC 7616, MD5) with

* the phone's own credentials: user name its MAC address (12 lower-case hex digits) and
  a password klapka derives from that MAC and the server's device key
  (``<data dir>/provisioning/device.key``, made on first use, mode 0600); or
* the extension's number as the user name and its voicemail PIN as the password.

Derived, not stored: nothing secret is added to the configuration, an admin reads a
phone's credentials (and the admin password klapka puts on it) from the API, and
replacing the device key changes every phone's at once. Failed attempts are counted per
source address in memory (``FailureThrottle``): after ``MAX_FAILURES`` in
``WINDOW_SECONDS`` the address is refused (429) until the window has passed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REALM = "klapka provisioning"
NONCE_SECONDS = 300  # a Digest nonce is accepted this long after it was made
MAX_FAILURES = 10  # failed attempts per source address ...
WINDOW_SECONDS = 300  # ... within this many seconds, then refused until the window passed


class DeviceKey:
    """The server's secret that phones' credentials and admin passwords derive from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = self._load()
        return self._key

    def _load(self) -> bytes:
        try:
            return bytes.fromhex(self.path.read_text().strip())
        except FileNotFoundError:
            pass
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return bytes.fromhex(self.path.read_text().strip())
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        return bytes.fromhex(self.path.read_text().strip())

    def derive(self, purpose: str, mac: str, length: int) -> str:
        digest = hmac.new(self.key(), f"{purpose}:{mac}".encode(), hashlib.sha256).digest()
        # Letters and digits only: every phone's web UI and file format takes them.
        text = base64.b32encode(digest).decode().rstrip("=")
        return (text[:length]).lower()

    def device_password(self, mac: str) -> str:
        """The password of the phone ``mac`` for the provisioning server."""
        return self.derive("device", mac, 20)

    def admin_password(self, mac: str) -> str:
        """The admin password of the phone's own web UI, as provisioned."""
        return self.derive("admin", mac, 16)

    def nonce(self, at: float | None = None) -> str:
        stamp = f"{int(at if at is not None else time.time()):x}"
        sig = hmac.new(self.key(), f"nonce:{stamp}".encode(), hashlib.sha256).hexdigest()[:24]
        return f"{stamp}.{sig}"

    def nonce_fresh(self, nonce: str, now: float | None = None) -> bool:
        stamp, _, sig = nonce.partition(".")
        try:
            made = int(stamp, 16)
        except ValueError:
            return False
        good = hmac.new(self.key(), f"nonce:{stamp}".encode(), hashlib.sha256).hexdigest()[:24]
        age = (now if now is not None else time.time()) - made
        return hmac.compare_digest(sig, good) and -5 <= age <= NONCE_SECONDS


@dataclass(frozen=True)
class Presented:
    """What the Authorization header says (never logged: it may carry a password)."""

    scheme: str  # "basic" | "digest"
    user: str
    password: str = ""  # Basic only
    params: dict[str, str] | None = None  # Digest only


_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_authorization(header: str | None) -> Presented | None:
    """The credentials in an Authorization header, or None when there are none (or they
    cannot be read)."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            user, sep, password = (
                base64.b64decode(rest.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return Presented("basic", user, password) if sep else None
    if scheme == "digest":
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _DIGEST_PARAM.finditer(rest)
        }
        if "username" not in params or "response" not in params:
            return None
        return Presented("digest", params["username"], params=params)
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # RFC 7616 Digest: what phones speak


def check_password(
    presented: Presented, password: str, method: str, path: str, key: DeviceKey
) -> bool:
    """Does ``presented`` prove knowledge of ``password``? (Digest: a fresh nonce of ours,
    qop auth or none, for the ``path`` asked for: a response seen for one file does not
    open another.)"""
    if presented.scheme == "basic":
        return hmac.compare_digest(presented.password.encode(), password.encode())
    p = presented.params or {}
    nonce = p.get("nonce", "")
    if p.get("realm") != REALM or not key.nonce_fresh(nonce):
        return False
    if not urlsplit(p.get("uri", "")).path.endswith(path):
        return False
    if p.get("algorithm", "MD5").upper() != "MD5":
        return False
    ha1 = _md5(f"{presented.user}:{REALM}:{password}")
    ha2 = _md5(f"{method}:{p.get('uri', '')}")
    qop = p.get("qop")
    if qop == "auth":
        expected = _md5(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
    elif qop is None:
        expected = _md5(f"{ha1}:{nonce}:{ha2}")
    else:
        return False
    return hmac.compare_digest(expected, p.get("response", "").lower())


def challenges(key: DeviceKey) -> list[str]:
    """The WWW-Authenticate values of a 401: Digest first (phones prefer it), Basic."""
    return [
        f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{key.nonce()}"',
        f'Basic realm="{REALM}", charset="UTF-8"',
    ]


class FailureThrottle:
    """Failed attempts per source address, in memory (per process; a restart forgets).

    A failure given a ``once`` key (an unknown MAC) counts once per window: a phone not
    yet in the directory that retries does not block the other phones behind the same
    address; a scan of many MACs still does."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[tuple[float, str | None]]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> deque[tuple[float, str | None]]:
        times = self._failures.get(ip)
        if times is None:
            return deque()
        while times and now - times[0][0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[ip]
        return times

    def blocked(self, ip: str) -> int:
        """0, or the seconds until ``ip`` may try again."""
        with self._lock:
            now = self.clock()
            times = self._recent(ip, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, int(times[0][0] + self.window - now + 0.999))

    def failed(self, ip: str, once: str | None = None) -> tuple[bool, bool]:
        """Count a failure: (whether it counted, whether it is the one that blocks)."""
        with self._lock:
            now = self.clock()
            times = self._recent(ip, now)
            if once is not None and any(key == once for _, key in times):
                return False, False
            times.append((now, once))
            self._failures[ip] = times
            if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest
                self._failures.pop(next(iter(self._failures)))
            return True, len(times) == self.max_failures
