"""Service errors as HTTP responses: one JSON shape per kind of error, in the OpenAPI too.

422 {"error": "invalid", "message", "problems": [{"path", "rule"}]}
404 {"error": "not_found", "message"}
409 {"error": "conflict", "message", "path", "places": [{"kind", "key", "path"}]}
401, 403, 405, 415, 429 {"error": ..., "message"}
413 {"error": "too_large", "message", "limit", "problems"}: the body is over its limit
502 {"error": "mail_failed", "message"}: the SMTP server could not be reached or refused
503 {"error": "unavailable", "message"}: the database cannot be reached or is busy
507 {"error": "insufficient_storage", "message"}: the disk (or the database) is full
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from klapka.api.limits import BodyTooLarge, too_large_body
from klapka.domain.problems import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    problems_from_validation,
)
from klapka.notify.email import MailFailed, MailNotConfigured
from klapka.services.accounts.sign_in import LockedOut, SignInFailed
from klapka.services.welcome import LinkNotValid


class ProblemView(BaseModel):
    path: str
    rule: str


class PlaceView(BaseModel):
    kind: str
    key: str
    path: str


class ErrorBody(BaseModel):
    error: str
    message: str


class InvalidBody(ErrorBody):
    problems: list[ProblemView]


class ConflictBody(ErrorBody):
    path: str | None = None
    places: list[PlaceView] = []


# Added to every protected route's documented responses.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Not signed in: no session or API token"},
    403: {"model": ErrorBody, "description": "Signed in, but not allowed to do this"},
    404: {"model": ErrorBody, "description": "No such object"},
    409: {"model": ConflictBody, "description": "Clashes with existing data"},
    422: {"model": InvalidBody, "description": "Breaks a rule; every problem by path"},
}

_HTTP_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    501: "not_implemented",
}


def invalid_response(problems: list[Problem], message: str | None = None) -> JSONResponse:
    text = "; ".join(str(p) for p in problems[:5])
    if len(problems) > 5:
        text += f"; and {len(problems) - 5} more"
    return JSONResponse(
        {
            "error": "invalid",
            "message": message or text,
            "problems": [{"path": p.path, "rule": p.rule} for p in problems],
        },
        status_code=422,
    )


class _Errors:
    """Quacks like a ValidationError, so FastAPI's errors get the domain's wording."""

    def __init__(self, errors: list[Any]) -> None:
        self._errors = errors

    def errors(self, include_url: bool = False) -> list[Any]:
        return self._errors


def request_problems(exc: RequestValidationError) -> list[Problem]:
    """Problems of the request itself, named ``query.limit``, ``path.status``, ``body``."""
    errors = list(exc.errors())
    malformed = [e for e in errors if e.get("type") == "json_invalid"]
    if malformed:
        return [Problem("body", f"malformed JSON: {malformed[0].get('ctx', {}).get('error', '')}")]
    return problems_from_validation(cast(ValidationError, _Errors(errors)))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def _invalid(_request: Request, exc: InvalidInput) -> JSONResponse:
        return invalid_response(exc.problems)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = request_problems(exc)
        malformed = problems and problems[0].rule.startswith("malformed JSON")
        return invalid_response(problems, "malformed JSON" if malformed else None)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)

    @app.exception_handler(Forbidden)
    async def _forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse({"error": "forbidden", "message": str(exc)}, status_code=403)

    @app.exception_handler(SignInFailed)
    async def _sign_in_failed(_request: Request, exc: SignInFailed) -> JSONResponse:
        return JSONResponse({"error": "unauthorized", "message": str(exc)}, status_code=401)

    @app.exception_handler(LockedOut)
    async def _locked_out(_request: Request, exc: LockedOut) -> JSONResponse:
        return JSONResponse(
            {"error": "too_many_requests", "message": str(exc)},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(MailNotConfigured)
    async def _mail_not_configured(_request: Request, exc: MailNotConfigured) -> JSONResponse:
        return JSONResponse(
            {"error": "conflict", "message": str(exc), "path": "smtp", "places": []},
            status_code=409,
        )

    @app.exception_handler(MailFailed)
    async def _mail_failed(_request: Request, exc: MailFailed) -> JSONResponse:
        return JSONResponse({"error": "mail_failed", "message": str(exc)}, status_code=502)

    @app.exception_handler(LinkNotValid)
    async def _link_not_valid(_request: Request, exc: LinkNotValid) -> JSONResponse:
        return JSONResponse({"error": "unauthorized", "message": str(exc)}, status_code=401)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(
            {
                "error": "conflict",
                "message": exc.message,
                "path": exc.path,
                "places": [{"kind": p.kind, "key": p.key, "path": p.path} for p in exc.places],
            },
            status_code=409,
        )

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(
            too_large_body(exc.limit), status_code=413, headers={"Connection": "close"}
        )

    install_database_error_handlers(app)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return JSONResponse(
            {"error": _HTTP_ERRORS.get(exc.status_code, "http_error"), "message": exc.detail},
            status_code=exc.status_code,
            headers=headers,
        )


class TooLargeBody(InvalidBody):
    limit: int


class UnavailableBody(ErrorBody):
    pass


# The error answers every operation may give, documented by ``document_errors`` where
# they happen: (status, body model, description).
_DOCUMENTED: dict[int, tuple[type[BaseModel], str]] = {
    401: (ErrorBody, "Not signed in: no session or API token"),
    403: (ErrorBody, "Signed in, but not allowed to do this"),
    404: (ErrorBody, "No such object"),
    409: (ConflictBody, "Clashes with existing data"),
    413: (TooLargeBody, "The body is larger than the operation's limit (docs/operations.md)"),
    415: (ErrorBody, "The body is not of a media type the operation reads"),
    422: (InvalidBody, "Breaks a rule; every problem by path"),
    503: (UnavailableBody, "The database is not available at the moment: try again"),
    507: (ErrorBody, "The server's disk is full: nothing was changed"),
}
_UNSIGNED = {"health"}  # operations that never ask who is calling
_METHODS = ("get", "put", "post", "patch", "delete")


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the error answers to every operation of ``openapi`` where they can happen: 401
    and 403 wherever a caller is checked, 404 with a path parameter, 409 when writing, 413
    and 415 with a body, 422 with any input, 503 and 507 wherever the database is used."""
    from pydantic.json_schema import models_json_schema

    models = sorted({m for m, _ in _DOCUMENTED.values()}, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
    )
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.get("$defs", {}).items():
        components.setdefault(name, schema)
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            has_body = "requestBody" in operation
            wanted = {503, 507}
            if operation.get("operationId") not in _UNSIGNED:
                wanted |= {401, 403}
            if "{" in path:
                wanted.add(404)
            if method != "get":
                wanted.add(409)
            if has_body:
                wanted |= {413, 415}
            if has_body or operation.get("parameters"):
                wanted.add(422)
            if operation.get("operationId") in _UNSIGNED:
                wanted = set()
            responses = operation.setdefault("responses", {})
            for status in sorted(wanted):
                model, description = _DOCUMENTED[status]
                responses.setdefault(
                    str(status),
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                            }
                        },
                    },
                )
    return openapi


