"""Value types shared by every settings model, each with its rule in words."""

from __future__ import annotations

import ipaddress
import re
import secrets
import string
from datetime import time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field

from klapka.routing.dialpattern import PatternError, compile_pattern


def _number(v: str) -> str:
    if not re.fullmatch(r"[0-9]{2,8}", v):
        raise ValueError("must be 2-8 digits")
    return v


def _digits(v: str) -> str:
    if not re.fullmatch(r"[0-9]*", v):
        raise ValueError("must contain digits only")
    return v


def _dialable(v: str) -> str:
    if not re.fullmatch(r"\+?[0-9*#]{1,31}", v):
        raise ValueError("must be a phone number: digits, * and #, optionally starting with +")
    return v


def _mobile(v: str) -> str:
    if len(v) > 31:
        raise ValueError("must be at most 31 characters")
    if v and not re.fullmatch(r"[0-9+()\-.*# ]*[0-9][0-9+()\-.*# ]*", v):
        raise ValueError("must contain digits and only + ( ) - . * #")
    return v


def dialable_mobile(v: str) -> str:
    """The mobile number as it is dialled: punctuation removed."""
    return re.sub(r"[^0-9+*#]", "", v)


def _email(v: str) -> str:
    if len(v) > 255:
        raise ValueError("must be at most 255 characters")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise ValueError("must be an email address like name@example.com")
    return v.strip()


def _pattern(v: str) -> str:
    try:
        compile_pattern(v)
    except PatternError as e:
        raise ValueError(f"not a valid dial pattern: {e}") from None
    return v


def _timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone like Europe/Prague") from None
    if v not in _zones():
        raise ValueError("must be an IANA time zone like Europe/Prague")
    return v


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def _ip_network(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=False))
    except ValueError:
        raise ValueError("must be an IP address or network like 192.0.2.0/24") from None


def _ip_address(v: str) -> str:
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise ValueError("must be an IP address like 0.0.0.0 or 192.0.2.10") from None


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
HOST_RULE = "must be a host name (dot-separated labels of letters, digits and -) or an IP address"
_PORT_RULE = "the port after : must be 1..65535"


