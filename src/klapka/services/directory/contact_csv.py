"""CSV import and export of company contacts (columns in ``docs/contacts.md``).

One row per contact; numbers go in a column per type (``work``, ``mobile``, ``home``,
``fax``, ``other``), several separated by ``;``. A row with an ``id`` updates that contact
(empty cells keep what it has); a row without one creates a contact. As for extensions
(``services.extension_csv``), an import is all or nothing: every row is checked first, and
if any breaks a rule, every error comes back by row, column and rule and nothing is written.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from klapka.domain.directory import DEFAULT_PHONEBOOK, Contact, ContactNumberType
from klapka.domain.problems import Forbidden, InvalidInput
from klapka.domain.references import Kind
from klapka.services import audit
from klapka.services.directory.contacts import can_manage_company, can_view_company, phonebook_name
from klapka.services.directory.csv_tables import (
    ImportResult,
    Progress,
    RowError,
    Work,
    read_table,
    write_table,
)
from klapka.services.directory.writer import DirectoryWriter, Planned, validate
from klapka.services.pbx import Pbx
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import Repository, now

NUMBER_COLUMNS = tuple(n.value for n in ContactNumberType)  # work, mobile, home, fax, other
COLUMNS = ("id", "first_name", "last_name", "company", "email", "phonebook", *NUMBER_COLUMNS)
_TEXT_COLUMNS = ("first_name", "last_name", "company", "email", "phonebook")
_NUMBER_PATH = re.compile(r"numbers\[(\d+)\](?:\.(\w+))?")


def _split(cell: str) -> list[str]:
    return [n.strip() for n in cell.split(";") if n.strip()]


class ContactCsv:
    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal

    # --- export ---------------------------------------------------------------------

    def export_csv(self, phonebook: str | None = None) -> str:
        """Every company contact (or one phonebook's), one row each, by id."""
        with self.pbx.tx() as repo:
            if not can_view_company(self.principal, repo.conn):
                raise Forbidden("you may not see the company contacts")
            query = select(t.contacts.c.id, t.contacts.c.data).order_by(t.contacts.c.id)
            if phonebook is not None:
                query = query.where(t.contacts.c.phonebook == phonebook_name(repo.conn, phonebook))
            rows = repo.conn.execute(query).all()
        return write_table(COLUMNS, (self._export_row(r.id, r.data) for r in rows))

    @staticmethod
    def _export_row(contact_id: int, data: dict[str, Any]) -> list[Any]:
        contact = Contact.model_validate(data)
        numbers = {
            column: ";".join(n.number for n in contact.numbers if n.type.value == column)
            for column in NUMBER_COLUMNS
        }
        return [
            contact_id,
            contact.first_name,
            contact.last_name,
            contact.company,
            contact.email,
            contact.phonebook,
            *(numbers[c] for c in NUMBER_COLUMNS),
        ]

    # --- import ---------------------------------------------------------------------

    def import_csv(
        self, text: str, progress: Progress | None = None, dry_run: bool = False
    ) -> ImportResult:
        """Create and update company contacts from CSV ``text``; all rows or none.

        Raises InvalidInput when the file itself is unreadable, Forbidden without the
        permission to manage company contacts; rule violations come back in
        ``ImportResult.errors``, with nothing written. ``dry_run`` checks and writes nothing.
        """
        _header, records = read_table(
            text, COLUMNS, header_hint="e.g. first_name,last_name,company,work"
        )
        work = Work(progress, 2 * len(records))
        errors: list[RowError] = []
        planned: list[tuple[int, Any, Contact]] = []  # (row, existing row or None, contact)
        with self.pbx.tx() as repo:
            if not can_manage_company(self.principal, repo.conn):
                raise Forbidden("you may not change the company contacts")
            phonebooks = set(repo.keys(Kind.PHONEBOOK)) | {DEFAULT_PHONEBOOK}
            existing = {r.id: r for r in repo.rows(Kind.CONTACT)}
            first_row: dict[int, int] = {}
            for index, cells in records:
                row_errors: list[RowError] = []
                contact, stored = self._check_row(
                    index, cells, existing, phonebooks, first_row, row_errors
                )
                errors += row_errors
                if contact is not None and not row_errors:
                    planned.append((index, stored, contact))
                work.advance(1)
            if errors:
                return ImportResult(errors=errors, dry_run=dry_run)
            if not dry_run and planned:
                self._write(repo, planned, work)
        work.finish()
        created = sum(1 for _i, stored, _c in planned if stored is None)
        return ImportResult(created=created, updated=len(planned) - created, dry_run=dry_run)

    def _check_row(
        self,
        index: int,
        cells: dict[str, str],
        existing: dict[int, Any],
        phonebooks: set[str],
        first_row: dict[int, int],
        errors: list[RowError],
    ) -> tuple[Contact | None, Any]:
        """The contact this row describes (None when it breaks a rule: see ``errors``)."""
        stored = None
        data: dict[str, Any] = {}
        key = cells.get("id", "")
        if key:
            if not key.isdigit():
                errors.append(
                    RowError(index, "id", "must be a whole number (or empty for a new contact)")
                )
                return None, None
            contact_id = int(key)
            if contact_id in first_row:
                errors.append(
                    RowError(
                        index, "id", f"{key} is listed twice (first at row {first_row[contact_id]})"
                    )
                )
                return None, None
            first_row[contact_id] = index
            stored = existing.get(contact_id)
            if stored is None:
                errors.append(
                    RowError(
                        index, "id", f"contact {key} does not exist (leave id empty to create one)"
                    )
                )
                return None, None
            data = dict(stored.data)
        for column in _TEXT_COLUMNS:
            if cells.get(column):
                data[column] = cells[column]
        phonebook = cells.get("phonebook", "")
        if (
            phonebook
            and phonebook not in phonebooks
            and phonebook.lower() != DEFAULT_PHONEBOOK.lower()
        ):
            errors.append(
                RowError(
                    index, "phonebook", f"phonebook {phonebook} does not exist (create it first)"
                )
            )
        # Numbers: a filled cell replaces that type's numbers (they go last); an empty one
        # keeps them where they are.
        old = [(n.get("type", "work"), n) for n in data.get("numbers", [])]
        replaced = {
            column: [{"type": column, "number": n} for n in _split(cells[column])]
            for column in NUMBER_COLUMNS
            if cells.get(column)
        }
        replaced = {
            column: given
            for column, given in replaced.items()
            if [n["number"] for n in given] != [n["number"] for t, n in old if t == column]
        }
        kept = [(t, n) for t, n in old if t not in replaced]
        added = [(column, n) for column, given in replaced.items() for n in given]
        data["numbers"] = [n for _t, n in kept + added]
        columns_of = [t for t, _n in kept + added]  # the column of each number, for errors
        try:
            contact = validate(Kind.CONTACT, data)
        except InvalidInput as e:
            for problem in e.problems:
                errors.append(
                    RowError(index, self._column_of(problem.path, columns_of), problem.rule)
                )
            return None, stored
        assert isinstance(contact, Contact)
        return contact, stored

    @staticmethod
    def _column_of(path: str, columns_of: list[str]) -> str:
        match = _NUMBER_PATH.match(path)
        if match:
            i = int(match.group(1))
            return columns_of[i] if i < len(columns_of) else "numbers"
        if path.startswith("numbers"):
            return "numbers"
        return path.split(".")[0]

    def _write(self, repo: Repository, planned: list[tuple[int, Any, Contact]], work: Work) -> None:
        stamp = now()
        changes = [
            Planned("create", Kind.CONTACT, contact, secrets={})
            if stored is None
            else Planned("update", Kind.CONTACT, contact, row=stored, secrets={})
            for _index, stored, contact in planned
        ]
        created = sum(1 for _i, stored, _c in planned if stored is None)
        summary = {"created": created, "updated": len(planned) - created, "rows": len(planned)}
        DirectoryWriter(repo, self.principal).write(
            changes,
            also_log=[
                audit.entry(
                    self.principal, "import", "contact", "", audit.changes(None, summary), stamp
                )
            ],
            progress=work.advance,
            stamp=stamp,
        )
