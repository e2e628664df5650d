"""Media anchoring: when a call's audio goes through the media relay (rtpengine) and what
the relay is told (its "ng" flags, as Kamailio's rtpengine module takes them).

Pure functions of what a branch of a call knows (the offer's SDP, who rings, the system's
``media.anchor`` mode); the KEMI adapter calls them per branch and hands the flags to
``rtpengine_offer``. docs/media.md.

- ``never``: no call is anchored (codec lists are then not enforced).
- ``always``: every call with an SDP offer is.
- ``auto``: a call is anchored when it needs to be: the caller or the party rung is a
  browser (WebRTC), the caller's SDP names another address
  than the one its request came from (behind NAT), the phone rung is reached where it
  registered from rather than at its Contact (behind NAT), the offer has codecs the
  party rung must not get (its codec list), or the offer's encryption is not the party
  rung's (its ``srtp``: SRTP with SDES keys, or plain RTP). An offer that only orders the codecs otherwise
  is not anchored for that alone.

Anchored, the party rung is offered its codec list, in its order: the offer's codecs that
are in the list, in the list's order; none of them: the whole list, transcoded by the relay.
DTMF (``telephone-event``) and comfort noise pass.
"""

from __future__ import annotations

import ipaddress
import re

# Payload types with a fixed meaning (RFC 3551), by the name klapka and rtpengine use.
STATIC = {0: "PCMU", 3: "GSM", 4: "G723", 8: "PCMA", 9: "G722", 13: "CN", 18: "G729"}
NOT_AUDIO_CODECS = {"telephone-event", "CN"}  # passed along, never counted as a codec
# The flags of every offer and answer: the SDP names the relay, not the phone.
BASE_FLAGS = ("replace-origin", "replace-session-connection")
BRANCH_FLAG = "via-branch=auto-next"  # each branch of a forked call its own media leg

_M_AUDIO = re.compile(r"^m=audio \d+ [A-Z/]+((?: \d+)*)\s*$", re.MULTILINE)
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)", re.MULTILINE)
_CONNECTION = re.compile(r"^c=IN IP[46] (\S+)", re.MULTILINE)
_AUDIO_PROTO = re.compile(r"^m=audio \d+ (\S+)", re.MULTILINE)
# SRTP toward a phone: SDES keys (RFC 4568) of the two suites every SRTP phone has
# (AES_CM_128_HMAC_SHA1_80 and _32, RFC 4568 section 6.2): the relay's others are left
# out, the unencrypted NULL ones above all, and the GCM ones, whose key length baresip 1.0
# and rtpengine 10.5 disagree on (measured: "srtp keylen is 42 (should be 44)").
_OTHER_SUITES = (
    "AEAD_AES_256_GCM", "AEAD_AES_128_GCM", "AES_256_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32", "AES_192_CM_HMAC_SHA1_80", "AES_192_CM_HMAC_SHA1_32",
    "F8_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_32", "NULL_HMAC_SHA1_80", "NULL_HMAC_SHA1_32",
)  # fmt: skip
SRTP_FLAGS = ("transport-protocol=RTP/SAVP", "DTLS=off",
              *(f"SDES-no-{suite}" for suite in _OTHER_SUITES))  # fmt: skip
PLAIN_FLAGS = ("transport-protocol=RTP/AVP",)
# Toward a browser (WebRTC): ICE candidates of the relay, DTLS-SRTP, RTP and RTCP on one port.
TO_BROWSER_FLAGS = ("ICE=force", "transport-protocol=UDP/TLS/RTP/SAVPF", "rtcp-mux-offer",
                    "generate-mid", "SDES-off")  # fmt: skip
# From a browser toward a phone: no ICE, RTCP on its own port again.
FROM_BROWSER_FLAGS = ("ICE=remove", "rtcp-mux-demux")


# Addresses only a network behind NAT uses: RFC 1918, shared (RFC 6598), unique local.
_BEHIND_NAT = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
))  # fmt: skip


def interface_name(address: str) -> str:
    """The relay's name of its interface on ``address`` (the SIP core's socket address)."""
    return "a" + re.sub(r"[^0-9A-Za-z]", "_", address)


def offered_codecs(sdp: str) -> list[str]:
    """The audio codecs of the first ``m=audio`` line, in order (DTMF and comfort noise
    left out); names as in ``a=rtpmap``, static payload types by their RFC 3551 names."""
    m = _M_AUDIO.search(sdp)
    if m is None:
        return []
    names = {int(pt): name for pt, name in _RTPMAP.findall(sdp)}
    out = []
    for pt in (int(p) for p in m.group(1).split()):
        name = names.get(pt) or STATIC.get(pt)
        if name is not None and name not in NOT_AUDIO_CODECS and name not in out:
            out.append(name)
    return out


