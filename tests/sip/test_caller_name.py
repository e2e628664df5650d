"""Names on phones: an internal call rings the callee's phones with the caller's name as the
From display name and in a P-Asserted-Identity (RFC 3325), so they show "Jana Nováková",
not "101"."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pbx4sip import Pbx4Sip
from sipp import _ANSWER, _LET_RING, _RINGING, Phone, free_udp_port, scenario

from klapka.kemi.caller_name import asserted_identity, quoted_display_name
from klapka.services.telephony.sip_directory import sip_account

DOC: dict[str, Any] = {
    "version": 1,
    "extensions": [
        {
            "number": "101",
            "sip_password": "Secret1234a",
            "first_name": "Jana",
            "last_name": "Nováková",
        },
        {"number": "102", "sip_password": "Secret1234b", "concurrent_registrations": 2},
        {
            "number": "103",
            "sip_password": "Secret1234c",
            "first_name": "Petr",
            "caller_id_name": 'Recepce "A" \\ 1',
        },
        {"number": "104", "sip_password": "Secret1234d"},
    ],
}


def traced_phone(sip: Pbx4Sip, user: str, password: str, behaviour: str, log: Path) -> Phone:
    """A registered sipp phone (``answer`` or ``ring`` until cancelled) that writes every
    message it receives to ``log``."""
    parts = [_RINGING.format(user=user, wait_ms=30000)]
    if behaviour == "answer":
        parts.append(_ANSWER.format(user=user, ring_ms=500))
    else:
        parts.append(_LET_RING.format(wait_ms=30000))
    port = free_udp_port()
    command = sip.sipp._command(scenario(*parts), user, password, port, 60)
    command += ["-trace_msg", "-message_file", str(log)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=sip.sipp.workdir
    )
    phone = Phone(user, proc)
    registered = sip.sipp.register(user, password, contact_port=port)
    if not registered.ok:
        phone.stop()
        raise AssertionError(f"{user} could not register: {registered.output}")
    return phone


def received_invite(log: Path) -> dict[str, list[str]]:
    """The headers of the INVITE the phone received, by lower-case name."""
    text = log.read_bytes().decode("utf-8")
    start = text.index("\nINVITE sip:")
    message = text[start + 1 :].split("\n\n", 1)[0].split("\r\n\r\n", 1)[0]
    headers: dict[str, list[str]] = {}
    for line in message.replace("\r\n", "\n").split("\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return headers


def call(sip: Pbx4Sip, caller: str, password: str, tmp_path: Path, *headers: str) -> dict[str, Any]:
    log = tmp_path / f"callee-of-{caller}.log"
    phone = traced_phone(sip, "102", "Secret1234b", "answer", log)
    try:
        result = sip.sipp.call(caller, password, "102", expect=200, headers=headers)
        assert result.ok, result.output
        assert phone.finish().ok
    finally:
        phone.stop()
    assert "branch route failed" not in sip.core.paths.log.read_text()
    return received_invite(log)


def test_an_internal_call_carries_the_callers_name(sip: Pbx4Sip, tmp_path: Path) -> None:
    sip.apply(DOC)
    # The calling phone's own P-Asserted-Identity is not believed: klapka writes its own.
    invite = call(sip, "101", "Secret1234a", tmp_path, "P-Asserted-Identity: <sip:999@evil>")
    [sent_from] = invite["from"]
    assert sent_from.startswith('"Jana Nováková" <sip:101@127.0.0.1>;tag='), sent_from
    assert invite["p-asserted-identity"] == ['"Jana Nováková" <sip:101@klapka>']


def test_the_caller_id_name_is_the_name_quoted_as_sip_wants(sip: Pbx4Sip, tmp_path: Path) -> None:
    sip.apply(DOC)
    invite = call(sip, "103", "Secret1234c", tmp_path)
    name = '"Recepce \\"A\\" \\\\ 1"'
    assert invite["from"][0].startswith(f"{name} <sip:103@127.0.0.1>"), invite["from"]
    assert invite["p-asserted-identity"] == [f"{name} <sip:103@klapka>"]


def test_a_caller_without_a_name_keeps_its_number(sip: Pbx4Sip, tmp_path: Path) -> None:
    sip.apply(DOC)
    invite = call(sip, "104", "Secret1234d", tmp_path)
    assert invite["from"][0].startswith("<sip:104@127.0.0.1>;tag="), invite["from"]
    assert invite["p-asserted-identity"] == ["<sip:104@klapka>"]


def test_every_phone_rung_gets_the_name(sip: Pbx4Sip, tmp_path: Path) -> None:
    """Two phones of 102 ring at once: both show the caller's name (one answers, the other
    is cancelled)."""
    sip.apply(DOC)
    logs = [tmp_path / "answering.log", tmp_path / "ringing.log"]
    phones = [
        traced_phone(sip, "102", "Secret1234b", "answer", logs[0]),
        traced_phone(sip, "102", "Secret1234b", "ring", logs[1]),
    ]
    try:
        result = sip.sipp.call("101", "Secret1234a", "102", expect=200)
        assert result.ok, result.output
        assert all(p.finish().ok for p in phones)
    finally:
        for p in phones:
            p.stop()
    for log in logs:
        invite = received_invite(log)
        assert invite["from"][0].startswith('"Jana Nováková" <sip:101@'), invite["from"]
        assert invite["p-asserted-identity"] == ['"Jana Nováková" <sip:101@klapka>']


# --- what the SIP core is given and how it writes it ---------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("Jana Nováková", '"Jana Nováková"'),
        ('Petr "Pepa" Novák', '"Petr \\"Pepa\\" Novák"'),
        ("a\\b", '"a\\\\b"'),
        ("line\r\nbreak\tand\x00nul", '"line break and nul"'),
        ("  spaced   out ", '"spaced out"'),
    ],
)
def test_display_names_are_quoted_strings(name: str, quoted: str) -> None:
    assert quoted_display_name(name) == quoted


def test_the_asserted_identity_has_the_number_alone_without_a_name() -> None:
    assert asserted_identity("101", "Jana Nováková", "klapka") == '"Jana Nováková" <sip:101@klapka>'
    assert asserted_identity("104", "", "klapka") == "<sip:104@klapka>"


def test_the_sip_account_names_the_caller() -> None:
    # As stored: the extension's settings with its number.
    named = {"number": "101", "first_name": "Jana", "last_name": "Nováková"}
    assert sip_account("101", named, {})["name"] == "Jana Nováková"
    assert sip_account("101", {**named, "caller_id_name": "Recepce"}, {})["name"] == "Recepce"
    assert sip_account("101", {"number": "101", "last_name": "Nováková"}, {})["name"] == "Nováková"
    assert sip_account("101", {"number": "101"}, {})["name"] == ""
