"""Company contacts: the shared phonebooks' entries, keyed by a numeric id; CSV in and out.

Anyone signed in may call these; the contacts service decides by the *contact visibility*
client permission (none, view, manage; an admin always manages), so a user who may not see
company contacts gets 403 here as everywhere else.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response

from klapka.api.auth import current_principal
from klapka.api.crud import (
    JsonBody,
    Resource,
    deletion_model,
    list_problems_as_query,
    page_model,
    request_body,
    responses,
    sort_values,
)
from klapka.api.dependencies import pbx_dependency, principal_dependency
from klapka.api.errors import ERROR_RESPONSES
from klapka.api.extension_csv import CSV, CsvImportRefused, CsvImportResult, csv_body, refused
from klapka.api.limits import Id, Limit, Offset
from klapka.domain.directory import Contact
from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.services.directory import contacts
from klapka.services.directory.contact_csv import ContactCsv
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal


class ContactView(Contact):
    """A contact as shown: with the id the PBX gave it."""

    id: int


RESOURCE = Resource(
    kind=Kind.CONTACT,
    path="/contacts",
    model=Contact,
    view=ContactView,
    key_type=Id,
    title="contact",
    plural="contacts",
    sort_example="`id`, `name`, `first_name`, `last_name`, `company`, `email`.",
    search_example="names, company, email and numbers (`601 000` finds +420 601 000 111).",
)

PbxDep = Annotated[Pbx, Depends(pbx_dependency)]
Asking = Annotated[Principal, Depends(principal_dependency)]
ContactId = RESOURCE.key_param()
PhonebookFilter = Annotated[
    str | None, Query(max_length=63, description="Only this phonebook's contacts.")
]

router = APIRouter(tags=["contacts"], dependencies=[Depends(current_principal)])


def may_manage(pbx: PbxDep, asking: Asking) -> None:
    """Checked before the body is read: who may not change contacts learns nothing more.
    (The service checks again; it is the authority.)"""
    contacts.require(pbx, asking, manage=True)


MANAGE = [Depends(may_manage)]


def may_change_phonebooks(asking: Asking) -> None:
    contacts.require_phonebook_admin(asking)


PHONEBOOK_ADMIN = [Depends(may_change_phonebooks)]


def page_view(page: Any) -> dict[str, Any]:
    return {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}


# CSV first: /contacts/import and /contacts.csv are not contact ids.


@router.get(
    "/contacts.csv",
    summary="Export the company contacts as CSV",
    description="Columns: id, first_name, last_name, company, email, phonebook, work, mobile, "
    "home, fax, other (several numbers of a type separated by `;`).",
    operation_id="export_contacts_csv",
    response_class=Response,
    responses={
        200: {"content": {CSV: {"schema": {"type": "string"}}}},
        404: ERROR_RESPONSES[404],  # no such phonebook
    },
)
def export_csv(pbx: PbxDep, asking: Asking, phonebook: PhonebookFilter = None) -> Response:
    return Response(
        ContactCsv(pbx, asking).export_csv(phonebook),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


@router.post(
    "/contacts/import",
    summary="Create or update company contacts from CSV",
    description="All rows or none: a row that breaks a rule refuses the whole file (422, with "
    "every error by row and column). A row with an `id` updates that contact (empty cells "
    "keep what it has); a row without one creates a contact.",
    operation_id="import_contacts_csv",
    dependencies=MANAGE,
    responses={**responses(CsvImportResult), 422: {"model": CsvImportRefused}},
    openapi_extra={
        "requestBody": {"required": True, "content": {CSV: {"schema": {"type": "string"}}}}
    },
)
def import_csv(
    pbx: PbxDep,
    asking: Asking,
    text: Annotated[str, Depends(csv_body)],
    dry_run: Annotated[bool, Query(description="Check every row; write nothing.")] = False,
) -> Any:
    result = ContactCsv(pbx, asking).import_csv(text, dry_run=dry_run)
    if result.errors:
        return refused(result.errors)
    return result.to_dict()


@router.get(
    "/contacts",
    summary="List company contacts",
    operation_id="list_contacts",
    responses=responses(page_model(RESOURCE)),
)
def list_contacts(
    pbx: PbxDep,
    asking: Asking,
    q: Annotated[
        str | None,
        Query(max_length=255, description=f"Search (case-insensitive) {RESOURCE.search_example}"),
    ] = None,
    phonebook: PhonebookFilter = None,
    sort: Annotated[
        str | None,
        Query(
            description=f"Sort by a field, `-` first to reverse: {RESOURCE.sort_example}",
            json_schema_extra={"enum": sort_values(contacts.SORTS)},
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    try:
        page = contacts.list_company(pbx, asking, q, phonebook, sort, limit, offset)
    except InvalidInput as e:
        raise list_problems_as_query(e) from None
    return page_view(page)


@router.post(
    "/contacts",
    summary="Create a company contact",
    operation_id="create_contact",
    dependencies=MANAGE,
    status_code=201,
    responses=responses(ContactView, 201),
    openapi_extra=request_body(Contact),
)
def create_contact(
    request: Request, response: Response, pbx: PbxDep, asking: Asking, body: JsonBody
) -> Any:
    created = contacts.create_company(pbx, asking, body)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{quote(str(created['id']))}"
    return created


@router.get(
    "/contacts/{id:not_import}",
    summary="Show a company contact",
    operation_id="get_contact",
    responses=responses(ContactView),
)
def get_contact(contact_id: ContactId, pbx: PbxDep, asking: Asking) -> Any:  # type: ignore[valid-type]
    return contacts.get_company(pbx, asking, contact_id)


@router.put(
    "/contacts/{id:not_import}",
    summary="Replace a company contact",
    operation_id="replace_contact",
    dependencies=MANAGE,
    responses=responses(ContactView),
    openapi_extra=request_body(Contact),
)
def replace_contact(contact_id: ContactId, pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:  # type: ignore[valid-type]
    return contacts.update_company(pbx, asking, contact_id, body)


@router.patch(
    "/contacts/{id:not_import}",
    summary="Change some fields of a company contact",
    operation_id="patch_contact",
    dependencies=MANAGE,
    responses=responses(ContactView),
    openapi_extra=request_body(Contact, patch=True),
)
def patch_contact(contact_id: ContactId, pbx: PbxDep, asking: Asking, body: JsonBody) -> Any:  # type: ignore[valid-type]
    return contacts.patch_company(pbx, asking, contact_id, body)


@router.delete(
    "/contacts/{id:not_import}",
    summary="Delete a company contact",
    operation_id="delete_contact",
    responses=responses(deletion_model(RESOURCE)),
)
def delete_contact(contact_id: ContactId, pbx: PbxDep, asking: Asking) -> Any:  # type: ignore[valid-type]
    return {"deleted": contacts.delete_company(pbx, asking, contact_id), "removed_references": []}
