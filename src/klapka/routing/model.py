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


# The views below state no setting's default: every field is filled by the projection
# from the validated settings (klapka.store.directory_view), where the defaults are those
# of klapka.domain. Only a Dest's value and an empty Directory have defaults.


@dataclass(frozen=True)
class Rules:
    """Forwarding of one call kind in one status; None = rule off."""

    always: Dest | None
    no_answer: Dest | None
    busy: Dest | None


@dataclass(frozen=True)
class StatusPolicy:
    """What one status means for calls (in do not disturb nothing rings: no ring stages)."""

    internal: Rules
    external: Rules
    ring_first: tuple[str, ...]
    ring_second: tuple[str, ...]
    ring_timeout: int
    ring_mobile: bool
    mobile_prefix: str
    agent_auto_switch: str

    def rules(self, kind: str) -> Rules:
        return self.internal if kind == "internal" else self.external


@dataclass(frozen=True)
class Schedule:
    """Time-conditional presence switching: business-hours state -> status."""

    business_hours: str
    break_hours: str
    holidays: str
    outside_business_hours: str
    timezone: str | None


@dataclass(frozen=True)
class ExtensionView:
    number: str
    enabled: bool
    name: str
    mobile: str  # dialable form, "" when none
    presence: str
    presence_changed_at: datetime | None
    statuses: Mapping[str, StatusPolicy]  # every status of STATUSES
    all_busy: bool
    all_reject: bool
    schedule: Schedule | None
    boss_secretary: Dest | None
    boss_call_type: str
    caller_rules: tuple[tuple[str, Dest], ...]
    voicemail_enabled: bool
    outbound_calls: bool
    outbound_outside_business_hours: bool
    international_calls: bool
    frequency_limit: tuple[int, int] | None
    trunk_caller_ids: Mapping[str, str]
    caller_id_number: str
    groups: frozenset[str]
    # A hot-desk phone's guest account (features.hot_desking): internal and emergency only.
    hot_desk_guest: bool

    def policy(self, status: str) -> StatusPolicy:
        return self.statuses[status]


@dataclass(frozen=True)
class RingGroupView:
    number: str
    name: str
    strategy: str
    members: tuple[str, ...]
    ring_timeout: int
    failover: Dest


@dataclass(frozen=True)
class QueueView:
    number: str
    name: str
    members: tuple[str, ...]
    timeout: int
    failover: Dest


@dataclass(frozen=True)
class TrunkView:
    name: str
    enabled: bool
    caller_id: str | None


@dataclass(frozen=True)
class InboundRouteView:
    name: str
    did: str
    destination: Dest
    outside_business_hours: Dest | None


@dataclass(frozen=True)
class OutboundRouteView:
    name: str
    patterns: tuple[str, ...]
    trunks: tuple[str, ...]
    enabled: bool
    strip: int
    prepend: str
    extensions: frozenset[str]
    groups: frozenset[str]
    business_hours_only: bool
    caller_id: str | None


Minutes = tuple[tuple[int, int], ...]  # (start, end) minutes of the day, end exclusive


@dataclass(frozen=True)
class BusinessHoursView:
    timezone: str | None
    weekly: Mapping[int, Minutes]  # 0 = Monday
    breaks: Mapping[int, Minutes]
    holidays: tuple[tuple[date, date, str], ...]  # first day, last day, name


@dataclass(frozen=True)
class SystemView:
    timezone: str
    country_code: str
    international_prefix: str
    emergency_numbers: frozenset[str]


# Before any configuration is read (the SIP core without a snapshot yet): never open, no
# numbering plan, no emergency numbers (there is no trunk to reach one either).
NO_BUSINESS_HOURS = BusinessHoursView(timezone=None, weekly={}, breaks={}, holidays=())
NO_SYSTEM = SystemView(
    timezone="UTC", country_code="", international_prefix="", emergency_numbers=frozenset()
)


@dataclass(frozen=True)
class Directory:
    """Everything the engine reads about the configuration (empty when nothing is given)."""

    extensions: Mapping[str, ExtensionView] = field(default_factory=dict)
    ring_groups: Mapping[str, RingGroupView] = field(default_factory=dict)
    queues: Mapping[str, QueueView] = field(default_factory=dict)
    trunks: Mapping[str, TrunkView] = field(default_factory=dict)
    inbound_routes: tuple[InboundRouteView, ...] = ()
    outbound_routes: tuple[OutboundRouteView, ...] = ()
    business_hours: BusinessHoursView = NO_BUSINESS_HOURS
    system: SystemView = NO_SYSTEM


@dataclass(frozen=True)
class Endpoint:
    """One registered contact of an extension."""

    id: str
    cls: str = "desk"


AgentState = tuple[bool, bool]  # (logged in, paused)
QueueAgents = Mapping[tuple[str, str], AgentState]  # (queue, extension) -> state


@dataclass(frozen=True)
class Runtime:
    """The runtime facts a decision reads besides the directory: who is registered (and
    with which endpoints), who is in a call, the queue agents' state and the recent
    outbound calls. One contract, two fillers: the simulator builds it from the request
    and the database, the SIP core from Kamailio (usrloc, dialogs, htables) and the
    snapshot ``klapka serve`` writes (queue agents, read from the same database rows).
    Presence is a setting of the directory: the stored status, kept current at each
    schedule transition by ``klapka serve`` and read through ``schedule.effective_presence``.
    """

    registered: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    in_call: frozenset[tuple[str, str]] = frozenset()  # (extension, endpoint id)
    queue_agents: QueueAgents = field(default_factory=dict)
    recent_outbound: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)

    def endpoints(self, number: str) -> tuple[Endpoint, ...]:
        return self.registered.get(number, ())

    def is_in_call(self, number: str, endpoint: Endpoint) -> bool:
        return (number, endpoint.id) in self.in_call

    def agent(self, queue: str, number: str) -> AgentState:
        """(logged in, paused); a member is logged in and unpaused unless changed."""
        return self.queue_agents.get((queue, number), (True, False))


@dataclass(frozen=True)
class Call:
    caller: str
    dialled: str
    at: datetime
    kind: str  # internal | external
    path: str = "direct"  # direct | transferred
