"""Custom plans (beside the settings' catalogue) and each organisation's plan and quota state.

``org_plans`` has a row for an organisation with an assigned plan or a counted month; one
without a row is on ``plans.default_plan``. Its quota columns are written by the quota job
(``haechi.platform.plans.quota``) only: ``period`` is the counted month (``YYYY-MM``), ``used``
the verified tokens counted in it, ``state`` ``ok`` / ``grace`` / ``over``, ``over_since``
when the month first passed 100 %, and ``warned_80`` / ``warned_100`` the month whose warning
mail was queued (set in the transaction that queues it, so each is sent once).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, TimestampMixin, UTCDateTime
from haechi.platform.orgs.models import Organisation  # noqa: F401 - org_plans refer to orgs


class PlanRecord(TimestampMixin, Base):
    __tablename__ = "plans"
    __table_args__ = MYSQL_TABLE_OPTIONS

    key: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    price_krw: Mapped[int] = mapped_column(sa.Integer)
    monthly_quota: Mapped[int | None] = mapped_column(sa.BigInteger)
    max_sites: Mapped[int | None] = mapped_column(sa.Integer)
    max_members: Mapped[int | None] = mapped_column(sa.Integer)
    retention_days: Mapped[int] = mapped_column(sa.Integer)
    ip_rules: Mapped[bool] = mapped_column(sa.Boolean)
    audit_export: Mapped[bool] = mapped_column(sa.Boolean)
    overage_krw_per_1000: Mapped[int] = mapped_column(sa.Integer, default=0)


class OrgPlan(Base):
    __tablename__ = "org_plans"
    __table_args__ = MYSQL_TABLE_OPTIONS

    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[str] = mapped_column(sa.String(32))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    period: Mapped[str | None] = mapped_column(sa.String(7))
    used: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    state: Mapped[str] = mapped_column(sa.String(8), default="ok")
    over_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warned_80: Mapped[str | None] = mapped_column(sa.String(7))
    warned_100: Mapped[str | None] = mapped_column(sa.String(7))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
