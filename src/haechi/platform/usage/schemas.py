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
    breakdown: UsageBreakdown


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


class NameCount(BaseModel):
    name: str
    count: int


class BucketCount(BaseModel):
    # The bucket's lower bound (risk 0-90, by tens) or upper bound in seconds (solve time;
    # None: above the last bound).
    bound: float | None
    count: int


class UsageShares(BaseModel):
    """Per challenge issued (docs/usage-and-billing.md): passed with no task and no step-up,
    given a visual task or stepped up, refused as too risky (``denied``). None without
    challenges."""

    invisible: float | None = None
    stepped_up: float | None = None
    blocked: float | None = None


class UsageBreakdown(BaseModel):
    """The range's richer counters (fixed buckets, so any range sums and its percentiles are
    read from the bucket bounds)."""

    challenge_types: dict[str, int] = {}
    bands: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    failures: dict[str, int] = {}
    passed: dict[str, int] = {}
    dialects: dict[str, int] = {}
    refusals: dict[str, int] = {}
    shares: UsageShares = UsageShares()
    risk: list[BucketCount] = []
    solve_seconds: list[BucketCount] = []
    # Upper bounds of the buckets holding the 50th/90th/99th percentile (None: no tokens, or
    # above the last bound).
    solve_seconds_p50: float | None = None
    solve_seconds_p90: float | None = None
    solve_seconds_p99: float | None = None
    risk_p50: float | None = None
    risk_p90: float | None = None
    top_hostnames: list[NameCount] = []
    top_actions: list[NameCount] = []


UsageSeriesPublic.model_rebuild()
