"""events: klapka's event stream, read by the live listeners; url_popups dropped (a URL
popup is an event of the stream)

Revision ID: 0013_events
Revises: 0012_url_popups
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0013_events"
down_revision = "0012_url_popups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event", sa.String(length=63), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,  # ids never used again, also once the table was emptied
    )
    op.create_index("ix_events_created_at", "events", ["created_at"])
    op.drop_index("ix_url_popups_extension_id", table_name="url_popups")
    op.drop_table("url_popups")


def downgrade() -> None:
    op.create_table(
        "url_popups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_url_popups")),
    )
    op.create_index("ix_url_popups_extension_id", "url_popups", ["extension", "id"])
    op.drop_index("ix_events_created_at", table_name="events")
    op.drop_table("events")
