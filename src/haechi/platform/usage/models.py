"""Usage roll-ups: per sitekey, event and UTC hour (kept for ``usage_hourly_days``) and per UTC
day (kept for ``usage_daily_days``), and the flushes already applied (what makes replays no-ops).
Rows are keyed by sitekey, not site id, so counts of a deleted site are still billed."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import MYSQL_TABLE_OPTIONS, Base, UTCDateTime


class UsageHourly(Base):
    __tablename__ = "usage_hourly"
    __table_args__ = (sa.Index("ix_usage_hourly_hour", "hour"), MYSQL_TABLE_OPTIONS)

    sitekey: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class UsageDaily(Base):
    __tablename__ = "usage_daily"
    __table_args__ = (sa.Index("ix_usage_daily_day", "day"), MYSQL_TABLE_OPTIONS)

    sitekey: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class UsageFlush(Base):
    """One applied flush: inserted in the transaction that adds its counts."""

    __tablename__ = "usage_flushes"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    counters: Mapped[int] = mapped_column(sa.Integer)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
