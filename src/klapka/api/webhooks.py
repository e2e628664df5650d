"""klapka's event stream: live to an admin's client (``GET /events``, server-sent events), and
to webhooks, endpoints that get the events signed and retried, with a delivery log."""

# No ``from __future__ import annotations``: see crud.py.

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from klapka.api.contacts import Asking, PbxDep
from klapka.api.crud import JsonBody, request_body, responses
from klapka.services import live
from klapka.services.live import LiveEvent
from klapka.services.webhooks import EVENTS, WebhookIn, Webhooks

router = APIRouter(tags=["webhooks"])

Name = Annotated[str, Path(max_length=63, description="The webhook's name.")]
Event = Literal[
    "call.ringing",
    "call.answered",
    "call.ended",
    "voicemail.left",
    "url_popup",
    "presence.changed",
    "registration.changed",
]
assert set(get_args(Event)) == set(EVENTS)  # one list of events: the service's


class WebhookPatch(BaseModel):
    url: str | None = None
    events: list[Event] | None = None
    enabled: bool | None = None


class Webhook(BaseModel):
    name: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime


class NewWebhook(Webhook):
    secret: str


class Delivery(BaseModel):
    id: int
    event: str
    created_at: datetime
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_at: datetime | None
    delivered_at: datetime | None
    last_code: int | None
    last_error: str | None
    body: dict[str, Any]


SIGNING = (
    ' Each delivery is a POST of `{"event", "at", "data"}` with `X-Klapka-Event`, '
    "`X-Klapka-Delivery` (the same on every retry) and `X-Klapka-Signature: t=<unix time>,"
    "v1=<hex>`, HMAC-SHA256 with the webhook's secret over `<t>.<body>`; a 2xx answer "
    "delivers it, anything else is retried after 1 s, 2 s, 4 s... up to 1 h, 12 attempts."
)


@router.get("/webhooks", summary="List the webhooks", operation_id="list_webhooks",
            responses=responses(list[Webhook]))  # fmt: skip
def list_webhooks(pbx: PbxDep, asking: Asking) -> Any:
    return Webhooks(pbx, asking).all()


@router.post(
    "/webhooks",
    summary="Create a webhook",
    description=f"`events`: which of {', '.join(f'`{e}`' for e in EVENTS)} (empty: all). "
    "The answer carries the signing `secret`, shown this once." + SIGNING,
    operation_id="create_webhook",
    status_code=201,
    responses=responses(NewWebhook),
    openapi_extra=request_body(WebhookIn),
)
def create_webhook(pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:
    return Webhooks(pbx, asking).create(body)


@router.get("/webhooks/{name}", summary="Read a webhook", operation_id="get_webhook",
            responses=responses(Webhook))  # fmt: skip
def get_webhook(pbx: PbxDep, asking: Asking, name: Name) -> Any:
    return Webhooks(pbx, asking).get(name)


@router.patch("/webhooks/{name}", summary="Change a webhook's URL, events or enabled",
              operation_id="update_webhook", responses=responses(Webhook),
              openapi_extra=request_body(WebhookPatch, patch=True))  # fmt: skip
def update_webhook(pbx: PbxDep, asking: Asking, name: Name, body: JsonBody) -> Any:
    return Webhooks(pbx, asking).update(name, body)


@router.delete("/webhooks/{name}", summary="Delete a webhook (and its delivery log)",
               operation_id="delete_webhook", status_code=204)  # fmt: skip
def delete_webhook(pbx: PbxDep, asking: Asking, name: Name) -> Response:
    Webhooks(pbx, asking).delete(name)
    return Response(status_code=204)


@router.get(
    "/webhooks/{name}/deliveries",
    summary="The webhook's delivery log",
    description="Newest first: each event's `status`, `attempts`, the last answer "
    "(`last_code`, `last_error`) and the `body` sent." + SIGNING,
    operation_id="list_webhook_deliveries",
    responses=responses(list[Delivery]),
)
def list_deliveries(
    pbx: PbxDep,
    asking: Asking,
    name: Name,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 50,
) -> Any:
    return Webhooks(pbx, asking).deliveries(name, limit)


@router.post("/webhooks/{name}/test", summary="Send the webhook a `ping` event",
             operation_id="test_webhook", status_code=202)  # fmt: skip
def test_webhook(pbx: PbxDep, asking: Asking, name: Name) -> Any:
    return Webhooks(pbx, asking).test(name)


KEEPALIVE_SECONDS = 15.0  # a comment line this often: proxies keep a quiet stream open


def _sse(event: LiveEvent) -> str:
    return f"id: {event.id}\nevent: {event.event}\ndata: {event.body}\n\n"


@router.get(
    "/events",
    summary="The event stream, live (server-sent events)",
    description='Every event as it happens, the same `{"event", "at", "data"}` document '
    "the webhooks get, as `text/event-stream`: `id:` (the event's number), `event:` (its "
    "type), `data:` (the document). A client that comes back with the last `id` it got "
    "(`Last-Event-ID` header or `after`) first gets what it missed (events are kept a day). "
    "A comment line every 15 s keeps a quiet stream open.",
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "The events, as they happen.",
        }
    },
)
async def stream_events(
    pbx: PbxDep,
    asking: Asking,
    events: Annotated[
        list[Event] | None, Query(description="Only these types (repeat it); all by default.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Start after this event's `id` (what was missed).")
    ] = None,
    seconds: Annotated[
        float | None, Query(gt=0, le=86400, description="End the stream after this long.")
    ] = None,
    last_event_id: Annotated[int | None, Header(ge=0, description="As `after`.")] = None,
) -> StreamingResponse:
    wanted = None if not events else (lambda e, kinds=frozenset(events): e.event in kinds)
    start = after if after is not None else last_event_id
    live.may_stream(asking)  # refused before the stream starts (403)

    async def lines() -> Any:
        # Made here: a client gone before the body starts leaves no listener behind.
        listener = await run_in_threadpool(live.stream, pbx, asking, wanted, start)
        loop = asyncio.get_running_loop()
        until = None if seconds is None else loop.time() + seconds
        try:
            yield ": klapka events\n\n"
            while until is None or loop.time() < until:
                wait = KEEPALIVE_SECONDS if until is None else min(KEEPALIVE_SECONDS,
                                                                   until - loop.time())  # fmt: skip
                event = await listener.next(max(wait, 0.0))
                yield ": keepalive\n\n" if event is None else _sse(event)
        finally:
            listener.close()

    return StreamingResponse(
        lines(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
