"""The routing engine: docs/call-routing.md as a pure function.

``decide`` gives the first step of a call; when a ring step ends without an answer the SIP
core (or the simulator) calls ``resume`` with the step's cursor and how it ended (``busy``
or ``no_answer``) and gets the next step. Every decision explains itself in ``trace``.
One function per concern: caller rules, boss-secretary, presence, ring stages, forwarding,
ring groups, queues, inbound and outbound routing.
"""

from __future__ import annotations

from collections.abc import Sequence

from klapka.routing.decision import Cursor, Decision, Outcome, Ring, RingTarget
from klapka.routing.dialpattern import compile_pattern, pattern_matches
from klapka.routing.model import (
    DND,
    Call,
    Dest,
    Directory,
    Endpoint,
    ExtensionView,
    Rules,
    Runtime,
    StatusPolicy,
)
from klapka.routing.outbound import OutboundCall, route_outbound
from klapka.routing.schedule import effective_presence, is_open

MAX_HOPS = 5

_SIP = {
    "busy": 486,
    "no_answer": 480,
    "unavailable": 480,
    "rejected": 603,
    "not_found": 404,
    "disabled": 403,
    "restricted": 403,
    "no_route": 404,
    "forward_loop": 482,
    "voicemail_disabled": 480,
    "rule": 603,
}


class _Walk:
    """One routing pass: the inputs and the trace so far."""

    def __init__(self, call: Call, d: Directory, rt: Runtime) -> None:
        self.call = call
        self.d = d
        self.rt = rt
        self.trace: list[str] = []

    def note(self, line: str) -> None:
        self.trace.append(line)

    def hangup(self, cause: str, reason: str = "") -> Outcome:
        if reason:
            self.note(reason)
        return Outcome(
            "hangup", cause=cause, sip_code=_SIP.get(cause), reason=reason, trace=tuple(self.trace)
        )

    def ring(
        self, targets: Sequence[RingTarget], timeout: int, cursor: Cursor, all_reject: bool
    ) -> Ring:
        return Ring(tuple(targets), timeout, cursor.owner, cursor, all_reject, tuple(self.trace))

    def done(self, outcome: Outcome) -> Outcome:
        return Outcome(**{**outcome.__dict__, "trace": tuple(self.trace)})


# --- entry points ---------------------------------------------------------------------


def decide(call: Call, d: Directory, rt: Runtime) -> Decision:
    """The first step of ``call``."""
    w = _Walk(call, d, rt)
    if call.kind == "external" and call.path == "transferred":
        # An outside caller that an extension transferred: the target is internal.
        if (
            call.dialled in d.extensions
            or call.dialled in d.ring_groups
            or call.dialled in d.queues
        ):
            w.note(f"an outside call transferred to {call.dialled}")
            return _transferred(w, call.dialled)
        return w.hangup("not_found", f"{call.dialled} is not an internal number")
    if call.kind == "external":
        return _inbound(w)
    caller = d.extensions.get(call.caller)
    if caller is not None and not caller.enabled:
        return w.hangup("disabled", f"extension {call.caller} is disabled and cannot call")
    dialled = call.dialled
    if dialled in d.extensions:
        return _extension(w, dialled, call.path, (), 0)
    if dialled in d.ring_groups:
        return _ring_group(w, dialled, (), 0, 0)
    if dialled in d.queues:
        return _queue(w, dialled, (), 0)
    return _outside(w, caller, dialled, f"{call.caller} dials {dialled}")


def _transferred(w: _Walk, number: str) -> Decision:
    if number in w.d.extensions:
        return _extension(w, number, "transferred", (), 0)
    return _internal_number(w, number)


