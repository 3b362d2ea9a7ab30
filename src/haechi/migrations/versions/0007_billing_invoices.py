"""Billing: invoices (gap-free numbers per operator and year), the credit ledger, plan changes
(pending downgrade, cancel at period end) and charge kinds (renewal, upgrade proration).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
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
    with op.batch_alter_table("billing_subscriptions") as batch:
        batch.add_column(sa.Column("pending_plan", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column(
                "cancel_at_period_end", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("period_start", TIMESTAMP, nullable=True))
    with op.batch_alter_table("billing_charges") as batch:
        # "2026-12" for a renewal, "2026-12+u1" for the first upgrade in that period.
        batch.alter_column(
            "period", existing_type=sa.String(7), type_=sa.String(24), existing_nullable=False
        )
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="renewal"))
        batch.add_column(sa.Column("plan", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("credit_applied", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("lines", sa.JSON(), nullable=True))
    op.create_table(
        "billing_invoice_counters",
        sa.Column("series", sa.String(32), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_billing_invoice_counters")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("charge_id", ID, nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("org_name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("supply", sa.Integer(), nullable=False),
        sa.Column("vat", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("issued_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_billing_invoices_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["charge_id"],
            ["billing_charges.id"],
            name=op.f("fk_billing_invoices_charge_id_billing_charges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_billing_invoices_number")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_billing_invoices_charge_id")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_billing_invoices_org_id"), "billing_invoices", ["org_id"])
    op.create_table(
        "billing_credits",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        # KRW: a grant is positive, what a charge used is negative (its charge_id set).
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("charge_id", ID, nullable=True),
        sa.Column("actor", sa.String(80), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_billing_credits_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_credits")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_billing_credits_org_id"), "billing_credits", ["org_id"])


def downgrade() -> None:
    op.drop_table("billing_credits")
    op.drop_table("billing_invoices")
    op.drop_table("billing_invoice_counters")
    with op.batch_alter_table("billing_charges") as batch:
        batch.drop_column("lines")
        batch.drop_column("credit_applied")
        batch.drop_column("plan")
        batch.drop_column("kind")
        batch.alter_column(
            "period", existing_type=sa.String(24), type_=sa.String(7), existing_nullable=False
        )
    with op.batch_alter_table("billing_subscriptions") as batch:
        batch.drop_column("period_start")
        batch.drop_column("cancel_at_period_end")
        batch.drop_column("pending_plan")
