"""The routes every directory resource has, built from one description of the resource.

A ``Resource`` names the kind of object, its URL and its domain model; ``crud_router`` makes
list / create / get / replace / merge-patch / delete from it, and ``add_part_routes`` adds a
sub-resource: one path inside the object (``voicemail``, ``presence_settings.away``), read,
replaced or merge-patched. The domain models only document the bodies (OpenAPI); the bodies
themselves go to the services as plain data, which validate them and name every problem by
its path inside the object.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the route
# functions made below, which refer to values local to the factory.

import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import UnionType
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError, create_model
from pydantic.json_schema import models_json_schema
from starlette.convertors import Convertor, register_url_convertor

from klapka.api.dependencies import json_body, objects_dependency
from klapka.api.errors import ERROR_RESPONSES, PlaceView
from klapka.api.limits import Limit, Offset
from klapka.domain.problems import InvalidInput, Problem, problems_from_validation
from klapka.domain.references import Kind
from klapka.services.directory.objects import Objects, sort_fields
from klapka.store.repository import SPECS

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


class Digits(Convertor[str]):
    """A path segment of digits, kept as text (``0101`` stays ``0101``)."""

    regex = "[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("digits", Digits())


class NotImport(Digits):
    """A path segment other than ``import``: /contacts/import is not a contact (a PUT there is
    405), while /contacts/karel still reaches the route and gets 422 naming the id."""

    regex = "(?!import$)[^/]+"


register_url_convertor("not_import", NotImport())

ObjectsDep = Annotated[Objects, Depends(objects_dependency)]
JsonBody = Annotated[Any, Depends(json_body)]
IncludeSecrets = Annotated[
    bool, Query(description="Show passwords and PINs instead of `********`.")
]


@dataclass(frozen=True)
class Resource:
    """One kind of directory object as the API shows it."""

    kind: Kind
    path: str  # "/ring-groups"
    model: type[BaseModel]  # what is sent and, but for secrets, what is shown
    title: str  # "ring group"
    plural: str  # "ring groups"
    view: type[BaseModel] | None = None  # what GET shows, when it differs from ``model``
    item: type[BaseModel] | None = None  # a row of the list, when it differs from ``view``
    key_type: type = str
    sort_example: str = ""
    search_example: str = ""
    # Adds live fields to a page of list items (the extensions' SIP status), in place.
    live: Callable[[Request, list[dict[str, Any]]], None] | None = None

    @property
    def key_name(self) -> str:
        return SPECS[self.kind].key

    @property
    def object_path(self) -> str:
        # Numbers are digits: /extensions/import is not an extension (a PUT there is 405).
        convertor = ":digits" if self.key_name == "number" else ""
        return f"{self.path}/{{{self.key_name}{convertor}}}"

    @property
    def tag(self) -> str:
        return self.plural

    @property
    def ident(self) -> str:
        return self.kind.value  # "ring_group": operation ids and route names

    def key_param(self) -> Any:
        return Annotated[
            self.key_type,
            Path(alias=self.key_name, description=f"The {self.title}'s {self.key_name}."),
        ]


# Models named by request bodies documented with ``request_body``; ``document_bodies`` adds
# them to the OpenAPI components (FastAPI adds only what it validates or responds with).
BODY_MODELS: set[type[BaseModel]] = set()


def schema_of(annotation: Any) -> dict[str, Any]:
    """An OpenAPI schema naming ``annotation``'s models as components."""
    origin = typing.get_origin(annotation)
    if origin is list:
        return {"type": "array", "items": schema_of(typing.get_args(annotation)[0])}
    if origin in (typing.Union, UnionType):
        return {"anyOf": [schema_of(a) for a in typing.get_args(annotation)]}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        BODY_MODELS.add(annotation)
        return {"$ref": f"#/components/schemas/{annotation.__name__}"}
    return {}


