"""The whole configuration as one document (docs/configuration.md), JSON or YAML.

GET exports it; PUT makes the PBX match it: the whole document is validated first (every
problem reported by path), then applied in one transaction; ``dry_run`` only shows the diff.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from klapka.api.crud import IncludeSecrets, responses
from klapka.api.dependencies import YAML_TYPES, get_pbx, get_principal, json_or_yaml_body
from klapka.domain.document import ConfigDocument
from klapka.services.directory.config import ConfigService
from klapka.services.directory.yamlfmt import dump_yaml

router = APIRouter(tags=["configuration"])

YAML = "application/yaml"


class FieldChange(BaseModel):
    path: str
    before: Any
    after: Any


class ObjectChange(BaseModel):
    op: str  # create | update | delete
    kind: str
    key: str
    fields: list[FieldChange]


class ChangeSummary(BaseModel):
    created: int
    updated: int
    deleted: int


class Refusal(BaseModel):
    path: str
    rule: str


class ConfigApplyResult(BaseModel):
    """What applying the document changes (or, in a dry run, would change)."""

    dry_run: bool
    summary: ChangeSummary
    changes: list[ObjectChange]
    refused: Refusal | None = Field(
        None,
        description="Dry run only: applying the document would be refused for this reason "
        "(e.g. it deletes every extension without allow_delete_all=true).",
    )


def config_service(request: Request) -> Any:
    return ConfigService(get_pbx(request), get_principal(request))


Service = Annotated[Any, Depends(config_service)]
DocumentBody = Annotated[Any, Depends(json_or_yaml_body)]


def wants_yaml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in YAML_TYPES)


def wants_text(request: Request) -> bool:
    return "text/plain" in request.headers.get("accept", "")


_DOCUMENT = {"$ref": "#/components/schemas/ConfigDocument"}


@router.get(
    "/config",
    summary="Export the whole configuration",
    description="JSON, or YAML with `Accept: application/yaml` (what `klapka config export` "
    "writes). Secrets only with `include_secrets=true`.",
    operation_id="export_config",
    responses={
        **responses(ConfigDocument),
        200: {"model": ConfigDocument, "content": {YAML: {"schema": {"type": "string"}}}},
    },
)
def export_config(
    request: Request, service: Service, include_secrets: IncludeSecrets = False
) -> Any:
    document = service.export(include_secrets=include_secrets)
    if wants_yaml(request):
        return Response(dump_yaml(document), media_type=YAML)
    return document


@router.put(
    "/config",
    summary="Make the PBX match a configuration document",
    description="Creates, changes and deletes objects so the PBX matches the document, in one "
    "transaction, after validating all of it. Send JSON, or YAML as `application/yaml`.",
    operation_id="apply_config",
    responses={
        **responses(ConfigApplyResult),
        200: {
            "model": ConfigApplyResult,
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The changes; as the CLI prints them with `Accept: text/plain`.",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _DOCUMENT},
                YAML: {"schema": {"type": "string"}},
            },
        }
    },
)
def apply_config(
    request: Request,
    service: Service,
    document: DocumentBody,
    dry_run: Annotated[
        bool, Query(description="Validate and show the changes; change nothing.")
    ] = False,
    allow_delete_all: Annotated[
        bool,
        Query(
            description="Apply also a document that lists no extension while the PBX has "
            "some (it deletes them all); without it such a document is refused with 422."
        ),
    ] = False,
) -> Any:
    result = service.apply(document, dry_run=dry_run, allow_delete_all=allow_delete_all)
    if wants_text(request):
        return PlainTextResponse(result.text())
    return result.to_dict()
