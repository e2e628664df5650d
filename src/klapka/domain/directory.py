"""Everything in the PBX directory besides extensions: groups, ring groups, queues,
business hours, trunks, inbound and outbound routes, contacts and system settings."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from klapka.domain.accounts import SignInPolicy
from klapka.domain.destinations import HANGUP, Destination, DestinationType
from klapka.domain.extension import Codec, DtmfMode, Model, Transport
from klapka.domain.values import (
    Digits,
    Email,
    Host,
    HostOrEmpty,
    HostPort,
    IpAddress,
    IpNetwork,
    Name63,
    Number,
    Pattern,
    PhoneNumber,
    RingTimeout,
    SipProxy,
    Text255,
    TimeRange,
    TimeZone,
    VoiceLanguage,
    int_range,
)

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}$")]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Group(Model):
    """An extension group: a named set of extensions for routes and permissions."""

    name: Slug
    members: list[Number] = Field(default_factory=list)
    # Members must sign in to the portal with a second factor (TOTP).
    require_2fa: bool = False

    @field_validator("members")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("must not list an extension twice")
        return v


class RingStrategy(StrEnum):
    RING_ALL = "ring_all"
    SEQUENTIAL = "sequential"


class RingGroup(Model):
    number: Number
    name: Name63 = ""
    strategy: RingStrategy = RingStrategy.RING_ALL
    members: list[Number] = Field(default_factory=list)
    ring_timeout: RingTimeout = 30
    failover: Destination = HANGUP

    @model_validator(mode="after")
    def _rules(self) -> RingGroup:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members: must not list an extension twice")
        if self.number in self.members:
            raise ValueError("members: a ring group cannot contain itself")
        if (
            self.failover.type is DestinationType.RING_GROUP
            and self.failover.ring_group == self.number
        ):
            raise ValueError("failover: a ring group cannot fail over to itself")
        if self.failover.type is DestinationType.MOBILE_NUMBER:
            raise ValueError("failover: mobile_number needs an extension; use external_number")
        if self.failover.voicemail is True:
            # Only an extension has a mailbox of its own.
            raise ValueError('failover: name the mailbox, e.g. {voicemail: "101"}')
        if not self.name:
            self.name = self.number
        return self


class Queue(Model):
    number: Number
    name: Name63 = ""
    members: list[Number] = Field(default_factory=list)
    timeout: Annotated[int, int_range(5, 3600)] = 60
    failover: Destination = HANGUP

    @model_validator(mode="after")
    def _rules(self) -> Queue:
        if len(set(self.members)) != len(self.members):
            raise ValueError("members: must not list an extension twice")
        if self.number in self.members:
            raise ValueError("members: a queue cannot contain itself")
        if self.failover.type is DestinationType.QUEUE and self.failover.queue == self.number:
            raise ValueError("failover: a queue cannot fail over to itself")
        if self.failover.type is DestinationType.MOBILE_NUMBER:
            raise ValueError("failover: mobile_number needs an extension; use external_number")
        if self.failover.voicemail is True:
            # Only an extension has a mailbox of its own.
            raise ValueError('failover: name the mailbox, e.g. {voicemail: "101"}')
        if not self.name:
            self.name = self.number
        return self


class Holiday(Model):
    date: dt.date
    name: Name63 = ""
    end_date: dt.date | None = None

    @model_validator(mode="after")
    def _range(self) -> Holiday:
        if self.end_date is not None and self.end_date < self.date:
            raise ValueError("end_date: must not be before date")
        return self


DaySchedule = dict[str, list[TimeRange]]


def _check_days(v: dict[str, list[str]]) -> dict[str, list[str]]:
    for day, ranges in v.items():
        if day not in DAYS:
            raise ValueError(f"{day}: not a day; use one of {', '.join(DAYS)}")
        if len(ranges) != len(set(ranges)):
            raise ValueError(f"{day}: the same range is listed twice")
        parsed = sorted(ranges)
        for a, b in itertools.pairwise(parsed):
            if a.split("-")[1] > b.split("-")[0]:
                raise ValueError(f"{day}: ranges {a} and {b} overlap")
    return {d: sorted(v[d]) for d in DAYS if v.get(d)}


class BusinessHours(Model):
    """Weekly open hours, breaks and holidays; absent day = closed."""

    timezone: TimeZone | None = None
    weekly: DaySchedule = Field(default_factory=dict)
    breaks: DaySchedule = Field(default_factory=dict)
    holidays: list[Holiday] = Field(default_factory=list)

    @field_validator("weekly", "breaks")
    @classmethod
    def _days(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_days(v)


class TrunkType(StrEnum):
    REGISTER = "register"
    PEER = "peer"


class Trunk(Model):
    name: Slug
    type: TrunkType
    enabled: bool = True
    host: Annotated[Host, Field(max_length=255)]
    port: Annotated[int, int_range(1, 65535)] = 5060
    domain: Annotated[HostPort, Field(max_length=255)] | None = None
    transport: Transport = Transport.UDP
    username: Annotated[str, Field(max_length=127)] | None = None
    auth_name: Annotated[str, Field(max_length=127)] | None = None
    password: Annotated[str, Field(max_length=127)] | None = None
    outbound_proxy: Annotated[SipProxy, Field(max_length=255)] | None = None
    registration_expiry: Annotated[int, int_range(60, 86400)] = 3600
    allowed_ips: list[IpNetwork] = Field(default_factory=list)
    codecs: list[Codec] = Field(default_factory=lambda: [Codec.PCMU, Codec.PCMA])
    dtmf_mode: DtmfMode = DtmfMode.RFC4733
    qualify: bool = True
    caller_id: PhoneNumber | None = None
    from_user: Annotated[str, Field(max_length=127)] | None = None
    dids: list[PhoneNumber] = Field(default_factory=list)

    @field_validator("codecs")
    @classmethod
    def _codecs(cls, v: list[Codec]) -> list[Codec]:
        # As for an extension: a trunk without a codec cannot carry a call.
        if not v:
            raise ValueError("must list at least one codec")
        if len(set(v)) != len(v):
            raise ValueError("must not list a codec twice")
        return v

    @model_validator(mode="after")
    def _rules(self) -> Trunk:
        if self.type is TrunkType.REGISTER and not self.username:
            raise ValueError("username: required for a register trunk")
        if self.type is TrunkType.PEER and (
            self.username is not None or self.registration_expiry != 3600
        ):
            raise ValueError("username: a peer trunk does not register (use a register trunk)")
        if len(set(self.dids)) != len(self.dids):
            raise ValueError("dids: must not list a DID twice")
        return self


class InboundRoute(Model):
    name: Slug
    did: Pattern
    destination: Destination
    outside_business_hours: Destination | None = None

    @model_validator(mode="after")
    def _rules(self) -> InboundRoute:
        for field in ("destination", "outside_business_hours"):
            d = getattr(self, field)
            if d is not None and d.type is DestinationType.MOBILE_NUMBER:
                raise ValueError(f"{field}: mobile_number needs an extension; use external_number")
            if d is not None and d.type is DestinationType.VOICEMAIL and d.voicemail is True:
                raise ValueError(f'{field}: name the mailbox, e.g. {{voicemail: "101"}}')
        return self


class OutboundRoute(Model):
    name: Slug
    enabled: bool = True
    patterns: Annotated[list[Pattern], Field(min_length=1)]
    strip: Annotated[int, int_range(0, 16)] = 0
    prepend: Annotated[str, Field(pattern=r"^\+?[0-9*#]{0,16}$")] = ""
    trunks: list[Slug] = Field(default_factory=list)
    extensions: list[Number] = Field(default_factory=list)
    groups: list[Slug] = Field(default_factory=list)
    business_hours_only: bool = False
    caller_id: PhoneNumber | None = None

    @model_validator(mode="after")
    def _rules(self) -> OutboundRoute:
        if self.enabled and not self.trunks:
            raise ValueError("trunks: an enabled route needs at least one trunk")
        if len(set(self.trunks)) != len(self.trunks):
            raise ValueError("trunks: must not list a trunk twice")
        return self


class ContactNumberType(StrEnum):
    WORK = "work"
    MOBILE = "mobile"
    HOME = "home"
    FAX = "fax"
    OTHER = "other"


class ContactNumber(Model):
    type: ContactNumberType = ContactNumberType.WORK
    number: PhoneNumber


# Every company contact not put in another phonebook is in this one; it always exists.
DEFAULT_PHONEBOOK = "Default"


class Phonebook(Model):
    """A named set of company contacts (each contact is in exactly one phonebook)."""

    name: Slug
    description: Text255 = ""

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v.lower() == DEFAULT_PHONEBOOK.lower():
            raise ValueError(
                f"'{DEFAULT_PHONEBOOK}' is reserved for the phonebook of every contact "
                "not in another one"
            )
        return v


class ContactCard(Model):
    """What a contact says: names, company, email, numbers (company or personal)."""

    first_name: Name63 = ""
    last_name: Name63 = ""
    company: Name63 = ""
    email: Email | None = None
    numbers: Annotated[list[ContactNumber], Field(max_length=20)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named(self) -> ContactCard:
        if not (self.first_name or self.last_name or self.company):
            raise ValueError("first_name: a contact needs a first name, last name or company")
        return self


class Contact(ContactCard):
    """A company contact: shared with everyone allowed to see company contacts."""

    phonebook: Slug = DEFAULT_PHONEBOOK

    @field_validator("phonebook")
    @classmethod
    def _default_spelling(cls, v: str) -> str:
        return DEFAULT_PHONEBOOK if v.lower() == DEFAULT_PHONEBOOK.lower() else v


class PersonalContact(ContactCard):
    """A contact of one extension's user, private to them."""


