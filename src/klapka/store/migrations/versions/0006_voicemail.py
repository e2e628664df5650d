"""voicemail messages and their new-message email queue

Revision ID: 0006_voicemail
Revises: 0005_merge
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0006_voicemail"
down_revision = "0005_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voicemail_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mailbox", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=64), server_default="", nullable=False),
        sa.Column("caller_name", sa.String(length=127), server_default="", nullable=False),
        sa.Column("received_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), server_default="0", nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("email_state", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("email_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("email_next_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voicemail_messages")),
    )
    op.create_index(
        "ix_voicemail_messages_mailbox", "voicemail_messages", ["mailbox", "state"], unique=False
    )
    op.create_index(
        "ix_voicemail_messages_email",
        "voicemail_messages",
        ["email_state", "email_next_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_voicemail_messages_email", table_name="voicemail_messages")
    op.drop_index("ix_voicemail_messages_mailbox", table_name="voicemail_messages")
    op.drop_table("voicemail_messages")
