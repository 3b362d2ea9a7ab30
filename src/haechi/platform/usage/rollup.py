"""The usage roll-up: the edge's counters moved into SQL exactly once in effect.

Each run moves the live counters under a fresh flush id (``Store.move_counters``), seals the
flush, reads it, adds it to the hourly and daily rows in the one transaction that records the
flush id, then deletes it. A crash at any step leaves the flush in the store, and the next run
finishes it first; a flush already recorded in SQL is only deleted (docs/usage-and-billing.md).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.db import utcnow, write_session
from haechi.core.store import Store
from haechi.platform.sites.models import Site
from haechi.platform.usage.models import UsageDaily, UsageFlush, UsageHourly
from haechi.protocol.usage import USAGE_PREFIX, UsageKey

log = logging.getLogger(__name__)

FLUSH_PREFIX = "usage-flush:"
SEAL_PREFIX = "usage-seal:"
# A seal outlives any run that could still be moving counters into its flush.
SEAL_TTL_SECONDS = 7 * 86400.0
_CHUNK = 500
# Aggregate rows beside the sites' (``_add_aggregates``): never a real sitekey (base62).
ORG_PREFIX = "org:"
ALL_SITES = "*"

# Called with each step's name as it completes; tests crash the run there.
Fault = Callable[[str], None]


@dataclass
class RollUpResult:
    flushes: int = 0
    counters: int = 0
    total: int = 0
    replayed: int = 0


def _no_fault(step: str) -> None:
    return None


async def roll_up(
    *,
    store: Store,
    sessions: async_sessionmaker[AsyncSession],
    fsync_wait_seconds: float = 0.0,
    fault: Fault = _no_fault,
) -> RollUpResult:
    """Finish every flush an earlier run left in the store, then flush the live counters."""
    result = RollUpResult()
    for flush_id in sorted(_flush_ids(await store.peek_counters(FLUSH_PREFIX))):
        await _finish(store, sessions, flush_id, result, fsync_wait_seconds, fault)
    flush_id = secrets.token_hex(16)
    moved = await store.move_counters(USAGE_PREFIX, f"{FLUSH_PREFIX}{flush_id}:", _seal(flush_id))
    fault("moved")
    if moved:
        await _finish(store, sessions, flush_id, result, fsync_wait_seconds, fault)
    return result


def _seal(flush_id: str) -> str:
    return SEAL_PREFIX + flush_id


def _flush_ids(keys: Iterable[str]) -> set[str]:
    return {key[len(FLUSH_PREFIX) :].partition(":")[0] for key in keys}


async def _finish(
    store: Store,
    sessions: async_sessionmaker[AsyncSession],
    flush_id: str,
    result: RollUpResult,
    fsync_wait_seconds: float,
    fault: Fault,
) -> None:
    prefix = f"{FLUSH_PREFIX}{flush_id}:"
    # After the seal no run moves counters into this flush, so what is read is all it holds.
    await store.set(_seal(flush_id), b"1", SEAL_TTL_SECONDS)
    fault("sealed")
    if fsync_wait_seconds:
        # Redis with appendfsync everysec: let the move reach the disk before SQL records it.
        await asyncio.sleep(fsync_wait_seconds)
    staged = await store.peek_counters(prefix)
    fault("read")
    counts = {key[len(prefix) :]: n for key, n in staged.items()}
    if counts:
        async with sessions() as db:
            try:
                applied = await apply_flush(db, flush_id=flush_id, counts=counts)
                fault("applied")
                await db.commit()
            except IntegrityError:
                # Another run recorded this flush id first: it is applied, only delete it.
                await db.rollback()
                applied = False
        fault("committed")
        if applied:
            result.flushes += 1
            result.counters += len(counts)
            result.total += sum(counts.values())
        else:
            result.replayed += 1
    await store.take_counters(prefix)
    fault("deleted")


async def apply_flush(db: AsyncSession, *, flush_id: str, counts: dict[str, int]) -> bool:
    """Add ``counts`` (usage counter keys) to the roll-ups and record ``flush_id``; False (and
    nothing written) when the flush was applied before. The caller commits."""
    await write_session(db)
    if await db.get(UsageFlush, flush_id) is not None:
        return False
    # Inserted first: a concurrent run applying the same flush waits here, then fails.
    db.add(
        UsageFlush(
            id=flush_id, counters=len(counts), total=sum(counts.values()), applied_at=utcnow()
        )
    )
    await db.flush()
    hourly: dict[tuple[str, datetime, str], int] = {}
    daily: dict[tuple[str, date, str], int] = {}
    for key, n in counts.items():
        parsed = UsageKey.from_wire(key)
        if parsed is None:
            log.warning("usage roll-up: ignoring malformed counter %r (%d)", key, n)
            continue
        hour_key = (parsed.sitekey, parsed.hour, parsed.event)
        hourly[hour_key] = hourly.get(hour_key, 0) + n
        day_key = (parsed.sitekey, parsed.hour.date(), parsed.event)
        daily[day_key] = daily.get(day_key, 0) + n
    await _add_aggregates(db, hourly, daily)
    await _add_counts(
        db,
        UsageHourly.__table__,
        "hour",
        [{"sitekey": s, "hour": h, "event": e, "count": n} for (s, h, e), n in hourly.items()],
    )
    await _add_counts(
        db,
        UsageDaily.__table__,
        "day",
        [{"sitekey": s, "day": d, "event": e, "count": n} for (s, d, e), n in daily.items()],
    )
    return True


def org_key(org_id: Any) -> str:
    """The roll-up rows' "sitekey" of an organisation's aggregate (beside its sites' rows)."""
    return f"{ORG_PREFIX}{org_id}"


async def _add_aggregates(
    db: AsyncSession,
    hourly: dict[tuple[str, datetime, str], int],
    daily: dict[tuple[str, date, str], int],
) -> None:
    """Add each count to its organisation's aggregate row and to the all-sites row too, in the
    same transaction, so an org's or an operator's range reads one row per bucket and event
    (not one per site). A sitekey no site has (deleted) counts only in the all-sites row."""
    sitekeys = sorted({key[0] for key in daily})
    orgs: dict[str, str] = {}
    for start in range(0, len(sitekeys), _CHUNK):
        found = await db.execute(
            sa.select(Site.sitekey, Site.org_id).where(
                Site.sitekey.in_(sitekeys[start : start + _CHUNK])
            )
        )
        orgs.update({sitekey: org_key(org_id) for sitekey, org_id in found.all()})
    for table in (hourly, daily):
        extra: dict[Any, int] = {}
        for (sitekey, when, event), n in table.items():
            for owner in (orgs.get(sitekey), ALL_SITES):
                if owner is not None:
                    extra[(owner, when, event)] = extra.get((owner, when, event), 0) + n
        for key, n in extra.items():
            table[key] = table.get(key, 0) + n


async def _add_counts(
    db: AsyncSession, table: Any, period: str, rows: list[dict[str, Any]]
) -> None:
    """Upsert ``rows``, adding to existing counts; sorted so concurrent runs lock in one order."""
    rows.sort(key=lambda row: (row["sitekey"], row[period], row["event"]))
    dialect = (await db.connection()).dialect.name
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        stmt: Any
        if dialect in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            stmt = mysql_insert(table).values(chunk)
            stmt = stmt.on_duplicate_key_update(count=table.c.count + stmt.inserted.count)
        else:
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = insert(table).values(chunk)
            stmt = stmt.on_conflict_do_update(
                index_elements=["sitekey", period, "event"],
                set_={"count": table.c.count + stmt.excluded.count},
            )
        await db.execute(stmt)


async def prune(db: AsyncSession, *, hourly_days: int, daily_days: int) -> int:
    """Delete hourly rows older than ``hourly_days``, daily rows and flush records older than
    ``daily_days``; returns the number of rows deleted. The caller commits."""
    now = utcnow()
    removed = 0
    for stmt in (
        sa.delete(UsageHourly).where(UsageHourly.hour < now - timedelta(days=hourly_days)),
        sa.delete(UsageDaily).where(UsageDaily.day < (now - timedelta(days=daily_days)).date()),
        # Flush ids are only needed while their flush may still be in a store: days, not years.
        sa.delete(UsageFlush).where(UsageFlush.applied_at < now - timedelta(days=30)),
    ):
        outcome: Any = await db.execute(stmt)
        removed += int(outcome.rowcount or 0)
    return removed
