"""Subscriptions and their monthly charges. A charge row (one per org and period, with its
Toss order id and idempotency key) is written before Toss is called, so a rerun of the charge
job asks Toss with the same key and can never charge a period twice."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, UTCDateTime


class Subscription(Base):
    __tablename__ = "billing_subscriptions"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    # Toss's customerKey: random, never the org id (Toss advises against guessable keys).
    customer_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Sealed with the keyring (purpose "billing-key"): the billing key is a card on file.
    billing_key: Mapped[str] = mapped_column(sa.Text)
    card_company: Mapped[str | None] = mapped_column(sa.String(32))
    card_number: Mapped[str | None] = mapped_column(sa.String(32))
    plan: Mapped[str] = mapped_column(sa.String(32))
    # Monthly price in KRW, VAT included.
    amount: Mapped[int] = mapped_column(sa.Integer)
    # "active" | "past_due" | "canceled"
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    # The renewal date of the period to be paid next (its month names the period) ...
    renews_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ... and when to try: the renewal date, or a retry after a decline.
    next_charge_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Charge(Base):
    __tablename__ = "billing_charges"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "period", name="uq_billing_charges_org_period"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # "YYYY-MM"
    period: Mapped[str] = mapped_column(sa.String(7))
    order_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(sa.Integer)
    # "pending" | "done" | "failed"
    status: Mapped[str] = mapped_column(sa.String(16))
    payment_key: Mapped[str | None] = mapped_column(sa.String(200))
    failure_code: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
