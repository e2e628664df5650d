"""A corpus of malformed SIP: 1,200 messages made from valid ones (REGISTER, INVITE with SDP,
requests within a dialog, responses) by seeded mutations: flipped and deleted bytes, cut
messages, headers repeated, emptied or given hostile values. Sent over UDP and TCP, they
never crash or stall the SIP core, never make the KEMI adapter fail (a Python exception
answers 500), and a phone registers afterwards."""

from __future__ import annotations

import random
import socket
import time

import pytest
from pbx4sip import Pbx4Sip
from test_malformed import SDP, alive, request, settle

from klapka.kemi import load

DOC = {"version": 1, "extensions": [{"number": "101", "sip_password": "Secret1234a"}]}
SEED = 20261207
PER_TRANSPORT = 600
# UDP: sent in bursts of this many, each once the last has mostly drained (bounded), so the
# receive queue stays well below where the SIP core starts shedding (a quarter of the buffer:
# 104 KiB with Linux's default rmem_max of 212992): every message reaches the adapter.
BURST = 25

HOSTILE = [
    "", " ", ";", "<>", "<sip:>", "sip:@", "\x00", "\xff\xfe", "%00%ff", "a" * 5000,
    "<sip:101@klapka;lr;lr;lr;lr>", '"\\"', "99999999999999999999", "-1", "0x10",
    "sip:101@[::1::]:99999", "<tel:+420>", "*", "SIP/2.0/UDP", "Digest ,,,,,",
]  # fmt: skip
HEADERS = ["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Route",
           "Record-Route", "Content-Length", "Content-Type", "Expires", "Authorization",
           "Proxy-Authorization", "Referred-By", "Refer-To", "Event", "User-Agent"]  # fmt: skip


def seeds() -> list[bytes]:
    within = b";tag=t1"
    return [
        request("REGISTER", extra="Expires: 300"),
        request("INVITE", "sip:101@klapka", body=SDP),
        request(
            "INVITE",
            "sip:0044123456@klapka",
            body=SDP,
            extra='Proxy-Authorization: Digest username="101", realm="klapka", '
            'nonce="abc", uri="sip:0044123456@klapka", response="0"',
        ),
        request("BYE", extra="Route: <sip:127.0.0.1;lr>").replace(
            b"To: <sip:101@klapka>", b"To: <sip:101@klapka>" + within
        ),
        request("REFER", extra="Refer-To: <sip:102@klapka>").replace(
            b"To: <sip:101@klapka>", b"To: <sip:101@klapka>" + within
        ),
        request("SUBSCRIBE", extra="Event: presence\r\nExpires: 60"),
        request("OPTIONS"),
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-r\r\n"
        b"From: <sip:a@klapka>;tag=1\r\nTo: <sip:b@klapka>;tag=2\r\nCall-ID: r\r\n"
        b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    ]


def mutate(message: bytes, rng: random.Random) -> bytes:
    data = bytearray(message)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        if kind == 0 and data:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1 and len(data) > 10:  # cut
            data = data[: rng.randrange(len(data))]
        elif kind == 2 and len(data) > 10:  # delete a run
            start = rng.randrange(len(data))
            del data[start : start + rng.randint(1, 40)]
        elif kind == 3:  # a header with a hostile value
            header = f"{rng.choice(HEADERS)}: {rng.choice(HOSTILE)}\r\n".encode(errors="replace")
            at = data.find(b"\r\n") + 2
            data[at:at] = header
        elif kind == 4:  # an existing header repeated many times
            lines = bytes(data).split(b"\r\n")
            if len(lines) > 2:
                line = lines[rng.randrange(1, len(lines) - 1)]
                at = data.find(b"\r\n") + 2
                data[at:at] = (line + b"\r\n") * rng.randint(2, 60)
        elif kind == 5:  # CR/LF chaos
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice([b"\r", b"\n", b"\r\n\r\n", b"\r\n ", b"\t"])
        else:  # a header's value replaced
            lines = bytes(data).split(b"\r\n")
            i = rng.randrange(len(lines))
            name = lines[i].split(b":", 1)[0]
            lines[i] = name + b": " + rng.choice(HOSTILE).encode(errors="replace")
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


def corpus(n: int, salt: int) -> list[bytes]:
    rng = random.Random(SEED + salt)
    base = seeds()
    return [mutate(rng.choice(base), rng) for _ in range(n)]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_malformed_sip_corpus_never_crashes_or_breaks_the_adapter(
    sip: Pbx4Sip, transport: str
) -> None:
    sip.apply(DOC)
    messages = corpus(PER_TRANSPORT, 0 if transport == "udp" else 1)
    target = ("127.0.0.1", sip.port)
    if transport == "udp":
        drained = load.receive_buffer() * load.RESUME_BELOW
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, data in enumerate(messages):
                s.sendto(data[:65000], target)
                if i % BURST == BURST - 1:  # bursts, not a flood (pike ignores loopback)
                    time.sleep(0.01)
                    deadline = time.monotonic() + 2
                    while load.udp_backlog(sip.port) > drained and time.monotonic() < deadline:
                        time.sleep(0.01)
    else:
        for i in range(0, len(messages), 20):  # 20 messages per connection, back to back
            with socket.create_connection(target, timeout=2) as s:
                for data in messages[i : i + 20]:
                    try:
                        s.sendall(data)
                    except OSError:
                        break  # Kamailio closed a connection that sent garbage: fine
                time.sleep(0.01)
    settle(sip)  # worked off, and not shedding (a loaded machine may have made it)
    assert alive(sip, transport) is None
    assert sip.sipp.register("101", "Secret1234a").ok
    log = sip.core.paths.log.read_text(errors="replace")
    failed = [line for line in log.splitlines() if "route failed" in line]
    assert failed == [], failed[:5]
    assert sip.core.restarts == 0
