"""Overload: when requests pile up faster than the SIP core handles them, new requests are
answered 503 with Retry-After while the calls in progress still end properly (their BYE
reaches the other phone); once the queue has drained, calls are taken again.

The pile-up is made real: Kamailio's UDP workers are paused (SIGSTOP) while requests arrive,
then let go."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from pbx4sip import Pbx4Sip
from test_calls import PASSWORDS
from test_transfer import RawPhone, answered, reply

from klapka.kemi import load

DOC = {
    "version": 1,
    "extensions": [{"number": n, "sip_password": PASSWORDS[n]} for n in ("101", "102", "103")],
}


def options(n: int) -> bytes:
    """A keepalive OPTIONS, padded to about a kilobyte, as a flood of them would arrive."""
    return (
        f"OPTIONS sip:klapka SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-flood-{n}\r\n"
        f"From: <sip:flood@klapka>;tag=f{n}\r\nTo: <sip:klapka>\r\nCall-ID: flood-{n}\r\n"
        f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Padding: {'x' * 800}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def shedding(sip: Pbx4Sip) -> bool:
    return bool(sip.rpc.call("htable.get", "load", "shed")["item"]["value"])


@pytest.fixture
def paused(sip: Pbx4Sip) -> Iterator[list[int]]:
    """The UDP workers' pids; whatever happens, they run again afterwards."""
    workers = [p["PID"] for p in sip.rpc.call("core.psx") if "udp receiver" in p["DSC"]]
    assert workers
    yield workers
    for pid in workers:
        os.kill(pid, signal.SIGCONT)


def test_past_its_capacity_new_calls_get_503_and_calls_in_progress_still_end(
    sip: Pbx4Sip, paused: list[int]
) -> None:
    sip.apply(DOC)
    caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
    invite, ok = answered(caller, callee, "in-progress")
    newcomer = RawPhone(sip.port, "103")
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    buffer = load.receive_buffer()
    half = int(buffer * 0.45 / 2300)  # packets of ~1 KB take ~2.3 KB of the buffer each
    try:
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        for n in range(half):
            flood.sendto(options(n), ("127.0.0.1", sip.port))
        deadline = time.monotonic() + 5
        while not shedding(sip) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shedding(sip), f"not shedding with {load.udp_backlog(sip.port)} bytes waiting"
        # A new call and the end of the call in progress arrive amid the pile-up.
        newcomer.request("INVITE", "sip:101@klapka", "newcomer", 1)
        caller.within("BYE", ok, invite, 3)
        for n in range(half, 2 * half):
            flood.sendto(options(n), ("127.0.0.1", sip.port))
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
        flood.close()
    refused = newcomer.wait("SIP/2.0 ")
    assert refused.code == 503, refused.first
    assert refused.get("retry-after") == str(load.RETRY_AFTER_SECONDS)
    ended = callee.wait("BYE")
    callee.send(reply(ended.raw, "200 OK", callee.contact))
    assert caller.wait("SIP/2.0 200").code == 200
    # Drained: new calls are taken again (challenged, as ever).
    deadline = time.monotonic() + 5
    while shedding(sip) and time.monotonic() < deadline:
        time.sleep(0.05)
    newcomer.request("INVITE", "sip:101@klapka", "later", 1)
    assert newcomer.wait("SIP/2.0 4").code == 407