NO_NUL = "^[^\\x00]*$"


def document_no_nul(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every text in a request refuses NUL characters (the API answers 422: PostgreSQL
    cannot store one): say so with a pattern on each string schema of a request body or a
    parameter (and of the components they use) that has none of its own. Error answers,
    which may quote what was sent, are left as they are."""
    components = openapi.get("components", {}).get("schemas", {})
    done: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in done and name in components:
                    done.add(name)
                    walk(components[name])
            if (
                node.get("type") == "string"
                and not {"pattern", "enum", "const", "format"} & set(node)
                and "contentMediaType" not in node
            ):
                node["pattern"] = NO_NUL
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for item in openapi.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema"))
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if media.endswith("json"):
                    walk(content.get("schema"))
    return openapi


def allowed_methods(request: Request) -> str:
    """Every method some route takes at the request's path, for a 405's Allow header (the
    router names only those of the first route it found)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install_database_error_handlers(app: FastAPI) -> None:
    """What the database refuses, as an answer that says why instead of a bare 500.

    A unique constraint (two requests creating the same name at once: the services check
    first, the database decides) is 409 naming the field; a full disk is 507; a database
    that cannot be reached or stays locked is 503."""
    import errno

    from sqlalchemy.exc import IntegrityError, OperationalError

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        field = unique_violation_field(exc)
        message = f"{field}: already exists" if field else "clashes with existing data"
        return JSONResponse(
            {"error": "conflict", "message": message, "path": field, "places": []},
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError) -> JSONResponse:
        if is_disk_full(exc):
            return disk_full()
        return JSONResponse(
            {
                "error": "unavailable",
                "message": "the database is not available at the moment: try again",
            },
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(OSError)
    async def _os_error(_request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return disk_full()
        raise exc


def disk_full() -> JSONResponse:
    return JSONResponse(
        {
            "error": "insufficient_storage",
            "message": "the server's disk is full: nothing was changed; free some space",
        },
        status_code=507,
    )


def is_disk_full(exc: Exception) -> bool:
    """SQLite's "database or disk is full", PostgreSQL's disk_full (53100)."""
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == "53100":
        return True
    if getattr(original, "sqlite_errorname", None) == "SQLITE_FULL":
        return True
    return "disk is full" in str(original) or "No space left on device" in str(original)


def unique_violation_field(exc: Exception) -> str | None:
    """The column a unique constraint names: SQLite "UNIQUE constraint failed: t.name",
    PostgreSQL "Key (name)=(x) already exists"."""
    import re

    text = str(getattr(exc, "orig", exc))
    found = re.search(r"UNIQUE constraint failed: \w+\.(\w+)", text) or re.search(
        r"Key \((\w+)(?:, \w+)*\)=", text
    )
    return found.group(1) if found else None
