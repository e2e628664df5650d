"""The routing engine's view of the directory: the validated settings, projected.

``project_*`` turn validated domain objects (``klapka.domain``) into the engine's views
(``klapka.routing.model``); ``load_directory`` validates the stored rows into domain objects
and projects them. So every default a view shows is the domain model's default, stated
once there: the stored form leaves defaults out, and validation puts them back.

The projection lives here, in the store, because it is the one layer allowed to import
both sides: ``klapka.domain`` imports nothing else of klapka and ``klapka.routing`` only the
standard library (it runs inside Kamailio), and ``load_directory``, which needs it, is a
store function that the services (simulator, SIP snapshot) call.

Building the view for 10,000 extensions has to stay fast, and validating an extension costs
about 50 us of CPU: each object validated is kept with the stored settings it came from
(``_VIEWS``, ``_MODELS``) and validated again only when they change; an extension's view is
reused while its groups and presence time are unchanged too. So the SIP core's snapshot
refreshes validate only what changed; the first read of a process validates everything
(about a second for 10,000 extensions).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, select

from klapka.domain.destinations import Destination
from klapka.domain.directory import (
    BusinessHours,
    Group,
    InboundRoute,
    OutboundRoute,
    Queue,
    RingGroup,
    System,
    Trunk,
)
from klapka.domain.extension import (
    Boss,
    BossCallType,
    DndSettings,
    Extension,
    PresenceSchedule,
    StatusSettings,
)
from klapka.domain.values import PresenceStatus, dialable_mobile
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
from klapka.store import tables as t
from klapka.store.repository import Repository

log = logging.getLogger(__name__)

# --- the projection: validated domain objects -> the engine's views ---------------------------


def project_dest(d: Destination | bool | None) -> Dest | None:
    """A destination (or ``false``/None: rule off) as the engine's Dest; ``true`` of an own
    mailbox or mobile number is a Dest without value."""
    if d is None or d is False or d is True:
        return None
    v = d.value
    return Dest(d.type.value, None if v is True else str(v))


def _required_dest(d: Destination) -> Dest:
    found = project_dest(d)
    assert found is not None
    return found


# Policies of shared section instances (every status left at its default shares one), by
# identity; the instance is kept with it, so its id cannot be reused while cached.
_POLICIES: dict[int, tuple[BaseModel, StatusPolicy]] = {}


def project_status(settings: StatusSettings | DndSettings) -> StatusPolicy:
    """One status's settings as the engine's policy. In do not disturb nothing rings: no
    ring stages and no other rule than ``always``."""
    cached = _POLICIES.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    if isinstance(settings, DndSettings):
        made = StatusPolicy(
            internal=Rules(project_dest(settings.internal.always), None, None),
            external=Rules(project_dest(settings.external.always), None, None),
            ring_first=(),
            ring_second=(),
            ring_timeout=0,
            ring_mobile=False,
            mobile_prefix="",
            agent_auto_switch=settings.agent_auto_switch.value,
        )
    else:
        made = StatusPolicy(
            internal=Rules(
                project_dest(settings.internal.always),
                project_dest(settings.internal.no_answer),
                project_dest(settings.internal.busy),
            ),
            external=Rules(
                project_dest(settings.external.always),
                project_dest(settings.external.no_answer),
                project_dest(settings.external.busy),
            ),
            ring_first=tuple(c.value for c in settings.ring_first),
            ring_second=tuple(c.value for c in settings.ring_second),
            ring_timeout=settings.ring_timeout,
            ring_mobile=settings.ring_mobile.enabled,
            mobile_prefix=settings.ring_mobile.prefix,
            agent_auto_switch=settings.agent_auto_switch.value,
        )
    if len(_POLICIES) < 1000:
        _POLICIES[id(settings)] = (settings, made)
    return made


def project_schedule(s: PresenceSchedule) -> Schedule:
    return Schedule(
        business_hours=s.business_hours.value,
        break_hours=s.break_hours.value,
        holidays=s.holidays.value,
        outside_business_hours=s.outside_business_hours.value,
        timezone=s.timezone,
    )


_STATUSES = tuple(s.value for s in PresenceStatus)
_BOSS_CALL_TYPE: BossCallType = Boss.model_fields["call_type"].default


def project_extension(
    ext: Extension, groups: Iterable[str] = (), presence_changed_at: datetime | None = None
) -> ExtensionView:
    """An extension as the engine sees it: every status filled in (the defaults of each are
    the domain's), ``groups`` its extension groups, ``presence_changed_at`` when its presence
    was last set (kept beside the settings, not in them)."""
    features, security = ext.features, ext.security
    presence = ext.presence_settings
    boss = features.boss
    limit = security.frequency_limit
    return ExtensionView(
        number=ext.number,
        enabled=ext.enabled,
        name=ext.full_name or ext.number,
        mobile=dialable_mobile(ext.mobile),
        presence=ext.presence.value,
        presence_changed_at=presence_changed_at,
        statuses={name: project_status(getattr(presence, name)) for name in _STATUSES},
        all_busy=features.all_busy,
        all_reject=features.all_reject,
        schedule=(
            None
            if features.presence_schedule is None
            else project_schedule(features.presence_schedule)
        ),
        boss_secretary=None if boss is None else project_dest(boss.secretary),
        # Without a boss setting the call type is unused: the domain's default then.
        boss_call_type=(_BOSS_CALL_TYPE if boss is None else boss.call_type).value,
        caller_rules=tuple((r.pattern, _required_dest(r.action)) for r in features.caller_rules),
        voicemail_enabled=ext.voicemail.enabled,
        outbound_calls=security.outbound_calls,
        outbound_outside_business_hours=security.outbound_outside_business_hours,
        international_calls=security.international_calls,
        frequency_limit=(limit.calls, limit.period_seconds) if limit.enabled else None,
        trunk_caller_ids=dict(ext.trunk_caller_ids),
        caller_id_number=ext.effective_caller_id_number,
        groups=frozenset(groups),
        hot_desk_guest=features.hot_desking,
    )


def project_ring_group(g: RingGroup) -> RingGroupView:
    return RingGroupView(
        number=g.number,
        name=g.name,
        strategy=g.strategy.value,
        members=tuple(g.members),
        ring_timeout=g.ring_timeout,
        failover=_required_dest(g.failover),
    )


def project_queue(q: Queue) -> QueueView:
    return QueueView(
        number=q.number,
        name=q.name,
        members=tuple(q.members),
        timeout=q.timeout,
        failover=_required_dest(q.failover),
    )


def project_trunk(trunk: Trunk) -> TrunkView:
    return TrunkView(name=trunk.name, enabled=trunk.enabled, caller_id=trunk.caller_id)


def project_inbound_route(r: InboundRoute) -> InboundRouteView:
    return InboundRouteView(
        name=r.name,
        did=r.did,
        destination=_required_dest(r.destination),
        outside_business_hours=project_dest(r.outside_business_hours),
    )


def project_outbound_route(r: OutboundRoute) -> OutboundRouteView:
    return OutboundRouteView(
        name=r.name,
        patterns=tuple(r.patterns),
        trunks=tuple(r.trunks),
        enabled=r.enabled,
        strip=r.strip,
        prepend=r.prepend,
        extensions=frozenset(r.extensions),
        groups=frozenset(r.groups),
        business_hours_only=r.business_hours_only,
        caller_id=r.caller_id,
    )


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(ranges: dict[str, list[str]]) -> dict[int, tuple[tuple[int, int], ...]]:
    out: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, spans in ranges.items():
        parsed = []
        for span in spans:
            a, b = span.split("-")
            parsed.append((int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])))
        out[_DAYS.index(day)] = tuple(parsed)
    return out


def project_business_hours(hours: BusinessHours) -> BusinessHoursView:
    return BusinessHoursView(
        timezone=hours.timezone,
        weekly=_minutes(hours.weekly),
        breaks=_minutes(hours.breaks),
        holidays=tuple(
            (h.date, h.end_date or h.date, h.name or h.date.isoformat()) for h in hours.holidays
        ),
    )


def project_system(system: System) -> SystemView:
    return SystemView(
        timezone=system.timezone,
        country_code=system.country_code,
        international_prefix=system.international_prefix,
        emergency_numbers=frozenset(system.emergency_numbers),
    )


def memberships(groups: Iterable[Group], only: set[str] | None = None) -> dict[str, set[str]]:
    """Extension number (of ``only`` when given) -> the names of its extension groups."""
    found: dict[str, set[str]] = {}
    for group in groups:
        members = group.members if only is None else only & set(group.members)
        for member in members:
            found.setdefault(member, set()).add(group.name)
    return found


def project_directory(
    *,
    extensions: Iterable[Extension] = (),
    groups: Iterable[Group] = (),
    ring_groups: Iterable[RingGroup] = (),
    queues: Iterable[Queue] = (),
    trunks: Iterable[Trunk] = (),
    inbound_routes: Iterable[InboundRoute] = (),
    outbound_routes: Iterable[OutboundRoute] = (),
    business_hours: BusinessHours,
    system: System,
    presence_changed_at: dict[str, datetime | None] | None = None,
) -> Directory:
    """The whole view of validated objects (routes in their order)."""
    member_of = memberships(groups)
    changed = presence_changed_at or {}
    return Directory(
        extensions={
            e.number: project_extension(e, member_of.get(e.number, ()), changed.get(e.number))
            for e in extensions
        },
        ring_groups={g.number: project_ring_group(g) for g in ring_groups},
        queues={q.number: project_queue(q) for q in queues},
        trunks={tr.name: project_trunk(tr) for tr in trunks},
        inbound_routes=tuple(project_inbound_route(r) for r in inbound_routes),
        outbound_routes=tuple(project_outbound_route(r) for r in outbound_routes),
        business_hours=project_business_hours(business_hours),
        system=project_system(system),
    )


# --- reading the stored rows -----------------------------------------------------------------

# number -> (stored settings, validated extension, groups, presence time, view): the view
# is reused while all are equal, the validated extension while its settings are.
_VIEWS: dict[str, tuple[Any, Extension, frozenset[str], datetime | None, ExtensionView]] = {}


def extension_model(number: str, data: Any) -> Extension:
    """The stored settings of extension ``number`` validated (the one its routing view was
    projected from while they are unchanged)."""
    cached = _VIEWS.get(number)
    if cached is not None and cached[0] == data:
        return cached[1]
    return Extension.model_validate(data)


def _extension_view(
    number: str, data: Any, groups: frozenset[str], presence_changed_at: datetime | None
) -> ExtensionView:
    cached = _VIEWS.get(number)
    if cached is not None and cached[0] == data:
        if cached[2] == groups and cached[3] == presence_changed_at:
            return cached[4]
        ext = cached[1]
    else:
        ext = Extension.model_validate(data)
    view = project_extension(ext, groups, presence_changed_at)
    _VIEWS[number] = (data, ext, groups, presence_changed_at, view)
    return view


# (model, key) -> (stored settings, validated object): validated again only when changed.
_MODELS: dict[tuple[type[BaseModel], str], tuple[Any, BaseModel]] = {}


def _valid(model: type[BaseModel], rows: Iterable[Any], what: str) -> list[Any]:
    """The rows' settings validated as ``model``; an unreadable one is logged and left out
    (one object written by an older version, or by hand, must not hide all the others)."""
    out = []
    for (data,) in rows:
        key = (data.get("number") or data.get("name")) if isinstance(data, dict) else None
        cached = _MODELS.get((model, str(key)))
        if cached is not None and cached[0] == data:
            out.append(cached[1])
            continue
        try:
            obj = model.model_validate(data)
        except Exception as e:
            log.error("%s %s left out of the directory view: %r", what, key, e)
            continue
        if len(_MODELS) >= 10_000:
            _MODELS.clear()
        _MODELS[model, str(key)] = (data, obj)
        out.append(obj)
    return out


def load_directory(conn: Connection, numbers: Collection[str] | None = None) -> Directory:
    """Read the whole directory in a handful of queries (only the extensions ``numbers``
    when given: the SIP core's snapshot refreshes changed extensions one by one)."""
    system, _secrets, hours, _version = Repository(conn).system()
    groups = _valid(Group, conn.execute(select(t.ext_groups.c.data)), "extension group")
    member_of = memberships(groups, None if numbers is None else set(numbers))
    extensions: dict[str, ExtensionView] = {}
    query = select(t.extensions.c.number, t.extensions.c.data, t.extensions.c.presence_changed_at)
    if numbers is not None:
        query = query.where(t.extensions.c.number.in_(list(numbers)))
    for row in conn.execute(query):
        try:
            extensions[row.number] = _extension_view(
                row.number,
                row.data,
                frozenset(member_of.get(row.number, ())),
                row.presence_changed_at,
            )
        except Exception as e:  # one unreadable extension must not hide all the others
            log.error("extension %s left out of the directory view: %r", row.number, e)
    if numbers is None:  # forget the extensions that are gone
        for gone in _VIEWS.keys() - extensions.keys():
            _VIEWS.pop(gone, None)
    ordered = (t.inbound_routes.c.position, t.outbound_routes.c.position)
    return Directory(
        extensions=extensions,
        ring_groups={
            g.number: project_ring_group(g)
            for g in _valid(RingGroup, conn.execute(select(t.ring_groups.c.data)), "ring group")
        },
        queues={
            q.number: project_queue(q)
            for q in _valid(Queue, conn.execute(select(t.queues.c.data)), "queue")
        },
        trunks={
            tr.name: project_trunk(tr)
            for tr in _valid(Trunk, conn.execute(select(t.trunks.c.data)), "trunk")
        },
        inbound_routes=tuple(
            project_inbound_route(r)
            for r in _valid(
                InboundRoute,
                conn.execute(select(t.inbound_routes.c.data).order_by(ordered[0])),
                "inbound route",
            )
        ),
        outbound_routes=tuple(
            project_outbound_route(r)
            for r in _valid(
                OutboundRoute,
                conn.execute(select(t.outbound_routes.c.data).order_by(ordered[1])),
                "outbound route",
            )
        ),
        business_hours=project_business_hours(hours),
        system=project_system(system),
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
