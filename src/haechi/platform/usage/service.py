"""Analytics from the roll-ups: time series per organisation or site, CSV rows, the live view."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.store import Store
from haechi.platform.sites.models import Site
from haechi.platform.usage import schemas
from haechi.platform.usage.models import UsageDaily, UsageHourly
from haechi.platform.usage.rollup import ALL_SITES, org_key
from haechi.protocol.usage import EVENTS, RISK_LABELS, TIME_LABELS, USAGE_PREFIX, UsageKey
from haechi.risk.attack import LEVELS_KEY

# range -> (length, bucket)
RANGES: dict[str, tuple[timedelta, schemas.Granularity]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "hour"),
    "30d": (timedelta(days=30), "day"),
    "90d": (timedelta(days=90), "day"),
    "12m": (timedelta(days=365), "month"),
}


def _floor(when: datetime, bucket: schemas.Granularity) -> datetime:
    if bucket == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if bucket == "month" else day


def _next(when: datetime, bucket: schemas.Granularity) -> datetime:
    if bucket == "hour":
        return when + timedelta(hours=1)
    if bucket == "day":
        return when + timedelta(days=1)
    return (when.replace(day=28) + timedelta(days=4)).replace(day=1)


def _buckets(
    period: str, now: datetime
) -> tuple[schemas.Granularity, datetime, datetime, list[datetime]]:
    length, bucket = RANGES[period]
    end = _next(_floor(now, bucket), bucket)
    start = _floor(end - length, bucket) if bucket != "month" else _month_start(end, 12)
    buckets, t = [], start
    while t < end:
        buckets.append(t)
        t = _next(t, bucket)
    if bucket == "hour" and len(buckets) > round(length / timedelta(hours=1)):
        buckets = buckets[1:]
    return bucket, buckets[0], end, buckets


def _month_start(end: datetime, months: int) -> datetime:
    year, month = end.year, end.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return end.replace(year=year, month=month, day=1)


async def _series_rows(
    db: AsyncSession, *, key: str, bucket: schemas.Granularity, start: datetime
) -> tuple[list[tuple[datetime, str, int]], dict[str, int]]:
    """For one roll-up key (a site's sitekey, an org's aggregate ``org:<id>`` or ``*`` for
    every site) since ``start``: the core counters' (bucket start, event, count) rows, and the
    richer counters summed over the range by event (in SQL: one row each). Both read a range
    of the primary key, whatever the number of sites."""
    model: Any = UsageHourly if bucket == "hour" else UsageDaily
    when = model.hour if bucket == "hour" else model.day
    since: Any = start if bucket == "hour" else start.date()
    mine = (model.sitekey == key, when >= since)
    core = sa.select(when, model.event, model.count).where(*mine, model.event.in_(EVENTS))
    out = []
    for t, event, total in (await db.execute(core)).all():
        if not isinstance(t, datetime):
            t = datetime(t.year, t.month, t.day, tzinfo=UTC)
        out.append((_floor(t, bucket), str(event), int(total)))
    richer = (
        sa.select(model.event, sa.func.sum(model.count))
        .where(*mine, model.event.not_in(EVENTS))
        .group_by(model.event)
    )
    events = {str(event): int(total) for event, total in (await db.execute(richer)).all()}
    return out, events


async def _rows(
    db: AsyncSession,
    *,
    org_id: uuid.UUID | None,
    sitekey: str | None,
    bucket: schemas.Granularity,
    start: datetime,
    by_site: bool,
) -> list[tuple[datetime, str, str, int]]:
    """(bucket start or day, sitekey, event, count) rows of the org's sites (every org's, for
    None) since ``start``: the sites' own rows (the CSV export)."""
    model: Any = UsageHourly if bucket == "hour" else UsageDaily
    when = model.hour if bucket == "hour" else model.day
    since: Any = start if bucket == "hour" else start.date()
    site_column = model.sitekey if by_site else sa.literal("")
    stmt = (
        sa.select(when, site_column, model.event, sa.func.sum(model.count))
        .join(Site, Site.sitekey == model.sitekey)
        .where(when >= since, model.event.in_(EVENTS))
        .group_by(when, *([model.sitekey] if by_site else []), model.event)
    )
    if org_id is not None:
        stmt = stmt.where(Site.org_id == org_id)
    if sitekey is not None:
        stmt = stmt.where(model.sitekey == sitekey)
    out = []
    for t, key, event, total in (await db.execute(stmt)).all():
        if not isinstance(t, datetime):
            t = datetime(t.year, t.month, t.day, tzinfo=UTC)
        out.append((_floor(t, bucket), str(key), str(event), int(total)))
    return out


def _top(counts: dict[str, int], n: int = 10) -> list[schemas.NameCount]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [schemas.NameCount(name=name, count=count) for name, count in ranked]


def _percentile(buckets: list[schemas.BucketCount], q: float, upper: bool) -> float | None:
    total = sum(b.count for b in buckets)
    if not total:
        return None
    seen = 0
    for index, b in enumerate(buckets):
        seen += b.count
        if seen >= q * total:
            if upper:
                return b.bound
            # risk buckets hold [bound, bound + 10)
            return min(100.0, (b.bound or 0) + 10) if index < len(buckets) else None
    return None


