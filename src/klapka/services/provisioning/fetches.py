"""When each phone last fetched its configuration file, and what the admin's Phones form
offers (the templates to choose from).

The provisioning server remembers, per MAC address, the last time it served the phone's
configuration file (``/provisioning/{mac}.cfg`` and the like, not the phonebook or the
common Yealink file): when, from which address and with which User-Agent. It is kept in
the database (table ``phone_fetches``), so it survives a restart of ``klapka serve``; one
row per MAC, overwritten by each fetch, not part of the configuration document. The row
is kept by MAC, not tied to the extension: a phone moved to another extension keeps it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from klapka.domain.problems import NotFound
from klapka.domain.references import Kind
from klapka.services.pbx import Pbx
from klapka.services.permissions import require_admin
from klapka.services.principal import Principal
from klapka.services.provisioning.render import SHIPPED, SUFFIX
from klapka.services.provisioning.vendors import (
    CONFIG_TEMPLATE,
    PHONEBOOK_TEMPLATE,
    YEALINK_COMMON_TEMPLATE,
)
from klapka.store import tables as t

log = logging.getLogger("klapka.provisioning")


def remember(
    pbx: Pbx,
    mac: str,
    *,
    source_ip: str | None,
    user_agent: str,
    file: str,
    at: datetime | None = None,
) -> None:
    """Record that the phone ``mac`` was just served ``file`` (its own transaction; a
    database error is logged, the phone still gets its file)."""
    values = {
        "mac": mac,
        "fetched_at": at or datetime.now(UTC),
        "source_ip": (source_ip or None) and source_ip[:45],
        "user_agent": user_agent[:255],
        "file": file[:100],
    }
    try:
        with pbx.tx() as repo:
            _upsert(repo.conn, values)
    except SQLAlchemyError as e:
        log.warning("provisioning: the fetch of %s could not be recorded: %s", mac, e)


def _upsert(conn: Connection, values: dict[str, Any]) -> None:
    table = t.phone_fetches
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(values)
    changed = {k: v for k, v in values.items() if k != "mac"}
    conn.execute(statement.on_conflict_do_update(index_elements=["mac"], set_=changed))


def _view(row: Any, zone: str) -> dict[str, Any]:
    at: datetime = row.fetched_at
    return {
        "at": at,
        "at_local": at.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds"),
        "timezone": zone,
        "source_ip": row.source_ip,
        "user_agent": row.user_agent,
        "file": row.file,
    }


def last_fetches(conn: Connection, macs: list[str], zone: str) -> dict[str, dict[str, Any]]:
    """The last fetch of each of ``macs`` that has one: ``at`` (UTC), ``at_local`` (ISO in
    ``zone``), ``timezone``, ``source_ip``, ``user_agent``, ``file``."""
    if not macs:
        return {}
    table = t.phone_fetches
    rows = conn.execute(select(table).where(table.c.mac.in_(macs)))
    return {row.mac: _view(row, zone) for row in rows}


def template_names(override_dir: Path) -> list[str]:
    """The names a phone's ``template`` setting may take: the shipped configuration
    templates and the admin's own (``$KLAPKA_DATA_DIR/provisioning/templates/*.j2``), not
    the phonebooks nor the common Yealink file."""
    skip = {YEALINK_COMMON_TEMPLATE, *PHONEBOOK_TEMPLATE.values()}
    names = set(CONFIG_TEMPLATE.values())
    for root in (SHIPPED, override_dir):
        if root.is_dir():
            names.update(p.name[: -len(SUFFIX)] for p in root.glob("*" + SUFFIX) if p.is_file())
    return sorted(n for n in names - skip if n)


class PhoneOverview:
    """What an admin's Phones tab reads: the last fetch of an extension's phones, and the
    templates a phone may name."""

    def __init__(self, pbx: Pbx, principal: Principal, data_dir: Path) -> None:
        self.pbx = pbx
        self.principal = principal
        self.data_dir = data_dir

    def last_fetches(self, number: str) -> dict[str, dict[str, Any]]:
        """The last fetch of each phone of extension ``number`` that was ever served, by
        MAC (the phones never served are left out)."""
        require_admin(self.principal)
        with self.pbx.tx() as repo:
            row = repo.row(Kind.EXTENSION, number)
            if row is None:
                raise NotFound("extension", number)
            macs = [p.get("mac") for p in row.data.get("phones") or [] if isinstance(p, dict)]
            zone = repo.system()[0].timezone
            return last_fetches(repo.conn, [m for m in macs if isinstance(m, str)], zone)

    def template_names(self) -> list[str]:
        """The templates a phone's ``template`` may name (``template_names``)."""
        require_admin(self.principal)
        return template_names(self.data_dir / "provisioning" / "templates")
