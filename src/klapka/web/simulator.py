"""Admin console: the call simulator. "What happens if this call comes now?"

The same request as ``POST /api/v1/calls/simulate`` (from, to, time, who is in a call, who
answers or rejects), run by the same service; the ring steps are shown as a timeline with
the engine's trace. It changes nothing.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui
from starlette.requests import Request
from starlette.responses import Response

from klapka.services.principal import Principal
from klapka.services.telephony.simulator import Simulator
from klapka.web import call_views
from klapka.web.forms import Form
from klapka.web.frame import PageContext, open_page


def _parties(text: Any) -> list[str]:
    return [p.strip() for p in str(text or "").split(",") if p.strip()]


@ui.page("/simulator")
def simulator_page(request: Request) -> Response | None:
    ctx = open_page(request, "Call simulator", admin=True)
    if not isinstance(ctx, PageContext):
        return ctx
    t = ctx.t
    query = request.query_params
    with ui.card().classes("w-full max-w-[56rem]"):
        form = Form(t)
        with ui.grid().classes("grid-cols-1 sm:grid-cols-2 gap-x-4 w-full"):
            form.text("from", "From", query.get("from", ""), hint="Extension, or an outside number")
            form.text("to", "To", query.get("to", ""), hint="Extension, or an outside number")
            form.text("at", "Time", "", empty=None, hint="Empty: now").props(
                'placeholder="2027-03-01T10:00"'
            )
            form.text("in_call", "Busy", "", hint="Comma separated, e.g. 102, 103:mobile_app")
            form.text("answer", "Who answers", "", hint="Comma separated, e.g. 102, 103:mobile_app")
            form.text("reject", "Who rejects", "", hint="Comma separated, e.g. 102, 103:mobile_app")
        for name in ("in_call", "answer", "reject"):
            field = form.fields[name]
            field.read = (lambda read: lambda: _parties(read()))(field.read)
        button = ui.button(t("Simulate"), icon="play_arrow").props('data-testid="simulate"')
        result_box = ui.column().classes("w-full")

        def run(p: Principal) -> dict[str, Any]:
            request_data = {k: v for k, v in form.values().items() if v not in (None, [], "")}
            return Simulator(ctx.pbx, p).simulate(request_data)

        async def simulate() -> None:
            form.clear_problems()
            result = await ctx.attempt_in_thread(run, form.show_problems)
            result_box.clear()
            if result is not None:
                with result_box:
                    call = result["call"]
                    ui.label(
                        f"{call['from']} → {call['to']} ({t(call['kind'])}, {call['at']})"
                    ).classes("text-sm text-grey-8")
                    call_views.simulation(t, result)

        button.on_click(simulate)
    if query.get("from") and query.get("to"):
        ui.timer(0.01, simulate, once=True)
    return None
