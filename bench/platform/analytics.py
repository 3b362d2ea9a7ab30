"""Analytics answers over 1,000 sites x 90 days of hourly roll-ups on PostgreSQL.

    python bench/platform/analytics.py [--sites 1000] [--days 90] [--queries 200]
                                       [--db postgresql+asyncpg://postgres@127.0.0.1:5432/x]

Creates a fresh database, migrates it, makes one organisation with ``--sites`` sites and seeds,
with COPY, what the roll-up (``haechi.platform.usage.rollup.apply_flush``) would have written for
``--days`` days of traffic: hourly and daily rows per site for the core counters and some richer
ones (task types, outcomes, dialects, risk and solve-time buckets, hostnames), and the
organisation's and all-sites' aggregate rows. It checks once that the organisation's answer
equals the sum of its sites' rows, then times ``haechi.platform.usage.service.get_series`` (the
function behind GET /api/v1/orgs/{org}/usage and .../sites/{site}/usage) for random sites and
for the organisation, per range. Bar (issue 21): 90-day answers p99 < 100 ms, per site and per
org. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from haechi.core.db import migrate
from haechi.platform.usage import service
from haechi.platform.usage.rollup import ALL_SITES, org_key

# Per site and hour: event -> mean count (the hour's own counts vary around it).
HOURLY = {
    "challenges": 40, "solves": 36, "verifies": 35, "c.none": 34, "c.grid": 6, "p.0": 34,
    "s.token": 35, "f.wrong-answer": 3, "k.invisible": 30, "v.native": 35, "r.0": 20,
    "r.10": 10, "t.2": 20, "t.5": 15, "h.shop.example.com": 35, "a.login": 35,
}  # fmt: skip


async def admin(url: str, sql: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def seed(url: str, sites: int, days: int) -> tuple[uuid.UUID, list[str], int]:
    """The sites with executemany; the rows in PostgreSQL itself (INSERT ... SELECT over
    generate_series: about ten times COPY's speed from Python here); daily and aggregate rows
    summed from the hourly ones, as the roll-up adds them."""
    engine = create_async_engine(url)
    org_id = uuid.uuid4()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=days)
    sitekeys = [f"bench{n:06d}" + "x" * 10 for n in range(sites)]
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg = raw.driver_connection
        await pg.execute(
            "INSERT INTO organisations (id, name, slug, created_at, updated_at)"
            " VALUES ($1, 'Bench', 'bench', now(), now())",
            org_id,
        )
        await pg.executemany(
            "INSERT INTO sites (id, org_id, name, sitekey, secret_digest, hostnames,"
            " security_level, widget_mode, active, is_demo, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, '[\"shop.example.com\"]', 'medium', 'managed', true,"
            " false, now(), now())",
            [
                (uuid.uuid4(), org_id, f"site {n}", key, f"{n:064x}")
                for n, key in enumerate(sitekeys)
            ],
        )
        events = list(HOURLY)
        means = [HOURLY[e] for e in events]
        await pg.execute(
            "INSERT INTO usage_hourly (sitekey, hour, event, count)"
            " SELECT s.sitekey, h, e.event, greatest(1, (e.mean * (0.5 + random()))::int)"
            " FROM sites s CROSS JOIN generate_series($1::timestamptz, $2::timestamptz,"
            " interval '1 hour') h CROSS JOIN unnest($3::text[], $4::int[]) AS e(event, mean)"
            " WHERE s.org_id = $5",
            start, now, events, means, org_id,
        )  # fmt: skip
        await pg.execute(
            "INSERT INTO usage_daily (sitekey, day, event, count)"
            " SELECT sitekey, (hour AT TIME ZONE 'UTC')::date, event, sum(count)"
            " FROM usage_hourly GROUP BY 1, 2, 3"
        )
        for owner in (org_key(org_id), ALL_SITES):
            await pg.execute(
                "INSERT INTO usage_hourly (sitekey, hour, event, count)"
                " SELECT $1, hour, event, sum(count) FROM usage_hourly"
                " WHERE sitekey LIKE 'bench%' GROUP BY 2, 3",
                owner,
            )
            await pg.execute(
                "INSERT INTO usage_daily (sitekey, day, event, count)"
                " SELECT $1, day, event, sum(count) FROM usage_daily"
                " WHERE sitekey LIKE 'bench%' GROUP BY 2, 3",
                owner,
            )
        await pg.execute("ANALYZE usage_hourly; ANALYZE usage_daily")
        rows = int(await pg.fetchval("SELECT count(*) FROM usage_hourly"))
        rows += int(await pg.fetchval("SELECT count(*) FROM usage_daily"))
        await conn.commit()
    await engine.dispose()
    return org_id, sitekeys, rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    url: str, org_id: uuid.UUID, sitekeys: list[str], queries: int
) -> dict[str, tuple[float, float]]:
    engine = create_async_engine(url, pool_size=2)
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    out: dict[str, tuple[float, float]] = {}
    rng = random.Random(11)
    async with sessions() as db:
        # the org's aggregate equals the sum of its sites' rows
        whole = await service.get_series(db, org_id=org_id, period="90d")
        summed = (
            await db.execute(
                text(
                    "SELECT sum(count) FROM usage_daily WHERE event = 'verifies'"
                    " AND sitekey LIKE 'bench%' AND day >= :since"
                ),
                {"since": whole.start.date()},
            )
        ).scalar_one()
        assert whole.totals.verifies == summed, (whole.totals.verifies, summed)
    for period in ("90d", "24h", "7d", "30d", "12m"):
        for who in ("site", "org"):
            times: list[float] = []
            for _ in range(queries):
                async with sessions() as db:
                    began = time.perf_counter()
                    if who == "site":
                        await service.get_series(
                            db, org_id=org_id, period=period, sitekey=rng.choice(sitekeys)
                        )
                    else:
                        await service.get_series(db, org_id=org_id, period=period)
                    times.append((time.perf_counter() - began) * 1000)
            out[f"{period} {who}"] = (statistics.median(times), pct(times, 0.99))
    await engine.dispose()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "HAECHI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    name = f"haechi_bench_analytics_{os.getpid()}"
    url = make_url(args.db).set(database=name).render_as_string(hide_password=False)
    await admin(args.db, f"CREATE DATABASE {name}")
    try:
        await migrate(url)
        began = time.perf_counter()
        org_id, sitekeys, rows = await seed(url, args.sites, args.days)
        seeded = time.perf_counter() - began
        print(
            f"seeded {rows:,} rows ({args.sites} sites x {args.days} days, {len(HOURLY)} events"
            f" an hour) in {seeded:.0f} s; load average {os.getloadavg()[0]:.1f}"
        )
        results = await measure(url, org_id, sitekeys, args.queries)
        for label, (p50, p99) in results.items():
            print(f"{label:>9}: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        print(f"load average after: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    finally:
        await admin(args.db, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
