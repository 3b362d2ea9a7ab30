"""``haechi challenges ...``: build and inspect challenge pools.

Building runs here, in this process, with a progress bar (or, with ``--enqueue``, as the
``pool.build`` job on the Redis queue for a ``haechi worker`` to run). It needs the blob store
and the keys, not the database, so it works before anything else is set up.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from haechi.core.files import private_dir

if TYPE_CHECKING:
    from haechi.challenges import ChallengeRegistry
    from haechi.challenges.pool import ChallengePools
    from haechi.core.settings import Settings


def _settings() -> Settings:
    from haechi.core.settings import Settings

    try:
        return Settings()
    except ValueError as error:
        raise click.ClickException(f"bad settings: {error}") from None


def _pools(settings: Settings) -> tuple[ChallengePools, ChallengeRegistry]:
    from haechi.challenges import default_registry
    from haechi.challenges.pool import ChallengePools
    from haechi.core.blobs import create_blob_store
    from haechi.runtime import resolve_keys

    private_dir(settings.data_dir)
    keyring, _ = resolve_keys(settings)
    try:
        blobs = create_blob_store(settings, keyring)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    # Building and listing hand out no URLs: no aliases here.
    pools = ChallengePools(blobs, settings.pools, url_ttl_seconds=settings.blobs.url_ttl_seconds)
    return pools, default_registry(pools)


def _pooled_names(registry: ChallengeRegistry) -> list[str]:
    from haechi.challenges.pool import uses_pool

    return [n for n in registry.names() if uses_pool(registry.get(n))]


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(stamp))


@click.group()
def challenges() -> None:
    """Challenge pools: pre-generated audio clips and images in the blob store."""


@challenges.command("build-pool")
@click.option("--type", "kind_name", required=True, help="Challenge type, e.g. audio.")
@click.option(
    "--count",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Items to generate (default: the type's own).",
)
@click.option("--seed", type=int, default=None, help="Reproducible build (tests, benchmarks).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Items generated at once (each in a worker thread).",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the pool.build job for `haechi worker` instead of building here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def build_pool(
    kind_name: str,
    count: int | None,
    seed: int | None,
    concurrency: int,
    enqueue: bool,
    as_json: bool,
) -> None:
    """Generate a new pool generation and make it current; the old one is deleted after
    HAECHI_POOLS__GRACE_SECONDS."""
    from haechi.challenges.pool import PoolBacked, uses_pool

    settings = _settings()
    pools, registry = _pools(settings)
    kind = registry.get(kind_name)
    if kind is None or not uses_pool(kind):
        names = ", ".join(_pooled_names(registry)) or "none"
        raise click.ClickException(f"{kind_name!r} does not use a pool (pool types: {names})")
    assert isinstance(kind, PoolBacked)
    total = count or kind.default_pool_size
    if enqueue:
        job_id = asyncio.run(_enqueue(settings, kind_name, total))
        result: dict[str, Any] = {"enqueued": "pool.build", "job_id": job_id, "count": total}
        click.echo(json.dumps(result) if as_json else f"queued pool.build {job_id}")
        return

    async def work(update: Any) -> dict[str, Any]:
        try:
            rng = random.Random(seed) if seed is not None else None
            info = await pools.build(kind, total, rng=rng, progress=update, concurrency=concurrency)
            return info.to_json()
        finally:
            await pools.blobs.close()

    started = time.perf_counter()
    try:
        with click.progressbar(
            length=total, label=f"building the {kind_name} pool", file=sys.stderr
        ) as bar:
            state = {"done": 0}

            def update(done: int, _total: int) -> None:
                bar.update(done - state["done"])
                state["done"] = done

            info = asyncio.run(work(update))
    except Exception as error:
        raise click.ClickException(f"the build failed: {error}") from None
    info["seconds"] = round(time.perf_counter() - started, 1)
    if as_json:
        click.echo(json.dumps(info))
        return
    click.echo(
        f"{kind_name}: generation {info['id']} is current, {info['count']} items "
        f"in {info['seconds']} s"
    )


async def _enqueue(settings: Settings, kind_name: str, count: int) -> str:
    if settings.jobs.backend != "redis":
        raise click.ClickException(
            "--enqueue needs HAECHI_JOBS__BACKEND=redis (and a `haechi worker`); "
            "without it, build here"
        )
    from haechi.runtime import Runtime

    runtime = Runtime.build(settings)
    runner = runtime.job_runner(start_worker=False)
    try:
        await runner.start()
        return await runner.enqueue("pool.build", kind=kind_name, count=count)
    finally:
        await runner.stop()
        # Not runtime.close(): this process served nothing and must not snapshot a store.
        await runtime.store.close()
        await runtime.engine.dispose()
        await pools_close(runtime)


async def pools_close(runtime: Any) -> None:
    if runtime.blobs is not None:
        await runtime.blobs.close()


@challenges.command("list-pools")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_pools(as_json: bool) -> None:
    """Each pool-backed type's current generation, its size, and retired generations."""
    settings = _settings()
    pools, registry = _pools(settings)

    async def work() -> list[dict[str, Any]]:
        try:
            return [await pools.describe(name) for name in _pooled_names(registry)]
        finally:
            await pools.blobs.close()

    try:
        rows = asyncio.run(work())
    except Exception as error:
        raise click.ClickException(f"cannot read the pools: {error}") from None
    if as_json:
        click.echo(json.dumps({"data": rows, "count": len(rows)}))
        return
    for row in rows:
        retired = sum(1 for g in row["generations"] if g["state"] == "retired")
        state = "ready" if row["ready"] else f"not offered (needs {settings.pools.min_items})"
        click.echo(
            f"{row['name']:<12} {row['current'] or '-':<28} {row['items']:>7} items  "
            f"{_when(row['created_at'])}  {state}" + (f"  ({retired} retired)" if retired else "")
        )
