"""Subscriptions and their monthly charges. A charge row (one per org and period, with its
Toss order id and idempotency key) is written before Toss is called, so a rerun of the charge
job asks Toss with the same key and can never charge a period twice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

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
    # A downgrade waits for the renewal; a cancellation ends the subscription there.
    pending_plan: Mapped[str | None] = mapped_column(sa.String(32))
    cancel_at_period_end: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The start of the paid period that ends at ``renews_at`` (for proration); None until paid.
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    # "YYYY-MM" for a renewal; "YYYY-MM+uN" for the Nth upgrade charged in that period.
    period: Mapped[str] = mapped_column(sa.String(24))
    # "renewal" | "upgrade"
    kind: Mapped[str] = mapped_column(sa.String(16), default="renewal")
    plan: Mapped[str | None] = mapped_column(sa.String(32))
    # KRW of credit used by this charge (``amount`` is what is left to charge the card).
    credit_applied: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The invoice's line items, fixed when the charge is recorded.
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    order_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    amount: Mapped[int] = mapped_column(sa.Integer)
    # "pending" | "done" | "failed" | "refunded" | "partially_refunded"
    status: Mapped[str] = mapped_column(sa.String(16))
    payment_key: Mapped[str | None] = mapped_column(sa.String(200))
    failure_code: Mapped[str | None] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InvoiceCounter(Base):
    """The last number issued in a series ("HAE-2026"): incremented in the transaction that
    records the paid charge, so numbers have no gaps."""

    __tablename__ = "billing_invoice_counters"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    series: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    last: Mapped[int] = mapped_column(sa.Integer)


class Invoice(Base):
    __tablename__ = "billing_invoices"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    charge_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("billing_charges.id", ondelete="CASCADE"), unique=True
    )
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    org_name: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))
    # KRW, VAT included; supply + vat == total.
    total: Mapped[int] = mapped_column(sa.Integer)
    supply: Mapped[int] = mapped_column(sa.Integer)
    vat: Mapped[int] = mapped_column(sa.Integer)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    # "paid" | "refunded" | "partially_refunded"
    status: Mapped[str] = mapped_column(sa.String(24))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Credit(Base):
    """The credit ledger: grants (positive) and what charges used (negative)."""

    __tablename__ = "billing_credits"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    org_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[int] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.String(200))
    charge_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    actor: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
