"""Which registrations an extension's settings allow: the same rules for the KEMI adapter
(at REGISTER) and for klapka serve (removing registrations a tightened rule no longer
allows). Standard library only: it runs inside Kamailio too."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

# An extension's transport setting: the least secure transport it may register and call
# over (udp: any; tcp: not UDP; tls: TLS or secure WebSocket only).
TRANSPORTS_ALLOWED: dict[str, frozenset[str] | None] = {
    "udp": None,
    "tcp": frozenset({"tcp", "tls", "ws", "wss"}),
    "tls": frozenset({"tls", "wss"}),
}


def transport_refused(rule: str | None, proto: str) -> str:
    """Why ``proto`` (udp, tcp, tls, ws, wss) is not allowed by the extension's transport
    setting ``rule``, as a reason phrase; "" when it is."""
    rule = (rule or "udp").lower()
    allowed = TRANSPORTS_ALLOWED.get(rule)
    proto = (proto or "udp").lower()
    if allowed is None or proto in allowed:
        return ""
    return f"Transport {proto.upper()} not allowed for this extension ({rule.upper()})"


def address_allowed(source: str, allowed: Iterable[str]) -> bool:
    """``source`` is within one of the ``allowed`` networks (any address when none)."""
    networks = list(allowed)
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(source.strip("[]"))
    except ValueError:
        return False  # not an address: it cannot be shown to be allowed
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def agent_allowed(agent: str, prefix: str | None) -> bool:
    return not prefix or agent.startswith(prefix)


def rules_of(account: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of an account decides which of its registrations are allowed; () when nothing
    restricts them."""
    rules = (
        tuple(sorted(account.get("clients_off") or ())),
        tuple(account.get("allowed_ips") or ()),
        account.get("user_agent_prefix") or "",
        account.get("transport") or "udp",
    )
    return () if rules == ((), (), "", "udp") else rules
