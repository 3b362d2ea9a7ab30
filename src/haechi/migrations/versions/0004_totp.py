"""TOTP two-factor sign-in: the sealed secret, when it took effect, recovery code digests.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
COLUMNS = ("totp_secret", "totp_enabled_at", "recovery_codes")


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_secret", sa.String(255), nullable=True))
    op.add_column("users", sa.Column("totp_enabled_at", TIMESTAMP, nullable=True))
    op.add_column("users", sa.Column("recovery_codes", sa.JSON(), nullable=True))


def downgrade() -> None:
    for column in COLUMNS:
        if op.get_bind().dialect.name == "sqlite":
            # Not batch mode: copying ``users`` would cascade-delete its dependants.
            op.execute(f"ALTER TABLE users DROP COLUMN {column}")
        else:
            op.drop_column("users", column)
