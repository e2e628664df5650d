"""CSV import and export of extensions, for moving users from another PBX.

The columns are documented in ``docs/csv.md``. An import is all or nothing: every row is
validated first (with the same extension model as the API and the configuration document,
plus uniqueness inside the file and against the database); if any row breaks a rule, the
errors are returned by row, field and rule and nothing is written. Otherwise every row is
written in one transaction by the directory writer (``services.directory.writer``: secrets,
rows, group memberships, audit entries), in bulk, so 10,000 rows take seconds, not minutes.
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from klapka.domain.directory import Group
from klapka.domain.document import RESERVED_GROUP
from klapka.domain.extension import Extension
from klapka.domain.problems import InvalidInput
from klapka.domain.references import Kind
from klapka.domain.values import PresenceStatus
from klapka.services import audit
from klapka.services.directory.csv_tables import (
    BOOLEAN_RULE,
    FALSE,
    TRUE,
    ImportResult,
    Progress,
    RowError,
    Work,
    cell,
    read_table,
    write_table,
)
from klapka.services.directory.writer import DirectoryWriter, Planned, validate, with_secrets
from klapka.services.pbx import Pbx
from klapka.services.permissions import admin_only
from klapka.services.principal import SYSTEM, Principal
from klapka.store import tables as t
from klapka.store.repository import Repository, now

# Documented order; export writes them in this order.
COLUMNS = (
    "number",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "caller_id_name",
    "caller_id_number",
    "sip_username",
    "sip_password",
    "concurrent_registrations",
    "role",
    "enabled",
    "voicemail_enabled",
    "voicemail_pin",
    "voicemail_email",
    "ring_timeout",
    "groups",
)
SECRET_COLUMNS = ("sip_password", "voicemail_pin")

# Column -> path in the extension's settings (dotted), for the plain columns.
_PATHS = {
    "number": "number",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "mobile": "mobile",
    "caller_id_name": "caller_id_name",
    "caller_id_number": "caller_id_number",
    "sip_username": "sip_username",
    "sip_password": "sip_password",
    "concurrent_registrations": "concurrent_registrations",
    "role": "role",
    "enabled": "enabled",
    "voicemail_enabled": "voicemail.enabled",
    "voicemail_pin": "voicemail.pin",
    "voicemail_email": "voicemail.new_message_email",
}
_COLUMN_OF_PATH = {path: column for column, path in _PATHS.items()}
_BOOLEAN_COLUMNS = ("enabled", "voicemail_enabled")
# ring_timeout is one column for every status that rings (do not disturb rings nothing).
_RINGING_STATUSES = tuple(s.value for s in PresenceStatus if s is not PresenceStatus.DO_NOT_DISTURB)
_RING_TIMEOUT_PATH = re.compile(r"presence_settings\.[a-z_]+\.ring_timeout")

_DEFAULTS = Extension(number="00").model_dump(mode="json") | {"first_name": ""}
_MISSING = object()

_WRITE_CHUNK = 500


@dataclass
class _Row:
    """One data row on its way in: the cells, then the validated extension."""

    row: int
    cells: dict[str, str]
    number: str
    groups: list[str] | None = None  # None: the cell was empty, memberships stay
    existing: Any = None  # the database row when the number exists
    ext: Extension | None = None
    errors: list[RowError] = field(default_factory=list)

    def error(self, column: str, rule: str) -> None:
        e = RowError(self.row, column, rule)
        if e not in self.errors:
            self.errors.append(e)


# --- reading the file --------------------------------------------------------------


def parse_csv(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the non-blank data rows as (row number, column -> stripped cell).

    Raises InvalidInput for a file that is not a CSV table we can read: no header, no
    ``number`` column, unknown or repeated columns, bad quoting, a row longer than the header.
    """
    return read_table(text, COLUMNS, required=("number",), header_hint="at least number")


