"""A source that keeps failing authentication is blocked, and the audit log says so once."""

from __future__ import annotations

import socket
import time

from pbx4sip import Pbx4Sip

from klapka.services.audit_log import AuditLog

DOC = {"version": 1, "extensions": [{"number": "101", "sip_password": "Secret1234a"}]}


def register_with_a_wrong_password(sip: Pbx4Sip, source: str, n: int) -> int:
    """One REGISTER from ``source`` with made-up credentials; the answer's status code."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(2)
        port = s.getsockname()[1]
        s.sendto(
            (
                f"REGISTER sip:klapka SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK-bad-{n};rport\r\n"
                f"From: <sip:101@klapka>;tag=bad{n}\r\n"
                f"To: <sip:101@klapka>\r\n"
                f"Call-ID: bad-{n}@{source}\r\n"
                f"CSeq: {n} REGISTER\r\n"
                f"Contact: <sip:101@{source}:{port}>\r\n"
                f'Authorization: Digest username="101", realm="klapka", nonce="made-up", '
                f'uri="sip:klapka", response="00000000000000000000000000000000"\r\n'
                f"Max-Forwards: 70\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", sip.port),
        )
        return int(s.recv(65536).split(b" ", 2)[1])


def blocked_entries(sip: Pbx4Sip) -> list[dict[str, object]]:
    return AuditLog(sip.pbx).list(action="sip.source_blocked").items


def test_a_source_blocked_after_failed_authentications_is_in_the_audit_log_once(
    sip: Pbx4Sip,
) -> None:
    sip.apply(DOC)
    attacker = "127.0.0.7"
    codes = [register_with_a_wrong_password(sip, attacker, n) for n in range(1, 11)]
    assert codes == [401] * 10
    assert register_with_a_wrong_password(sip, attacker, 11) == 403  # blocked now
    deadline = time.monotonic() + 8
    while not blocked_entries(sip) and time.monotonic() < deadline:
        time.sleep(0.2)
    entries = blocked_entries(sip)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["kind"] == "sip_source" and entry["key"] == attacker
    assert entry["source_ip"] == attacker and entry["actor"] == "sip"
    changes = {c["path"]: c["after"] for c in entry["changes"]}  # type: ignore[union-attr]
    assert changes == {"failures": 10, "blocked_seconds": 600}

    # Still blocked on the next polls: no second entry. Other sources are not blocked.
    assert register_with_a_wrong_password(sip, attacker, 12) == 403
    time.sleep(4.5)
    assert len(blocked_entries(sip)) == 1
    assert sip.sipp.register("101", "Secret1234a").ok


def test_a_block_that_ends_and_comes_back_is_logged_again(sip: Pbx4Sip) -> None:
    sip.apply(DOC)
    attacker = "127.0.0.8"
    for n in range(1, 11):
        register_with_a_wrong_password(sip, attacker, n)
    deadline = time.monotonic() + 8
    while len(blocked_entries(sip)) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(blocked_entries(sip)) == 1
    # The block expires (here: an admin lifts it over RPC), the source fails again.
    sip.rpc.call("htable.delete", "blocked", attacker)
    time.sleep(4.5)  # polls that see it unblocked
    # Not blocked any more; its failures are still counted, so the 11th blocks it again.
    assert register_with_a_wrong_password(sip, attacker, 20) == 401
    assert register_with_a_wrong_password(sip, attacker, 21) == 403
    deadline = time.monotonic() + 8
    while len(blocked_entries(sip)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    entries = blocked_entries(sip)
    assert len(entries) == 2
    assert {c["path"]: c["after"] for c in entries[0]["changes"]}["failures"] == 11  # type: ignore[index,union-attr]
