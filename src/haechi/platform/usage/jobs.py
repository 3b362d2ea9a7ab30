"""Usage jobs: the roll-up every minute, retention daily (docs/operations.md)."""

from __future__ import annotations

from haechi.core.jobs import JobContext, registry
from haechi.platform.usage import rollup

ROLL_UP = "platform.roll_up_usage"
ROLL_UP_EVERY_SECONDS = 60.0


@registry.job(ROLL_UP, every=ROLL_UP_EVERY_SECONDS, timeout=300)
async def roll_up_usage(ctx: JobContext) -> int:
    """Returns the number of counts added to SQL by this run."""
    settings = ctx.settings
    store = ctx.resources["store"]
    wait = 0.0 if settings.store.is_memory else settings.platform.usage_fsync_wait_seconds
    result = await rollup.roll_up(
        store=store, sessions=ctx.resources["sessions"], fsync_wait_seconds=wait
    )
    return result.total


@registry.job("platform.prune_usage", schedule="37 3 * * *", timeout=600)
async def prune_usage(ctx: JobContext) -> int:
    platform = ctx.settings.platform
    async with ctx.resources["sessions"]() as db:
        removed = await rollup.prune(
            db, hourly_days=platform.usage_hourly_days, daily_days=platform.usage_daily_days
        )
        await db.commit()
    return removed
