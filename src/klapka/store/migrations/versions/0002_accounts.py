"""accounts: sessions, personal tokens, password resets, two-factor, sign-in failures,
client permissions

Revision ID: 0002_accounts
Revises: 0001
Create Date: 2026-11-25 23:40:00

A branch of its own next to 0003_contacts_audit: ``klapka.store.migrate.upgrade`` goes to
all heads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import klapka.store.tables

revision = "0002_accounts"
down_revision = "0001"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, klapka.store.tables.UtcDateTime(timezone=True), nullable=nullable)


def _extension(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("extension_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["extension_id"],
            ["extensions.id"],
            name=op.f(f"fk_{table}_extension_id_extensions"),
            ondelete="CASCADE",
        ),
    ]


def _extension_index(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(f"ix_{table}_extension_id"), ["extension_id"], unique=False
        )


def upgrade() -> None:
    op.create_table(
        "client_permissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_permissions")),
        sa.UniqueConstraint("name", name=op.f("uq_client_permissions_name")),
    )
    with op.batch_alter_table("refs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_client_permission_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_refs_owner_client_permission_id"),
            ["owner_client_permission_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_refs_owner_client_permission_id_client_permissions"),
            "client_permissions",
            ["owner_client_permission_id"],
            ["id"],
            ondelete="CASCADE",
        )

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        *_extension("sessions"),
        sa.Column("state", sa.String(length=16), nullable=False),
        _at("created_at"),
        _at("last_seen_at"),
        _at("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_sessions_session_hash")),
    )
    _extension_index("sessions")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "personal_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_extension("personal_tokens"),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=63), nullable=False),
        _at("created_at"),
        _at("last_used_at", nullable=True),
        _at("expires_at", nullable=True),
        _at("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_tokens_token_hash")),
    )
    _extension_index("personal_tokens")

    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_extension("password_resets"),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    _extension_index("password_resets")

    op.create_table(
        "two_factor",
        sa.Column("extension_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("enabled_at", nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["extension_id"],
            ["extensions.id"],
            name=op.f("fk_two_factor_extension_id_extensions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("extension_id", name=op.f("pk_two_factor")),
    )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_extension("recovery_codes"),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        _at("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    _extension_index("recovery_codes")

    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        _at("locked_until", nullable=True),
        _at("last_failure_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_failures")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
    op.drop_table("password_resets")
    op.drop_table("personal_tokens")
    op.drop_table("sessions")
    with op.batch_alter_table("refs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_refs_owner_client_permission_id_client_permissions"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_refs_owner_client_permission_id"))
        batch_op.drop_column("owner_client_permission_id")
    op.drop_table("client_permissions")
