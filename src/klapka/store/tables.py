"""The database schema. Settings live as validated JSON next to the columns that lists
search and sort by; the ``refs`` table indexes every reference between objects with real
foreign keys, so the database itself refuses a reference to something that is gone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


extensions = Table(
    "extensions",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("first_name", String(63), nullable=False, default=""),
    Column("last_name", String(63), nullable=False, default=""),
    Column("email", String(255), nullable=True, unique=True),
    Column("sip_username", String(63), nullable=False, unique=True),
    Column("role", String(16), nullable=False, default="user"),
    Column("presence", String(16), nullable=False, default="available"),
    Column("presence_changed_at", UtcDateTime, nullable=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_extensions_last_name", "last_name"),
    Index("ix_extensions_first_name", "first_name"),
)

phones = Table(
    "phones",
    metadata,
    Column("mac", String(12), primary_key=True),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

ext_groups = Table(
    "ext_groups",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

ring_groups = Table(
    "ring_groups",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("name", String(63), nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

queues = Table(
    "queues",
    metadata,
    _id(),
    Column("number", String(8), nullable=False, unique=True),
    Column("name", String(63), nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Runtime state of queue members (not configuration): logged in / paused.
queue_agents = Table(
    "queue_agents",
    metadata,
    Column("queue_id", Integer, ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "extension_id",
        Integer,
        ForeignKey("extensions.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("logged_in", Boolean, nullable=False, default=True),
    Column("paused", Boolean, nullable=False, default=False),
)

trunks = Table(
    "trunks",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

inbound_routes = Table(
    "inbound_routes",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

outbound_routes = Table(
    "outbound_routes",
    metadata,
    _id(),
    Column("name", String(63), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    _id(),
    Column("first_name", String(63), nullable=False, default=""),
    Column("last_name", String(63), nullable=False, default=""),
    Column("company", String(63), nullable=False, default=""),
    Column("email", String(255), nullable=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Singletons: system settings and business hours, plus a version that every change bumps
# (the SIP core reads it to know that its cached view of the directory is stale).
system = Table(
    "system",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("data", JSON, nullable=False),
    Column("secrets", JSON, nullable=False),
    Column("business_hours", JSON, nullable=False),
    Column("directory_version", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("name", String(63), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)


def _owner(name: str, table: str) -> Column[int]:
    return Column(
        name, Integer, ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=True, index=True
    )


def _target(name: str, table: str) -> Column[int]:
    return Column(
        name, Integer, ForeignKey(f"{table}.id", ondelete="RESTRICT"), nullable=True, index=True
    )


# One row per reference. Exactly one owner_* and one target_* column is set.
refs = Table(
    "refs",
    metadata,
    _id(),
    Column("path", String(255), nullable=False),
    Column("blocking", Boolean, nullable=False),
    _owner("owner_extension_id", "extensions"),
    _owner("owner_group_id", "ext_groups"),
    _owner("owner_ring_group_id", "ring_groups"),
    _owner("owner_queue_id", "queues"),
    _owner("owner_inbound_route_id", "inbound_routes"),
    _owner("owner_outbound_route_id", "outbound_routes"),
    _target("target_extension_id", "extensions"),
    _target("target_group_id", "ext_groups"),
    _target("target_ring_group_id", "ring_groups"),
    _target("target_queue_id", "queues"),
    _target("target_trunk_id", "trunks"),
)
