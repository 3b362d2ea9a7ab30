"""Request and answer bodies of the billing routes (docs/usage-and-billing.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PlanKey = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class CardRegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = PlanKey


class CardRegistration(BaseModel):
    """Open Toss's card-registration window with these: with ``registration_url`` (the loopback
    fake), redirect the browser to it; otherwise call the Toss SDK's
    ``requestBillingAuth({method: "CARD", customerKey, successUrl, failUrl})`` with
    ``client_key``."""

    customer_key: str
    client_key: str
    success_url: str
    fail_url: str
    registration_url: str | None


class SubscriptionCreate(BaseModel):
    """What Toss's success redirect carried (``authKey``, ``customerKey``) and the plan."""

    model_config = ConfigDict(extra="forbid")
    auth_key: str = Field(min_length=1, max_length=300)
    customer_key: str = Field(min_length=2, max_length=64)
    plan: str = PlanKey


class PlanChangeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = PlanKey


class SubscriptionPublic(BaseModel):
    plan: str
    amount: int
    status: Literal["active", "past_due", "canceled"]
    card_company: str | None
    card_number: str | None
    renews_at: datetime
    next_charge_at: datetime
    period_start: datetime | None
    pending_plan: str | None
    cancel_at_period_end: bool


class BillingOverview(BaseModel):
    enabled: bool
    plan: str
    subscription: SubscriptionPublic | None
    credit_balance: int


class PlanChangeResult(BaseModel):
    effective: Literal["now", "renewal", "unchanged"]
    charged: int
    invoice_id: uuid.UUID | None
    billing: BillingOverview


class InvoiceLine(BaseModel):
    kind: str
    description: str
    amount: int


class InvoicePublic(BaseModel):
    id: uuid.UUID
    number: str
    org_name: str
    currency: str
    total: int
    supply: int
    vat: int
    status: str
    issued_at: datetime
    lines: list[InvoiceLine]


class ChargePublic(BaseModel):
    id: uuid.UUID
    period: str
    kind: str
    plan: str | None
    amount: int
    credit_applied: int
    status: str
    failure_code: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


class HistoryEntry(BaseModel):
    charge: ChargePublic
    invoice: InvoicePublic | None


class History(BaseModel):
    data: list[HistoryEntry]


class CreditPublic(BaseModel):
    id: uuid.UUID
    amount: int
    reason: str
    charge_id: uuid.UUID | None
    created_at: datetime


class Credits(BaseModel):
    balance: int
    data: list[CreditPublic]


class CreditGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=-100_000_000, le=100_000_000)
    reason: str = Field(min_length=1, max_length=200)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)
    # Part of the paid amount; the whole (what is left of it) without.
    amount: int | None = Field(default=None, ge=1, le=100_000_000)


def lines(raw: list[dict[str, Any]] | None) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            kind=str(x.get("kind", "")),
            description=str(x.get("description", "")),
            amount=int(x.get("amount", 0)),
        )
        for x in raw or []
    ]
