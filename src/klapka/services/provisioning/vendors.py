"""Which file a phone asks for, and which vendor's phone asks.

Each vendor's phones request their own file names, the MAC address in lower case without
separators: Yealink ``{mac}.cfg`` (and the common ``y0000000000xx.cfg``), Grandstream
``cfg{mac}.xml``, Snom ``{mac}.xml``, Fanvil ``{mac}.cfg``. Yealink and Fanvil ask for the
same name: the vendor stored with the phone decides, else the User-Agent, else Yealink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Vendor(StrEnum):
    YEALINK = "yealink"
    GRANDSTREAM = "grandstream"
    SNOM = "snom"
    FANVIL = "fanvil"


# How each vendor writes its name (what the admin console's vendor picker shows).
VENDOR_NAME = {
    Vendor.YEALINK: "Yealink",
    Vendor.GRANDSTREAM: "Grandstream",
    Vendor.SNOM: "snom",
    Vendor.FANVIL: "Fanvil",
}

# Current desk-phone models of each vendor that the shipped templates are written for: what
# the admin console's model picker offers (a phone's ``model`` may name any other).
MODELS: dict[Vendor, tuple[str, ...]] = {
    Vendor.YEALINK: (
        "T31P", "T31G", "T33G", "T34W", "T43U", "T44W", "T46U", "T48U", "T53W", "T54W",
        "T57W", "T58W",
    ),
    Vendor.GRANDSTREAM: (
        "GRP2601", "GRP2602", "GRP2603", "GRP2604", "GRP2612", "GRP2613", "GRP2614",
        "GRP2615", "GRP2616", "GXP2135", "GXP2160", "GXP2170",
    ),
    Vendor.SNOM: ("D713", "D717", "D735", "D785", "D812", "D815", "D862", "D865"),
    Vendor.FANVIL: ("X1U", "X3U", "X4U", "X5U", "X6U", "X7", "X7C", "X210"),
}  # fmt: skip

# The template each vendor's configuration file and phonebook are made from.
CONFIG_TEMPLATE = {
    Vendor.YEALINK: "yealink.cfg",
    Vendor.GRANDSTREAM: "grandstream.xml",
    Vendor.SNOM: "snom.xml",
    Vendor.FANVIL: "fanvil.cfg",
}
PHONEBOOK_TEMPLATE = {v: f"phonebook-{v.value}.xml" for v in Vendor}
YEALINK_COMMON_TEMPLATE = "yealink-common.cfg"

MEDIA_TYPE = {".cfg": "text/plain; charset=utf-8", ".xml": "application/xml; charset=utf-8"}


class FileKind(StrEnum):
    CONFIG = "config"  # one phone's configuration file
    COMMON = "common"  # Yealink's file common to a model family: nothing of any account
    PHONEBOOK = "phonebook"  # one phone's remote phonebook


@dataclass(frozen=True)
class Wanted:
    """What a request under /provisioning/ asks for."""

    kind: FileKind
    mac: str = ""  # 12 lower-case hex digits; empty for the common file
    vendors: tuple[Vendor, ...] = ()  # the vendors whose phones ask for this name
    suffix: str = ".cfg"


_HEX = "[0-9a-f]{12}"
_PATTERNS: tuple[tuple[re.Pattern[str], FileKind, tuple[Vendor, ...], str], ...] = (
    (re.compile(rf"^cfg({_HEX})\.xml$"), FileKind.CONFIG, (Vendor.GRANDSTREAM,), ".xml"),
    (re.compile(rf"^({_HEX})\.xml$"), FileKind.CONFIG, (Vendor.SNOM,), ".xml"),
    (re.compile(rf"^({_HEX})\.cfg$"), FileKind.CONFIG, (Vendor.YEALINK, Vendor.FANVIL), ".cfg"),
    (re.compile(r"^(y0000000000[0-9a-f]{2})\.cfg$"), FileKind.COMMON, (Vendor.YEALINK,), ".cfg"),
    (re.compile(rf"^phonebook/({_HEX})\.xml$"), FileKind.PHONEBOOK, tuple(Vendor), ".xml"),
)


def parse(name: str) -> Wanted | None:
    """The file ``name`` (the path below /provisioning/) asks for; None: no such file.
    A MAC address in upper case is accepted too (some phones send it so)."""
    low = name.lower()
    for pattern, kind, vendors, suffix in _PATTERNS:
        m = pattern.match(low)
        if m:
            mac = "" if kind is FileKind.COMMON else m.group(1)
            return Wanted(kind, mac, vendors, suffix)
    return None


# What each vendor's phones put in their User-Agent ("Yealink SIP-T54W ...", "Grandstream
# GXP2170 ...", "snomD785/10.1 ...", "Fanvil X4U ...").
_AGENT_WORDS = {
    Vendor.YEALINK: ("yealink",),
    Vendor.GRANDSTREAM: ("grandstream",),
    Vendor.SNOM: ("snom",),
    Vendor.FANVIL: ("fanvil",),
}


def vendor_named(text: str) -> Vendor | None:
    """The vendor a stored vendor name or a User-Agent names, if any."""
    low = text.lower()
    for vendor, words in _AGENT_WORDS.items():
        if any(w in low for w in words):
            return vendor
    return None


def vendor_of(wanted: Wanted, stored_vendor: str, user_agent: str) -> Vendor:
    """The vendor to answer ``wanted`` for: the phone's stored vendor when it is one of
    those that ask for this name, else the User-Agent's, else the first of them."""
    for source in (stored_vendor, user_agent):
        found = vendor_named(source)
        if found is not None and found in wanted.vendors:
            return found
    return wanted.vendors[0]
