"""What the provisioning tests share: a company with phones, reading the files phones get."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from typing import Any

from fastapi.testclient import TestClient

YEALINK_MAC = "805ec0123401"
FANVIL_MAC = "0c383e123402"
GRANDSTREAM_MAC = "000b82123403"
SNOM_MAC = "000413123404"
UNKNOWN_MAC = "001122334455"

AGENTS = {
    "yealink": f"Yealink SIP-T54W 96.86.0.100 {YEALINK_MAC}",
    "fanvil": f"Fanvil X4U 2.12.1 {FANVIL_MAC}",
    "grandstream": f"Grandstream Model HW GXP2170 SW 1.0.11.3 DevId {GRANDSTREAM_MAC}",
    "snom": "Mozilla/4.0 (compatible; snomD785-SIP 10.1.54.13)",
}


def company(client: TestClient) -> None:
    """101 with four phones and keys; 102, 103 colleagues; a company contact."""
    ok(client.post("/api/v1/extensions", json={"number": "102", "first_name": "Anna",
                                               "last_name": "Nová"}), 201)  # fmt: skip
    ok(client.post("/api/v1/extensions", json={"number": "103", "first_name": "Boris"}), 201)
    ok(
        client.post(
            "/api/v1/extensions",
            json={
                "number": "101",
                "first_name": "Jana",
                "last_name": "Dvořák & Syn",
                "sip_password": "Sip-Secret-101x",
                "voicemail": {"pin": "4711"},
                "phones": [
                    {"vendor": "Yealink", "model": "T54W", "mac": "80:5E:C0:12:34:01"},
                    {"vendor": "Fanvil", "model": "X4U", "mac": FANVIL_MAC},
                    {"vendor": "Grandstream", "model": "GXP2170", "mac": GRANDSTREAM_MAC},
                    {"vendor": "snom", "model": "D785", "mac": SNOM_MAC},
                ],
                "function_keys": [
                    {"key": 1, "type": "blf", "extension": "102"},
                    {"key": 2, "type": "speed_dial", "number": "+420601111222", "label": "Mobile"},
                    {"key": 3, "type": "dnd"},
                ],
            },
        ),
        201,
    )
    ok(
        client.post(
            "/api/v1/contacts",
            json={"first_name": "Karel", "last_name": "Dodavatel", "company": "ACME",
                  "numbers": [{"type": "work", "number": "+420530111222"}]},
        ),
        201,
    )  # fmt: skip


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response


def credentials(client: TestClient, mac: str, number: str = "101") -> dict[str, str]:
    got: dict[str, str] = ok(
        client.get(f"/api/v1/extensions/{number}/phones/{mac}/provisioning")
    ).json()
    return got


def cfg(text: str) -> dict[str, str]:
    """A Yealink file: ``key = value`` lines."""
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def fanvil(text: str) -> dict[str, str]:
    """A Fanvil file: ``Key   :value`` lines in ``<MODULE>`` sections."""
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith(("<", "#")):
            key, _, value = line.partition(":")
            out[re.sub(r"\s+", " ", key.strip())] = value.strip()
    return out


def xml(text: str) -> ET.Element:
    return ET.fromstring(text.encode())


def digest(user: str, password: str, challenge: str, uri: str, method: str = "GET") -> str:
    """The Authorization header a phone answers a Digest challenge with (qop auth)."""
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{user}:{params['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    nc, cnonce = "00000001", "0a4f113b"
    response = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
        f'uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
        "algorithm=MD5"
    )
