"""Organisations and sites.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Hand-written, portable DDL. Types are frozen here rather than imported from the models, so that
this revision creates the same schema however the models change later:
ids are native ``uuid`` on PostgreSQL and CHAR(36) elsewhere (``haechi.core.db.GUID``), and
timestamps are ``timestamptz`` on PostgreSQL, DATETIME(6) holding UTC on MySQL/MariaDB and
text holding UTC on SQLite (``haechi.core.db.UTCDateTime``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
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
        "organisations",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "sites",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sitekey", sa.String(64), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("previous_secret_digest", sa.String(64), nullable=True),
        sa.Column("previous_secret_expires_at", TIMESTAMP, nullable=True),
        sa.Column("hostnames", sa.JSON(), nullable=False),
        sa.Column("security_level", sa.String(16), server_default="medium", nullable=False),
        sa.Column("widget_mode", sa.String(32), server_default="managed", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_sites_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("sitekey", name=op.f("uq_sites_sitekey")),
        sa.CheckConstraint(
            "security_level IN ('low', 'medium', 'high', 'strict')",
            name=op.f("ck_sites_security_level"),
        ),
        sa.CheckConstraint(
            "widget_mode IN ('managed', 'non-interactive', 'invisible')",
            name=op.f("ck_sites_widget_mode"),
        ),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_sites_org_id"), "sites", ["org_id"])
    op.create_index(op.f("ix_sites_secret_digest"), "sites", ["secret_digest"], unique=True)
    op.create_index(op.f("ix_sites_previous_secret_digest"), "sites", ["previous_secret_digest"])


def downgrade() -> None:
    op.drop_table("sites")
    op.drop_table("organisations")