def _column_of(path: str) -> str:
    if _RING_TIMEOUT_PATH.fullmatch(path):
        return "ring_timeout"
    return _COLUMN_OF_PATH.get(path, path)


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, leaf = path.rpartition(".")
    container = data
    if head:
        for part in head.split("."):
            container = container.setdefault(part, {})
    container[leaf] = value


# Sections of an extension that most rows of an import share (the defaults, one ring
# timeout). Validating each distinct one once, instead of once per row, makes an import
# about five times faster. They hold no secrets; shared instances are only read.
_SHARED_SECTIONS = ("presence_settings", "features", "advanced", "security", "clients")


class _SectionCache:
    def __init__(self) -> None:
        self._validated: dict[tuple[str, bytes], BaseModel | None] = {}

    def section(self, name: str, value: Any) -> BaseModel | None:
        """``value`` validated as the section ``name``; None when it breaks a rule."""
        # marshal (version 2: no back-references) is a fast, faithful key for JSON data.
        key = (name, marshal.dumps(value, 2))
        if key not in self._validated:
            model = Extension.model_fields[name].annotation
            assert isinstance(model, type) and issubclass(model, BaseModel)
            try:
                self._validated[key] = model.model_validate(value)
            except ValidationError:
                self._validated[key] = None
        return self._validated[key]