def contact_search_text(card: ContactCard) -> str:
    """What a contact search matches: names, company, email, numbers also as bare digits."""
    parts = [card.first_name, card.last_name, card.company, card.email or ""]
    for n in card.numbers:
        parts += [n.number, re.sub(r"\D", "", n.number)]
    return " ".join(p for p in parts if p).lower()


class Smtp(Model):
    host: Annotated[HostOrEmpty, Field(max_length=255)] = ""
    port: Annotated[int, int_range(1, 65535)] = 25
    security: Annotated[str, Field(pattern=r"^(none|starttls|tls)$")] = "starttls"
    username: Annotated[str, Field(max_length=255)] = ""
    password: Annotated[str, Field(max_length=255)] | None = None
    from_address: Email | None = None


class SipSettings(Model):
    """Where the SIP core listens, and how registered clients are classified."""

    listen_address: IpAddress = "0.0.0.0"
    # Behind NAT: the address phones and providers outside reach (put on the wire instead
    # of the machine's own addresses, loopback excepted); None = not behind NAT.
    public_address: IpAddress | None = None
    udp_port: Annotated[int, int_range(1, 65535)] = 5060
    tcp_port: Annotated[int, int_range(1, 65535)] = 5060
    # SIP over TLS (certificate under <data dir>/tls/, made by `klapka init`); None or 0 = off.
    tls_port: Annotated[int, int_range(0, 65535)] | None = 5061
    # SIP over WebSocket for browser (web) clients: ws:// and, with the TLS certificate,
    # wss://; None or 0 = off.
    ws_port: Annotated[int, int_range(0, 65535)] | None = 8088
    wss_port: Annotated[int, int_range(0, 65535)] | None = 8089
    domain: Annotated[HostOrEmpty, Field(max_length=255)] = ""
    # A registered client whose User-Agent contains one of these is that endpoint class;
    # WebSocket clients are "web"; anything else is "desk".
    mobile_app_user_agents: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        default_factory=lambda: ["klapka Mobile", "Linkus Mobile"]
    )
    desktop_app_user_agents: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        default_factory=lambda: ["klapka Desktop", "Linkus Desktop"]
    )


