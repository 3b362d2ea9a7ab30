"""The ``test`` security level (proof-of-work only, for tests and staging).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Replaces the CHECK constraint on ``sites.security_level``; on SQLite batch mode copies the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_sites_security_level"
OLD = "security_level IN ('low', 'medium', 'high', 'strict')"
NEW = "security_level IN ('low', 'medium', 'high', 'strict', 'test')"


def _replace(condition: str) -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint(op.f(NAME), type_="check")
        # Named in full already: op.f keeps the naming convention from prefixing it again.
        batch.create_check_constraint(op.f(NAME), condition)


def upgrade() -> None:
    _replace(NEW)


def downgrade() -> None:
    op.execute("UPDATE sites SET security_level = 'medium' WHERE security_level = 'test'")
    _replace(OLD)
