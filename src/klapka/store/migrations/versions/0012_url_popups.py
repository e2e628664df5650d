"""url popups: the URLs an extension's URL popup opens, for its user's open web portal

Revision ID: 0012_url_popups
Revises: 0011_webhooks
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0012_url_popups"
down_revision = "0011_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index("ix_url_popups_extension_id", table_name="url_popups")
    op.drop_table("url_popups")
