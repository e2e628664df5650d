"""The SDP offer a caller sends and the answer the media service gives (one audio stream,
G.711, RFC 4733 telephone-event)."""

from __future__ import annotations

from dataclasses import dataclass

from klapka.media.g711 import NAMES, PCMA, PCMU


class SdpError(ValueError):
    pass


@dataclass(frozen=True)
class Offer:
    address: str
    port: int
    payload_types: tuple[int, ...]
    telephone_event: int | None  # the dynamic payload type of telephone-event/8000
    ptime: int = 20


def parse_offer(body: str) -> Offer:
    address = ""
    port = -1
    pts: tuple[int, ...] = ()
    rtpmap: dict[int, str] = {}
    ptime = 20
    audio_seen = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 ") and (not address or audio_seen):
            address = line.split()[2]
        elif line.startswith("m="):
            fields = line[2:].split()
            if fields[0] == "audio" and not audio_seen:
                audio_seen = True
                port = int(fields[1])
                pts = tuple(int(p) for p in fields[3:] if p.isdigit())
            elif audio_seen:
                break  # a second stream (video...) is not ours
        elif line.startswith("a=rtpmap:") and audio_seen:
            pt, _, name = line[9:].partition(" ")
            if pt.isdigit():
                rtpmap[int(pt)] = name.lower()
        elif line.startswith("a=ptime:"):
            ptime = int(line[8:] or 20)
    if not audio_seen or not address or port < 0:
        raise SdpError("no audio stream in the offer")
    event = next(
        (pt for pt, name in rtpmap.items() if name.startswith("telephone-event/8000")), None
    )
    return Offer(address, port, pts, event, ptime)


def choose_codec(offer: Offer) -> int | None:
    """The first of PCMU and PCMA in the caller's order of preference."""
    return next((pt for pt in offer.payload_types if pt in (PCMU, PCMA)), None)


def answer(address: str, port: int, codec: int, telephone_event: int | None, session: int) -> str:
    pts = f"{codec}" + (f" {telephone_event}" if telephone_event is not None else "")
    lines = [
        "v=0",
        f"o=klapka {session} {session} IN IP4 {address}",
        "s=klapka voicemail",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {pts}",
        f"a=rtpmap:{codec} {NAMES[codec]}/8000",
    ]
    if telephone_event is not None:
        lines += [
            f"a=rtpmap:{telephone_event} telephone-event/8000",
            f"a=fmtp:{telephone_event} 0-16",
        ]
    lines += ["a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"
