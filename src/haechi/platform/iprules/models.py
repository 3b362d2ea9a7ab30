"""IP rules and each site's IP policy. A rule with no site applies to every site of its
organisation. The schema is created by ``haechi/migrations/versions/0008_ip_rules.py``; keep
the two in step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, TimestampMixin, UTCDateTime
from haechi.platform.sites.models import Site  # noqa: F401 - rules refer to sites

Action = Literal["allow", "deny"]


class IpRule(TimestampMixin, Base):
    __tablename__ = "ip_rules"
    __table_args__ = (
        sa.CheckConstraint("action IN ('allow', 'deny')", name="action"),
        sa.Index("ix_ip_rules_org_id_site_id", "org_id", "site_id"),
        sa.Index("ix_ip_rules_site_id", "site_id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE")
    )
    # None: the rule applies to every site of the organisation.
    site_id: Mapped[uuid.UUID | None] = mapped_column(
        GUID, sa.ForeignKey("sites.id", ondelete="CASCADE")
    )
    action: Mapped[Action] = mapped_column(sa.String(8))
    # Normalised network (haechi.platform.iprules.schemas.normalise_cidr): "192.0.2.0/24".
    cidr: Mapped[str] = mapped_column(sa.String(43))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SiteIpPolicy(TimestampMixin, Base):
    """What an allowed address earns at one site (absent row: the defaults)."""

    __tablename__ = "site_ip_policies"
    __table_args__ = MYSQL_TABLE_OPTIONS

    site_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE")
    )
    # An address on an allow list gets no friction (no visual task, token-only work).
    allow_skips_friction: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
