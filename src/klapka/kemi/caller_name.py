"""The caller's name on the phones an internal call rings: the From display name and the
P-Asserted-Identity the KEMI adapter writes (standard library only: runs inside Kamailio)."""

from __future__ import annotations


def quoted_display_name(name: str) -> str:
    """``name`` as a SIP display name (RFC 3261 25.1 quoted-string): in double quotes, with
    ``"`` and ``\\`` escaped (quoted-pair) and control characters, which a quoted-string
    never holds, turned into spaces. UTF-8 passes as it is: ``"Jana Nováková"``."""
    clean = " ".join("".join(" " if ord(c) < 32 or c == "\x7f" else c for c in name).split())
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def asserted_identity(number: str, name: str, domain: str) -> str:
    """The P-Asserted-Identity value (RFC 3325) of extension ``number``: with its name as
    the display name, or the number alone when it has none."""
    uri = f"<sip:{number}@{domain}>"
    return f"{quoted_display_name(name)} {uri}" if name.strip() else uri
