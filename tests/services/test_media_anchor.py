"""When a call's audio goes through the media relay, and what the relay is told: the party
rung gets its codec list in its order, the others stripped or transcoded; NAT, SRTP and
the system's mode decide."""

from __future__ import annotations

from klapka.kemi import anchor

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 8 9 18 101 96\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\n"
)


def test_the_offered_codecs_are_read_in_order_without_dtmf() -> None:
    assert anchor.offered_codecs(OFFER) == ["PCMU", "PCMA", "G722", "G729", "opus"]
    assert anchor.offered_codecs("v=0\r\n") == []
    assert not anchor.encrypted(OFFER)
    assert anchor.encrypted(OFFER.replace("RTP/AVP", "RTP/SAVP"))


def test_the_party_rung_gets_its_list_in_its_order_or_all_of_it_transcoded() -> None:
    offered = ["PCMU", "PCMA", "G729"]
    assert anchor.filtered(offered, ["PCMA"]) == ["PCMA"]
    assert anchor.filtered(offered, ["PCMA", "PCMU"]) == ["PCMA", "PCMU"]
    assert anchor.filtered(offered, ["opus", "G722"]) == ["opus", "G722"]  # none: transcoded
    assert anchor.filtered(offered, None) == offered
    flags = anchor.offer_flags(offered, ["PCMA", "PCMU"]).split()
    assert flags[-2:] == ["codec-transcode=PCMA", "codec-transcode=PCMU"]
    assert "codec-strip=all" in flags and "codec-except=telephone-event" in flags
    assert "transport-protocol=RTP/AVP" in flags


def test_when_a_branch_is_anchored() -> None:
    both = ["PCMU", "PCMA"]
    assert anchor.reason("auto", both, ["PCMU", "PCMA", "G722"], False, False) is None
    assert anchor.reason("auto", ["PCMA", "PCMU"], both, False, False) is None  # order only
    assert anchor.reason("auto", both, ["PCMA"], False, False) == "codecs"
    assert anchor.reason("auto", both, None, True, False) == "nat"
    assert anchor.reason("auto", both, None, False, True) == "nat"
    assert anchor.reason("auto", both, None, False, False, srtp_differs=True) == "srtp"
    assert anchor.reason("always", both, None, False, False) == "always"
    assert anchor.reason("never", both, ["PCMA"], True, True, True) is None
    assert anchor.reason("always", [], None, False, False) is None  # no offer: nothing


def test_nat_is_a_private_address_other_than_the_source() -> None:
    assert anchor.behind_nat(OFFER, "203.0.113.9")
    assert not anchor.behind_nat(OFFER, "192.168.1.20")  # the same LAN
    assert not anchor.behind_nat(OFFER.replace("192.168.1.20", "198.51.100.4"), "203.0.113.9")


def test_srtp_toward_a_phone_offers_the_two_common_sdes_suites() -> None:
    flags = anchor.offer_flags(["PCMA"], None, ("a10_0_0_1", "a10_0_0_1"), srtp=True).split()
    assert "transport-protocol=RTP/SAVP" in flags and "DTLS=off" in flags
    assert "SDES-no-NULL_HMAC_SHA1_80" in flags and "SDES-no-AEAD_AES_256_GCM" in flags
    assert not any("AES_CM_128" in f for f in flags)
    assert flags.count("direction=a10_0_0_1") == 2  # in from the caller, out to the phone
    assert anchor.interface_name("2001:db8::1") == "a2001_db8__1"


def test_a_browser_gets_webrtc_and_a_phone_called_from_a_browser_plain_rtp() -> None:
    both = ["PCMU", "PCMA"]
    assert anchor.reason("auto", both, None, False, False, browser=True) == "webrtc"
    to_browser = anchor.offer_flags(both, None, to_browser=True).split()
    assert {"ICE=force", "transport-protocol=UDP/TLS/RTP/SAVPF", "SDES-off"} <= set(to_browser)
    from_browser = anchor.offer_flags(both, None, from_browser=True).split()
    assert {"ICE=remove", "rtcp-mux-demux", "transport-protocol=RTP/AVP"} <= set(from_browser)
