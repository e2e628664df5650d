"""The call simulator: walk the engine's decisions for a hypothetical call.

The simulated world says who answers and who declines; every ring step nobody answers
ends by timeout. The result is the JSON of docs/call-routing.md §10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from klapka.routing.decision import Outcome, Ring, RingTarget
from klapka.routing.engine import decide, resume
from klapka.routing.model import Call, Directory, Runtime


def max_steps(d: Directory) -> int:
    """A bound no call can exceed: at most 6 extensions (5 hops) with 2 stages each, and
    each ring group or queue at most once per call (reaching one again is a loop)."""
    return 12 + sum(len(g.members) for g in d.ring_groups.values()) + len(d.queues) + 1


@dataclass(frozen=True)
class Party:
    """Who answers or declines: an extension (optionally one endpoint class) or a number."""

    who: str
    endpoint_class: str | None = None

    def matches(self, target: RingTarget) -> bool:
        if target.extension is not None:
            return target.extension == self.who and self.endpoint_class in (
                None,
                target.endpoint_class,
            )
        return self.who in (target.number, target.dialled)

    def __str__(self) -> str:
        return f"{self.who}:{self.endpoint_class}" if self.endpoint_class else self.who


@dataclass(frozen=True)
class Simulation:
    steps: tuple[Ring, ...]
    outcome: Outcome
    trace: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [
                {"ring": [t.to_json() for t in s.targets], "timeout": s.timeout, "for": s.owner}
                for s in self.steps
            ],
            "outcome": self.outcome.to_json(),
            "trace": list(self.trace),
        }


def _who(target: RingTarget) -> str:
    if target.extension is not None:
        return f"{target.extension} ({target.endpoint_class})"
    return f"the mobile {target.dialled or target.number}"


def simulate(
    call: Call,
    d: Directory,
    rt: Runtime,
    answer: Sequence[Party] = (),
    reject: Sequence[Party] = (),
) -> Simulation:
    steps: list[Ring] = []
    trace: list[str] = []
    limit = max_steps(d)
    decision = decide(call, d, rt)
    while True:
        trace += decision.trace
        if isinstance(decision, Outcome):
            return Simulation(tuple(steps), decision, tuple(trace))
        steps.append(decision)
        if len(steps) > limit:
            trace.append(f"stopped after {limit} ring steps")
            return Simulation(tuple(steps), Outcome("hangup", cause="forward_loop"), tuple(trace))
        targets = decision.targets
        taker = next((t for t in targets for p in answer if p.matches(t)), None)
        if taker is not None:
            trace.append(f"{_who(taker)} answers")
            if taker.extension is not None:
                outcome = Outcome(
                    "answered", extension=taker.extension, endpoint=taker.endpoint_class
                )
            else:
                outcome = Outcome("answered", number=taker.number)
            return Simulation(tuple(steps), outcome, tuple(trace))
        declined = [t for t in targets if any(p.matches(t) for p in reject)]
        ended = "no_answer"
        if declined:
            names = ", ".join(_who(t) for t in declined)
            if decision.all_reject:
                trace.append(f"{names} declines and all reject mode is on: every branch stops")
                ended = "busy"
            elif len(declined) == len(targets):
                trace.append(f"{names} declined: every branch is busy")
                ended = "busy"
            else:
                trace.append(f"{names} declined; the others keep ringing")
        decision = resume(call, decision.cursor, ended, d, rt)