def resume(call: Call, cursor: Cursor, ended: str, d: Directory, rt: Runtime) -> Decision:
    """The next step after a ring step ended with ``busy`` or ``no_answer``."""
    w = _Walk(call, d, rt)
    if cursor.frame == "extension":
        ext = d.extensions.get(cursor.owner)
        if ext is None:
            return w.hangup("not_found", f"extension {cursor.owner} no longer exists")
        policy = ext.policy(cursor.status)
        if ended == "no_answer" and cursor.stage == 1:
            second = _stage_targets(w, ext, policy.ring_second)
            if second:
                w.note(f"no answer: {ext.number} rings stage 2")
                w.note(f"{ext.number} rings {_describe(second)} for {policy.ring_timeout} s")
                nxt = Cursor(**{**cursor.__dict__, "stage": 2})
                return w.ring(second, policy.ring_timeout, nxt, ext.all_reject)
        rule = "busy" if ended == "busy" else "no_answer"
        return _apply_rule(w, ext, cursor.status, cursor.kind, rule, cursor.chain, cursor.hops)
    if cursor.frame == "ring_group":
        group = d.ring_groups[cursor.owner]
        if group.strategy == "sequential":
            return _ring_group(w, group.number, cursor.chain, cursor.hops, cursor.stage + 1, True)
        w.note(f"nobody answered in ring group {group.number}: failover -> {group.failover}")
        return _destination(w, group.failover, None, "", cursor.chain, cursor.hops)
    queue = d.queues[cursor.owner]
    w.note(f"nobody answered in queue {queue.number}: failover -> {queue.failover}")
    return _destination(w, queue.failover, None, "", cursor.chain, cursor.hops)


# --- inbound --------------------------------------------------------------------------


def _inbound(w: _Walk) -> Decision:
    did = w.call.dialled
    routes = w.d.inbound_routes
    route = next((r for r in routes if compile_pattern(r.did).is_exact and r.did == did), None)
    if route is None:
        route = next((r for r in routes if pattern_matches(r.did, did)), None)
    if route is None:
        if did in w.d.extensions or did in w.d.ring_groups or did in w.d.queues:
            w.note(f"no inbound route for DID {did}: it is an internal number, reached directly")
            return _internal_number(w, did)
        return w.hangup("not_found", f"no inbound route for DID {did}")
    dest, when = route.destination, "open hours"
    if route.outside_business_hours is not None:
        if not is_open(w.d, w.call.at):
            dest, when = route.outside_business_hours, "closed"
        when = f"{when}"
    else:
        when = ""
    suffix = f" ({when})" if when else ""
    w.note(f"inbound route {route.name}: DID {did} -> {dest}{suffix}")
    if dest.type == "extension" and dest.value is not None:
        return _extension(w, dest.value, "direct", (), 0)
    return _destination(w, dest, None, "", (), 0)


def _internal_number(w: _Walk, number: str) -> Decision:
    if number in w.d.extensions:
        return _extension(w, number, "direct", (), 0)
    if number in w.d.ring_groups:
        return _ring_group(w, number, (), 0, 0)
    return _queue(w, number, (), 0)


# --- an extension ---------------------------------------------------------------------


def _extension(w: _Walk, number: str, path: str, chain: tuple[str, ...], hops: int) -> Decision:
    ext = w.d.extensions.get(number)
    if ext is None:
        return w.hangup("not_found", f"extension {number} does not exist")
    if not ext.enabled:
        return w.hangup("disabled", f"extension {number} is disabled")
    chain = (*chain, number)
    call = w.call
    if path in ("direct", "transferred"):
        for pattern, action in ext.caller_rules:
            if pattern_matches(pattern, call.caller):
                w.note(f"caller {call.caller} matches {number}'s caller rule {pattern}: {action}")
                if action.type == "accept":
                    break
                return _destination(w, action, ext, "", chain, hops)
    if ext.boss_secretary is not None and path == "direct":
        kind_ok = ext.boss_call_type in ("all", call.kind)
        if kind_ok and not _is_secretary(w, ext.boss_secretary, call.caller):
            what = "all" if ext.boss_call_type == "all" else call.kind
            w.note(
                f"{number} is a boss for {what} calls: secretary {ext.boss_secretary.value} instead"
            )
            return _destination(w, ext.boss_secretary, ext, "", chain, hops)
    status, why = effective_presence(ext, w.d, call.at)
    w.note(f"presence of {number} is {status}" + ("" if why == "set manually" else f": {why}"))
    return _ring_extension(w, ext, status, chain, hops)


