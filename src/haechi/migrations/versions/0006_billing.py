"""Billing: subscriptions (sealed Toss billing key) and one charge row per org and period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
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
        "billing_subscriptions",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("customer_key", sa.String(64), nullable=False),
        sa.Column("billing_key", sa.Text(), nullable=False),
        sa.Column("card_company", sa.String(32), nullable=True),
        sa.Column("card_number", sa.String(32), nullable=True),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("renews_at", TIMESTAMP, nullable=False),
        sa.Column("next_charge_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_billing_subscriptions_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_billing_subscriptions")),
        sa.UniqueConstraint("customer_key", name=op.f("uq_billing_subscriptions_customer_key")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(
        op.f("ix_billing_subscriptions_next_charge_at"),
        "billing_subscriptions",
        ["next_charge_at"],
    )
    op.create_table(
        "billing_charges",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_key", sa.String(200), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_billing_charges_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_charges")),
        sa.UniqueConstraint("org_id", "period", name="uq_billing_charges_org_period"),
        sa.UniqueConstraint("order_id", name=op.f("uq_billing_charges_order_id")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_billing_charges_org_id"), "billing_charges", ["org_id"])


def downgrade() -> None:
    op.drop_table("billing_charges")
    op.drop_table("billing_subscriptions")
