"""CSV tables for imports and exports (extensions, company contacts): the shared parts.

Reading: a header row naming the columns (any order and case), then one row per object;
``,`` or, as spreadsheets in much of Europe write, ``;``; a byte-order mark is fine; blank
rows are skipped. A file that cannot be read as such a table is refused as a whole
(InvalidInput). Rule violations inside rows are ``RowError``s, counted as a spreadsheet
counts rows (the header is row 1), and an import with any is refused without writing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from klapka.domain.problems import InvalidInput, Problem

Progress = Callable[[int, int], None]

TRUE = frozenset({"true", "yes", "1"})
FALSE = frozenset({"false", "no", "0"})
BOOLEAN_RULE = "must be true or false (yes/no and 1/0 work too)"

_PROGRESS_EVERY = 100


@dataclass(frozen=True)
class RowError:
    """One broken rule in one row. ``row`` counts like a spreadsheet: the header is row 1."""

    row: int
    field: str
    rule: str

    def __str__(self) -> str:
        return (
            f"row {self.row}, {self.field}: {self.rule}"
            if self.field
            else f"row {self.row}: {self.rule}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "rule": self.rule}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "dry_run": self.dry_run,
            "errors": [e.to_dict() for e in self.errors],
        }


class Work:
    """Reports progress every few rows, not on each one."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self.reported = 0

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None and self.done - self.reported >= _PROGRESS_EVERY:
            self.reported = self.done
            self.progress(self.done, self.total)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)


def read_table(
    text: str, columns: Sequence[str], required: Sequence[str] = (), header_hint: str = ""
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the non-blank data rows as (row number, column -> stripped cell).

    Raises InvalidInput for a file that is not a CSV table of ``columns``: no header, a
    ``required`` column missing, unknown or repeated columns, bad quoting, a row longer than
    the header. ``header_hint`` ends the message about a missing header.
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in much of Europe write ';' between cells.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
    except csv.Error as e:
        raise InvalidInput.one(
            f"row {len(records) + 1}", f"malformed CSV: {e} (check the quotes in this row)"
        ) from None
    if not records or not any(c.strip() for c in records[0]):
        hint = f" ({header_hint})" if header_hint else ""
        raise InvalidInput.one(
            "row 1", f"the first row must be the header naming the columns{hint}"
        )
    header = [c.strip().lower() for c in records[0]]
    problems: list[Problem] = []
    unknown = [
        name or f"(empty, column {i + 1})" for i, name in enumerate(header) if name not in columns
    ]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        known = ", ".join(columns)
        problems.append(
            Problem(
                "header", f"unknown column{plural} {', '.join(unknown)}; the columns are: {known}"
            )
        )
    for i, name in enumerate(header):
        if name in columns and name in header[:i]:
            problems.append(Problem("header", f"column {name} is listed twice"))
    for name in required:
        if name not in header:
            problems.append(Problem("header", f"the {name} column is required"))
    if problems:
        raise InvalidInput(problems)
    rows: list[tuple[int, dict[str, str]]] = []
    for index, record in enumerate(records[1:], start=2):
        if not any(c.strip() for c in record):
            continue  # a blank line
        if len(record) > len(header):
            raise InvalidInput.one(
                f"row {index}",
                f"malformed CSV: {len(record)} cells but the header names only {len(header)}",
            )
        # A shorter row (trailing cells left out, as some tools write) has those cells empty.
        rows.append(
            (index, {h: record[i].strip() if i < len(record) else "" for i, h in enumerate(header)})
        )
    return header, rows


def cell(value: Any) -> str:
    """A value as a CSV cell: booleans as true/false, nothing as empty."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def write_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The header and ``rows`` as CSV text, cells made by ``cell``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
