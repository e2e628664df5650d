"""The media service's own SIP, SDP, G.711 and WAV pieces."""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from pathlib import Path

import pytest

from klapka.media import g711, sdp
from klapka.media.rtp import Clock
from klapka.media.sipmsg import SipError, parse, response
from klapka.media.ua import Call, UserAgent
from klapka.services.telephony import wav

INVITE = (
    "INVITE sip:vm-101@127.0.0.1:5070 SIP/2.0\r\n"
    "v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport, SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKdef\r\n"
    "Record-Route: <sip:127.0.0.1:5060;lr;ftag=x1>\r\n"
    'f: "Bob, Jr." <sip:102@klapka>;tag=x1\r\n'
    "t: <sip:101@klapka>\r\n"
    "i: call-1@test\r\n"
    "CSeq: 2 INVITE\r\n"
    "m: <sip:102@10.0.0.2:5062>\r\n"
    "X-Klapka-Status: away\r\n"
    "Subject: a long\r\n  folded header\r\n"
    "c: application/sdp\r\n"
    "l: {length}\r\n\r\n{body}"
)
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\nm=video 4002 RTP/AVP 96\r\n"
)


def invite(body: str = OFFER) -> bytes:
    return INVITE.format(length=len(body), body=body).encode()


def test_a_request_with_compact_folded_and_comma_separated_headers_is_parsed() -> None:
    msg = parse(invite())
    assert (msg.method, msg.uri, msg.call_id, msg.cseq) == (
        "INVITE", "sip:vm-101@127.0.0.1:5070", "call-1@test", (2, "INVITE"),
    )  # fmt: skip
    assert len(msg.get_all("Via")) == 2 and msg.branch == "z9hG4bKabc"
    assert msg.from_tag == "x1" and msg.to_tag == ""
    assert msg.get("Subject") == "a long folded header"
    assert msg.body.decode() == OFFER


def test_a_response_copies_the_transaction_headers_and_adds_the_tag() -> None:
    request = parse(invite())
    ok = parse(response(request, 200, "OK", "t9", body=b"x").to_bytes())
    assert ok.status == 200 and ok.to_tag == "t9"
    assert ok.get_all("Via") == request.get_all("Via")
    assert ok.get_all("Record-Route") == ["<sip:127.0.0.1:5060;lr;ftag=x1>"]
    assert ok.body == b"x" and ok.get("Content-Length") == "1"
    assert parse(response(request, 100, "Trying", "t9").to_bytes()).to_tag == ""


@pytest.mark.parametrize(
    "data",
    [b"", b"hello\r\n\r\n", b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n",
     INVITE.format(length=9999, body=OFFER).encode()],  # a body shorter than announced
)  # fmt: skip
def test_what_is_not_a_usable_sip_message_is_refused(data: bytes) -> None:
    with pytest.raises(SipError):
        parse(data)


def test_the_answer_takes_the_callers_first_g711_codec_and_its_telephone_event() -> None:
    offer = sdp.parse_offer(OFFER)
    assert (offer.address, offer.port, offer.telephone_event) == ("10.0.0.2", 4000, 101)
    assert sdp.choose_codec(offer) == g711.PCMA
    answer = sdp.answer("127.0.0.1", 7000, g711.PCMA, 101, 1)
    assert "m=audio 7000 RTP/AVP 8 101" in answer and "a=rtpmap:8 PCMA/8000" in answer
    assert sdp.choose_codec(sdp.parse_offer(OFFER.replace(" 8 0 ", " "))) is None


def test_the_g711_tables_and_the_c_codec_agree_on_every_sample() -> None:
    every = struct.pack("<65536h", *range(-32768, 32768))
    for codec in (g711.PCMU, g711.PCMA):
        assert g711.encode_tables(every, codec) == g711.encode(every, codec)
        assert g711.decode_tables(bytes(range(256)), codec) == g711.decode(bytes(range(256)), codec)


def test_g711_round_trips_within_its_quantisation() -> None:
    pcm = struct.pack("<800h", *(int(20000 * math.sin(i / 7)) for i in range(800)))
    for codec in (g711.PCMU, g711.PCMA):
        once = g711.decode(g711.encode(pcm, codec), codec)
        assert g711.decode(g711.encode(once, codec), codec) == once  # stable after one pass
        error = max(abs(a - b) for a, b in zip(struct.unpack("<800h", pcm),
                                               struct.unpack("<800h", once), strict=True))  # fmt: skip
        assert error < 700  # the largest step of G.711 at this level
    # Known code words: silence and full scale.
    assert g711.encode(b"\0\0", g711.PCMU) == b"\xff" and g711.encode(b"\0\0", g711.PCMA) == b"\xd5"
    assert g711.decode(b"\x80", g711.PCMU) == struct.pack("<h", 32124)