def encrypted(sdp: str) -> bool:
    """Whether the offer's audio is SRTP (``RTP/SAVP``, ``RTP/SAVPF``, DTLS included)."""
    m = _AUDIO_PROTO.search(sdp)
    return bool(m and "SAVP" in m.group(1))


def sdp_address(sdp: str) -> str | None:
    """The connection address of the offer (its first ``c=`` line)."""
    m = _CONNECTION.search(sdp)
    return m.group(1) if m else None


def behind_nat(sdp: str, source: str) -> bool:
    """Whether an offer came from behind NAT: it names a private address (RFC 1918, shared
    or unique-local) other than the one its request came from."""
    address = sdp_address(sdp)
    if not address or address == source:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a host name: taken as it is
    return any(ip in net for net in _BEHIND_NAT if net.version == ip.version)


def _same(codec: str, other: str) -> bool:
    return codec.lower() == other.lower()


def filtered(offered: list[str], allowed: list[str] | None) -> list[str]:
    """What the party rung is offered: the offered codecs in ``allowed``, in its order;
    none of them: all of ``allowed`` (the relay transcodes). No list: the offer as it is."""
    if not allowed:
        return list(offered)
    kept = [a for a in allowed if any(_same(a, o) for o in offered)]
    return kept or list(allowed)


def reason(
    mode: str,  # system.media.anchor (klapka.domain.directory.MediaAnchor's values)
    offered: list[str],
    allowed: list[str] | None,
    caller_nat: bool,
    callee_nat: bool,
    srtp_differs: bool = False,
    browser: bool = False,
) -> str | None:
    """Why this branch is anchored (``always``, ``webrtc``, ``nat``, ``srtp``, ``codecs``),
    or None. ``srtp_differs``: the offer is SRTP and the party rung takes plain RTP, or the
    other way round; ``browser``: the caller or the party rung is a browser (WebRTC: ICE
    and DTLS-SRTP, which phones do not speak)."""
    if mode == "never" or not offered:
        return None
    if mode == "always":
        return "always"
    if browser:
        return "webrtc"
    if caller_nat or callee_nat:
        return "nat"
    if srtp_differs:
        return "srtp"
    if allowed and any(not any(_same(o, a) for a in allowed) for o in offered):
        return "codecs"  # the offer has codecs to strip (or none of the list: transcoded)
    return None


def offer_flags(
    offered: list[str],
    allowed: list[str] | None,
    interfaces: tuple[str, str] | None = None,
    srtp: bool = False,
    to_browser: bool = False,
    from_browser: bool = False,
) -> str:
    """The flags of the offer to the party rung: its media (a browser: WebRTC; else SRTP
    with SDES keys for ``srtp``, plain RTP otherwise; from a browser without ICE), its
    codecs (``filtered``: the others stripped, the missing transcoded), each branch its
    own leg, and with several interfaces, the one the caller reached and the one toward
    the party rung."""
    flags = [*BASE_FLAGS, BRANCH_FLAG]
    if to_browser:
        flags += TO_BROWSER_FLAGS
    else:
        flags += [*(FROM_BROWSER_FLAGS if from_browser else ()),
                  *(SRTP_FLAGS if srtp else PLAIN_FLAGS)]  # fmt: skip
    if interfaces is not None:
        flags += [f"direction={interfaces[0]}", f"direction={interfaces[1]}"]
    if allowed:
        flags += ["codec-strip=all", "codec-except=telephone-event", "codec-except=CN"]
        flags += [f"codec-transcode={c}" for c in filtered(offered, allowed)]
    return " ".join(flags)


def answer_flags(branch: bool = True) -> str:
    """The flags of an answer: the call's INVITE (``branch``: its answering branch's leg),
    or a re-INVITE's (the relay answers each party as it offered)."""
    return " ".join((*BASE_FLAGS, BRANCH_FLAG) if branch else BASE_FLAGS)


WEBRTC, SRTP, PLAIN = "webrtc", "srtp", "plain"  # what each side of an anchored call speaks


def side(browser: bool, srtp: bool) -> str:
    """What a party of an anchored call speaks: WebRTC (a browser), SDES SRTP, plain RTP."""
    return WEBRTC if browser else SRTP if srtp else PLAIN


def within_dialog_flags(toward: str = PLAIN, sender: str = PLAIN) -> str:
    """A re-INVITE or UPDATE of an anchored call (hold, a new address), through the relay:
    offered to the other party as it speaks (``toward``), coming from ``sender``."""
    flags = list(BASE_FLAGS)
    if toward == WEBRTC:
        flags += TO_BROWSER_FLAGS
    else:
        flags += [*(FROM_BROWSER_FLAGS if sender == WEBRTC else ()),
                  *(SRTP_FLAGS if toward == SRTP else PLAIN_FLAGS)]  # fmt: skip
    return " ".join(flags)
