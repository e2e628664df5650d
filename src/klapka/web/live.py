"""Live pages: a page follows klapka's event stream (``klapka.services.live``) while it is
open, and redraws what an event changed at once, instead of asking the database again and
again."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from klapka.services.live import LiveEvent, LiveEvents, Wanted
from klapka.web.frame import PageContext

DRAIN_SECONDS = 0.1  # the events a page received go to it this often


def on_events(
    ctx: PageContext,
    wanted: Wanted,
    handle: Callable[[list[LiveEvent]], None],
    every: float = DRAIN_SECONDS,
) -> None:
    """While the page is open, ``handle`` the events ``wanted`` as they come: a batch at a
    time, oldest first, at most once per ``every`` seconds (what asks the SIP core again)."""
    listener = LiveEvents.of(ctx.pbx).listen(wanted)
    ui.context.client.on_delete(listener.close)

    def drain() -> None:
        events = listener.drain()
        if events:
            handle(events)

    ui.timer(every, drain)


def of_kinds(*kinds: str) -> Wanted:
    """The events of these kinds (``call.ended``; ``call.`` for every call event)."""
    return lambda e: any(e.event == k or (k.endswith(".") and e.event.startswith(k)) for k in kinds)
