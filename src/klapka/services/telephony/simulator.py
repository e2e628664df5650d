"""The call simulator and the call-paths view, over the current configuration.

Builds the engine's directory view from the database and a simulated runtime from the
request (who is registered, who is in a call, who answers), and runs the same engine as
live calls. It changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from klapka.domain.problems import InvalidInput, NotFound, Problem
from klapka.routing.model import (
    DND,
    ENDPOINT_CLASSES,
    STATUSES,
    Call,
    Directory,
    Endpoint,
    Runtime,
)
from klapka.routing.simulate import Party, Simulation, simulate
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store.directory_view import load_directory, queue_agents

_NUMBER = re.compile(r"\+?[0-9*#]{1,31}")
FIELDS = ("from", "to", "at", "path", "registered", "in_call", "answer", "reject")


def _party(text: Any, field: str, d: Directory, problems: list[Problem]) -> Party | None:
    if not isinstance(text, str) or not text:
        problems.append(Problem(field, "must be EXT, EXT:CLASS or an outside number"))
        return None
    who, _, cls = text.partition(":")
    if cls and cls not in ENDPOINT_CLASSES:
        problems.append(
            Problem(field, f"unknown endpoint class '{cls}' (use {', '.join(ENDPOINT_CLASSES)})")
        )
        return None
    if who not in d.extensions and (cls or not _NUMBER.fullmatch(who)):
        problems.append(Problem(field, f"{who} is not an extension"))
        return None
    return Party(who, cls or None)


def parse_request(request: Any, d: Directory) -> tuple[Call, Runtime, list[Party], list[Party]]:
    """Validate a simulation request; every problem is reported by field."""
    if not isinstance(request, dict):
        raise InvalidInput.one("", "must be a JSON object")
    problems: list[Problem] = []
    for key in request:
        if key not in FIELDS:
            problems.append(Problem(str(key), f"unknown field (use {', '.join(FIELDS)})"))
    caller, dialled = request.get("from"), request.get("to")
    for field, value in (("from", caller), ("to", dialled)):
        if value is None:
            problems.append(Problem(field, "required"))
        elif not isinstance(value, str) or not _NUMBER.fullmatch(value):
            problems.append(Problem(field, "must be a number: digits, * and #, optionally +"))
    path = request.get("path") or "direct"
    if path not in ("direct", "transferred"):
        problems.append(Problem("path", "must be direct or transferred"))
    tz = ZoneInfo(d.system.timezone)
    at_text = request.get("at")
    at = datetime.now(tz)
    if at_text is not None:
        try:
            at = datetime.fromisoformat(str(at_text))
            if at.tzinfo is None:
                at = at.replace(tzinfo=tz)
        except ValueError:
            problems.append(
                Problem("at", "must be a valid ISO-8601 time like 2027-03-01T10:00:00+01:00")
            )
    registered: dict[str, tuple[Endpoint, ...]] = {
        n: (Endpoint("desk", "desk"),) for n in d.extensions
    }
    given = request.get("registered") or {}
    if not isinstance(given, dict):
        problems.append(Problem("registered", "must map extensions to endpoint classes"))
        given = {}
    for ext, classes in given.items():
        if ext not in d.extensions:
            problems.append(Problem(f"registered.{ext}", f"{ext} is not an extension"))
            continue
        if isinstance(classes, str):
            classes = [c for c in classes.split(",") if c]
        if not isinstance(classes, list):
            problems.append(Problem(f"registered.{ext}", "must be a list of endpoint classes"))
            continue
        endpoints: list[Endpoint] = []
        for cls in classes:
            if cls not in ENDPOINT_CLASSES:
                problems.append(
                    Problem(
                        f"registered.{ext}",
                        f"unknown endpoint class '{cls}' (use {', '.join(ENDPOINT_CLASSES)})",
                    )
                )
                continue
            same = sum(1 for e in endpoints if e.cls == cls)
            endpoints.append(Endpoint(cls if not same else f"{cls}-{same + 1}", cls))
        registered[ext] = tuple(endpoints)
    in_call: set[tuple[str, str]] = set()
    for i, text in enumerate(_list(request, "in_call", problems)):
        party = _party(text, f"in_call[{i}]", d, problems)
        if party is None:
            continue
        if party.who not in d.extensions:
            problems.append(Problem(f"in_call[{i}]", f"{party.who} is not an extension"))
            continue
        for e in registered.get(party.who, ()):
            if party.endpoint_class in (None, e.cls):
                in_call.add((party.who, e.id))
    answer = [
        p
        for i, x in enumerate(_list(request, "answer", problems))
        if (p := _party(x, f"answer[{i}]", d, problems))
    ]
    reject = [
        p
        for i, x in enumerate(_list(request, "reject", problems))
        if (p := _party(x, f"reject[{i}]", d, problems))
    ]
    if problems:
        raise InvalidInput(problems)
    assert isinstance(caller, str) and isinstance(dialled, str)
    kind = "internal" if caller in d.extensions else "external"
    call = Call(caller=caller, dialled=dialled, at=at, kind=kind, path=path)
    runtime = Runtime(registered=registered, in_call=frozenset(in_call))
    return call, runtime, answer, reject


def _list(request: dict[str, Any], field: str, problems: list[Problem]) -> list[Any]:
    value = request.get(field) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        problems.append(Problem(field, "must be a list"))
        return []
    return value


class Simulator:
    """For admins (and the system): what the configuration does with a call."""

    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    def directory(self) -> tuple[Directory, dict[tuple[str, str], tuple[bool, bool]]]:
        with self.pbx.tx() as repo:
            return load_directory(repo.conn), queue_agents(repo.conn)

    @admin_only
    def simulate(self, request: Any) -> dict[str, Any]:
        """``POST /api/v1/calls/simulate`` and ``klapka simulate --json``."""
        d, agents = self.directory()
        call, runtime, answer, reject = parse_request(request, d)
        runtime = dataclasses.replace(runtime, queue_agents=agents)
        result = simulate(call, d, runtime, answer, reject)
        return {"call": _call_json(call, d), **result.to_json()}

    @admin_only
    def call_paths(self, number: str) -> dict[str, Any]:
        """Per status and call kind, where the always, busy and no-answer rules lead."""
        d, agents = self.directory()
        ext = d.extensions.get(number)
        if ext is None:
            raise NotFound("extension", number)
        tz = ZoneInfo(d.system.timezone)
        at = datetime.now(tz)
        statuses: dict[str, Any] = {}
        for status in STATUSES:
            forced = dataclasses.replace(
                ext, presence=status, schedule=None, caller_rules=(), boss_secretary=None
            )
            kinds: dict[str, Any] = {}
            for kind in ("internal", "external"):
                policy = forced.policy(status)
                rules = policy.rules(kind)
                paths: dict[str, Any] = {}
                names = ("always",) if status == DND else ("always", "busy", "no_answer")
                for rule in names:
                    dest = getattr(rules, rule)
                    if rule == "always" and dest is None:
                        paths[rule] = None
                        continue
                    view = forced
                    endpoints: tuple[Endpoint, ...] = (Endpoint("desk", "desk"),)
                    in_call: frozenset[tuple[str, str]] = frozenset()
                    if rule == "busy":
                        view = dataclasses.replace(forced, all_busy=True)
                        in_call = frozenset({(number, "desk")})
                    directory = dataclasses.replace(d, extensions={**d.extensions, number: view})
                    registered: dict[str, tuple[Endpoint, ...]] = {
                        n: (Endpoint("desk", "desk"),) for n in d.extensions
                    }
                    registered[number] = endpoints
                    runtime = Runtime(registered=registered, in_call=in_call, queue_agents=agents)
                    caller = "+10000000000" if kind == "external" else "*internal*"
                    call = Call(caller=caller, dialled=number, at=at, kind=kind)
                    sim = simulate(call, directory, runtime)
                    paths[rule] = _path_json(sim, dest)
                kinds[kind] = paths
            statuses[status] = kinds
        return {"extension": number, "statuses": statuses}


def _path_json(sim: Simulation, dest: Any) -> dict[str, Any]:
    data = sim.to_json()
    return {
        "rule": str(dest) if dest is not None else "off",
        "steps": data["steps"],
        "outcome": data["outcome"],
        "trace": data["trace"],
    }


def _call_json(call: Call, d: Directory) -> dict[str, Any]:
    return {
        "from": call.caller,
        "to": call.dialled,
        "kind": call.kind,
        "at": call.at.astimezone(ZoneInfo(d.system.timezone)).isoformat(),
    }


def render_text(result: dict[str, Any]) -> str:
    """The simulation as a small tree an admin reads, with the trace."""
    call = result["call"]
    lines = [f"Call {call['from']} -> {call['to']} ({call['kind']}, {call['at']})"]
    items = []
    for i, step in enumerate(result["steps"], 1):
        rung = ", ".join(
            f"{r['extension']} {r['endpoint']}"
            if "extension" in r
            else f"{r['number']} via {r['trunk']}"
            for r in step["ring"]
        )
        items.append(f"step {i}: ring {rung} for {step['timeout']} s (for {step['for']})")
    outcome = result["outcome"]
    detail = " ".join(f"{k}={v}" for k, v in outcome.items() if k != "result")
    items.append(f"outcome: {outcome['result']}" + (f" ({detail})" if detail else ""))
    for i, item in enumerate(items):
        lines.append(("└─ " if i == len(items) - 1 else "├─ ") + item)
    lines.append("Why:")
    lines += [f"  {i}. {line}" for i, line in enumerate(result["trace"], 1)]
    return "\n".join(lines)
