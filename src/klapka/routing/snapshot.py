"""The directory view as JSON, so a process that cannot reach the database (Kamailio's
embedded Python) gets exactly the view the simulator uses. Standard library only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from klapka.routing.model import (
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


def _dest(d: Dest | None) -> Any:
    return None if d is None else [d.type, d.value]


def _undest(v: Any) -> Dest | None:
    return None if v is None else Dest(v[0], v[1])


def _rules(r: Rules) -> Any:
    return [_dest(r.always), _dest(r.no_answer), _dest(r.busy)]


def _unrules(v: Any) -> Rules:
    return Rules(_undest(v[0]), _undest(v[1]), _undest(v[2]))


def _policy(p: StatusPolicy) -> dict[str, Any]:
    return {
        "internal": _rules(p.internal),
        "external": _rules(p.external),
        "ring_first": list(p.ring_first),
        "ring_second": list(p.ring_second),
        "ring_timeout": p.ring_timeout,
        "ring_mobile": p.ring_mobile,
        "mobile_prefix": p.mobile_prefix,
        "agent_auto_switch": p.agent_auto_switch,
    }


def _unpolicy(v: dict[str, Any]) -> StatusPolicy:
    return StatusPolicy(
        internal=_unrules(v["internal"]),
        external=_unrules(v["external"]),
        ring_first=tuple(v["ring_first"]),
        ring_second=tuple(v["ring_second"]),
        ring_timeout=v["ring_timeout"],
        ring_mobile=v["ring_mobile"],
        mobile_prefix=v["mobile_prefix"],
        agent_auto_switch=v["agent_auto_switch"],
    )


def _extension(e: ExtensionView) -> dict[str, Any]:
    s = e.schedule
    return {
        "number": e.number,
        "enabled": e.enabled,
        "name": e.name,
        "mobile": e.mobile,
        "presence": e.presence,
        "presence_changed_at": e.presence_changed_at.isoformat() if e.presence_changed_at else None,
        "statuses": {k: _policy(p) for k, p in e.statuses.items()},
        "all_busy": e.all_busy,
        "all_reject": e.all_reject,
        "schedule": None
        if s is None
        else [s.business_hours, s.break_hours, s.holidays, s.outside_business_hours, s.timezone],
        "boss_secretary": _dest(e.boss_secretary),
        "boss_call_type": e.boss_call_type,
        "caller_rules": [[p, _dest(d)] for p, d in e.caller_rules],
        "voicemail_enabled": e.voicemail_enabled,
        "outbound_calls": e.outbound_calls,
        "outbound_outside_business_hours": e.outbound_outside_business_hours,
        "international_calls": e.international_calls,
        "frequency_limit": list(e.frequency_limit) if e.frequency_limit else None,
        "trunk_caller_ids": dict(e.trunk_caller_ids),
        "caller_id_number": e.caller_id_number,
        "groups": sorted(e.groups),
    }


def _unextension(v: dict[str, Any]) -> ExtensionView:
    s = v["schedule"]
    limit = v["frequency_limit"]
    changed = v["presence_changed_at"]
    return ExtensionView(
        number=v["number"],
        enabled=v["enabled"],
        name=v["name"],
        mobile=v["mobile"],
        presence=v["presence"],
        presence_changed_at=datetime.fromisoformat(changed) if changed else None,
        statuses={k: _unpolicy(p) for k, p in v["statuses"].items()},
        all_busy=v["all_busy"],
        all_reject=v["all_reject"],
        schedule=None if s is None else Schedule(s[0], s[1], s[2], s[3], s[4]),
        boss_secretary=_undest(v["boss_secretary"]),
        boss_call_type=v["boss_call_type"],
        caller_rules=tuple((p, _undest(d) or Dest("accept")) for p, d in v["caller_rules"]),
        voicemail_enabled=v["voicemail_enabled"],
        outbound_calls=v["outbound_calls"],
        outbound_outside_business_hours=v["outbound_outside_business_hours"],
        international_calls=v["international_calls"],
        frequency_limit=(int(limit[0]), int(limit[1])) if limit else None,
        trunk_caller_ids=v["trunk_caller_ids"],
        caller_id_number=v["caller_id_number"],
        groups=frozenset(v["groups"]),
    )


def _minutes(m: Any) -> dict[str, Any]:
    return {str(day): [list(r) for r in ranges] for day, ranges in m.items()}


def _unminutes(v: dict[str, Any]) -> dict[int, tuple[tuple[int, int], ...]]:
    return {int(day): tuple((a, b) for a, b in ranges) for day, ranges in v.items()}


def to_json(d: Directory) -> dict[str, Any]:
    bh = d.business_hours
    return {
        "extensions": [_extension(e) for e in d.extensions.values()],
        "ring_groups": [
            [g.number, g.name, g.strategy, list(g.members), g.ring_timeout, _dest(g.failover)]
            for g in d.ring_groups.values()
        ],
        "queues": [
            [q.number, q.name, list(q.members), q.timeout, _dest(q.failover)]
            for q in d.queues.values()
        ],
        "trunks": [[t.name, t.enabled, t.caller_id] for t in d.trunks.values()],
        "inbound_routes": [
            [r.name, r.did, _dest(r.destination), _dest(r.outside_business_hours)]
            for r in d.inbound_routes
        ],
        "outbound_routes": [
            {
                "name": r.name,
                "patterns": list(r.patterns),
                "trunks": list(r.trunks),
                "enabled": r.enabled,
                "strip": r.strip,
                "prepend": r.prepend,
                "extensions": sorted(r.extensions),
                "groups": sorted(r.groups),
                "business_hours_only": r.business_hours_only,
                "caller_id": r.caller_id,
            }
            for r in d.outbound_routes
        ],
        "business_hours": {
            "timezone": bh.timezone,
            "weekly": _minutes(bh.weekly),
            "breaks": _minutes(bh.breaks),
            "holidays": [[a.isoformat(), b.isoformat(), n] for a, b, n in bh.holidays],
        },
        "system": {
            "timezone": d.system.timezone,
            "country_code": d.system.country_code,
            "international_prefix": d.system.international_prefix,
            "emergency_numbers": sorted(d.system.emergency_numbers),
        },
    }


def from_json(v: dict[str, Any]) -> Directory:
    bh = v["business_hours"]
    sy = v["system"]
    return Directory(
        extensions={e["number"]: _unextension(e) for e in v["extensions"]},
        ring_groups={
            g[0]: RingGroupView(
                g[0], g[1], g[2], tuple(g[3]), g[4], _undest(g[5]) or Dest("hangup")
            )
            for g in v["ring_groups"]
        },
        queues={
            q[0]: QueueView(q[0], q[1], tuple(q[2]), q[3], _undest(q[4]) or Dest("hangup"))
            for q in v["queues"]
        },
        trunks={t[0]: TrunkView(t[0], t[1], t[2]) for t in v["trunks"]},
        inbound_routes=tuple(
            InboundRouteView(r[0], r[1], _undest(r[2]) or Dest("hangup"), _undest(r[3]))
            for r in v["inbound_routes"]
        ),
        outbound_routes=tuple(
            OutboundRouteView(
                name=r["name"],
                patterns=tuple(r["patterns"]),
                trunks=tuple(r["trunks"]),
                enabled=r["enabled"],
                strip=r["strip"],
                prepend=r["prepend"],
                extensions=frozenset(r["extensions"]),
                groups=frozenset(r["groups"]),
                business_hours_only=r["business_hours_only"],
                caller_id=r["caller_id"],
            )
            for r in v["outbound_routes"]
        ),
        business_hours=BusinessHoursView(
            timezone=bh["timezone"],
            weekly=_unminutes(bh["weekly"]),
            breaks=_unminutes(bh["breaks"]),
            holidays=tuple(
                (date.fromisoformat(a), date.fromisoformat(b), n) for a, b, n in bh["holidays"]
            ),
        ),
        system=SystemView(
            timezone=sy["timezone"],
            country_code=sy["country_code"],
            international_prefix=sy["international_prefix"],
            emergency_numbers=frozenset(sy["emergency_numbers"]),
        ),
    )


def extension_to_json(e: ExtensionView) -> dict[str, Any]:
    """One extension's view, for a snapshot that stores extensions one by one."""
    return _extension(e)


def extension_from_json(v: dict[str, Any]) -> ExtensionView:
    return _unextension(v)
