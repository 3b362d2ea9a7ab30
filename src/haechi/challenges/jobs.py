"""Background jobs for challenge pools: build a generation, keep pools stocked, prune.

``pool.build`` is enqueued by an operator (``haechi challenges build-pool --enqueue``) or a
scheduler; it runs the type's generator in worker threads, so on the in-process backend it
shares the serving process's CPU — in a cluster it belongs on ``haechi worker``.
``pool.maintain`` (every minute, and once at start: ``Runtime.start``) builds starter pools for
types that have none and rotates generations older than ``pools.rotate_seconds``
(``pools.starter``; ``haechi.challenges.pool.PoolKeeper``). ``pool.prune`` runs hourly and
deletes generations whose grace period is over.
"""

from __future__ import annotations

import logging
from typing import Any

from haechi.challenges.pool import ChallengePools, PoolBacked, PoolKeeper, uses_pool
from haechi.core.jobs import JobContext, registry

log = logging.getLogger("haechi.pools")


def pooled_type(ctx: JobContext, name: str) -> PoolBacked:
    runtime = ctx.resources["runtime"]
    kind = runtime.registry.get(name)
    if kind is None or not uses_pool(kind):
        raise ValueError(f"challenge type {name!r} does not use a pool")
    assert isinstance(kind, PoolBacked)
    return kind


@registry.job("pool.build", timeout=6 * 3600)
async def build_pool(ctx: JobContext, kind: str, count: int | None = None) -> dict[str, Any]:
    """Build a new generation of ``kind``'s pool (``count`` items, else the type's default)."""
    pools: ChallengePools = ctx.resources["pools"]
    pooled = pooled_type(ctx, kind)
    info = await pools.build(pooled, count or pooled.default_pool_size, concurrency=2)
    log.info("built a pool", extra={"pool": kind, "generation": info.id, "items": info.count})
    return info.to_json()


def keeper(ctx: JobContext) -> PoolKeeper:
    """This process's keeper (it remembers failed builds), made on first use."""
    found = ctx.resources.get("pool_keeper")
    if isinstance(found, PoolKeeper):
        return found
    runtime = ctx.resources["runtime"]
    pools: ChallengePools = ctx.resources["pools"]
    store = runtime.store
    kinds: dict[str, PoolBacked] = {}
    for name in runtime.registry.names():
        kind = runtime.registry.get(name)
        if uses_pool(kind):
            assert isinstance(kind, PoolBacked)
            kinds[name] = kind

    async def lock(key: str, ttl: float) -> bool:
        return await store.spend(key, ttl) is None

    made = PoolKeeper(pools, kinds, lock=lock, unlock=store.delete)
    ctx.resources["pool_keeper"] = made
    return made


@registry.job("pool.maintain", every=60, timeout=3 * 3600)
async def maintain_pools(ctx: JobContext) -> dict[str, str]:
    """Starter pools for types without one, and rotation of old generations
    (``pools.starter``, ``pools.rotate_seconds``)."""
    if not ctx.settings.pools.starter:
        return {}
    return await keeper(ctx).run_once()


@registry.job("pool.prune", every=3600, timeout=600)
async def prune_pools(ctx: JobContext) -> int:
    """Delete retired generations past their grace period, in every pool in use."""
    pools: ChallengePools = ctx.resources["pools"]
    deleted = 0
    for name in pools.names:
        deleted += await pools.prune(name)
    return deleted
