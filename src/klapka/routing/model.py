"""The engine's input: a read-only view of the directory, the runtime state and the call.

Plain frozen dataclasses, standard library only, so the Kamailio KEMI adapter, the
simulator and the tests all build the same thing. Numbers are strings; times are aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

STATUSES = ("available", "away", "business_trip", "do_not_disturb", "lunch_break", "off_work")
DND = "do_not_disturb"
ENDPOINT_CLASSES = ("desk", "mobile_app", "desktop_app", "web")


@dataclass(frozen=True)
class Dest:
    """A destination: ``type`` as in the YAML key, ``value`` its number (None: own/none)."""

    type: str
    value: str | None = None

    def __str__(self) -> str:
        if self.type == "voicemail" and self.value:
            return f"voicemail {self.value}"
        if self.value:
            return f"{self.type.replace('_', ' ')} {self.value}"
        return self.type.replace("_", " ")


@dataclass(frozen=True)
class Rules:
    """Forwarding of one call kind in one status; None = rule off."""

    always: Dest | None = None
    no_answer: Dest | None = Dest("voicemail")
    busy: Dest | None = Dest("voicemail")


DND_RULES = Rules(always=Dest("voicemail"), no_answer=None, busy=None)


@dataclass(frozen=True)
class StatusPolicy:
    internal: Rules = Rules()
    external: Rules = Rules()
    ring_first: tuple[str, ...] = ENDPOINT_CLASSES
    ring_second: tuple[str, ...] = ()
    ring_timeout: int = 30
    ring_mobile: bool = False
    mobile_prefix: str = ""
    agent_auto_switch: str = "no_action"

    def rules(self, kind: str) -> Rules:
        return self.internal if kind == "internal" else self.external


DEFAULT_POLICY = StatusPolicy()
DND_POLICY = StatusPolicy(internal=DND_RULES, external=DND_RULES, ring_first=(), ring_second=())


@dataclass(frozen=True)
class Schedule:
    """Time-conditional presence switching: business-hours state -> status."""

    business_hours: str = "available"
    break_hours: str = "lunch_break"
    holidays: str = "off_work"
    outside_business_hours: str = "off_work"
    timezone: str | None = None


@dataclass(frozen=True)
class ExtensionView:
    number: str
    enabled: bool = True
    name: str = ""
    mobile: str = ""  # dialable form, "" when none
    presence: str = "available"
    presence_changed_at: datetime | None = None
    statuses: Mapping[str, StatusPolicy] = field(default_factory=dict)
    all_busy: bool = False
    all_reject: bool = False
    schedule: Schedule | None = None
    boss_secretary: Dest | None = None
    boss_call_type: str = "all"
    caller_rules: tuple[tuple[str, Dest], ...] = ()
    voicemail_enabled: bool = True
    outbound_calls: bool = True
    outbound_outside_business_hours: bool = True
    international_calls: bool = True
    frequency_limit: tuple[int, int] | None = (5, 1)
    trunk_caller_ids: Mapping[str, str] = field(default_factory=dict)
    caller_id_number: str = ""
    groups: frozenset[str] = frozenset()

    def policy(self, status: str) -> StatusPolicy:
        found = self.statuses.get(status)
        if found is not None:
            return found
        return DND_POLICY if status == DND else DEFAULT_POLICY


@dataclass(frozen=True)
class RingGroupView:
    number: str
    name: str = ""
    strategy: str = "ring_all"
    members: tuple[str, ...] = ()
    ring_timeout: int = 30
    failover: Dest = Dest("hangup")


@dataclass(frozen=True)
class QueueView:
    number: str
    name: str = ""
    members: tuple[str, ...] = ()
    timeout: int = 60
    failover: Dest = Dest("hangup")


@dataclass(frozen=True)
class TrunkView:
    name: str
    enabled: bool = True
    caller_id: str | None = None


@dataclass(frozen=True)
class InboundRouteView:
    name: str
    did: str
    destination: Dest
    outside_business_hours: Dest | None = None


@dataclass(frozen=True)
class OutboundRouteView:
    name: str
    patterns: tuple[str, ...]
    trunks: tuple[str, ...]
    enabled: bool = True
    strip: int = 0
    prepend: str = ""
    extensions: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    business_hours_only: bool = False
    caller_id: str | None = None


Minutes = tuple[tuple[int, int], ...]  # (start, end) minutes of the day, end exclusive


@dataclass(frozen=True)
class BusinessHoursView:
    timezone: str | None = None
    weekly: Mapping[int, Minutes] = field(default_factory=dict)  # 0 = Monday
    breaks: Mapping[int, Minutes] = field(default_factory=dict)
    holidays: tuple[tuple[date, date, str], ...] = ()  # first day, last day, name


@dataclass(frozen=True)
class SystemView:
    timezone: str = "UTC"
    country_code: str = ""
    international_prefix: str = "00"
    emergency_numbers: frozenset[str] = frozenset({"112"})


@dataclass(frozen=True)
class Directory:
    """Everything the engine reads about the configuration."""

    extensions: Mapping[str, ExtensionView] = field(default_factory=dict)
    ring_groups: Mapping[str, RingGroupView] = field(default_factory=dict)
    queues: Mapping[str, QueueView] = field(default_factory=dict)
    trunks: Mapping[str, TrunkView] = field(default_factory=dict)
    inbound_routes: tuple[InboundRouteView, ...] = ()
    outbound_routes: tuple[OutboundRouteView, ...] = ()
    business_hours: BusinessHoursView = BusinessHoursView()
    system: SystemView = SystemView()


@dataclass(frozen=True)
class Endpoint:
    """One registered contact of an extension."""

    id: str
    cls: str = "desk"


@dataclass(frozen=True)
class Runtime:
    """What is happening now: registrations, calls in progress, queue agents."""

    registered: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    in_call: frozenset[tuple[str, str]] = frozenset()  # (extension, endpoint id)
    queue_agents: Mapping[tuple[str, str], tuple[bool, bool]] = field(default_factory=dict)
    recent_outbound: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)

    def endpoints(self, number: str) -> tuple[Endpoint, ...]:
        return self.registered.get(number, ())

    def is_in_call(self, number: str, endpoint: Endpoint) -> bool:
        return (number, endpoint.id) in self.in_call

    def agent(self, queue: str, number: str) -> tuple[bool, bool]:
        """(logged in, paused); a member is logged in and unpaused unless changed."""
        return self.queue_agents.get((queue, number), (True, False))


@dataclass(frozen=True)
class Call:
    caller: str
    dialled: str
    at: datetime
    kind: str  # internal | external
    path: str = "direct"  # direct | transferred
