"""What every endpoint gets injected: the PBX of the app and the request body as data.

Bodies are read as plain JSON (or YAML where a route says so) and handed to the services
unvalidated: the services own validation, so an error names the path inside the resource
(``presence_settings.away.ring_timeout``), the same path the CLI and the YAML document use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from klapka.api.limits import MAX_DEPTH
from klapka.domain.problems import InvalidInput
from klapka.services.directory.objects import Objects
from klapka.services.directory.yamlfmt import load_yaml
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal

JSON_TYPES = ("application/json", "application/merge-patch+json")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def get_pbx(request: Request) -> Pbx:
    pbx: Pbx = request.app.state.pbx
    return pbx


def get_principal(request: Request) -> Principal:
    """Who the request acts for, as the route's authentication dependency found it.

    Fails closed: a route without one has no principal, and gets an error, not the system's
    rights."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError(f"{request.url.path}: the route has no authentication dependency")
    return principal


def get_objects(request: Request) -> Objects:
    return Objects(get_pbx(request), get_principal(request))


# The same as dependencies: FastAPI runs a plain function dependency in the thread pool,
# each one a hop there and back, in the queue with every request's handler; these do no I/O.


async def pbx_dependency(request: Request) -> Pbx:
    return get_pbx(request)


async def principal_dependency(request: Request) -> Principal:
    return get_principal(request)


async def objects_dependency(request: Request) -> Objects:
    return get_objects(request)


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters; JSON when the client sent none."""
    header = request.headers.get("content-type")
    if not header:
        return "application/json"
    message = Message()
    message["content-type"] = header
    return message.get_content_type()


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidInput.one("body", "required: send a JSON object")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InvalidInput.one("body", f"nested at most {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput.one("body", f"malformed JSON: {e}") from None
    check_parsed(data)
    return data


def check_parsed(data: Any) -> None:
    """At most ``MAX_DEPTH`` levels of nesting (deeper data would overflow the stack of
    whatever walks it next), and no NUL character: no setting holds one, and PostgreSQL
    refuses to store one. Walked without recursion."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInput.one("body", "must not contain NUL characters (\\u0000)")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidInput.one("body", f"nested at most {MAX_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))


def unsupported(media: str, expected: str) -> HTTPException:
    return HTTPException(415, f"unsupported Content-Type {media}: send {expected}")


async def json_body(request: Request) -> Any:
    """The body parsed as JSON, any JSON value; the service decides whether it is valid."""
    media = media_type(request)
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise unsupported(media, "application/json")
    return await _off_the_loop_if_large(parse_json, await request.body())


# Parsing a few kilobytes takes less than handing it to a thread; a bigger body is parsed
# in the thread pool, so the other requests are answered meanwhile.
INLINE_PARSE = 64 * 1024


async def _off_the_loop_if_large(parse: Callable[[bytes], Any], raw: bytes) -> Any:
    if len(raw) <= INLINE_PARSE:
        return parse(raw)
    return await run_in_threadpool(parse, raw)


async def json_or_yaml_body(request: Request) -> Any:
    """The body parsed as JSON, or as YAML when sent as application/yaml or text/yaml."""
    media = media_type(request)
    raw = await request.body()
    if media in YAML_TYPES:
        return await _off_the_loop_if_large(_parse_yaml, raw)
    if media in JSON_TYPES or media.endswith("+json"):
        return await _off_the_loop_if_large(parse_json, raw)
    raise unsupported(media, "application/json or application/yaml")


def _parse_yaml(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.one("body", "must be UTF-8 text") from None
    data = load_yaml(text)
    check_parsed(data)
    return data


async def text_body(request: Request) -> str:
    """The body as UTF-8 text (a byte order mark is allowed, as spreadsheets write one)."""
    raw = await request.body()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.one("body", "must be UTF-8 text") from None
