"""Property-based tests of the routing engine over random configurations (docs/call-routing.md).

Each world is built directly as the engine's input dataclasses (``routing_views``: the
domain's defaults projected, with what a test changes), no database: extensions
10..19 (a few may be missing), ring groups 60 and 61, queues 70 and 71, random per-status
rules pointing anywhere (each other, groups, queues, voicemail, outside numbers, hang up),
random presence, DND, schedules over fixed business hours, registrations, calls in progress,
all busy / all reject, queue agent states, and a moment in 2027 in Europe/Prague. Calls are
driven through the simulator and through ``decide``/``resume`` by hand.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_views import (
    dnd_policy,
    extension,
    outbound_route,
    policy,
    queue,
    ring_group,
    rules,
    statuses,
    system,
    trunk,
)

from klapka.routing.decision import Cursor, Decision, Outcome, Ring
from klapka.routing.dialpattern import pattern_matches
from klapka.routing.engine import MAX_HOPS, decide, resume
from klapka.routing.model import (
    DND,
    ENDPOINT_CLASSES,
    STATUSES,
    BusinessHoursView,
    Call,
    Dest,
    Directory,
    Endpoint,
    ExtensionView,
    InboundRouteView,
    OutboundRouteView,
    QueueView,
    RingGroupView,
    Rules,
    Runtime,
    Schedule,
    StatusPolicy,
    TrunkView,
)
from klapka.routing.schedule import effective_presence
from klapka.routing.simulate import Party, Simulation, simulate

PRAGUE = ZoneInfo("Europe/Prague")
EXTENSIONS = tuple(str(n) for n in range(10, 20))
RING_GROUPS = ("60", "61")
QUEUES = ("70", "71")
OUTSIDE = ("777111222", "00441234567", "+420777000111", "112")
EMERGENCY = frozenset({"112", "150", "155"})
DIDS = ("5000", "5001", "5999")  # 5999 has no inbound route
TRUNKS = ("t1", "t2", "t3")
RESULTS = {"answered", "voicemail", "external", "greeting", "hangup"}

# Monday to Friday 8:00-17:00 with a lunch break 12:00-12:30; Christmas is a holiday.
WORKDAY = ((8 * 60, 17 * 60),)
BUSINESS_HOURS = BusinessHoursView(
    timezone="Europe/Prague",
    weekly={day: WORKDAY for day in range(5)},
    breaks={day: ((12 * 60, 12 * 60 + 30),) for day in range(5)},
    holidays=((date(2027, 12, 24), date(2027, 12, 26), "Christmas"),),
)
SYSTEM = system(timezone="Europe/Prague", country_code="420", emergency_numbers=EMERGENCY)

# A random world takes ~40 ms to generate (the engine needs microseconds), so a handful of
# dozens per property keeps the file fast; KLAPKA_PROPERTY_EXAMPLES=2000 explores harder.
EXAMPLES = int(os.environ.get("KLAPKA_PROPERTY_EXAMPLES", "40"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = settings(FAST, max_examples=max(EXAMPLES, 100))

pytestmark = pytest.mark.backend_independent


# --- strategies: small pieces -------------------------------------------------------------


@cache
def moments() -> st.SearchStrategy[datetime]:
    """Aware instants in 2027, Prague time, across both DST changes."""
    return st.datetimes(
        min_value=datetime(2027, 1, 1),
        max_value=datetime(2027, 12, 31, 23, 59),
        timezones=st.just(PRAGUE),
        allow_imaginary=False,
    )


# Every destination of the number space as one list: one draw per destination keeps the
# generation fast; the simplest (own voicemail) comes first, so failures shrink towards it.
ALL_DESTINATIONS = (
    Dest("voicemail"),
    Dest("hangup"),
    Dest("play_greeting_then_hangup"),
    Dest("mobile_number"),
    *(Dest("extension", n) for n in EXTENSIONS),
    *(Dest("ring_group", n) for n in RING_GROUPS),
    *(Dest("queue", n) for n in QUEUES),
    *(Dest("voicemail", n) for n in EXTENSIONS),
    *(Dest("external_number", n) for n in OUTSIDE),
)
# The classes of an extension's registered contacts: none, one, several, two of a class.
REGISTRATIONS = (
    ("desk",),
    (),
    ("desk", "mobile_app"),
    ("web",),
    ("desk", "desk"),
    ("mobile_app", "desktop_app", "web"),
    ("desktop_app",),
    ("web", "desk", "mobile_app"),
)
# Forwards to extensions are weighted up, so that chains grow long and loop.
EXTENSION_DESTINATIONS = tuple(Dest("extension", n) for n in EXTENSIONS)
FORWARD_DESTINATIONS = ALL_DESTINATIONS + EXTENSION_DESTINATIONS * 2
# A group has no voicemail or mobile of its own: its failover names the mailbox or number.
FAILOVERS = tuple(
    d for d in ALL_DESTINATIONS if d.value or d.type in ("hangup", "play_greeting_then_hangup")
)
# Endpoint-class sets of a ring stage: all, none, one, several.
CLASS_SETS = (
    ENDPOINT_CLASSES,
    (),
    ("desk",),
    ("web",),
    ("mobile_app",),
    ("desk", "web"),
    ("mobile_app", "desktop_app"),
    ("desktop_app", "web", "desk"),
)


@cache
def destinations() -> st.SearchStrategy[Dest]:
    """Any destination type, pointing anywhere in the small number space (loops included)."""
    return st.sampled_from(FORWARD_DESTINATIONS)


@cache
def optional_destinations() -> st.SearchStrategy[Dest | None]:
    """A rule that is off (None) or on with any destination."""
    return st.sampled_from((None, *FORWARD_DESTINATIONS))


@cache
def any_rules() -> st.SearchStrategy[Rules]:
    """``always`` is off half the time, so that phones get a chance to ring."""
    always = st.sampled_from((None,) * len(FORWARD_DESTINATIONS) + FORWARD_DESTINATIONS)
    return st.builds(Rules, always, optional_destinations(), optional_destinations())


@cache
def classes() -> st.SearchStrategy[tuple[str, ...]]:
    return st.sampled_from(CLASS_SETS)


@cache
def status_policies() -> st.SearchStrategy[StatusPolicy]:
    return st.builds(
        policy,
        internal=any_rules(),
        external=any_rules(),
        ring_first=classes(),
        ring_second=classes(),
        ring_timeout=st.sampled_from([5, 20, 30]),
        ring_mobile=st.booleans(),
        mobile_prefix=st.sampled_from(["", "0"]),
    )


@cache
def dnd_policies() -> st.SearchStrategy[StatusPolicy]:
    """DND has only ``always`` (off: busy)."""
    always = st.builds(Rules, optional_destinations(), st.none(), st.none())
    return st.builds(dnd_policy, internal=always, external=always)


def status_table(
    usual: StatusPolicy, other: StatusPolicy, for_other: str, dnd: StatusPolicy
) -> dict[str, StatusPolicy]:
    """Every status has settings: one policy for most, another for one status, DND its own."""
    table = {status: usual for status in STATUSES}
    return {**table, for_other: other, DND: dnd}


@cache
def status_tables() -> st.SearchStrategy[dict[str, StatusPolicy]]:
    other_status = st.sampled_from([s for s in STATUSES if s != DND])
    return st.builds(
        status_table, status_policies(), status_policies(), other_status, dnd_policies()
    )


@cache
def schedules() -> st.SearchStrategy[Schedule | None]:
    status = st.sampled_from(STATUSES)
    zone = st.sampled_from([None, "Europe/Prague"])
    return st.none() | st.builds(Schedule, status, status, status, status, zone)


@cache
def caller_rules() -> st.SearchStrategy[tuple[tuple[str, Dest], ...]]:
    pattern = st.sampled_from(["10", "1X", "X.", "777!", "601111222", "[5-9]."])
    action = destinations() | st.just(Dest("accept"))
    return st.lists(st.tuples(pattern, action), max_size=2).map(tuple)


@cache
def secretaries() -> st.SearchStrategy[Dest | None]:
    return st.none() | st.one_of(
        st.builds(Dest, st.just("extension"), st.sampled_from(EXTENSIONS)),
        st.builds(Dest, st.just("ring_group"), st.sampled_from(RING_GROUPS)),
    )


def mostly_true() -> st.SearchStrategy[bool]:
    """True nine times in ten: an enabled extension, voicemail, outbound calls."""
    return st.sampled_from((True,) * 9 + (False,))


@cache
def extensions(number: str) -> st.SearchStrategy[ExtensionView]:
    """Any settings; ``presence_changed_at`` is set relative to the call by ``worlds``."""
    return st.builds(
        extension,
        number=st.just(number),
        enabled=mostly_true(),
        mobile=st.sampled_from(["", "777000111", "00441234567"]),
        presence=st.sampled_from(STATUSES),
        statuses=status_tables(),
        all_busy=st.booleans(),
        all_reject=st.booleans(),
        schedule=schedules(),
        boss_secretary=st.none() | st.none() | secretaries(),
        boss_call_type=st.sampled_from(["all", "internal", "external"]),
        caller_rules=st.one_of(st.just(()), st.just(()), st.just(()), caller_rules()),
        voicemail_enabled=mostly_true(),
        outbound_calls=mostly_true(),
        international_calls=st.booleans(),
        frequency_limit=st.sampled_from([None, (5, 60), (1, 3600)]),
    )


@cache
def presence_changes() -> st.SearchStrategy[timedelta | None]:
    """When the manual presence was set, relative to the call: up to two weeks before it,
    or (ignored by the engine) up to an hour after it."""
    return st.none() | st.integers(-14 * 24 * 60, 60).map(lambda m: timedelta(minutes=m))


@cache
def members() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(EXTENSIONS), unique=True, max_size=4).map(tuple)


@cache
def ring_groups(number: str) -> st.SearchStrategy[RingGroupView]:
    return st.builds(
        ring_group,
        number=st.just(number),
        strategy=st.sampled_from(["ring_all", "sequential"]),
        members=members(),
        ring_timeout=st.sampled_from([10, 30]),
        failover=st.sampled_from(FAILOVERS),
    )


@cache
def queues(number: str) -> st.SearchStrategy[QueueView]:
    return st.builds(
        queue,
        number=st.just(number),
        members=members(),
        timeout=st.sampled_from([30, 60]),
        failover=st.sampled_from(FAILOVERS),
    )


@cache
def registrations(number: str) -> st.SearchStrategy[tuple[Endpoint, ...]]:
    """Zero to three contacts of any class (several of one class allowed)."""
    found = st.sampled_from(REGISTRATIONS)
    return found.map(lambda cs: tuple(Endpoint(f"{number}-{i}", c) for i, c in enumerate(cs)))


@cache
def queue_agents() -> st.SearchStrategy[dict[tuple[str, str], tuple[bool, bool]]]:
    """(logged in, paused) of some members; the rest are logged in and unpaused."""
    agent = st.tuples(st.sampled_from(QUEUES), st.sampled_from(EXTENSIONS))
    state = st.sampled_from([(True, False), (True, True), (False, False)])
    return st.dictionaries(agent, state, max_size=6)


@st.composite
def runtimes(draw: st.DrawFn, at: datetime) -> Runtime:
    registered = {n: draw(registrations(n)) for n in EXTENSIONS}
    everything = sorted((n, e.id) for n, eps in registered.items() for e in eps)
    in_call = draw(st.sets(st.sampled_from(everything), max_size=4) if everything else st.just(()))
    agents = draw(queue_agents())
    recent = (at - timedelta(minutes=5),) if draw(st.booleans()) else ()
    return Runtime(
        registered=registered,
        in_call=frozenset(in_call),
        queue_agents=agents,
        recent_outbound={n: recent for n in EXTENSIONS},
    )


@cache
def trunks() -> st.SearchStrategy[dict[str, TrunkView]]:
    enabled = st.booleans() | st.just(True)
    return st.builds(
        lambda a, b, c: {
            t.name: t
            for t in (trunk("t1", enabled=a), trunk("t2", enabled=b), trunk("t3", enabled=c))
        },
        enabled,
        enabled,
        enabled,
    )


@cache
def outbound_routes() -> st.SearchStrategy[OutboundRouteView]:
    return st.builds(
        outbound_route,
        name=st.sampled_from(["local", "mobile", "world", "emergency"]),
        patterns=st.lists(
            st.sampled_from(["112", "1XX", "X.", "+X.", "00X.", "777XXXXXX", "0777XXXXXX"]),
            min_size=1,
            max_size=2,
        ).map(tuple),
        trunks=st.lists(st.sampled_from(TRUNKS), unique=True, max_size=2).map(tuple),
        enabled=st.booleans() | st.just(True),
        strip=st.sampled_from([0, 1]),
        prepend=st.sampled_from(["", "9"]),
        extensions=st.sampled_from([frozenset(), frozenset({"10"}), frozenset({"11", "12"})]),
        business_hours_only=st.booleans(),
    )


@cache
def inbound_routes() -> st.SearchStrategy[tuple[InboundRouteView, ...]]:
    """DID 5000 exactly and 50X. as a pattern, each maybe split by business hours."""
    to = st.sampled_from(EXTENSION_DESTINATIONS + FAILOVERS)
    closed = st.sampled_from((None, *FAILOVERS))
    exact = st.builds(InboundRouteView, st.just("main"), st.just("5000"), to, closed)
    pattern = st.builds(InboundRouteView, st.just("rest"), st.just("50X."), to, closed)
    return st.tuples(pattern, exact) | st.tuples(exact) | st.just(())


@cache
def parties() -> st.SearchStrategy[tuple[Party, ...]]:
    who = st.sampled_from((*EXTENSIONS, "777000111", "0777000111"))
    party = st.builds(Party, who, st.none() | st.sampled_from(ENDPOINT_CLASSES))
    return st.lists(party, max_size=3).map(tuple)


@st.composite
def calls(draw: st.DrawFn, at: datetime) -> Call:
    if draw(st.booleans()):
        caller = draw(st.sampled_from(EXTENSIONS))
        dialled = draw(st.sampled_from(EXTENSIONS * 3 + RING_GROUPS + QUEUES + OUTSIDE))
        kind = "internal"
    else:
        caller = draw(st.sampled_from(["601111222", "+420777000111", "10"]))
        dialled = draw(st.sampled_from(DIDS * 2 + EXTENSIONS + RING_GROUPS + QUEUES))
        kind = "external"
    path = draw(st.sampled_from(["direct", "direct", "transferred"]))
    return Call(caller=caller, dialled=dialled, at=at, kind=kind, path=path)


# --- strategies: a whole world --------------------------------------------------------------


@dataclass(frozen=True)
class World:
    directory: Directory
    runtime: Runtime
    call: Call
    answer: tuple[Party, ...]
    reject: tuple[Party, ...]

    def simulate(self) -> Simulation:
        return simulate(self.call, self.directory, self.runtime, self.answer, self.reject)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    at = draw(moments())
    present = [n for n in EXTENSIONS if draw(st.integers(0, 9)) > 0]  # ~10 % missing
    changes = {n: draw(presence_changes()) for n in present}
    directory = Directory(
        extensions={
            n: replace(draw(extensions(n)), presence_changed_at=None if c is None else at + c)
            for n, c in changes.items()
        },
        ring_groups={n: draw(ring_groups(n)) for n in RING_GROUPS},
        queues={n: draw(queues(n)) for n in QUEUES},
        trunks=draw(trunks()),
        inbound_routes=draw(inbound_routes()),
        outbound_routes=(
            *draw(st.lists(outbound_routes(), max_size=2)),
            outbound_route("any", ("X.", "+X."), ("t1", "t2")),
        ),
        business_hours=BUSINESS_HOURS,
        system=SYSTEM,
    )
    return World(directory, draw(runtimes(at)), draw(calls(at)), draw(parties()), draw(parties()))


# --- helpers ----------------------------------------------------------------------------


def step_bound(d: Directory) -> int:
    """At most two stages per extension of a chain of 1 + MAX_HOPS extensions, one step per
    sequential member or ring-all group, one per queue: each group is met once per chain."""
    groups = sum(max(1, len(g.members)) for g in d.ring_groups.values())
    return 2 * (MAX_HOPS + 1) + groups + len(d.queues)


def walk(world: World, endings: Iterable[str]) -> list[Decision]:
    """decide, then resume every Ring with the next of ``endings`` (cycled) until an Outcome."""
    call, d, rt = world.call, world.directory, world.runtime
    ended = itertools.cycle(endings)
    decisions: list[Decision] = [decide(call, d, rt)]
    while isinstance(last := decisions[-1], Ring):
        assert len(decisions) <= step_bound(d), "the engine keeps ringing"
        decisions.append(resume(call, last.cursor, next(ended), d, rt))
    return decisions


def rings(decisions: Iterable[Decision]) -> Iterator[Ring]:
    return (x for x in decisions if isinstance(x, Ring))


@cache
def endings() -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(["busy", "no_answer"]), min_size=1, max_size=8)


def is_group(d: Directory, owner: str) -> bool:
    return owner in d.ring_groups or owner in d.queues


# --- 1. the engine always ends ----------------------------------------------------------


@FAST
@given(worlds())
def test_every_call_ends_in_a_known_result_within_a_bounded_number_of_steps(world: World) -> None:
    sim = world.simulate()
    assert sim.outcome.result in RESULTS
    assert len(sim.steps) <= step_bound(world.directory)
    assert not any("stopped after" in line for line in sim.trace), "simulator safety net hit"
    if sim.outcome.result == "hangup":
        assert sim.outcome.cause


@FAST
@given(worlds(), endings())
def test_every_call_ends_whatever_each_ring_step_ends_with(world: World, ended: list[str]) -> None:
    decisions = walk(world, ended)
    outcome = decisions[-1]
    assert isinstance(outcome, Outcome)
    assert outcome.result in RESULTS
    for ring in rings(decisions):
        assert ring.targets, "a ring step always rings something"
        assert ring.timeout > 0


# --- 2. DND members are skipped by groups ------------------------------------------------


@FAST
@given(worlds(), endings())
def test_a_ring_group_or_queue_never_rings_an_extension_in_do_not_disturb(
    world: World, ended: list[str]
) -> None:
    d, at = world.directory, world.call.at
    steps = [*world.simulate().steps, *rings(walk(world, ended))]
    for step in steps:
        if not is_group(d, step.owner):
            continue
        for target in step.targets:
            assert target.extension is not None, "groups ring only member endpoints"
            status, why = effective_presence(d.extensions[target.extension], d, at)
            assert status != DND, f"{step.owner} rings {target.extension} in DND ({why})"


# --- 3. only free, registered endpoints ring ----------------------------------------------


@FAST
@given(worlds(), endings())
def test_only_registered_endpoints_not_in_a_call_ring_and_all_busy_rings_nothing(
    world: World, ended: list[str]
) -> None:
    d, rt = world.directory, world.runtime
    steps = [*world.simulate().steps, *rings(walk(world, ended))]
    for step in steps:
        for target in step.targets:
            if target.extension is None:
                assert target.number, "an outside branch has a number"
                continue
            n = target.extension
            registered = {e.id: e.cls for e in rt.endpoints(n)}
            assert target.endpoint in registered, f"{n}: unregistered {target.endpoint} rings"
            assert registered[target.endpoint] == target.endpoint_class
            assert (n, target.endpoint) not in rt.in_call, f"{n}: {target.endpoint} is in a call"
            busy = any(rt.is_in_call(n, e) for e in rt.endpoints(n))
            assert not (d.extensions[n].all_busy and busy), f"{n} is busy (all busy mode)"


# --- 4. forward chains ------------------------------------------------------------------


@FAST
@given(worlds(), endings())
def test_forward_chains_never_exceed_five_hops_nor_meet_an_extension_twice(
    world: World, ended: list[str]
) -> None:
    d = world.directory
    sim = world.simulate()
    decisions = walk(world, ended)
    for ring in [*sim.steps, *rings(decisions)]:
        cursor = ring.cursor
        assert cursor.hops <= MAX_HOPS
        assert len(set(cursor.chain)) == len(cursor.chain), f"met twice: {cursor.chain}"
        assert len([c for c in cursor.chain if c in d.extensions]) <= MAX_HOPS + 1
    for steps in (sim.steps, list(rings(decisions))):
        owners = {s.owner for s in steps if s.owner in d.extensions}
        assert len(owners) <= MAX_HOPS + 1
    for outcome in (sim.outcome, decisions[-1]):
        assert isinstance(outcome, Outcome)
        if outcome.cause == "forward_loop":
            assert outcome.reason.startswith(("forward loop", "forward chain longer than"))
            assert outcome.trace[-1] == outcome.reason, "the trace says why"


HOP_KINDS = ("always", "no_answer", "busy", "unavailable")


def chain_world(hops: list[str], first: str) -> World:
    """Extensions 10, 11, ... each sending the call on to the next by the given mechanism;
    the first hop may instead be a caller rule or a boss-secretary setting. The last answers."""
    at = datetime(2027, 3, 1, 10, 0, tzinfo=PRAGUE)
    numbers = [str(10 + i) for i in range(len(hops) + 1)]
    exts: dict[str, ExtensionView] = {}
    registered: dict[str, tuple[Endpoint, ...]] = {}
    reject: list[Party] = []
    for i, number in enumerate(numbers):
        registered[number] = (Endpoint(f"{number}-0", "desk"),)
        if i == len(hops):
            exts[number] = extension(number)
            break
        to = Dest("extension", numbers[i + 1])
        how = hops[i]
        r = {"always": rules(always=to), "no_answer": rules(no_answer=to)}.get(how)
        r = r or rules(busy=to, no_answer=to if how == "unavailable" else Dest("voicemail"))
        forward = policy(internal=r, external=r)
        ext = extension(number, statuses=statuses(available=forward))
        if how == "busy":
            reject.append(Party(number))
        if how == "unavailable":
            registered[number] = ()
        if i == 0 and first == "caller_rule":
            ext = extension(number, caller_rules=(("601111222", to),))
        if i == 0 and first == "boss":
            ext = extension(number, boss_secretary=to)
        exts[number] = ext
    directory = Directory(extensions=exts, business_hours=BUSINESS_HOURS, system=SYSTEM)
    runtime = Runtime(registered=registered)
    call = Call("601111222", "10", at, "external")
    return World(directory, runtime, call, (Party(numbers[-1]),), tuple(reject))


@CHEAP
@given(
    st.lists(st.sampled_from(HOP_KINDS), min_size=1, max_size=8),
    st.sampled_from(["rule", "caller_rule", "boss"]),
)
def test_a_chain_of_five_hops_is_followed_and_the_sixth_hop_is_refused(
    hops: list[str], first: str
) -> None:
    world = chain_world(hops, first)
    sim = world.simulate()
    last = str(10 + len(hops))
    if len(hops) <= MAX_HOPS:
        assert sim.outcome.result == "answered", sim.trace
        assert sim.outcome.extension == last
    else:
        refused_at = str(10 + MAX_HOPS + 1)
        assert sim.outcome.to_json() == {"result": "hangup", "cause": "forward_loop"}
        assert sim.trace[-1] == f"forward chain longer than 5 hops: refused at {refused_at}"
        assert all(int(s.owner) < int(refused_at) for s in sim.steps)


def test_an_extension_met_twice_in_a_chain_is_a_forward_loop() -> None:
    to_11 = policy(internal=rules(always=Dest("extension", "11")))
    to_10 = policy(internal=rules(always=Dest("extension", "10")))
    directory = Directory(
        extensions={
            "10": extension("10", statuses=statuses(available=to_11)),
            "11": extension("11", statuses=statuses(available=to_10)),
        }
    )
    call = Call("12", "10", datetime(2027, 3, 1, 10, 0, tzinfo=PRAGUE), "internal")
    sim = simulate(call, directory, Runtime())
    assert sim.outcome.to_json() == {"result": "hangup", "cause": "forward_loop"}
    assert sim.trace[-1] == "forward loop: 10 -> 11 -> 10"


# --- 5. determinism ---------------------------------------------------------------------


@FAST
@given(worlds(), endings())
def test_the_same_input_always_gives_the_same_output(world: World, ended: list[str]) -> None:
    first, second = world.simulate(), world.simulate()
    assert first.to_json() == second.to_json()
    assert first == second
    assert walk(world, ended) == walk(world, ended)


# --- 6. cursors survive serialisation ---------------------------------------------------


@FAST
@given(worlds(), endings(), st.sampled_from(["busy", "no_answer"]))
def test_a_cursor_survives_json_and_resumes_to_the_same_decision(
    world: World, ended: list[str], probe: str
) -> None:
    call, d, rt = world.call, world.directory, world.runtime
    for ring in rings(walk(world, ended)):
        cursor = ring.cursor
        again = Cursor.from_json(cursor.to_json())
        assert again == cursor
        assert resume(call, again, probe, d, rt) == resume(call, cursor, probe, d, rt)


# --- 7. emergency numbers bypass every restriction --------------------------------------


@cache
def restricted_callers() -> st.SearchStrategy[ExtensionView]:
    return st.builds(
        extension,
        number=st.just("10"),
        outbound_calls=st.booleans(),
        outbound_outside_business_hours=st.booleans(),
        international_calls=st.booleans(),
        frequency_limit=st.sampled_from([None, (1, 3600), (5, 60)]),
        groups=st.sampled_from([frozenset(), frozenset({"sales"})]),
    )


def route_reaches(d: Directory, number: str) -> bool:
    return any(
        route.enabled
        and any(pattern_matches(p, number) for p in route.patterns)
        and any(t in d.trunks and d.trunks[t].enabled for t in route.trunks)
        for route in d.outbound_routes
    )


@CHEAP
@given(
    moments(),
    restricted_callers(),
    st.lists(outbound_routes(), max_size=3),
    trunks(),
    st.sampled_from(sorted(EMERGENCY)),
    st.sampled_from(["dial", "forward"]),
)
def test_an_emergency_number_is_never_refused_for_restrictions(
    at: datetime,
    caller: ExtensionView,
    routes: list[OutboundRouteView],
    trunk_views: dict[str, TrunkView],
    number: str,
    how: str,
) -> None:
    """Whoever makes the emergency call (10 dialling it, or 11 forwarding 10's call to it)
    has random restrictions and has just used up any frequency limit."""
    if how == "dial":
        exts = {"10": caller}
        call = Call("10", number, at, "internal")
    else:
        forward = policy(internal=rules(always=Dest("external_number", number)))
        exts = {
            "10": extension("10"),
            "11": replace(caller, number="11", statuses=statuses(available=forward)),
        }
        call = Call("10", "11", at, "internal")
    directory = Directory(
        extensions=exts,
        trunks=trunk_views,
        outbound_routes=tuple(routes),
        business_hours=BUSINESS_HOURS,
        system=SYSTEM,
    )
    runtime = Runtime(recent_outbound={n: (at - timedelta(seconds=1),) * 5 for n in exts})
    outcome = simulate(call, directory, runtime).outcome
    assert outcome.cause != "restricted", outcome.trace
    if route_reaches(directory, number):
        assert outcome.result == "external", outcome.trace
    else:
        assert outcome.to_json() == {"result": "hangup", "cause": "no_route"}
