"""Plans over the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

QuotaState = Literal["ok", "grace", "over"]


class PlanPublic(BaseModel):
    """A plan. ``null`` limits are unlimited; ``price_krw`` is monthly, VAT included."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    price_krw: int
    monthly_quota: int | None
    max_sites: int | None
    max_members: int | None
    retention_days: int
    ip_rules: bool
    audit_export: bool
    overage_krw_per_1000: int
    custom: bool


class PlansPublic(BaseModel):
    """The catalogue. With ``enabled`` false every organisation is unlimited."""

    enabled: bool
    default_plan: str
    data: list[PlanPublic]


class OrgPlanPublic(BaseModel):
    """The plan that applies to the organisation now and its month so far. ``used`` counts
    verified tokens in ``period`` (UTC month), rolled up and live; ``state`` is ``over`` once the
    grace period after 100 % has run out, when ``over_quota`` applies at the edge."""

    plan: PlanPublic
    assigned: str
    period: str
    used: int
    quota: int | None
    state: QuotaState
    over_since: datetime | None
    grace_until: datetime | None
    over_quota: Literal["overage", "step-up", "block"]


class PlanAssign(BaseModel):
    plan: str = Field(min_length=1, max_length=32)


class CustomPlan(BaseModel):
    """A custom plan's fields (its key is in the path); ``null`` limits are unlimited."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    price_krw: int = Field(default=0, ge=0, le=1_000_000_000)
    monthly_quota: int | None = Field(default=None, ge=0, le=10**15)
    max_sites: int | None = Field(default=None, ge=0, le=1_000_000)
    max_members: int | None = Field(default=None, ge=1, le=1_000_000)
    retention_days: int = Field(default=30, ge=1, le=3650)
    ip_rules: bool = False
    audit_export: bool = False
    overage_krw_per_1000: int = Field(default=0, ge=0, le=1_000_000)
