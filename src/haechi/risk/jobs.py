"""Risk engine jobs: the per-site attack levels, recomputed once a minute for all replicas."""

from __future__ import annotations

import time
from typing import Any

from haechi.core.jobs import JobContext, registry
from haechi.risk import attack


@registry.job(schedule="* * * * *", timeout=30, retries=1, retry_delay=5.0)
async def update_attack_levels(ctx: JobContext, now: float | None = None) -> dict[str, Any]:
    """Fold the minutes that ended since the last run into each site's baseline and level.

    ``now`` (seconds since the epoch) is for tests; runs use the wall clock, since minute
    buckets are wall-clock minutes shared by every replica.
    """
    settings = ctx.settings.risk.attack
    if not settings.enabled:
        return {"levels": {}}
    store = ctx.resources["store"]
    # Counts reach the store within a flush interval; wait two before reading a minute.
    settle = max(2.0, 2 * ctx.settings.store.counter_flush_seconds)
    levels = await attack.update_levels(
        store, settings, now=time.time() if now is None else now, settle_seconds=settle
    )
    return {"levels": levels}
