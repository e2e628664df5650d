"""Extensions as CSV, for moving users from another PBX: export, and import with row errors.

The columns are documented in ``docs/csv.md``. An import is all rows or none: when a row
breaks a rule the answer is 422 with every error by row and column, and nothing is written.
"""

# No ``from __future__ import annotations``: see crud.py.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from klapka.api.crud import IncludeSecrets, responses
from klapka.api.dependencies import get_pbx, get_principal, media_type, text_body
from klapka.api.errors import InvalidBody
from klapka.services.directory.extension_csv import ExtensionCsv

router = APIRouter(tags=["extensions"])

CSV = "text/csv"


class CsvRowError(BaseModel):
    row: int  # as a spreadsheet counts: the header is row 1
    field: str
    rule: str


class CsvImportResult(BaseModel):
    created: int
    updated: int
    dry_run: bool
    errors: list[CsvRowError]


class CsvImportRefused(InvalidBody):
    # Row errors; none when the request itself is refused (not UTF-8, no header row...).
    errors: list[CsvRowError] = Field(default_factory=list)


def extension_csv(request: Request) -> Any:
    return ExtensionCsv(get_pbx(request), get_principal(request))


Service = Annotated[Any, Depends(extension_csv)]


async def csv_body(request: Request) -> str:
    media = media_type(request)
    if media not in (CSV, "text/plain", "application/csv"):
        raise HTTPException(415, f"unsupported Content-Type {media}: send {CSV}")
    return await text_body(request)


@router.get(
    "/extensions.csv",
    summary="Export every extension as CSV",
    operation_id="export_extensions_csv",
    response_class=Response,
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}},
)
def export_csv(service: Service, include_secrets: IncludeSecrets = False) -> Response:
    return Response(
        service.export_csv(include_secrets=include_secrets),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="extensions.csv"'},
    )


@router.post(
    "/extensions/import",
    summary="Create or update extensions from CSV",
    description="All rows or none: a row that breaks a rule refuses the whole file (422, "
    "with every error by row and column). Existing numbers are updated; empty cells keep "
    "what the extension has.",
    operation_id="import_extensions_csv",
    responses={**responses(CsvImportResult), 422: {"model": CsvImportRefused}},
    openapi_extra={
        "requestBody": {"required": True, "content": {CSV: {"schema": {"type": "string"}}}}
    },
)
def import_csv(
    service: Service,
    text: Annotated[str, Depends(csv_body)],
    dry_run: Annotated[bool, Query(description="Check every row; write nothing.")] = False,
) -> Any:
    result = service.import_csv(text, dry_run=dry_run)
    if result.errors:
        return refused(result.errors)
    return result.to_dict()


def refused(errors: list[Any]) -> JSONResponse:
    """422 for an import with row errors: every error by row and column."""
    shown = "; ".join(str(e) for e in errors[:5])
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    return JSONResponse(
        {
            "error": "invalid",
            "message": f"nothing was imported: {shown}{more}",
            "problems": [
                {
                    "path": f"row {e.row}.{e.field}" if e.field else f"row {e.row}",
                    "rule": e.rule,
                }
                for e in errors
            ],
            "errors": [e.to_dict() for e in errors],
        },
        status_code=422,
    )
