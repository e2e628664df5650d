"""merge the accounts, contacts/audit and extension-search branches

Revision ID: 0005_merge
Revises: 0002_accounts, 0003_contacts_audit, 0004_extension_search
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0005_merge"
down_revision = ("0002_accounts", "0003_contacts_audit", "0004_extension_search")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
