"""The routing engine's view of the directory, built straight from the stored settings.

The stored form leaves defaults out, so this reads each object's JSON and fills in the
defaults of SETTINGS.md without running the full settings validation again: the data was
validated when it was written, and building the view for 10,000 extensions has to be fast.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select

from klapka.domain.directory import BusinessHours, System
from klapka.domain.values import dialable_mobile
from klapka.routing.model import (
    DEFAULT_POLICY,
    DND,
    DND_POLICY,
    BusinessHoursView,
    Dest,
    Directory,
    ExtensionView,
    InboundRouteView,
    OutboundRouteView,
    QueueView,
    RingGroupView,
    Rules,
    Schedule,
    StatusPolicy,
    SystemView,
    TrunkView,
)
from klapka.store import tables as t

log = logging.getLogger(__name__)

_OWN_VOICEMAIL = Dest("voicemail")


def dest(value: Any) -> Dest | None:
    """A stored destination (``{"extension": "102"}``, ``false``) as the engine's Dest."""
    if not value:
        return None
    (kind, v), *_ = value.items()
    if kind == "voicemail" and v is True:
        return _OWN_VOICEMAIL
    return Dest(kind, None if v is True else str(v))


def _rules(data: dict[str, Any] | None, dnd: bool) -> Rules:
    base = Rules(always=_OWN_VOICEMAIL, no_answer=None, busy=None) if dnd else Rules()
    if not data:
        return base
    return Rules(
        always=dest(data["always"]) if "always" in data else base.always,
        no_answer=dest(data["no_answer"]) if "no_answer" in data else base.no_answer,
        busy=dest(data["busy"]) if "busy" in data else base.busy,
    )


_POLICIES: dict[str, StatusPolicy] = {}


def policy(status: str, data: dict[str, Any]) -> StatusPolicy:
    """A stored per-status setting as the engine's policy (identical ones shared)."""
    key = status + json.dumps(data, sort_keys=True)
    found = _POLICIES.get(key)
    if found is not None:
        return found
    dnd = status == DND
    base = DND_POLICY if dnd else DEFAULT_POLICY
    mobile = data.get("ring_mobile") or {}
    made = StatusPolicy(
        internal=_rules(data.get("internal"), dnd),
        external=_rules(data.get("external"), dnd),
        ring_first=tuple(data.get("ring_first", base.ring_first)),
        ring_second=tuple(data.get("ring_second", base.ring_second)),
        ring_timeout=int(data.get("ring_timeout", base.ring_timeout)),
        ring_mobile=bool(mobile.get("enabled", False)) and not dnd,
        mobile_prefix=str(mobile.get("prefix", "")),
        agent_auto_switch=str(data.get("agent_auto_switch", "no_action")),
    )
    if len(_POLICIES) < 10_000:
        _POLICIES[key] = made
    return made


def extension_view(row: Any, groups: frozenset[str]) -> ExtensionView:
    data: dict[str, Any] = row.data
    features = data.get("features") or {}
    security = data.get("security") or {}
    schedule_data = features.get("presence_schedule")
    schedule = Schedule(**schedule_data) if schedule_data is not None else None
    boss = features.get("boss")
    limit = security.get("frequency_limit") or {}
    statuses = {
        status: policy(status, settings)
        for status, settings in (data.get("presence_settings") or {}).items()
    }
    first, last = data.get("first_name", ""), data.get("last_name", "")
    return ExtensionView(
        number=data["number"],
        enabled=data.get("enabled", True),
        name=" ".join(p for p in (first, last) if p) or data["number"],
        mobile=dialable_mobile(data.get("mobile", "")),
        presence=data.get("presence", "available"),
        presence_changed_at=row.presence_changed_at,
        statuses=statuses,
        all_busy=features.get("all_busy", False),
        all_reject=features.get("all_reject", False),
        schedule=schedule,
        boss_secretary=dest(boss["secretary"]) if boss else None,
        boss_call_type=boss.get("call_type", "all") if boss else "all",
        caller_rules=tuple(
            (r["pattern"], dest(r["action"]) or Dest("accept"))
            for r in features.get("caller_rules", ())
        ),
        voicemail_enabled=(data.get("voicemail") or {}).get("enabled", True),
        outbound_calls=security.get("outbound_calls", True),
        outbound_outside_business_hours=security.get("outbound_outside_business_hours", True),
        international_calls=security.get("international_calls", True),
        frequency_limit=(
            (int(limit.get("calls", 5)), int(limit.get("period_seconds", 1)))
            if limit.get("enabled", True)
            else None
        ),
        trunk_caller_ids=data.get("trunk_caller_ids", {}),
        caller_id_number=data.get("caller_id_number") or data["number"],
        groups=groups,
    )