def _is_secretary(w: _Walk, secretary: Dest, caller: str) -> bool:
    if secretary.type == "extension":
        return caller == secretary.value
    group = w.d.ring_groups.get(secretary.value or "")
    return group is not None and caller in group.members


def _ring_extension(
    w: _Walk, ext: ExtensionView, status: str, chain: tuple[str, ...], hops: int
) -> Decision:
    kind = w.call.kind
    policy = ext.policy(status)
    rules = policy.rules(kind)
    n = ext.number
    if status == DND:
        if rules.always is not None:
            w.note(
                f"{n} is in do not disturb: {kind} always rule -> {_dest_text(rules.always, ext)}"
            )
            return _destination(w, rules.always, ext, status, chain, hops)
        return w.hangup("busy", f"{n} is in do not disturb with no always rule: busy")
    if rules.always is not None:
        w.note(f"{n}'s {kind} always rule -> {_dest_text(rules.always, ext)}")
        return _destination(w, rules.always, ext, status, chain, hops)
    endpoints = w.rt.endpoints(n)
    in_call = [e for e in endpoints if w.rt.is_in_call(n, e)]
    if ext.all_busy and in_call:
        w.note(f"{n} is in a call and all busy mode is on: {n} is busy")
        return _apply_rule(w, ext, status, kind, "busy", chain, hops)
    if in_call:
        w.note(f"{n}: {_describe_classes(in_call)} in a call, left out")
    first = _stage_targets(w, ext, policy.ring_first)
    mobile = _mobile_ring(w, ext, policy)
    if mobile is not None:
        first = [*first, mobile]
    cursor = Cursor("extension", n, kind, "", status, 1, chain, hops)
    if first:
        w.note(f"{n} rings {_describe(first)} for {policy.ring_timeout} s")
        return w.ring(first, policy.ring_timeout, cursor, ext.all_reject)
    second = _stage_targets(w, ext, policy.ring_second)
    if second:
        w.note(f"{n} rings {_describe(second)} for {policy.ring_timeout} s")
        return w.ring(
            second, policy.ring_timeout, Cursor(**{**cursor.__dict__, "stage": 2}), ext.all_reject
        )
    if in_call:
        w.note(f"nothing of {n} is left to ring besides endpoints in a call: {n} is busy")
        return _apply_rule(w, ext, status, kind, "busy", chain, hops)
    w.note(f"{n} has no registered endpoint to ring: unavailable")
    return _apply_rule(w, ext, status, kind, "no_answer", chain, hops, cause="unavailable")


def _stage_targets(w: _Walk, ext: ExtensionView, classes: Sequence[str]) -> list[RingTarget]:
    n = ext.number
    return [
        RingTarget(extension=n, endpoint=e.id, endpoint_class=e.cls)
        for e in w.rt.endpoints(n)
        if e.cls in classes and not w.rt.is_in_call(n, e)
    ]


def _mobile_ring(w: _Walk, ext: ExtensionView, policy: StatusPolicy) -> RingTarget | None:
    if not policy.ring_mobile or not ext.mobile:
        return None
    dialled = policy.mobile_prefix + ext.mobile
    w.note(f"{ext.number} rings the mobile {dialled} at the same time")
    out = route_outbound(w.d, w.rt, ext, dialled, w.call.at, w.trace)
    if not isinstance(out, OutboundCall):
        w.note(f"the mobile of {ext.number} is left out")
        return None
    return RingTarget(
        number=out.number, dialled=dialled, trunks=out.trunks, caller_id=out.caller_id
    )


