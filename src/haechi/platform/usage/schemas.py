"""Analytics answers: a time series with totals, per organisation or site, and the live view."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

UsageRange = Literal["24h", "7d", "30d", "90d", "12m"]
Granularity = Literal["hour", "day", "month"]


class UsageCounts(BaseModel):
    challenges: int = 0
    solves: int = 0
    verifies: int = 0


class UsagePoint(UsageCounts):
    # The start of the bucket (UTC).
    t: datetime


class UsageTotals(UsageCounts):
    # Solves per challenge issued; None without challenges.
    solve_rate: float | None = None


class UsageSeriesPublic(BaseModel):
    range: UsageRange
    granularity: Granularity
    start: datetime
    end: datetime
    points: list[UsagePoint]
    totals: UsageTotals


class LiveSite(UsageCounts):
    site_id: uuid.UUID
    sitekey: str
    name: str
    # The site's current automatic attack level (0 = none).
    attack_level: int


class UsageLivePublic(BaseModel):
    """Counts waiting in the store for the next roll-up (the current hour, at most about one
    roll-up interval of them), and each site's attack level: read from the store, not SQL."""

    at: datetime
    data: list[LiveSite]
    count: int
