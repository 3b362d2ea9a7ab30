"""Organisations and the sites they protect.

A site's secret is never stored: only its HMAC-SHA256 digest under the server's pepper
(``secret_digest``), which is fast to look up and cannot be turned back into the secret. After a
rotation the old digest stays in ``previous_secret_digest`` until ``previous_secret_expires_at``.
The schema is created by ``haechi/migrations/versions/0001_initial.py``; keep the two in step.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, TimestampMixin, UTCDateTime
from haechi.platform.orgs.models import Organisation

__all__ = ["SECURITY_LEVELS", "WIDGET_MODES", "Organisation", "SecurityLevel", "Site", "WidgetMode"]

# "test": proof-of-work only, for tests and staging (haechi.risk.policy.allows_test_level).
SecurityLevel = Literal["low", "medium", "high", "strict", "test"]
WidgetMode = Literal["managed", "non-interactive", "invisible"]

SECURITY_LEVELS: tuple[str, ...] = get_args(SecurityLevel)
WIDGET_MODES: tuple[str, ...] = get_args(WidgetMode)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Site(TimestampMixin, Base):
    __tablename__ = "sites"
    __table_args__ = (
        sa.CheckConstraint(_one_of("security_level", SECURITY_LEVELS), name="security_level"),
        sa.CheckConstraint(_one_of("widget_mode", WIDGET_MODES), name="widget_mode"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    sitekey: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Hex HMAC-SHA256 of the secret under the pepper (haechi.platform.sites.service).
    secret_digest: Mapped[str] = mapped_column(sa.String(64), unique=True, index=True)
    previous_secret_digest: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Normalised by haechi.platform.sites.schemas.normalise_hostname; "*.x.y" = any subdomain.
    hostnames: Mapped[list[str]] = mapped_column(sa.JSON)
    security_level: Mapped[SecurityLevel] = mapped_column(
        sa.String(16), default="medium", server_default="medium"
    )
    widget_mode: Mapped[WidgetMode] = mapped_column(
        sa.String(32), default="managed", server_default="managed"
    )
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    is_demo: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    def __repr__(self) -> str:
        # Never the digests: they are as good as the secret for anyone holding the pepper.
        return f"Site(id={self.id!s}, sitekey={self.sitekey!r}, name={self.name!r})"
