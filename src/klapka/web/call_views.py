"""How the UI shows where a call goes: ring steps as a timeline, the outcome, the trace.

Both the call simulator page and the extension editor's "where do calls go" panel show the
engine's own answer (``klapka.services.telephony.simulator``): the same steps and trace as
``klapka simulate`` and ``POST /api/v1/calls/simulate``.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from klapka.routing.model import DND
from klapka.web.i18n import Translator


def ring_text(step: dict[str, Any]) -> str:
    return ", ".join(
        f"{r['extension']} {r['endpoint']}"
        if "extension" in r
        else f"{r['number']} via {r['trunk']}"
        for r in step["ring"]
    )


def outcome_text(outcome: dict[str, Any]) -> str:
    detail = " ".join(f"{k}={v}" for k, v in outcome.items() if k != "result")
    return str(outcome["result"]) + (f" ({detail})" if detail else "")


def path_summary(path: dict[str, Any]) -> str:
    """One line: ring 101 desk 30 s → ring 102 desk 30 s → voicemail (mailbox=102)."""
    parts = [f"{ring_text(s)} {s['timeout']} s" for s in path["steps"]]
    parts.append(outcome_text(path["outcome"]))
    return " → ".join(parts)


def simulation(t: Translator, result: dict[str, Any]) -> None:
    """The steps as a timeline, the outcome, and why."""
    with ui.column().classes("w-full gap-1").props('data-testid="simulation"'):
        ui.label(t("Ring steps")).classes("text-base font-bold")
        with ui.timeline(side="right").classes("w-full"):
            for n, step in enumerate(result["steps"], 1):
                ui.timeline_entry(
                    t(
                        "step {n}: ring {who} for {seconds} s",
                        n=n,
                        who=ring_text(step),
                        seconds=step["timeout"],
                    ),
                    title=f"{n}. {ring_text(step)}",
                    subtitle=f"{step['timeout']} s",
                ).props('data-testid="ring-step"')
            ui.timeline_entry(
                outcome_text(result["outcome"]), title=t("Outcome"), color="green"
            ).props('data-testid="outcome"')
        ui.label(t("Why")).classes("text-base font-bold")
        with ui.element("ol").classes("list-decimal pl-6 text-sm").props('data-testid="trace"'):
            for line in result["trace"]:
                with ui.element("li"):
                    ui.label(line)


RULE_LABELS = {"always": "Always", "busy": "Busy", "no_answer": "No answer"}


def call_paths(t: Translator, paths: dict[str, Any], status: str) -> None:
    """For one status, per call kind, where the always / busy / no-answer rules lead."""
    rows = []
    for kind in ("internal", "external"):
        rules = paths["statuses"][status][kind]
        for rule in ("always",) if status == DND else ("always", "busy", "no_answer"):
            path = rules.get(rule)
            rows.append(
                {
                    "id": f"{kind}.{rule}",
                    "kind": t(kind),
                    "rule": t(RULE_LABELS[rule]),
                    "goes": t("Off") if path is None else f"{path['rule']}: {path_summary(path)}",
                }
            )
    columns = [
        {"name": "kind", "label": t("Calls"), "field": "kind", "align": "left"},
        {"name": "rule", "label": t("Rule"), "field": "rule", "align": "left"},
        {"name": "goes", "label": t("Where do calls go"), "field": "goes", "align": "left"},
    ]
    ui.table(columns=columns, rows=rows, row_key="id").props(
        'dense flat wrap-cells data-testid="call-paths"'
    ).classes("w-full")