def request_body(annotation: Any, *, patch: bool = False) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the route reads itself (see json_body)."""
    schema = schema_of(annotation)
    if patch:
        description = (
            "A JSON merge patch (RFC 7396): only the fields to change; `null` resets a field "
            "to its default."
        )
        content = {
            t: {"schema": schema} for t in ("application/merge-patch+json", "application/json")
        }
    else:
        description = "Omitted fields take their defaults; omitted or `********` secrets are kept."
        content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def document_bodies(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the request body models FastAPI did not see to the OpenAPI ``openapi``."""
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(BODY_MODELS, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.get("$defs", {}).items():
        components.setdefault(name, schema)
    return openapi


def responses(annotation: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": annotation}, **ERROR_RESPONSES}


def page_model(resource: Resource) -> type[BaseModel]:
    item = resource.item or resource.view or resource.model
    return create_model(
        f"{resource.model.__name__}Page",
        items=(list[item], ...),  # type: ignore[valid-type]
        total=(int, ...),
        limit=(int, ...),
        offset=(int, ...),
    )


def deletion_model(resource: Resource) -> type[BaseModel]:
    return create_model(
        f"{resource.model.__name__}Deletion",
        deleted=(resource.view or resource.model, ...),
        removed_references=(list[PlaceView], ...),
    )


def _location(request: Request, key: Any) -> str:
    return f"{request.url.path.rstrip('/')}/{quote(str(key), safe='')}"


def list_problems_as_query(e: InvalidInput) -> InvalidInput:
    """The service names list parameters bare (``sort``); the API names them ``query.sort``."""
    return InvalidInput(
        [Problem(f"query.{p.path}" if p.path else "query", p.rule) for p in e.problems]
    )


def sort_values(fields: Any) -> list[str]:
    """The values of a list's ``sort`` parameter, for the OpenAPI: each field, and reversed."""
    return [f"{sign}{field}" for field in sorted(fields) for sign in ("", "-")]


def crud_router(resource: Resource) -> APIRouter:
    """list, create, get, replace, merge-patch and delete for one kind of object."""
    kind = resource.kind
    view = resource.view or resource.model
    Key = resource.key_param()
    router = APIRouter(tags=[resource.tag])
    one, many, ident = resource.title, resource.plural, resource.ident
    article = "an" if one[0] in "aeiou" else "a"

    @router.get(
        resource.path,
        summary=f"List {many}",
        operation_id=f"list_{ident}s",
        responses=responses(page_model(resource)),
    )
    def list_objects(
        request: Request,
        objects: ObjectsDep,
        q: Annotated[
            str | None,
            Query(
                max_length=255, description=f"Search (case-insensitive) {resource.search_example}"
            ),
        ] = None,
        sort: Annotated[
            str | None,
            Query(
                description=f"Sort by a field, `-` first to reverse: {resource.sort_example}",
                json_schema_extra={"enum": sort_values(sort_fields(kind))},
            ),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Any:
        try:
            page = objects.list(kind, q, sort, limit, offset)
        except InvalidInput as e:
            raise list_problems_as_query(e) from None
        if resource.live is not None:
            resource.live(request, page.items)
        return {
            "items": page.items,
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }

    @router.post(
        resource.path,
        summary=f"Create {article} {one}",
        operation_id=f"create_{ident}",
        status_code=201,
        responses=responses(view, 201),
        openapi_extra=request_body(resource.model),
    )
    def create_object(
        request: Request, response: Response, objects: ObjectsDep, body: JsonBody
    ) -> Any:
        created = objects.create(kind, body)
        response.headers["Location"] = _location(request, created[resource.key_name])
        return created

    @router.get(
        resource.object_path,
        summary=f"Show {article} {one}",
        operation_id=f"get_{ident}",
        responses=responses(view),
    )
    def get_object(key: Key, objects: ObjectsDep, include_secrets: IncludeSecrets = False) -> Any:  # type: ignore[valid-type]
        return objects.get(kind, str(key), include_secrets)

    @router.put(
        resource.object_path,
        summary=f"Replace {article} {one}",
        operation_id=f"replace_{ident}",
        responses=responses(view),
        openapi_extra=request_body(resource.model),
    )
    def replace_object(key: Key, objects: ObjectsDep, body: JsonBody) -> Any:  # type: ignore[valid-type]
        return objects.replace(kind, str(key), body)

    @router.patch(
        resource.object_path,
        summary=f"Change some settings of {article} {one}",
        operation_id=f"patch_{ident}",
        responses=responses(view),
        openapi_extra=request_body(resource.model, patch=True),
    )
    def patch_object(key: Key, objects: ObjectsDep, body: JsonBody) -> Any:  # type: ignore[valid-type]
        return objects.patch(kind, str(key), body)

    @router.delete(
        resource.object_path,
        summary=f"Delete {article} {one}",
        description=(
            f"Refused (409, with the places) while something refers to the {one}, unless "
            "`cascade=true`, which removes those references first."
        ),
        operation_id=f"delete_{ident}",
        responses=responses(deletion_model(resource)),
    )
    def delete_object(
        key: Key,  # type: ignore[valid-type]
        objects: ObjectsDep,
        cascade: Annotated[
            bool, Query(description="Remove every reference to the object, then delete it.")
        ] = False,
    ) -> Any:
        before = objects.get(kind, str(key))
        deleted = objects.delete(kind, str(key), cascade)
        return {
            "deleted": before,
            "removed_references": [asdict(p) for p in deleted.removed_references],
        }

    return router


def add_part_routes(
    router: APIRouter,
    resource: Resource,
    *,
    segment: str,
    part: str,
    model: Any,
    title: str,
    patch: bool = True,
) -> None:
    """GET and PUT (and PATCH unless ``patch`` is false) of ``part``, a path in the object."""
    kind = resource.kind
    Key = resource.key_param()
    url = f"{resource.object_path}/{segment}"
    ident = f"{resource.ident}_{part.replace('.', '_')}"
    has_secrets = any(p.startswith(f"{part}.") or p == part for p in SPECS[kind].secret_paths)

    if has_secrets:

        def get_part(key: Key, objects: ObjectsDep, include_secrets: IncludeSecrets = False) -> Any:  # type: ignore[valid-type]
            return objects.get_part(kind, str(key), part, include_secrets)

    else:

        def get_part(key: Key, objects: ObjectsDep) -> Any:  # type: ignore[misc,valid-type]
            return objects.get_part(kind, str(key), part)

    router.add_api_route(
        url,
        get_part,
        methods=["GET"],
        summary=f"Show the {title}",
        operation_id=f"get_{ident}",
        responses=responses(model),
    )

    def put_part(key: Key, objects: ObjectsDep, body: JsonBody) -> Any:  # type: ignore[valid-type]
        return objects.put_part(kind, str(key), part, body)

    router.add_api_route(
        url,
        put_part,
        methods=["PUT"],
        summary=f"Replace the {title}",
        operation_id=f"replace_{ident}",
        responses=responses(model),
        openapi_extra=request_body(model),
    )
    if not patch:
        return

    def patch_part(key: Key, objects: ObjectsDep, body: JsonBody) -> Any:  # type: ignore[valid-type]
        return objects.patch_part(kind, str(key), part, body)

    router.add_api_route(
        url,
        patch_part,
        methods=["PATCH"],
        summary=f"Change some of the {title}",
        operation_id=f"patch_{ident}",
        responses=responses(model),
        openapi_extra=request_body(model, patch=True),
    )


def parse_body(model: type[BaseModelT], body: Any) -> BaseModelT:
    """A small body the API itself must understand (not a stored object), or a 422."""
    if not isinstance(body, dict):
        raise InvalidInput.one("", "must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as e:
        raise InvalidInput(problems_from_validation(e)) from None
