"""Sending one webhook request: the JSON body POSTed with klapka's signature headers.

The signature (``X-Klapka-Signature: t=<unix time>,v1=<hex>``) is HMAC-SHA256 with the
webhook's secret over ``<unix time>.<body>``: a receiver recomputes it and checks the time
(replays of old requests fail). ``X-Klapka-Event`` names the event, ``X-Klapka-Delivery``
the delivery (the same on every retry: a receiver can drop duplicates)."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

import klapka

TIMEOUT_SECONDS = 5.0


def sign(secret: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def post(
    client: httpx.Client, url: str, secret: str, event: str, delivery: int, body: str
) -> tuple[int | None, str]:
    """POST ``body``; (the HTTP status, "") or (None, what went wrong)."""
    now = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"klapka/{klapka.__version__}",
        "X-Klapka-Event": event,
        "X-Klapka-Delivery": str(delivery),
        "X-Klapka-Signature": sign(secret, now, body),
    }
    try:
        answer = client.post(url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS)
    except Exception as e:  # any failure (a bad URL too) is a failed attempt
        return None, (str(e) or type(e).__name__)[:255]
    return answer.status_code, ""
