"""How big a request may be: one home for every limit the API puts on its input.

Request bodies: ``BodySizeLimit``, the outermost middleware, answers 413 before the body is
read when Content-Length is over the route's limit, and counts the bytes of a streamed
(chunked) body as they arrive, stopping at the limit. The limits by route are below; every
other request (JSON bodies, the web UI's messages) gets ``DEFAULT_BODY_LIMIT``.

Parsed documents: at most ``MAX_DEPTH`` levels of nesting (JSON and YAML) and, for YAML,
at most ``MAX_YAML_NODES`` values once the aliases are expanded ("billion laughs").

Integers in the URL (ids, list offsets): at most ``MAX_INT`` (the database's 64 bits).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from annotated_types import Interval
from fastapi import Query
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Kept with the YAML loader (the CLI reads documents too); named here with the others.
from klapka.services.directory.yamlfmt import MAX_YAML_NODES

__all__ = ["MAX_YAML_NODES"]

KiB = 1024
MiB = 1024 * KiB

DEFAULT_BODY_LIMIT = 1 * MiB  # JSON bodies, sign-in, the web UI's messages
DOCUMENT_LIMIT = 10 * MiB  # a configuration document (JSON or YAML), a CSV import
GREETING_LIMIT = 20 * MiB  # a voicemail greeting (WAV or MP3)

# (method, path pattern, limit): the first match decides.
BODY_LIMITS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("PUT", re.compile(r"/api/v1/config/?"), DOCUMENT_LIMIT),
    ("POST", re.compile(r"/api/v1/(extensions|contacts)/import/?"), DOCUMENT_LIMIT),
    (
        "PUT",
        re.compile(r"/api/v1/(me|extensions/[^/]+)/voicemail/greetings/[^/]+/?"),
        GREETING_LIMIT,
    ),
    ("POST", re.compile(r"/ui/_nicegui/client/[^/]+/upload/[^/]+/?"), DOCUMENT_LIMIT),  # CSV
)

MAX_DEPTH = 64  # nesting of a JSON or YAML body; the configuration document needs about 8
MAX_INT = 2**63 - 1  # ids and offsets: the database's BIGINT
MAX_PAGE = 500  # items in one page of a list

# The integers of URLs. A bigger one is 422 naming the parameter, not an overflow in the
# database driver (500).
Id = Annotated[int, Interval(ge=1, le=MAX_INT)]  # wrap in Path(...) for a description
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip.")]


def body_limit(method: str, path: str) -> int:
    for wanted, pattern, limit in BODY_LIMITS:
        if method == wanted and pattern.fullmatch(path):
            return limit
    return DEFAULT_BODY_LIMIT


def describe(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} bytes"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {describe(limit)}")
        self.limit = limit


def too_large_body(limit: int) -> dict[str, Any]:
    rule = f"at most {describe(limit)} ({limit} bytes)"
    return {
        "error": "too_large",
        "message": f"body: {rule}",
        "limit": limit,
        "problems": [{"path": "body", "rule": rule}],
    }


class BodySizeLimit:
    """413 for a request body over its route's limit, before the body is read.

    A Content-Length over the limit is refused at once. A body without one (chunked) is
    counted as it streams in: the chunk that goes over raises ``BodyTooLarge`` in the
    reader, and the answer is the same 413, unless the app has already begun answering."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, send)
            return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(limit, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(limit: int, send: Send) -> None:
    import json

    body = json.dumps(too_large_body(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