def test_a_wav_written_incrementally_is_valid_at_every_second_and_repairable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.wav"
    writer = wav.WavWriter(path)
    writer.write(b"\x01\x00" * 8000)  # one second: the header is brought up to date
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 8000)
    writer.write(b"\x02\x00" * 100)
    writer.file.flush()  # as if the process died here: the header still says one second
    assert wav.repair(path) == pytest.approx(8100 / 8000)
    assert wav.read_pcm(path) == b"\x01\x00" * 8000 + b"\x02\x00" * 100
    writer.file.close()


class _Peer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.got.put_nowait(data)


async def _ua(on_invite):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    clock = Clock()
    clock.start()
    transport, ua = await loop.create_datagram_endpoint(
        lambda: UserAgent("127.0.0.1", "127.0.0.1", on_invite, clock), local_addr=("127.0.0.1", 0)
    )
    peer_transport, peer = await loop.create_datagram_endpoint(_Peer, local_addr=("127.0.0.1", 0))
    return ua, transport, clock, peer_transport, peer


async def _next(peer: _Peer, status: int | None = None) -> object:
    while True:
        msg = parse(await asyncio.wait_for(peer.got.get(), 5))
        if status is None or msg.status == status:
            return msg


def test_cancel_before_the_answer_ends_the_invite_with_487_and_options_is_answered() -> None:
    async def run() -> None:
        async def never_answer(call: Call) -> None:
            await call.ended.wait()

        ua, transport, clock, peer_t, peer = await _ua(never_answer)
        target = ("127.0.0.1", ua.port)
        peer_t.sendto(invite(), target)
        assert (await _next(peer)).status == 100
        peer_t.sendto(invite(), target)  # a retransmission: the same answer again, no new call
        assert (await _next(peer)).status == 100 and len(ua.pending) == 1
        cancel = (
            invite(body="").replace(b"INVITE sip", b"CANCEL sip").replace(b"2 INVITE", b"2 CANCEL")
        )
        peer_t.sendto(cancel, target)
        answers = {parse(await asyncio.wait_for(peer.got.get(), 5)).status for _ in range(2)}
        assert answers == {200, 487}
        options = (
            invite(body="")
            .replace(b"INVITE sip", b"OPTIONS sip")
            .replace(b"2 INVITE", b"3 OPTIONS")
        )
        options = options.replace(b"branch=z9hG4bKabc", b"branch=z9hG4bKopt")
        peer_t.sendto(options, target)
        ok = await _next(peer)
        assert ok.status == 200 and "INVITE" in (ok.get("Allow") or "")
        bye = options.replace(b"OPTIONS sip", b"BYE sip").replace(b"3 OPTIONS", b"4 BYE")
        peer_t.sendto(bye.replace(b"z9hG4bKopt", b"z9hG4bKbye"), target)
        assert (await _next(peer)).status == 481  # no such call
        clock.stop()
        transport.close()
        peer_t.close()

    asyncio.run(run())


def test_the_answer_is_retransmitted_until_the_ack() -> None:
    async def run() -> None:
        async def answer(call: Call) -> None:
            await call.answer()
            await call.ended.wait()

        ua, transport, clock, peer_t, peer = await _ua(answer)
        peer_t.sendto(invite(OFFER.replace("10.0.0.2", "127.0.0.1")), ("127.0.0.1", ua.port))
        await _next(peer, 100)
        first = await _next(peer, 200)
        again = await _next(peer, 200)  # no ACK yet: sent again after T1
        assert first.to_tag == again.to_tag
        ack = (f"ACK sip:vm@127.0.0.1:{ua.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKack\r\n"
               f"From: <sip:102@klapka>;tag=x1\r\nTo: <sip:101@klapka>;tag={first.to_tag}\r\n"
               "Call-ID: call-1@test\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n")  # fmt: skip
        peer_t.sendto(ack.encode(), ("127.0.0.1", ua.port))
        await asyncio.sleep(1.6)  # past the next retransmission time (T1, 2*T1...)
        while not peer.got.empty():
            data = peer.got.get_nowait()
            assert not data.startswith(b"SIP/2.0 200"), "still retransmitting after the ACK"
        clock.stop()
        transport.close()
        peer_t.close()

    asyncio.run(run())
