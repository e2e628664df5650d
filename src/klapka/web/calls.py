"""The calls in the web UI: the admin's "Call history" and "Calls now", the user's "Call log".

Every page reads the same services as the API (``klapka.services.call_history``): the admin
every call, the user the calls of their own extension under the ``call_logs`` menu. Times
are shown in the PBX's time zone, and the page says which. Missed calls stand out.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui
from starlette.requests import Request
from starlette.responses import Response

from klapka.services.call_history import MISSED, ActiveCalls, CallFilter, CallHistory
from klapka.services.principal import Principal
from klapka.services.telephony.calls_now import end_call
from klapka.web.admin import admin_page
from klapka.web.frame import PageContext
from klapka.web.i18n import Translator
from klapka.web.live import of_kinds, on_events
from klapka.web.portal import portal_page

PAGE_SIZE = 50


def outcome_labels(t: Translator) -> dict[str, str]:
    return {
        "answered": t("Answered"), "voicemail": t("Voicemail"), "busy": t("Busy"),
        "no_answer": t("No answer"), "rejected": t("Rejected"), "failed": t("Failed"),
        "interrupted": t("Interrupted"),
    }  # fmt: skip


def direction_labels(t: Translator) -> dict[str, str]:
    return {"internal": t("Internal"), "inbound": t("Inbound"), "outbound": t("Outbound")}


def _local(iso: str | None, zone: ZoneInfo) -> str:
    return (
        ""
        if not iso
        else datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    )


def _seconds(value: int | None) -> str:
    if value is None:
        return ""
    minutes, seconds = divmod(value, 60)
    return f"{minutes}:{seconds:02d}"


def _rows(t: Translator, items: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    outcomes, directions = outcome_labels(t), direction_labels(t)
    return [
        {
            "id": c["id"],
            "started": _local(c["started_at"], zone),
            "direction": directions[c["direction"]],
            "caller": f"{c['caller']} ({c['caller_name']})" if c["caller_name"] else c["caller"],
            "dialled": c["dialled"],
            "answered": c["answered_by"] or c["answered_number"] or "",
            "outcome": t("In progress") if c["in_progress"] else outcomes[c["outcome"]],
            "missed": c["outcome"] in MISSED,
            "ring": _seconds(c["ring_seconds"]),
            "talk": _seconds(c["talk_seconds"]),
        }
        for c in items
    ]


def _columns(t: Translator) -> list[dict[str, Any]]:
    return [
        {"name": "started", "label": t("When"), "field": "started", "align": "left"},
        {"name": "direction", "label": t("Direction"), "field": "direction", "align": "left"},
        {"name": "caller", "label": t("From"), "field": "caller", "align": "left"},
        {"name": "dialled", "label": t("To"), "field": "dialled", "align": "left"},
        {"name": "answered", "label": t("Answered by"), "field": "answered", "align": "left"},
        {"name": "outcome", "label": t("Outcome"), "field": "outcome", "align": "left"},
        {"name": "ring", "label": t("Ringing"), "field": "ring", "align": "right"},
        {"name": "talk", "label": t("Talking"), "field": "talk", "align": "right"},
    ]


def _history_table(ctx: PageContext, testid: str) -> Any:
    table = (
        ui.table(columns=_columns(ctx.t), rows=[], row_key="id")
        .props(f'flat bordered dense wrap-cells data-testid="{testid}"')
        .classes("w-full")
    )
    # A missed call's outcome in red, with an icon: it stands out without colour too.
    table.add_slot(
        "body-cell-outcome",
        "<q-td :props=\"props\"><span :class=\"props.row.missed ? 'text-negative text-bold' : ''\""
        ' :data-missed="props.row.missed">'
        '<q-icon v-if="props.row.missed" name="call_missed" class="q-mr-xs"/>'
        "{{ props.value }}</span></q-td>",
    )
    return table


def _history_page(ctx: PageContext, own: bool, testid: str) -> None:
    """The call history (``own``: the user's extension's calls), filtered and paged."""
    t = ctx.t
    state: dict[str, Any] = {"offset": 0}
    with ui.row().classes("items-end gap-3 flex-wrap"):
        extension = None
        if not own:
            extension = ui.input(t("Extension"), placeholder="101").props(
                'clearable debounce=400 data-testid="calls-extension"'
            )
        outcome = ui.select(
            {"": t("All"), "missed": t("Missed"), **outcome_labels(t)},
            label=t("Outcome"), value="",
        ).classes("min-w-[10rem]").props('data-testid="calls-outcome"')  # fmt: skip
        number = ui.input(t("Number"), placeholder="+420").props(
            'clearable debounce=400 data-testid="calls-number"'
        )
    zone_note = ui.label("").classes("text-sm text-grey-8").props('data-testid="calls-zone"')
    table = _history_table(ctx, testid)
    with ui.row().classes("items-center"):
        ui.button(t("Previous"), on_click=lambda: move(-PAGE_SIZE)).props("flat")
        counter = ui.label("").props('data-testid="calls-count"')
        ui.button(t("Next"), on_click=lambda: move(PAGE_SIZE)).props("flat")

    def read(p: Principal) -> Any:
        f = CallFilter(
            extension=((extension.value or "").strip() or None) if extension else None,
            outcome=outcome.value or None,
            number=(number.value or "").strip() or None,
        )
        history = CallHistory(ctx.pbx, p)
        page = (history.mine if own else history.search)(f, PAGE_SIZE, state["offset"])
        return page.items, page.total, page.timezone

    def refresh() -> None:
        found = ctx.attempt(read, None)
        if found is None:
            return
        items, total, zone = found
        table.rows = _rows(t, items, ZoneInfo(zone))
        table.update()
        zone_note.text = t("Times in {zone}", zone=zone)
        first = state["offset"] + 1 if total else 0
        counter.text = t("{first}–{last} of {total}", first=first,
                         last=min(state["offset"] + PAGE_SIZE, total), total=total)  # fmt: skip

    def move(delta: int) -> None:
        state["offset"] = max(0, state["offset"] + delta)
        refresh()

    def filtered(_e: Any) -> None:
        state["offset"] = 0
        refresh()

    for control in (outcome, number, *([extension] if extension else [])):
        control.on_value_change(filtered)
    refresh()
    on_events(ctx, of_kinds("call."), lambda _events: refresh())  # a call starts, ends...


def _live_table(ctx: PageContext, own: bool) -> None:
    """The calls in progress, redrawn as calls start, are answered and end (the event
    stream); an admin may end an answered one."""
    t = ctx.t
    columns = [
        {"name": "caller", "label": t("From"), "field": "caller", "align": "left"},
        {"name": "dialled", "label": t("To"), "field": "dialled", "align": "left"},
        {"name": "state", "label": t("State"), "field": "state", "align": "left"},
        {"name": "with", "label": t("With"), "field": "with", "align": "left"},
        {"name": "since", "label": t("For"), "field": "since", "align": "right"},
    ]
    if not own:
        columns.append({"name": "end", "label": "", "field": "end", "align": "right"})
    table = (
        ui.table(columns=columns, rows=[], row_key="id")
        .props('flat bordered dense data-testid="calls-now"')
        .classes("w-full")
    )
    empty = ui.label(t("No calls right now.")).classes("text-grey-8")
    if not own:
        table.add_slot(
            "body-cell-end",
            '<q-td :props="props"><q-btn v-if="props.row.talking" flat dense color="negative" '
            f'icon="call_end" :label="\'{t("End")}\'" data-testid="end-call" '
            "@click=\"() => $parent.$emit('end', props.row)\"/></q-td>",
        )

        def ended(e: Any) -> None:
            call = int(e.args["id"])
            if ctx.attempt(lambda p: end_call(ctx.pbx, call, p), None) is not None:
                ui.notify(t("The call was ended"), type="positive")
            refresh()

        table.on("end", ended)

    shown: dict[str, Any] = {"calls": [], "at": time.monotonic()}

    def refresh() -> None:
        calls = ctx.attempt(
            lambda p: ActiveCalls(ctx.pbx, p).mine() if own else ActiveCalls(ctx.pbx, p).all(), None
        )
        if calls is None:
            return
        shown.update(calls=calls, at=time.monotonic())
        draw()

    def draw() -> None:
        calls, later = shown["calls"], time.monotonic() - shown["at"]
        table.rows = [
            {
                "id": c["id"],
                "caller": f"{c['caller']} ({c['caller_name']})"
                if c["caller_name"]
                else c["caller"],
                "dialled": c["dialled"],
                "state": t("Talking") if c["state"] == "talking" else t("Ringing"),
                "talking": c["state"] == "talking",
                "with": c["answered_by"] or c["answered_number"] or ", ".join(c["rung"]),
                "since": _seconds(None if c["seconds"] is None else c["seconds"] + int(later)),
            }
            for c in calls
        ]
        table.update()
        table.set_visibility(bool(calls))
        empty.set_visibility(not calls)

    refresh()
    on_events(ctx, of_kinds("call."), lambda _events: refresh())
    ui.timer(1.0, draw)  # the durations go on without asking the database


@ui.page("/call-history")
def call_history_page(request: Request) -> Response | None:
    ctx = admin_page(request, "Call history")
    if not isinstance(ctx, PageContext):
        return ctx
    _history_page(ctx, own=False, testid="call-history")
    return None


@ui.page("/calls")
def calls_now_page(request: Request) -> Response | None:
    ctx = admin_page(request, "Calls now")
    if not isinstance(ctx, PageContext):
        return ctx
    _live_table(ctx, own=False)
    return None


@ui.page("/me/calls")
def my_calls_page(request: Request) -> Response | None:
    ctx = portal_page(request, "Call log", "call_logs")
    if not isinstance(ctx, PageContext):
        return ctx
    ui.label(ctx.t("Calls now")).classes("text-lg font-bold")
    _live_table(ctx, own=True)
    ui.label(ctx.t("Call log")).classes("text-lg font-bold mt-4")
    _history_page(ctx, own=True, testid="my-calls")
    return None
