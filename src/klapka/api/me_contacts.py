"""The signed-in user's personal contacts, ``/api/v1/me/contacts``: private to their owner
(another user's contact is a 404), searchable like company contacts."""

# No ``from __future__ import annotations``: see crud.py.

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from klapka.api.auth import CurrentPrincipal, current_principal
from klapka.api.crud import JsonBody, request_body, responses, sort_values
from klapka.api.dependencies import get_pbx
from klapka.api.limits import Id, Limit, Offset
from klapka.domain.directory import PersonalContact
from klapka.services.directory import contacts

router = APIRouter(tags=["me"], dependencies=[Depends(current_principal)])


class PersonalContactView(PersonalContact):
    """A personal contact as shown: its fields and its id."""

    id: int


class PersonalContactPage(BaseModel):
    items: list[PersonalContactView]
    total: int
    limit: int
    offset: int


ContactId = Annotated[Id, Path(description="The contact's id.")]


@router.get(
    "/me/contacts",
    summary="My personal contacts (search by name, company, number, email)",
    operation_id="list_my_contacts",
    responses=responses(PersonalContactPage),
)
def list_my_contacts(
    request: Request,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Sort by a field, `-` first to reverse.",
            json_schema_extra={"enum": sort_values(contacts.SORTS)},
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    page = contacts.list_personal(get_pbx(request), principal, q, sort, limit, offset)
    return asdict(page)


@router.post(
    "/me/contacts",
    summary="Add a personal contact",
    operation_id="create_my_contact",
    status_code=201,
    responses=responses(PersonalContactView, 201),
    openapi_extra=request_body(PersonalContact),
)
def create_my_contact(
    request: Request, response: Response, principal: CurrentPrincipal, body: JsonBody
) -> Any:
    made = contacts.create_personal(get_pbx(request), principal, body)
    response.headers["Location"] = f"/api/v1/me/contacts/{made['id']}"
    return made


@router.get(
    "/me/contacts/{id}",
    summary="One of my personal contacts",
    operation_id="get_my_contact",
    responses=responses(PersonalContactView),
)
def get_my_contact(request: Request, principal: CurrentPrincipal, id: ContactId) -> Any:
    return contacts.get_personal(get_pbx(request), principal, id)


@router.put(
    "/me/contacts/{id}",
    summary="Replace one of my personal contacts",
    operation_id="replace_my_contact",
    responses=responses(PersonalContactView),
    openapi_extra=request_body(PersonalContact),
)
def put_my_contact(
    request: Request, principal: CurrentPrincipal, id: ContactId, body: JsonBody
) -> Any:
    return contacts.update_personal(get_pbx(request), principal, id, body)


@router.patch(
    "/me/contacts/{id}",
    summary="Change one of my personal contacts",
    operation_id="patch_my_contact",
    responses=responses(PersonalContactView),
    openapi_extra=request_body(PersonalContact, patch=True),
)
def patch_my_contact(
    request: Request, principal: CurrentPrincipal, id: ContactId, body: JsonBody
) -> Any:
    return contacts.patch_personal(get_pbx(request), principal, id, body)


@router.delete(
    "/me/contacts/{id}",
    summary="Delete one of my personal contacts",
    operation_id="delete_my_contact",
    responses=responses(PersonalContactView),
)
def delete_my_contact(request: Request, principal: CurrentPrincipal, id: ContactId) -> Any:
    return contacts.delete_personal(get_pbx(request), principal, id)