def _apply_rule(
    w: _Walk,
    ext: ExtensionView,
    status: str,
    kind: str,
    rule: str,
    chain: tuple[str, ...],
    hops: int,
    cause: str | None = None,
) -> Decision:
    rules: Rules = ext.policy(status).rules(kind)
    dest = rules.busy if rule == "busy" else rules.no_answer
    event = {"busy": "busy", "no_answer": "no answer"}[rule]
    if cause == "unavailable":
        event = "unavailable"
    label = "busy" if rule == "busy" else "no-answer"
    if dest is None:
        return w.hangup(
            cause or rule, f"{event}: {ext.number}'s {kind} {label} rule is off: hang up"
        )
    w.note(f"{event}: {ext.number}'s {kind} {label} rule -> {_dest_text(dest, ext)}")
    return _destination(w, dest, ext, status, chain, hops)


# --- destinations ---------------------------------------------------------------------


def _dest_text(dest: Dest, owner: ExtensionView | None) -> str:
    if dest.type == "voicemail" and dest.value is None and owner is not None:
        return f"voicemail {owner.number}"
    if dest.type == "mobile_number" and owner is not None:
        return f"mobile {owner.mobile}"
    return str(dest)


def _destination(
    w: _Walk,
    dest: Dest,
    owner: ExtensionView | None,
    status: str,
    chain: tuple[str, ...],
    hops: int,
) -> Decision:
    t = dest.type
    if t == "extension":
        target = dest.value or ""
        if target in chain:
            loop = " -> ".join((*(c for c in chain if not c.startswith(("rg:", "q:"))), target))
            return w.hangup("forward_loop", f"forward loop: {loop}")
        if hops + 1 > MAX_HOPS:
            return w.hangup(
                "forward_loop", f"forward chain longer than {MAX_HOPS} hops: refused at {target}"
            )
        return _extension(w, target, "forwarded", chain, hops + 1)
    if t == "voicemail":
        mailbox = dest.value or (owner.number if owner else "")
        box = w.d.extensions.get(mailbox)
        if box is None:
            return w.hangup("not_found", f"mailbox {mailbox} does not exist")
        if not box.voicemail_enabled:
            return w.hangup("voicemail_disabled", f"voicemail of {mailbox} is disabled: hang up")
        return w.done(Outcome("voicemail", mailbox=mailbox))
    if t == "mobile_number":
        if owner is None or not owner.mobile:
            return w.hangup("unavailable", "no mobile number to forward to")
        prefix = owner.policy(status).mobile_prefix if status else ""
        return _outside(w, owner, prefix + owner.mobile, f"forward to the mobile of {owner.number}")
    if t == "external_number":
        return _outside(w, owner, dest.value or "", f"forward to {dest.value}")
    if t == "ring_group":
        return _ring_group(w, dest.value or "", chain, hops, 0)
    if t == "queue":
        return _queue(w, dest.value or "", chain, hops)
    if t == "play_greeting_then_hangup":
        w.note("the caller hears a greeting, then the call ends")
        return w.done(Outcome("greeting", mailbox=owner.number if owner else None))
    return w.hangup("rule", "the rule says hang up")


def _outside(w: _Walk, ext: ExtensionView | None, number: str, what: str) -> Decision:
    w.note(f"{what}: an outbound call")
    out = route_outbound(w.d, w.rt, ext, number, w.call.at, w.trace)
    if isinstance(out, OutboundCall):
        return w.done(
            Outcome("external", number=out.number, trunks=out.trunks, caller_id=out.caller_id)
        )
    return w.done(Outcome("hangup", cause=out.cause, sip_code=out.sip_code, reason=out.reason))


# --- ring groups and queues (the group path) ------------------------------------------


