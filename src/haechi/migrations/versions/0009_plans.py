"""Plans: custom plans beside the settings' catalogue, each organisation's plan and its quota
state for the month; usage event names widened for the richer counters.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.CHAR(36).with_variant(postgresql.UUID(as_uuid=True), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("price_krw", sa.Integer(), nullable=False),
        sa.Column("monthly_quota", sa.BigInteger(), nullable=True),
        sa.Column("max_sites", sa.Integer(), nullable=True),
        sa.Column("max_members", sa.Integer(), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("ip_rules", sa.Boolean(), nullable=False),
        sa.Column("audit_export", sa.Boolean(), nullable=False),
        sa.Column("overage_krw_per_1000", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_plans")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "org_plans",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("assigned_at", TIMESTAMP, nullable=False),
        sa.Column("period", sa.String(7), nullable=True),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("over_since", TIMESTAMP, nullable=True),
        sa.Column("warned_80", sa.String(7), nullable=True),
        sa.Column("warned_100", sa.String(7), nullable=True),
        sa.Column("checked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_org_plans_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_plans")),
        **MYSQL_TABLE_OPTIONS,
    )
    for table in ("usage_hourly", "usage_daily"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "event", type_=sa.String(128), existing_type=sa.String(32), existing_nullable=False
            )


def downgrade() -> None:
    op.drop_table("org_plans")
    op.drop_table("plans")
