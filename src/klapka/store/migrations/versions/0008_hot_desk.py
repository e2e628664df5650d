"""hot desking: who is logged in at a hot-desk phone (runtime state)

Revision ID: 0008_hot_desk
Revises: 0007_user_language
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0008_hot_desk"
down_revision = "0007_user_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hot_desk_logins",
        sa.Column("mac", sa.String(length=12), nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("since", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("logout_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("mac", name=op.f("pk_hot_desk_logins")),
        sa.UniqueConstraint("extension", name=op.f("uq_hot_desk_logins_extension")),
    )


def downgrade() -> None:
    op.drop_table("hot_desk_logins")
