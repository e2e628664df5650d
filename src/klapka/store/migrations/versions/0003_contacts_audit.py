"""phonebooks, personal contacts, one-time tokens, audit log

Revision ID: 0003_contacts_audit
Revises: 0001
Create Date: 2026-11-25 23:29:00

A branch of its own next to 0002_accounts: ``klapka.store.migrate.upgrade`` goes to all heads.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0003_contacts_audit"
down_revision = "0001"
branch_labels = None
depends_on = None


def _search_text(data: dict[str, Any]) -> str:
    """As klapka.domain.directory.contact_search_text wrote it when this migration was made."""
    parts = [data.get("first_name", ""), data.get("last_name", ""), data.get("company", "")]
    parts.append(data.get("email") or "")
    for n in data.get("numbers", []):
        number = str(n.get("number", ""))
        parts += [number, re.sub(r"\D", "", number)]
    return " ".join(p for p in parts if p).lower()


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=127), nullable=False),
        sa.Column("actor_extension", sa.String(length=8), nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_kind"), ["kind"], unique=False)

    op.create_table(
        "phonebooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("updated_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phonebooks")),
        sa.UniqueConstraint("name", name=op.f("uq_phonebooks_name")),
    )
    op.create_table(
        "one_time_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("extension_id", sa.Integer(), nullable=False),
        sa.Column("created_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["extension_id"],
            ["extensions.id"],
            name=op.f("fk_one_time_tokens_extension_id_extensions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_one_time_tokens_token_hash")),
    )
    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_one_time_tokens_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_one_time_tokens_extension_id"), ["extension_id"], unique=False
        )

    op.create_table(
        "personal_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("extension_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=63), nullable=False),
        sa.Column("last_name", sa.String(length=63), nullable=False),
        sa.Column("company", sa.String(length=63), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("search", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", klapka.store.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["extension_id"],
            ["extensions.id"],
            name=op.f("fk_personal_contacts_extension_id_extensions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_contacts")),
    )
    with op.batch_alter_table("personal_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_contacts_extension_id"), ["extension_id"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phonebook", sa.String(length=63), nullable=False, server_default="Default")
        )
        batch_op.add_column(sa.Column("search", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_contacts_phonebook"), ["phonebook"], unique=False)

    # Contacts made before this migration: make them findable by number too.
    conn = op.get_bind()
    contacts = sa.table(
        "contacts", sa.column("id", sa.Integer()), sa.column("data", sa.JSON()), sa.column("search")
    )
    rows = conn.execute(sa.select(contacts.c.id, contacts.c.data)).all()
    if rows:
        conn.execute(
            sa.update(contacts)
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(search=sa.bindparam("text")),
            [{"row_id": r.id, "text": _search_text(dict(r.data))} for r in rows],
        )

    with op.batch_alter_table("refs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("target_phonebook_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_refs_owner_contact_id"), ["owner_contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_refs_target_phonebook_id"), ["target_phonebook_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_refs_owner_contact_id_contacts"),
            "contacts",
            ["owner_contact_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_refs_target_phonebook_id_phonebooks"),
            "phonebooks",
            ["target_phonebook_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("refs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_refs_target_phonebook_id_phonebooks"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_refs_owner_contact_id_contacts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_refs_target_phonebook_id"))
        batch_op.drop_index(batch_op.f("ix_refs_owner_contact_id"))
        batch_op.drop_column("target_phonebook_id")
        batch_op.drop_column("owner_contact_id")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_phonebook"))
        batch_op.drop_column("search")
        batch_op.drop_column("phonebook")

    op.drop_table("personal_contacts")
    op.drop_table("one_time_tokens")
    op.drop_table("phonebooks")
    op.drop_table("audit_log")
