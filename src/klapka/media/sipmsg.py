"""SIP messages as the media service needs them: parse, read headers, build requests and
responses (RFC 3261 syntax over UDP; compact header forms understood)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {
    "v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
}  # fmt: skip
CANONICAL = {
    name.lower(): name
    for name in (
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type",
        "Record-Route", "Route", "Max-Forwards", "Event", "Subscription-State", "Allow",
        "Supported", "User-Agent", "Server", "Expires", "Reason", "Subject", "Accept",
    )
}  # fmt: skip
MULTI = {"Via", "Record-Route", "Route", "Contact"}  # may be folded into one line with commas


class SipError(ValueError):
    """A datagram that is not a SIP message we can use."""


def _canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return CANONICAL.get(low, name.strip())


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    # --- the first line ---------------------------------------------------------------

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        return self.cseq[1]

    @property
    def uri(self) -> str:
        return self.first_line.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.first_line.split(" ")[1]) if not self.is_request else 0

    # --- headers ----------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def set(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("CSeq") or "0 ").partition(" ")
        return int(number), method.strip()

    @property
    def branch(self) -> str:
        via = self.get("Via") or ""
        match = re.search(r";\s*branch=([^;,\s]+)", via)
        return match.group(1) if match else ""

    @property
    def from_tag(self) -> str:
        return tag_of(self.get("From") or "")

    @property
    def to_tag(self) -> str:
        return tag_of(self.get("To") or "")

    def to_bytes(self) -> bytes:
        lines = [self.first_line]
        lines += [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def tag_of(header: str) -> str:
    match = re.search(r";\s*tag=([^;\s>]+)", header)
    return match.group(1) if match else ""


def uri_of(header: str) -> str:
    """The URI of a name-addr (``"Bob" <sip:b@h>;tag=x``) or addr-spec header value."""
    start, end = header.find("<"), header.find(">")
    if start >= 0 and end > start:
        return header[start + 1 : end]
    return header.split(";")[0].strip()


def user_of(uri: str) -> str:
    rest = uri.split(":", 1)[-1]
    return rest.split("@")[0] if "@" in rest else ""


def display_name_of(header: str) -> str:
    start = header.find("<")
    if start <= 0:
        return ""
    return header[:start].strip().strip('"').strip()


def _split_commas(value: str) -> list[str]:
    """Header values folded with commas, ignoring commas inside quotes and <...>."""
    out: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        out.append("".join(current).strip())
    return out


def parse(data: bytes) -> SipMessage:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SipError("not UTF-8") from e
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].strip():
        raise SipError("empty message")
    first = lines[0].strip()
    parts = first.split(" ")
    if first.startswith("SIP/2.0 "):
        if len(parts) < 2 or not parts[1].isdigit():
            raise SipError(f"bad status line: {first!r}")
    elif len(parts) != 3 or parts[2] != "SIP/2.0":
        raise SipError(f"bad request line: {first!r}")
    msg = SipMessage(first)
    unfolded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    for line in unfolded:
        name, colon, value = line.partition(":")
        if not colon:
            raise SipError(f"bad header line: {line!r}")
        key = _canonical(name)
        value = value.strip()
        if key in MULTI:
            msg.headers += [(key, v) for v in _split_commas(value)]
        else:
            msg.headers.append((key, value))
    length = msg.get("Content-Length")
    if length is not None:
        if not length.isdigit() or int(length) > len(body):
            raise SipError("Content-Length larger than the body")
        body = body[: int(length)]
    msg.body = body
    for required in ("Via", "From", "To", "Call-ID", "CSeq"):
        if msg.get(required) is None:
            raise SipError(f"no {required} header")
    return msg


def response(
    request: SipMessage,
    code: int,
    reason: str,
    to_tag: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipMessage:
    """A response to ``request``: Via, From, To (with our tag), Call-ID, CSeq copied; the
    Record-Route too for responses that set up a dialog."""
    msg = SipMessage(f"SIP/2.0 {code} {reason}")
    msg.headers += [("Via", v) for v in request.get_all("Via")]
    msg.headers.append(("From", request.get("From") or ""))
    to = request.get("To") or ""
    if to_tag and not tag_of(to) and code > 100:
        to += f";tag={to_tag}"
    msg.headers.append(("To", to))
    msg.headers.append(("Call-ID", request.call_id))
    msg.headers.append(("CSeq", request.get("CSeq") or ""))
    if request.method == "INVITE" and 100 < code < 300:
        msg.headers += [("Record-Route", v) for v in request.get_all("Record-Route")]
    msg.headers += headers or []
    msg.body = body
    return msg


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)
