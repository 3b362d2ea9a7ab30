"""The platform: users, sign-in sessions, memberships, invitations, API keys, audit, mail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Hand-checked portable DDL with the types frozen as in 0001_initial (ids: native uuid on
PostgreSQL, CHAR(36) elsewhere; timestamps: timestamptz / DATETIME(6) UTC / text UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.CHAR(36).with_variant(postgresql.UUID(as_uuid=True), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}


def _id() -> sa.Column[Any]:
    return sa.Column("id", ID, nullable=False)


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    ]


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, *columns: str, name: str | None = None, unique: bool = False) -> None:
    op.create_index(name or op.f(f"ix_{table}_{columns[0]}"), table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_verified_at", TIMESTAMP, nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("locale", sa.String(8), server_default="en", nullable=False),
        sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        **MYSQL_TABLE_OPTIONS,
    )
    op.create_table(
        "email_tokens",
        _id(),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("new_email", sa.String(254), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _fk("user_id", "email_tokens", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_email_tokens_digest")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("email_tokens", "user_id")
    op.create_table(
        "auth_sessions",
        _id(),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        _fk("user_id", "auth_sessions", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("auth_sessions", "user_id")
    op.create_table(
        "refresh_tokens",
        _id(),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        _fk("session_id", "refresh_tokens", "auth_sessions", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_refresh_tokens_digest")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("refresh_tokens", "session_id")
    op.create_table(
        "memberships",
        _id(),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'developer', 'viewer')", name=op.f("ck_memberships_role")
        ),
        _fk("org_id", "memberships", "organisations", "CASCADE"),
        _fk("user_id", "memberships", "users", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("org_id", "user_id", name="org_user"),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("memberships", "org_id")
    _index("memberships", "user_id")
    op.create_table(
        "invitations",
        _id(),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("invited_by", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("accepted_at", TIMESTAMP, nullable=True),
        _fk("invited_by", "invitations", "users", "SET NULL"),
        _fk("org_id", "invitations", "organisations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("digest", name=op.f("uq_invitations_digest")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("invitations", "org_id")
    op.create_table(
        "api_keys",
        _id(),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("last_used_ip", sa.String(45), nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("created_by", ID, nullable=True),
        *_stamps(),
        _fk("created_by", "api_keys", "users", "SET NULL"),
        _fk("org_id", "api_keys", "organisations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("api_keys", "org_id")
    op.create_table(
        "audit_events",
        _id(),
        sa.Column("org_id", ID, nullable=True),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("audit_events", "action")
    _index("audit_events", "created_at")
    _index("audit_events", "org_id", "created_at", name="ix_audit_events_org_created")
    op.create_table(
        "mail_outbox",
        _id(),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_mail_outbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        **MYSQL_TABLE_OPTIONS,
    )
    _index("mail_outbox", "status")
    # A plain ADD COLUMN everywhere (never batch mode's copy of the parent table on SQLite).
    op.add_column("organisations", sa.Column("suspended_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: its copy-and-drop of the parent table would cascade-delete every
        # site while foreign keys are on. SQLite drops a column itself since 3.35.
        op.execute("ALTER TABLE organisations DROP COLUMN suspended_at")
    else:
        op.drop_column("organisations", "suspended_at")
    for table in (
        "mail_outbox",
        "audit_events",
        "api_keys",
        "invitations",
        "memberships",
        "refresh_tokens",
        "auth_sessions",
        "email_tokens",
        "users",
    ):
        op.drop_table(table)
