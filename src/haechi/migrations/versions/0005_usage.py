"""Usage roll-ups: hourly and daily counts per sitekey and event, and the applied flush ids.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    op.create_table(
        "usage_hourly",
        sa.Column("sitekey", sa.String(64), nullable=False),
        sa.Column("hour", TIMESTAMP, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sitekey", "hour", "event", name=op.f("pk_usage_hourly")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_usage_hourly_hour", "usage_hourly", ["hour"])
    op.create_table(
        "usage_daily",
        sa.Column("sitekey", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sitekey", "day", "event", name=op.f("pk_usage_daily")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index("ix_usage_daily_day", "usage_daily", ["day"])
    op.create_table(
        "usage_flushes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("counters", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("applied_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_flushes")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_usage_flushes_applied_at"), "usage_flushes", ["applied_at"])


def downgrade() -> None:
    op.drop_table("usage_flushes")
    op.drop_table("usage_daily")
    op.drop_table("usage_hourly")
