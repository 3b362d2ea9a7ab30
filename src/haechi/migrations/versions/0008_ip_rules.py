"""IP rules: per-organisation and per-site allow/deny lists of addresses and CIDR blocks, and
each site's IP policy (whether an allowed address skips friction).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
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
        "ip_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("site_id", ID, nullable=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("cidr", sa.String(43), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("action IN ('allow', 'deny')", name=op.f("ck_ip_rules_action")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_ip_rules_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_ip_rules_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_rules")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_ip_rules_org_id_site_id"), "ip_rules", ["org_id", "site_id"])
    op.create_index(op.f("ix_ip_rules_site_id"), "ip_rules", ["site_id"])
    op.create_table(
        "site_ip_policies",
        sa.Column("site_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("allow_skips_friction", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_ip_policies_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_site_ip_policies_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_ip_policies")),
        **MYSQL_TABLE_OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("site_ip_policies")
    # Dropping the table drops its indexes; MariaDB refuses to drop ix_ip_rules_site_id on its
    # own while the site_id foreign key needs it.
    op.drop_table("ip_rules")
