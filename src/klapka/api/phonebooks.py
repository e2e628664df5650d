"""Phonebooks: named sets of company contacts. ``Default`` is built in and always there.

Seen by whoever may see the company contacts (contact visibility); created, changed and
deleted by admins.
"""

# No ``from __future__ import annotations``: see crud.py.

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from klapka.api.auth import current_principal
from klapka.api.contacts import PHONEBOOK_ADMIN, Asking, PbxDep, page_view
from klapka.api.crud import (
    JsonBody,
    Resource,
    deletion_model,
    list_problems_as_query,
    page_model,
    request_body,
    responses,
)
from klapka.api.limits import Limit, Offset
from klapka.domain.directory import Phonebook
from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.services.directory import contacts


class PhonebookView(Phonebook):
    """A phonebook as shown: with how many contacts it holds."""

    builtin: bool  # the Default phonebook: cannot be changed or deleted
    contacts: int


RESOURCE = Resource(
    kind=Kind.PHONEBOOK,
    path="/phonebooks",
    model=Phonebook,
    view=PhonebookView,
    title="phonebook",
    plural="phonebooks",
    search_example="name and description.",
)

Name = Annotated[str, Path(description="The phonebook's name.")]

router = APIRouter(tags=["phonebooks"], dependencies=[Depends(current_principal)])


@router.get(
    "/phonebooks",
    summary="List phonebooks",
    description="By name, the built-in `Default` first; each with its number of contacts.",
    operation_id="list_phonebooks",
    responses=responses(page_model(RESOURCE)),
)
def list_phonebooks(
    pbx: PbxDep,
    asking: Asking,
    q: Annotated[
        str | None, Query(max_length=255, description="Search name and description.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    try:
        return page_view(contacts.list_phonebooks(pbx, asking, q, limit, offset))
    except InvalidInput as e:
        raise list_problems_as_query(e) from None


@router.post(
    "/phonebooks",
    summary="Create a phonebook",
    operation_id="create_phonebook",
    dependencies=PHONEBOOK_ADMIN,
    status_code=201,
    responses=responses(PhonebookView, 201),
    openapi_extra=request_body(Phonebook),
)
def create_phonebook(
    request: Request, response: Response, pbx: PbxDep, asking: Asking, body: JsonBody
) -> Any:
    created = contacts.create_phonebook(pbx, asking, body)
    response.headers["Location"] = (
        f"{request.url.path.rstrip('/')}/{quote(created['name'], safe='')}"
    )
    return created


@router.get(
    "/phonebooks/{name}",
    summary="Show a phonebook",
    operation_id="get_phonebook",
    responses=responses(PhonebookView),
)
def get_phonebook(name: Name, pbx: PbxDep, asking: Asking) -> Any:
    return contacts.get_phonebook(pbx, asking, name)


@router.put(
    "/phonebooks/{name}",
    summary="Replace a phonebook",
    operation_id="replace_phonebook",
    dependencies=PHONEBOOK_ADMIN,
    responses=responses(PhonebookView),
    openapi_extra=request_body(Phonebook),
)
def replace_phonebook(name: Name, pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:
    return contacts.update_phonebook(pbx, asking, name, body)


@router.patch(
    "/phonebooks/{name}",
    summary="Change some settings of a phonebook",
    operation_id="patch_phonebook",
    dependencies=PHONEBOOK_ADMIN,
    responses=responses(PhonebookView),
    openapi_extra=request_body(Phonebook, patch=True),
)
def patch_phonebook(name: Name, pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:
    return contacts.patch_phonebook(pbx, asking, name, body)


@router.delete(
    "/phonebooks/{name}",
    summary="Delete a phonebook",
    description="Refused (409, with its contacts) while contacts are in it, unless "
    "`cascade=true`, which moves them to the Default phonebook first.",
    operation_id="delete_phonebook",
    responses=responses(deletion_model(RESOURCE)),
)
def delete_phonebook(
    name: Name,
    pbx: PbxDep,
    asking: Asking,
    cascade: Annotated[
        bool, Query(description="Move the phonebook's contacts to Default, then delete it.")
    ] = False,
) -> Any:
    before = contacts.get_phonebook(pbx, asking, name)
    deleted = contacts.delete_phonebook(pbx, asking, name, cascade)
    return {
        "deleted": before,
        "removed_references": [asdict(p) for p in deleted.removed_references],
    }
