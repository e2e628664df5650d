"""call history: a row per call from the SIP core's journal, the extensions each involved,
and how far the journal was read

Revision ID: 0010_call_history
Revises: 0009_phone_fetches
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0010_call_history"
down_revision = "0009_phone_fetches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = klapka.store.tables.UtcDateTime(timezone=True)
    op.create_table(
        "call_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("started_at", utc, nullable=False),
        sa.Column("answered_at", utc, nullable=True),
        sa.Column("ended_at", utc, nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=16), server_default="direct", nullable=False),
        sa.Column("caller", sa.String(length=64), server_default="", nullable=False),
        sa.Column("caller_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("caller_extension", sa.String(length=8), nullable=True),
        sa.Column("caller_endpoint", sa.String(length=16), nullable=True),
        sa.Column("dialled", sa.String(length=64), server_default="", nullable=False),
        sa.Column("did", sa.String(length=64), nullable=True),
        sa.Column("trunk", sa.String(length=64), nullable=True),
        sa.Column("answered_by", sa.String(length=8), nullable=True),
        sa.Column("answered_endpoint", sa.String(length=16), nullable=True),
        sa.Column("answered_number", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("sip_code", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("ended_by", sa.String(length=8), nullable=True),
        sa.Column("ring_seconds", sa.Integer(), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("forwards", sa.JSON(), nullable=False),
        sa.Column("trunk_attempts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_history")),
    )
    op.create_index(op.f("ix_call_history_call_id"), "call_history", ["call_id"])
    op.create_index(op.f("ix_call_history_started_at"), "call_history", ["started_at"])
    op.create_table(
        "call_parties",
        sa.Column("call", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("started_at", utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["call"],
            ["call_history.id"],
            name=op.f("fk_call_parties_call_call_history"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call", "extension", name=op.f("pk_call_parties")),
    )
    op.create_index(
        "ix_call_parties_extension_started_at", "call_parties", ["extension", "started_at"]
    )
    op.create_table(
        "journal_positions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journal_positions")),
    )


def downgrade() -> None:
    op.drop_table("journal_positions")
    op.drop_index("ix_call_parties_extension_started_at", table_name="call_parties")
    op.drop_table("call_parties")
    op.drop_index(op.f("ix_call_history_started_at"), table_name="call_history")
    op.drop_index(op.f("ix_call_history_call_id"), table_name="call_history")
    op.drop_table("call_history")