def _member_targets(w: _Walk, number: str, via: str) -> list[RingTarget]:
    """A member's endpoints on the group path: DND skips; nothing else of theirs applies."""
    ext = w.d.extensions.get(number)
    if ext is None or not ext.enabled:
        w.note(f"{number} is not an enabled extension: skipped by {via}")
        return []
    status, _why = effective_presence(ext, w.d, w.call.at)
    if status == DND:
        w.note(f"{number} is in do not disturb: skipped by {via}")
        return []
    endpoints: tuple[Endpoint, ...] = w.rt.endpoints(number)
    if ext.all_busy and any(w.rt.is_in_call(number, e) for e in endpoints):
        w.note(f"{number} is in a call (all busy mode): skipped by {via}")
        return []
    targets = [
        RingTarget(extension=number, endpoint=e.id, endpoint_class=e.cls)
        for e in endpoints
        if not w.rt.is_in_call(number, e)
    ]
    if not targets:
        w.note(f"{number} has nothing to ring: skipped by {via}")
    return targets


def _ring_group(
    w: _Walk, number: str, chain: tuple[str, ...], hops: int, index: int, resumed: bool = False
) -> Decision:
    group = w.d.ring_groups.get(number)
    if group is None:
        return w.hangup("not_found", f"ring group {number} does not exist")
    key = f"rg:{number}"
    if not resumed:
        if key in chain:
            return w.hangup("forward_loop", f"forward loop: ring group {number} again")
        chain = (*chain, key)
    via = f"ring group {number}"
    if group.strategy == "sequential":
        for i in range(index, len(group.members)):
            member = group.members[i]
            targets = _member_targets(w, member, via)
            if targets:
                w.note(f"ring group {number} rings {member} for {group.ring_timeout} s")
                cursor = Cursor("ring_group", number, w.call.kind, "group", "", i, chain, hops)
                return w.ring(targets, group.ring_timeout, cursor, False)
        what = "no more members" if resumed else "nobody can ring"
        w.note(f"ring group {number}: {what}: failover -> {group.failover}")
        return _destination(w, group.failover, None, "", chain, hops)
    targets = [t for m in group.members for t in _member_targets(w, m, via)]
    if not targets:
        w.note(f"nobody in ring group {number} can ring: failover -> {group.failover}")
        return _destination(w, group.failover, None, "", chain, hops)
    rung = sorted({t.extension or "" for t in targets}, key=group.members.index)
    w.note(f"ring group {number} rings {', '.join(rung)} for {group.ring_timeout} s")
    cursor = Cursor("ring_group", number, w.call.kind, "group", "", 0, chain, hops)
    return w.ring(targets, group.ring_timeout, cursor, False)


def _queue(w: _Walk, number: str, chain: tuple[str, ...], hops: int) -> Decision:
    queue = w.d.queues.get(number)
    if queue is None:
        return w.hangup("not_found", f"queue {number} does not exist")
    key = f"q:{number}"
    if key in chain:
        return w.hangup("forward_loop", f"forward loop: queue {number} again")
    chain = (*chain, key)
    via = f"queue {number}"
    targets: list[RingTarget] = []
    for member in queue.members:
        logged_in, paused = w.rt.agent(number, member)
        if not logged_in:
            w.note(f"{member} is logged out of queue {number}")
            continue
        if paused:
            w.note(f"{member} is paused in queue {number}")
            continue
        targets += _member_targets(w, member, via)
    if not targets:
        w.note(f"no agent of queue {number} can ring: failover -> {queue.failover}")
        return _destination(w, queue.failover, None, "", chain, hops)
    rung = sorted({t.extension or "" for t in targets}, key=queue.members.index)
    w.note(f"queue {number} rings {', '.join(rung)} for {queue.timeout} s")
    cursor = Cursor("queue", number, w.call.kind, "group", "", 0, chain, hops)
    return w.ring(targets, queue.timeout, cursor, False)


# --- trace wording --------------------------------------------------------------------


def _describe_classes(endpoints: Sequence[Endpoint]) -> str:
    return _join(list(dict.fromkeys(e.cls for e in endpoints)))


def _describe(targets: Sequence[RingTarget]) -> str:
    parts = list(dict.fromkeys(t.endpoint_class or f"mobile {t.number}" for t in targets))
    return _join([p or "" for p in parts])


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