def breakdown(events: dict[str, int], challenges: int) -> schemas.UsageBreakdown:
    """The richer counters of a range (haechi.protocol.usage), summed by event."""
    families: dict[str, dict[str, int]] = {}
    for event, n in events.items():
        family, dot, name = event.partition(".")
        if dot:
            group = families.setdefault(family, {})
            group[name] = group.get(name, 0) + n
    risk = families.get("r", {})
    times = families.get("t", {})
    out = schemas.UsageBreakdown(
        challenge_types=families.get("c", {}),
        bands=families.get("p", {}),
        outcomes=families.get("s", {}),
        failures=families.get("f", {}),
        passed=families.get("k", {}),
        dialects=families.get("v", {}),
        refusals=families.get("x", {}),
        risk=[
            schemas.BucketCount(bound=float(label[2:]), count=risk.get(label[2:], 0))
            for label in RISK_LABELS
        ],
        solve_seconds=[
            schemas.BucketCount(
                bound=None if label == "t.inf" else float(label[2:]),
                count=times.get(label[2:], 0),
            )
            for label in TIME_LABELS
        ],
        top_hostnames=_top(families.get("h", {})),
        top_actions=_top(families.get("a", {})),
    )
    out.solve_seconds_p50 = _percentile(out.solve_seconds, 0.5, True)
    out.solve_seconds_p90 = _percentile(out.solve_seconds, 0.9, True)
    out.solve_seconds_p99 = _percentile(out.solve_seconds, 0.99, True)
    out.risk_p50 = _percentile(out.risk, 0.5, False)
    out.risk_p90 = _percentile(out.risk, 0.9, False)
    if challenges:
        visual = sum(n for name, n in out.challenge_types.items() if name != "none")
        out.shares = schemas.UsageShares(
            invisible=round(out.passed.get("invisible", 0) / challenges, 4),
            stepped_up=round((visual + out.outcomes.get("step_up", 0)) / challenges, 4),
            blocked=round(out.failures.get("denied", 0) / challenges, 4),
        )
    return out


async def get_series(
    db: AsyncSession,
    *,
    org_id: uuid.UUID | None,
    period: str,
    sitekey: str | None = None,
    now: datetime | None = None,
) -> schemas.UsageSeriesPublic:
    """The series of one site (``sitekey``), one org (``org_id``) or every site (neither)."""
    bucket, start, end, buckets = _buckets(period, now or datetime.now(UTC))
    key = sitekey if sitekey is not None else (org_key(org_id) if org_id else ALL_SITES)
    points = {t: schemas.UsagePoint(t=t) for t in buckets}
    rows, events = await _series_rows(db, key=key, bucket=bucket, start=start)
    for t, event, n in rows:
        point = points.get(t)
        if point is not None:
            setattr(point, event, getattr(point, event) + n)
    totals = schemas.UsageTotals()
    for point in points.values():
        for event in EVENTS:
            setattr(totals, event, getattr(totals, event) + getattr(point, event))
    if totals.challenges:
        totals.solve_rate = round(totals.solves / totals.challenges, 4)
    return schemas.UsageSeriesPublic(
        range=period,
        granularity=bucket,
        start=start,
        end=end,
        points=list(points.values()),
        totals=totals,
        breakdown=breakdown(events, totals.challenges),
    )


async def get_csv(
    db: AsyncSession,
    *,
    org_id: uuid.UUID,
    period: str,
    sitekey: str | None = None,
    now: datetime | None = None,
) -> str:
    """One row per bucket and site with counts: ``time,sitekey,challenges,solves,verifies``."""
    bucket, start, _, _ = _buckets(period, now or datetime.now(UTC))
    table: dict[tuple[datetime, str], dict[str, int]] = {}
    for t, key, event, n in await _rows(
        db, org_id=org_id, sitekey=sitekey, bucket=bucket, start=start, by_site=True
    ):
        if event in EVENTS:
            row = table.setdefault((t, key), dict.fromkeys(EVENTS, 0))
            row[event] += n
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["time", "sitekey", *EVENTS])
    for (t, key), counts in sorted(table.items()):
        writer.writerow([t.isoformat(), key, *(counts[e] for e in EVENTS)])
    return out.getvalue()


async def get_live(
    *, store: Store, sites: Sequence[Site], now: datetime | None = None
) -> schemas.UsageLivePublic:
    """What the store holds for the org's sites and is not yet in SQL, with attack levels."""
    by_key = {
        site.sitekey: schemas.LiveSite(
            site_id=site.id, sitekey=site.sitekey, name=site.name, attack_level=0
        )
        for site in sites
    }
    for key, n in (await store.peek_counters(USAGE_PREFIX)).items():
        parsed = UsageKey.from_wire(key)
        live = by_key.get(parsed.sitekey) if parsed is not None else None
        if parsed is not None and live is not None and parsed.event in EVENTS:
            setattr(live, parsed.event, getattr(live, parsed.event) + n)
    raw = await store.get(LEVELS_KEY)
    levels = orjson.loads(raw) if raw else {}
    for sitekey, live in by_key.items():
        live.attack_level = int(levels.get(sitekey, 0)) if isinstance(levels, dict) else 0
    data = sorted(by_key.values(), key=lambda s: s.name)
    return schemas.UsageLivePublic(at=now or datetime.now(UTC), data=data, count=len(data))
