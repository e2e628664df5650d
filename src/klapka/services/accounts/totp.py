"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps).

What authenticator apps (Google Authenticator, Aegis, 1Password, ...) expect from an
``otpauth://totp/...`` URI. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# Codes one step before and after the current one are accepted: phone clocks drift and
# people type slowly.
WINDOW = 1


def new_secret() -> str:
    """A random 160-bit secret, base32 without padding (as apps show it)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(secret: str, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226: the code for one counter value."""
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator app shows at ``at``."""
    return hotp(secret, step_at(at))


def matching_step(
    secret: str, code: str, at: datetime, last_used_step: int | None = None
) -> int | None:
    """The time step ``code`` belongs to (within the window), or None.

    A step at or before ``last_used_step`` never matches, so a code works only once.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now_step = step_at(at)
    found = None
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        # Compare every candidate in constant time and keep going: no early exit.
        if hmac.compare_digest(hotp(secret, step), code) and (
            last_used_step is None or step > last_used_step
        ):
            found = step
    return found


def otpauth_uri(secret: str, account: str, issuer: str = "klapka") -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account}", safe="@:")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        }
    )
    return f"otpauth://totp/{label}?{query}"


def qr_png(uri: str) -> bytes:
    """The URI as a QR code PNG."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()
