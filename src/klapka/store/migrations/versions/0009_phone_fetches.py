"""provisioning: when each phone last fetched its configuration file (runtime state)

Revision ID: 0009_phone_fetches
Revises: 0008_hot_desk
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0009_phone_fetches"
down_revision = "0008_hot_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_fetches",
        sa.Column("mac", sa.String(length=12), nullable=False),
        sa.Column("fetched_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=255), server_default="", nullable=False),
        sa.Column("file", sa.String(length=100), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("mac", name=op.f("pk_phone_fetches")),
    )


def downgrade() -> None:
    op.drop_table("phone_fetches")