class ExtensionCsv:
    def __init__(self, pbx: Pbx, principal: Principal = SYSTEM) -> None:
        self.pbx = pbx
        self.principal = principal  # who the changes are made for, in the audit log

    # --- export ---------------------------------------------------------------------

    @admin_only
    def export_csv(self, include_secrets: bool = False) -> str:
        """Every extension, one row each; secrets only with ``include_secrets``."""
        with self.pbx.tx() as repo:
            c = t.extensions.c
            rows = repo.conn.execute(
                select(c.number, c.data, c.secrets).order_by(func.length(c.number), c.number)
            ).all()
            groups_of: dict[str, list[str]] = {}
            for g in repo.rows(Kind.GROUP):
                for member in g.data.get("members", []):
                    groups_of.setdefault(member, []).append(g.name)
            return write_table(
                COLUMNS,
                (
                    self._export_row(
                        repo.data_of(r, with_secrets=include_secrets), groups_of.get(r.number, [])
                    )
                    for r in rows
                ),
            )

    def _export_row(self, data: dict[str, Any], groups: list[str]) -> list[str]:
        # The database keeps only what differs from the defaults.
        cells: dict[str, Any] = {}
        for column, path in _PATHS.items():
            value: Any = data
            default: Any = _DEFAULTS
            for part in path.split("."):
                value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
                default = default[part]
            cells[column] = default if value is _MISSING else value
        if not cells["first_name"] and not cells["last_name"]:
            cells["first_name"] = cells["number"]  # as the extension shows it everywhere
        presence = data.get("presence_settings", {})
        defaults = _DEFAULTS["presence_settings"]
        timeouts = {
            presence.get(s, {}).get("ring_timeout", defaults[s]["ring_timeout"])
            for s in _RINGING_STATUSES
        }
        # Different timeouts per status do not fit one cell: leave it empty (= keep on import).
        cells["ring_timeout"] = timeouts.pop() if len(timeouts) == 1 else None
        cells["groups"] = ";".join(groups)
        return [cell(cells[c]) for c in COLUMNS]

    # --- import ---------------------------------------------------------------------

    @admin_only
    def import_csv(
        self, text: str, progress: Progress | None = None, dry_run: bool = False
    ) -> ImportResult:
        """Create and update extensions from CSV ``text``; all rows or none.

        ``progress(done, total)`` is called now and then with the work done so far: each
        row counts twice, once checked and once written. Raises InvalidInput when the file
        itself is unreadable (see ``parse_csv``); rule violations in rows come back in
        ``ImportResult.errors``, with nothing written. ``dry_run`` checks and writes nothing.
        """
        _header, records = parse_csv(text)
        work = Work(progress, 2 * len(records))
        with self.pbx.tx() as repo:
            rows = [_Row(index, cells, cells.get("number", "")) for index, cells in records]
            groups = {g.name: g for g in repo.rows(Kind.GROUP)}
            sections = _SectionCache()
            self._load_existing(repo, rows)
            for row in rows:
                self._check_row(row, groups, sections)
                work.advance(1)
            self._check_unique(repo, rows)
            errors = [e for row in rows for e in row.errors]
            if errors:
                return ImportResult(errors=errors, dry_run=dry_run)
            if not dry_run and rows:
                self._write(repo, rows, groups, work)
        work.finish()
        return ImportResult(
            created=sum(1 for r in rows if r.existing is None),
            updated=sum(1 for r in rows if r.existing is not None),
            dry_run=dry_run,
        )

    def _load_existing(self, repo: Repository, rows: list[_Row]) -> None:
        by_number: dict[str, list[_Row]] = {}
        for row in rows:
            by_number.setdefault(row.number, []).append(row)
        numbers = [n for n in by_number if n]
        c = t.extensions.c
        for start in range(0, len(numbers), _WRITE_CHUNK):
            chunk = numbers[start : start + _WRITE_CHUNK]
            for db_row in repo.conn.execute(
                select(c.id, c.number, c.email, c.sip_username, c.data, c.secrets).where(
                    c.number.in_(chunk)
                )
            ):
                for row in by_number[db_row.number]:
                    row.existing = db_row

    def _check_row(self, row: _Row, groups: dict[str, Any], sections: _SectionCache) -> None:
        """Build the extension this row describes and validate it; errors go on the row."""
        cells = row.cells
        if not row.number:
            row.error("number", "required")
            return
        if row.existing is not None:
            data = dict(row.existing.data)
            data = {**data, "voicemail": dict(data.get("voicemail", {}))}
        else:
            data = {"number": row.number}
        for column, path in _PATHS.items():
            value: Any = cells.get(column, "")
            if not value:
                continue  # an empty cell: the default, or the stored value on update
            if column in _BOOLEAN_COLUMNS:
                low = value.lower()
                if low not in TRUE | FALSE:
                    row.error(column, BOOLEAN_RULE)
                    continue
                value = low in TRUE
            _set_path(data, path, value)
        # An empty secret cell keeps the stored secret; a new extension without secrets gets
        # random ones (shown by an export with secrets).
        data = with_secrets(
            Kind.EXTENSION, data, dict(row.existing.secrets) if row.existing else {}
        )
        if cells.get("ring_timeout"):
            presence = data["presence_settings"] = dict(data.get("presence_settings", {}))
            for status in _RINGING_STATUSES:
                presence[status] = {
                    **presence.get(status, {}),
                    "ring_timeout": cells["ring_timeout"],
                }
        if cells.get("groups"):
            names = [n.strip() for n in cells["groups"].split(";") if n.strip()]
            row.groups = []
            for name in names:
                if name == RESERVED_GROUP:
                    continue  # every extension is in it
                if name not in groups:
                    row.error("groups", f"group {name} does not exist (create it first)")
                elif name not in row.groups:
                    row.groups.append(name)
        shared = {name: sections.section(name, data.get(name, {})) for name in _SHARED_SECTIONS}
        if all(part is not None for part in shared.values()):
            data |= shared
        # else: validate the plain data, so the errors name their place as usual.
        try:
            obj = validate(Kind.EXTENSION, data)
        except InvalidInput as e:
            for problem in e.problems:
                row.error(_column_of(problem.path), problem.rule)
            return
        assert isinstance(obj, Extension)
        if not row.errors:
            row.ext = obj

    def _check_unique(self, repo: Repository, rows: list[_Row]) -> None:
        """Numbers, emails and SIP user names unique in the file and with the database."""
        first_row: dict[str, int] = {}
        for row in rows:
            if row.number in first_row:
                row.ext = None  # its other values would only repeat the clash
                row.error(
                    "number", f"{row.number} is listed twice (first at row {first_row[row.number]})"
                )
            elif row.number:
                first_row[row.number] = row.row
        taken: dict[str, str] = {
            n: "an emergency number" for n in repo.system()[0].emergency_numbers
        }
        for table, what in ((t.ring_groups, "a ring group"), (t.queues, "a queue")):
            for n in repo.conn.execute(select(table.c.number)).scalars():
                taken[n] = f"already used by {what}"
        for row in rows:
            if row.number in taken:
                what = taken[row.number]
                row.error("number", f"{row.number} is {what}")
        # The state after the import: rows of the file replace the stored extensions.
        in_file = {row.number for row in rows}
        stored = [
            r
            for r in repo.conn.execute(
                select(t.extensions.c.number, t.extensions.c.email, t.extensions.c.sip_username)
            )
            if r.number not in in_file
        ]
        self._unique(
            rows,
            "email",
            ((r.number, r.email.lower()) for r in stored if r.email),
            lambda e: e.email.lower() if e.email else None,
        )
        self._unique(
            rows,
            "sip_username",
            ((r.number, r.sip_username) for r in stored),
            lambda e: e.effective_sip_username,
        )

    @staticmethod
    def _unique(
        rows: list[_Row],
        column: str,
        stored: Iterable[tuple[str, str]],
        value_of: Callable[[Extension], str | None],
    ) -> None:
        owner: dict[str, str] = {value: f"extension {number}" for number, value in stored}
        for row in rows:
            if row.ext is None:
                continue
            value = value_of(row.ext)
            if value is None:
                continue
            if value in owner:
                shown = getattr(row.ext, column) or value
                row.error(column, f"{shown} is already used by {owner[value]}")
            else:
                owner[value] = f"row {row.row}"

    def _write(
        self,
        repo: Repository,
        rows: list[_Row],
        groups: dict[str, Any],
        work: Work,
    ) -> None:
        stamp = now()
        changes: list[Planned] = []
        for r in rows:
            if r.ext is None:
                continue
            if r.existing is None:
                # The CSV columns name no other object (group memberships are the groups'
                # settings): a new extension makes no references; a changed one keeps its own.
                extra = {"presence_changed_at": stamp}
                changes.append(
                    Planned("create", Kind.EXTENSION, r.ext, extra=extra, links_changed=False)
                )
            else:
                changes.append(
                    Planned("update", Kind.EXTENSION, r.ext, row=r.existing, links_changed=False)
                )
        changes += self._group_changes(rows, groups)
        created = sum(1 for r in rows if r.existing is None)
        summary = {"created": created, "updated": len(rows) - created, "rows": len(rows)}
        DirectoryWriter(repo, self.principal).write(
            changes,
            also_log=[
                audit.entry(
                    self.principal, "import", "extension", "", audit.changes(None, summary), stamp
                )
            ],
            progress=work.advance,
            stamp=stamp,
        )

    @staticmethod
    def _group_changes(rows: list[_Row], groups: dict[str, Any]) -> list[Planned]:
        """Each row with a groups cell: member of exactly those groups afterwards (a
        membership is the group's setting; the import's audit entries are the extensions')."""
        members = {name: list(g.data.get("members", [])) for name, g in groups.items()}
        # Sets for the membership tests: a group may hold thousands of extensions.
        inside = {name: set(m) for name, m in members.items()}
        touched: set[str] = set()
        for row in rows:
            if row.groups is None:
                continue
            for name in members:
                wanted = name in row.groups
                if wanted != (row.number in inside[name]):
                    touched.add(name)
                    if wanted:
                        inside[name].add(row.number)
                        members[name].append(row.number)
                    else:
                        inside[name].discard(row.number)
        changes = []
        for name in sorted(touched):
            g = groups[name]
            group = Group.model_validate(
                {**g.data, "members": [m for m in members[name] if m in inside[name]]}
            )
            changes.append(Planned("update", Kind.GROUP, group, row=g, secrets={}, audit=False))
        return changes