def _host_name_or_ip(v: str) -> bool:
    """RFC 1123 host name (labels of letters, digits and inner hyphens, at most 253
    characters, the last label not all digits), IPv4, or IPv6 bare or in brackets."""
    if v.startswith("[") and v.endswith("]"):
        try:
            return ipaddress.ip_address(v[1:-1]).version == 6
        except ValueError:
            return False
    try:
        ipaddress.ip_address(v)
        return "%" not in v  # no scope ids
    except ValueError:
        pass
    labels = v.split(".")
    return (
        0 < len(v) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _split_port(v: str) -> tuple[str, str | None]:
    """``host[:port]`` -> (host, port); a bare IPv6 address has no port."""
    if v.startswith("["):
        end = v.find("]")
        if end != -1 and v[end + 1 :].startswith(":"):
            return v[: end + 1], v[end + 2 :]
        return v, None
    if v.count(":") == 1:
        host, port = v.split(":")
        return host, port
    return v, None


def _check_port(port: str | None) -> None:
    if port is not None and not (re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535):
        raise ValueError(_PORT_RULE)


def _host(v: str) -> str:
    if not _host_name_or_ip(v):
        raise ValueError(HOST_RULE + " (the port goes in its own setting)")
    return v


def _host_or_empty(v: str) -> str:
    return _host(v) if v else v


def _host_port(v: str) -> str:
    host, port = _split_port(v)
    if not _host_name_or_ip(host):
        raise ValueError(HOST_RULE + ", optionally with :port")
    _check_port(port)
    return v


def _sip_proxy(v: str) -> str:
    """``[sip:]host[:port][;transport=udp|tcp|tls][;lr]``."""
    rest = v[4:] if v[:4].lower() == "sip:" else v
    address, *params = rest.split(";")
    host, port = _split_port(address)
    if not _host_name_or_ip(host):
        raise ValueError(
            HOST_RULE + ", optionally with sip: before it, :port and ;transport=udp|tcp|tls"
        )
    _check_port(port)
    for param in params:
        if not re.fullmatch(r"(?i)transport=(udp|tcp|tls)|lr", param):
            raise ValueError(f"unknown parameter ;{param} (allowed: ;transport=udp|tcp|tls, ;lr)")
    return v


def _mac(v: str) -> str:
    hexdigits = re.sub(r"[:\-. ]", "", v).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", hexdigits):
        raise ValueError("must be 12 hexadecimal digits (separators allowed)")
    return hexdigits


def _time_range(v: str) -> str:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", v.replace(" ", ""))
    if not m:
        raise ValueError("must be a time range HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError("must be a time range HH:MM-HH:MM with valid times")
    if (h1, m1) >= (h2, m2):
        raise ValueError("must end after it starts (HH:MM-HH:MM)")
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def parse_time_range(v: str) -> tuple[time, time | None]:
    """A validated range as times; None as the end means midnight (24:00)."""
    a, b = v.split("-")
    start = time(int(a[:2]), int(a[3:]))
    end = None if b == "24:00" else time(int(b[:2]), int(b[3:]))
    return start, end


def _sip_password(v: str) -> str:
    if not 8 <= len(v) <= 63:
        raise ValueError("must be 8-63 characters")
    if not (
        any(c.isdigit() for c in v) and any(c.islower() for c in v) and any(c.isupper() for c in v)
    ):
        raise ValueError("must contain digits, upper-case and lower-case letters")
    return v


def _pin(v: str) -> str:
    if not re.fullmatch(r"[0-9]{4,16}", v):
        raise ValueError("must be 4-16 digits")
    return v


def _no_control(v: str) -> str:
    if any(ord(c) < 32 for c in v):
        raise ValueError("must not contain control characters")
    return v


def _strip(v: object) -> object:
    return v.strip() if isinstance(v, str) else v


def _range(lo: int, hi: int) -> AfterValidator:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise ValueError(f"must be {lo}..{hi}")
        return v

    return AfterValidator(check)


def int_range(lo: int, hi: int) -> object:
    """An ``Annotated`` marker: a whole number in lo..hi, error 'must be lo..hi'."""
    return _range(lo, hi)


Number = Annotated[str, BeforeValidator(_strip), AfterValidator(_number)]
Digits = Annotated[str, AfterValidator(_digits)]
PhoneNumber = Annotated[str, BeforeValidator(_strip), AfterValidator(_dialable)]
Mobile = Annotated[str, BeforeValidator(_strip), AfterValidator(_mobile)]
Email = Annotated[str, BeforeValidator(_strip), AfterValidator(_email)]
Pattern = Annotated[str, BeforeValidator(_strip), AfterValidator(_pattern)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
IpNetwork = Annotated[str, AfterValidator(_ip_network)]
IpAddress = Annotated[str, AfterValidator(_ip_address)]
MacAddress = Annotated[str, AfterValidator(_mac)]
# Where SIP or email is sent: a host name or IP address, without (Host) or with (HostPort)
# an optional :port, or a SIP proxy address (SipProxy).
Host = Annotated[str, BeforeValidator(_strip), AfterValidator(_host)]
HostOrEmpty = Annotated[str, BeforeValidator(_strip), AfterValidator(_host_or_empty)]
HostPort = Annotated[str, BeforeValidator(_strip), AfterValidator(_host_port)]
SipProxy = Annotated[str, BeforeValidator(_strip), AfterValidator(_sip_proxy)]
TimeRange = Annotated[str, AfterValidator(_time_range)]
SipPassword = Annotated[str, AfterValidator(_sip_password)]
Pin = Annotated[str, AfterValidator(_pin)]
Name63 = Annotated[str, BeforeValidator(_strip), Field(max_length=63), AfterValidator(_no_control)]
Text255 = Annotated[str, Field(max_length=255), AfterValidator(_no_control)]
RingTimeout = Annotated[int, _range(5, 300)]


class VoiceLanguage(StrEnum):
    """A language the voice prompts speak (voicemail)."""

    EN = "en"
    CS = "cs"


class PresenceStatus(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    BUSINESS_TRIP = "business_trip"
    DO_NOT_DISTURB = "do_not_disturb"
    LUNCH_BREAK = "lunch_break"
    OFF_WORK = "off_work"


class EndpointClass(StrEnum):
    DESK = "desk"
    MOBILE_APP = "mobile_app"
    DESKTOP_APP = "desktop_app"
    WEB = "web"


class CallKind(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class ForwardCondition(StrEnum):
    ALWAYS = "always"
    NO_ANSWER = "no_answer"
    BUSY = "busy"


def random_sip_password(length: int = 16) -> str:
    """A strong random SIP password: digits, upper and lower case guaranteed."""
    while True:
        pw = secrets.token_urlsafe(length)[:length]
        if (
            any(c.isdigit() for c in pw)
            and any(c.islower() for c in pw)
            and any(c.isupper() for c in pw)
        ):
            return pw


def random_pin(length: int = 6) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


def check_user_password(password: str, number: str, names: list[str]) -> None:
    """The portal password policy: 10-63 chars, digits + upper + lower, not number or name."""
    if not 10 <= len(password) <= 63:
        raise ValueError("must be 10-63 characters")
    if not (
        any(c.isdigit() for c in password)
        and any(c.islower() for c in password)
        and any(c.isupper() for c in password)
    ):
        raise ValueError("must contain digits, upper-case and lower-case letters")
    low = password.lower()
    if number and number in password:
        raise ValueError("must not contain the extension number")
    for name in names:
        if len(name) >= 3 and name.lower() in low:
            raise ValueError("must not contain the user's name")
