"""The media relay (rtpengine), supervised by the SIP core: a call whose codecs must be
enforced goes through it and the phone rung is offered only its codec list; a call that
needs nothing stays direct; the relay killed is started again, and calls meanwhile still
connect, unanchored."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import pytest
from pbx4sip import Pbx4Sip
from test_tls import digest
from test_transfer import Message, RawPhone, reply

from klapka.sip.media_relay import ping, rtpengine_binary

pytestmark = pytest.mark.skipif(rtpengine_binary() is None, reason="rtpengine is not installed")

PASSWORDS = {"101": "Secret101ab", "102": "Secret102ab"}
# A phone's offer: PCMU and PCMA, with DTMF events.
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 41000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)
ANSWER = (
    "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 42000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def doc(
    codecs: list[str] | None = None, srtp: tuple[str, ...] = (), **system: Any
) -> dict[str, Any]:
    callee: dict[str, Any] = {"number": "102", "sip_password": PASSWORDS["102"]}
    if codecs is not None:
        callee["advanced"] = {"codecs": codecs}
    caller: dict[str, Any] = {"number": "101", "sip_password": PASSWORDS["101"]}
    for ext in (caller, callee):
        if ext["number"] in srtp:
            ext.setdefault("advanced", {})["srtp"] = True
    out: dict[str, Any] = {"version": 1, "extensions": [caller, callee]}
    if system:
        out["system"] = system
    return out


def media(sdp: str) -> tuple[int, list[int]]:
    """The audio port and payload types of an SDP."""
    m = re.search(r"^m=audio (\d+) RTP/AVP([\d ]+)", sdp, re.MULTILINE)
    assert m is not None, sdp
    return int(m.group(1)), [int(p) for p in m.group(2).split()]


def a_call(sip: Pbx4Sip, call_id: str, answer: str = ANSWER) -> tuple[Message, Message]:
    """101 calls 102 with OFFER; 102 answers with ``answer``. What 102 got (the INVITE)
    and what 101 got (the 200)."""
    caller, callee = RawPhone(sip.port, "101"), RawPhone(sip.port, "102")
    caller.password, callee.password = PASSWORDS["101"], PASSWORDS["102"]
    try:
        callee.register()
        sip.wait_registered("102")
        caller.send(invite(caller, call_id, ""))
        challenge = caller.wait("SIP/2.0 407").get("proxy-authenticate")
        auth = digest("101", PASSWORDS["101"], challenge, "sip:102@klapka", "INVITE")
        caller.send(ack_407(caller, call_id))
        caller.send(invite(caller, call_id, f"Proxy-Authorization: {auth}\r\n", cseq=2))
        got = callee.wait("INVITE")
        callee.send(reply(got.raw, "200 OK", callee.contact, answer, to_tag="callee"))
        answered = caller.wait("SIP/2.0 200")
        return got, answered
    finally:
        caller.sock.close()
        callee.sock.close()


def invite(phone: RawPhone, call_id: str, extra: str, cseq: int = 1) -> str:
    return (
        f"INVITE sip:102@klapka SIP/2.0\r\nVia: {phone.via()}\r\n"
        f"From: <sip:101@klapka>;tag=101-{call_id}\r\nTo: <sip:102@klapka>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <{phone.contact}>\r\n"
        f"Max-Forwards: 70\r\n{extra}Content-Type: application/sdp\r\n"
        f"Content-Length: {len(OFFER)}\r\n\r\n{OFFER}"
    )


def ack_407(phone: RawPhone, call_id: str) -> str:
    return (
        f"ACK sip:102@klapka SIP/2.0\r\nVia: {phone.via()}\r\n"
        f"From: <sip:101@klapka>;tag=101-{call_id}\r\nTo: <sip:102@klapka>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )


def test_a_phone_limited_to_pcma_is_offered_pcma_only_through_the_relay(sip: Pbx4Sip) -> None:
    sip.apply(doc(["PCMA"]))
    got, answered = a_call(sip, "relay-pcma")
    port, payloads = media(got.body)
    assert payloads == [8, 101], got.body  # PCMA and the DTMF events; PCMU stripped
    assert 20000 <= port <= 30000 and port != 41000, got.body  # the relay's port
    back, _ = media(answered.body)
    assert 20000 <= back <= 30000 and back != 42000, answered.body


def test_a_call_that_needs_nothing_stays_direct_and_always_anchors_every_call(
    sip: Pbx4Sip,
) -> None:
    sip.apply(doc())  # the default list has both codecs: nothing to strip
    got, answered = a_call(sip, "direct")
    assert media(got.body) == (41000, [0, 8, 101])
    assert media(answered.body)[0] == 42000
    sip.apply(doc(media={"anchor": "always"}))
    got, answered = a_call(sip, "always")
    port, payloads = media(got.body)
    assert port != 41000 and payloads[:2] == [0, 8], got.body
    assert media(answered.body)[0] != 42000


def test_the_relay_killed_is_started_again_and_calls_meanwhile_go_direct(sip: Pbx4Sip) -> None:
    relay = sip.core.relay
    assert relay is not None and relay.process is not None
    sip.apply(doc(["PCMA"]))
    os.kill(relay.process.pid, signal.SIGKILL)
    relay.process.wait(5)
    got, _ = a_call(sip, "relay-down")  # at once: the relay is not back yet
    assert media(got.body)[0] == 41000, "unanchored while the relay is down"
    deadline = time.monotonic() + 15
    while not (relay.alive() and ping(relay.ng_port)):
        assert time.monotonic() < deadline, "the relay was not started again"
        time.sleep(0.1)
    assert relay.restarts == 1
    time.sleep(5.5)  # Kamailio asks a relay it found down again after 5 s
    got, _ = a_call(sip, "relay-back")
    assert media(got.body)[1] == [8, 101] and media(got.body)[0] != 41000, got.body


SRTP_ANSWER = (
    "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 42000 RTP/SAVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
)


def test_an_srtp_phone_gets_srtp_from_a_plain_caller_bridged_by_the_relay(sip: Pbx4Sip) -> None:
    sip.apply(doc(srtp=("102",)))
    got, answered = a_call(sip, "srtp-bridge", SRTP_ANSWER)
    assert re.search(r"^m=audio \d+ RTP/SAVP ", got.body, re.MULTILINE), got.body
    suites = re.findall(r"^a=crypto:\d+ (\S+) inline:", got.body, re.MULTILINE)
    assert suites == ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"], got.body
    assert "a=fingerprint" not in got.body  # SDES keys, no DTLS
    # The plain caller gets plain RTP back, from the relay.
    assert re.search(r"^m=audio \d+ RTP/AVP ", answered.body, re.MULTILINE), answered.body
    assert "a=crypto" not in answered.body and media(answered.body)[0] != 42000


def test_an_srtp_extension_calling_with_plain_rtp_is_refused(sip: Pbx4Sip) -> None:
    sip.apply(doc(srtp=("101",)))
    caller = RawPhone(sip.port, "101")
    caller.password = PASSWORDS["101"]
    try:
        caller.send(invite(caller, "plain", ""))
        challenge = caller.wait("SIP/2.0 407").get("proxy-authenticate")
        auth = digest("101", PASSWORDS["101"], challenge, "sip:102@klapka", "INVITE")
        caller.send(ack_407(caller, "plain"))
        caller.send(invite(caller, "plain", f"Proxy-Authorization: {auth}\r\n", cseq=2))
        refused = caller.wait("SIP/2.0 4")
        assert refused.first == "SIP/2.0 488 SRTP required for this extension"
    finally:
        caller.sock.close()


def test_a_call_out_through_a_trunk_with_its_own_codecs_goes_through_the_relay(
    sip: Pbx4Sip,
) -> None:
    """The carrier takes PCMA only; 101's phone offers PCMU and PCMA: the carrier is offered
    PCMA (through the relay), and its answer reaches 101 from the relay too."""
    from provider import Provider
    from sipp import free_udp_port
    from test_trunks import document, peer

    provider = Provider(free_udp_port(), sip.port, sip.sipp.workdir)
    sip.apply(document([peer("carrier", provider.port, codecs=["PCMA"])]))
    far = provider.far_end("answer", expect_headers=("m=audio [0-9]+ RTP/AVP 8 101",))
    caller = RawPhone(sip.port, "101")
    caller.password = "Secret101ab"
    try:
        caller.send(
            invite(caller, "out-pcma", "").replace("sip:102@klapka", "sip:0601111222@klapka")
        )
        challenge = caller.wait("SIP/2.0 407").get("proxy-authenticate")
        auth = digest("101", "Secret101ab", challenge, "sip:0601111222@klapka", "INVITE")
        caller.send(ack_407(caller, "out-pcma").replace("sip:102@klapka", "sip:0601111222@klapka"))
        caller.send(invite(caller, "out-pcma", f"Proxy-Authorization: {auth}\r\n", cseq=2)
                    .replace("sip:102@klapka", "sip:0601111222@klapka"))  # fmt: skip
        answered = caller.wait("SIP/2.0 200", timeout=20)
        port, _ = media(answered.body)
        # The carrier answered (it answers no INVITE without the PCMA-only offer); 101 got
        # the answer from the relay, not the carrier's address.
        assert 20000 <= port <= 30000, answered.body
    finally:
        far.stop()
        caller.sock.close()