class MediaAnchor(StrEnum):
    """When calls' audio goes through the media relay (rtpengine) instead of straight
    between the phones."""

    AUTO = "auto"  # when needed: NAT, a browser, codecs to enforce
    ALWAYS = "always"
    NEVER = "never"


class MediaSettings(Model):
    """The media relay (rtpengine): when calls are anchored, and its RTP ports."""

    anchor: MediaAnchor = MediaAnchor.AUTO
    rtp_port_min: Annotated[int, int_range(1024, 65534)] = 20000
    rtp_port_max: Annotated[int, int_range(1025, 65535)] = 30000

    @model_validator(mode="after")
    def _range(self) -> MediaSettings:
        if self.rtp_port_max - self.rtp_port_min < 3:
            raise ValueError("rtp_port_max: must be at least 4 ports above rtp_port_min")
        return self


class System(Model):
    timezone: TimeZone = "UTC"
    country_code: Annotated[Digits, Field(max_length=4)] = ""
    international_prefix: Annotated[Digits, Field(min_length=1, max_length=4)] = "00"
    emergency_numbers: list[Annotated[str, Field(pattern=r"^[0-9]{2,8}$")]] = Field(
        default_factory=lambda: ["112"]
    )
    portal_url: Annotated[str, Field(max_length=255)] = "http://127.0.0.1:8080"
    # Hot desking: users logged in at a hot-desk phone are logged out at this local time
    # (``timezone``) every day; "" never.
    hot_desking_logout: Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9])?$")] = (
        "00:00"
    )
    # A call lasts at most this long once answered, unless its extensions have their own
    # limit (``security.max_call_seconds``); 0: no limit.
    max_call_seconds: Annotated[int, int_range(0, 86400)] = 0
    # Calls older than this many days leave the call history; 0 keeps them all.
    call_history_days: Annotated[int, int_range(0, 3650)] = 365
    # The language of the voice prompts of mailboxes without their own voicemail.language.
    language: VoiceLanguage = VoiceLanguage.EN
    smtp: Smtp = Field(default_factory=Smtp)
    sip: SipSettings = Field(default_factory=SipSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    sign_in: SignInPolicy = Field(default_factory=SignInPolicy)

    @field_validator("emergency_numbers")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("must not list a number twice")
        return v