def _minutes(ranges: dict[str, list[str]]) -> dict[int, tuple[tuple[int, int], ...]]:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    out: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, spans in ranges.items():
        parsed = []
        for span in spans:
            a, b = span.split("-")
            parsed.append((int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])))
        out[days.index(day)] = tuple(parsed)
    return out


def business_hours_view(hours: BusinessHours) -> BusinessHoursView:
    return BusinessHoursView(
        timezone=hours.timezone,
        weekly=_minutes(hours.weekly),
        breaks=_minutes(hours.breaks),
        holidays=tuple(
            (h.date, h.end_date or h.date, h.name or h.date.isoformat()) for h in hours.holidays
        ),
    )


def system_view(system: System) -> SystemView:
    return SystemView(
        timezone=system.timezone,
        country_code=system.country_code,
        international_prefix=system.international_prefix,
        emergency_numbers=frozenset(system.emergency_numbers),
    )


def load_directory(conn: Connection, numbers: Collection[str] | None = None) -> Directory:
    """Read the whole directory in a handful of queries (only the extensions ``numbers``
    when given: the SIP core's snapshot refreshes changed extensions one by one)."""
    from klapka.store.repository import Repository

    system, _secrets, hours, _version = Repository(conn).system()
    memberships: dict[str, set[str]] = {}
    for name, data in conn.execute(select(t.ext_groups.c.name, t.ext_groups.c.data)):
        for member in data.get("members", ()):
            memberships.setdefault(member, set()).add(name)
    extensions = {}
    query = select(t.extensions.c.number, t.extensions.c.data, t.extensions.c.presence_changed_at)
    if numbers is not None:
        query = query.where(t.extensions.c.number.in_(list(numbers)))
    for row in conn.execute(query):
        try:
            extensions[row.number] = extension_view(row, frozenset(memberships.get(row.number, ())))
        except Exception as e:  # one unreadable extension must not hide all the others
            log.error("extension %s left out of the directory view: %r", row.number, e)
    ring_groups = {}
    for (data,) in conn.execute(select(t.ring_groups.c.data)):
        ring_groups[data["number"]] = RingGroupView(
            number=data["number"],
            name=data.get("name", data["number"]),
            strategy=data.get("strategy", "ring_all"),
            members=tuple(data.get("members", ())),
            ring_timeout=int(data.get("ring_timeout", 30)),
            failover=dest(data.get("failover", {"hangup": True})) or Dest("hangup"),
        )
    queues = {}
    for (data,) in conn.execute(select(t.queues.c.data)):
        queues[data["number"]] = QueueView(
            number=data["number"],
            name=data.get("name", data["number"]),
            members=tuple(data.get("members", ())),
            timeout=int(data.get("timeout", 60)),
            failover=dest(data.get("failover", {"hangup": True})) or Dest("hangup"),
        )
    trunks = {
        data["name"]: TrunkView(
            name=data["name"], enabled=data.get("enabled", True), caller_id=data.get("caller_id")
        )
        for (data,) in conn.execute(select(t.trunks.c.data))
    }
    inbound = tuple(
        InboundRouteView(
            name=data["name"],
            did=data["did"],
            destination=dest(data["destination"]) or Dest("hangup"),
            outside_business_hours=dest(data.get("outside_business_hours")),
        )
        for (data,) in conn.execute(
            select(t.inbound_routes.c.data).order_by(t.inbound_routes.c.position)
        )
    )
    outbound = tuple(
        OutboundRouteView(
            name=data["name"],
            patterns=tuple(data["patterns"]),
            trunks=tuple(data.get("trunks", ())),
            enabled=data.get("enabled", True),
            strip=int(data.get("strip", 0)),
            prepend=data.get("prepend", ""),
            extensions=frozenset(data.get("extensions", ())),
            groups=frozenset(data.get("groups", ())),
            business_hours_only=data.get("business_hours_only", False),
            caller_id=data.get("caller_id"),
        )
        for (data,) in conn.execute(
            select(t.outbound_routes.c.data).order_by(t.outbound_routes.c.position)
        )
    )
    return Directory(
        extensions=extensions,
        ring_groups=ring_groups,
        queues=queues,
        trunks=trunks,
        inbound_routes=inbound,
        outbound_routes=outbound,
        business_hours=business_hours_view(hours),
        system=system_view(system),
    )


def queue_agents(conn: Connection) -> dict[tuple[str, str], tuple[bool, bool]]:
    """Runtime state of queue members: (queue, extension) -> (logged in, paused)."""
    rows = conn.execute(
        select(
            t.queues.c.number,
            t.extensions.c.number,
            t.queue_agents.c.logged_in,
            t.queue_agents.c.paused,
        )
        .join(t.queues, t.queues.c.id == t.queue_agents.c.queue_id)
        .join(t.extensions, t.extensions.c.id == t.queue_agents.c.extension_id)
    )
    return {(q, e): (bool(li), bool(p)) for q, e, li, p in rows}
