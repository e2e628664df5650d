"""Outbound calls: an extension's restrictions, route selection, strip/prepend, trunks,
caller ID. Forwards to outside numbers and the mobile ring are outbound calls too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from klapka.routing.dialpattern import pattern_matches
from klapka.routing.model import Directory, ExtensionView, OutboundRouteView, Runtime
from klapka.routing.schedule import is_open


@dataclass(frozen=True)
class OutboundCall:
    """The call as it leaves: the number sent, trunks in failover order, caller ID."""

    number: str
    trunks: tuple[str, ...]
    caller_id: str | None
    route: str


@dataclass(frozen=True)
class Refused:
    cause: str  # restricted | no_route
    reason: str
    sip_code: int


def is_international(d: Directory, number: str) -> bool:
    """International = starts with + or the international prefix and is not home."""
    cc = d.system.country_code
    if number.startswith("+"):
        rest = number[1:]
    elif d.system.international_prefix and number.startswith(d.system.international_prefix):
        rest = number[len(d.system.international_prefix) :]
    else:
        return False
    return not (cc and rest.startswith(cc))


def _permitted(route: OutboundRouteView, ext: ExtensionView | None) -> bool:
    if not route.extensions and not route.groups:
        return True
    if any(g.lower() == "all" for g in route.groups):  # the built-in group of everyone
        return True
    if ext is None:
        return False
    return ext.number in route.extensions or bool(route.groups & ext.groups)


def route_outbound(
    d: Directory,
    rt: Runtime,
    ext: ExtensionView | None,
    number: str,
    at: datetime,
    trace: list[str],
) -> OutboundCall | Refused:
    """Decide an outbound call of ``ext`` (None: no extension, e.g. an inbound forward)."""
    who = f"extension {ext.number}" if ext else "the PBX"
    emergency = number in d.system.emergency_numbers
    if emergency:
        trace.append(f"{number} is an emergency number: every restriction is bypassed")
    elif ext is not None:
        refusal = _restriction(d, rt, ext, number, at)
        if refusal is not None:
            trace.append(refusal.reason)
            return refusal
    open_now: bool | None = None
    for route in d.outbound_routes:
        if not route.enabled or not any(pattern_matches(p, number) for p in route.patterns):
            continue
        if not emergency and not _permitted(route, ext):
            trace.append(f"outbound route {route.name} matches {number} but {who} may not use it")
            continue
        if route.business_hours_only and not emergency:
            if open_now is None:
                open_now = is_open(d, at)
            if not open_now:
                trace.append(f"outbound route {route.name} is for business hours only")
                continue
        trunks = tuple(t for t in route.trunks if t in d.trunks and d.trunks[t].enabled)
        if not trunks:
            trace.append(f"outbound route {route.name} has no enabled trunk")
            continue
        sent = route.prepend + number[route.strip :]
        first = trunks[0]
        caller_id = (
            (ext.trunk_caller_ids.get(first) if ext else None)
            or route.caller_id
            or d.trunks[first].caller_id
        )
        via = ", then ".join(trunks)
        trace.append(f"outbound route {route.name}: {number} -> {sent} via trunk {via}")
        return OutboundCall(sent, trunks, caller_id, route.name)
    reason = f"no outbound route for {number} that {who} may use"
    trace.append(reason)
    return Refused("no_route", reason, 404)


def _restriction(
    d: Directory, rt: Runtime, ext: ExtensionView, number: str, at: datetime
) -> Refused | None:
    n = ext.number
    if ext.hot_desk_guest:
        return Refused(
            "restricted",
            f"{n} is a hot-desk phone's guest: internal and emergency numbers only (log in: *62)",
            403,
        )
    if not ext.outbound_calls:
        return Refused("restricted", f"outbound calls are disabled for {n}", 403)
    if not ext.outbound_outside_business_hours and not is_open(d, at):
        return Refused("restricted", f"{n} may call out only in business hours", 403)
    if not ext.international_calls and is_international(d, number):
        return Refused("restricted", f"international calls are disabled for {n}", 403)
    if ext.frequency_limit is not None:
        calls, period = ext.frequency_limit
        since = at - timedelta(seconds=period)
        recent = [t for t in rt.recent_outbound.get(n, ()) if since < t <= at]
        if len(recent) >= calls:
            return Refused(
                "restricted", f"{n} reached its limit of {calls} outbound calls per {period} s", 403
            )
    return None
