"""Starter pools and rotation (``pools.starter``): a fresh install stocks every pool-backed
type in the background, rotates old generations, and survives a type that cannot be built."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from pathlib import Path

import pytest

from haechi.challenges.grid.sources import EMOJI_FONT, MONO_FONTS
from haechi.challenges.pool import (
    RETRY_FAILED_SECONDS,
    ChallengePools,
    GeneratedItem,
    PoolBacked,
    PoolKeeper,
    read_index,
)
from haechi.core.blobs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.settings import PoolSettings

STARTER_FONTS = EMOJI_FONT.exists() and MONO_FONTS[0].exists()


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


class Tiles:
    """A cheap pool-backed type: random bytes with a label, deterministic in ``rng``."""

    test_only = True
    uses_pool = True
    default_pool_size = 1000

    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.broken = broken
        self.made = 0

    def make_item(self, rng: random.Random) -> GeneratedItem:
        if self.broken:
            raise OSError("cannot open resource (a font is missing)")
        self.made += 1
        return GeneratedItem(rng.randbytes(32), "image/webp", rng.choice(("a", "b")))


def keeper_on(tmp_path: Path, clock: Clock, kinds: list[Tiles], **settings: object) -> PoolKeeper:
    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    blobs = FsBlobStore(tmp_path / "blobs", BlobUrlSigner(keyring))
    fields = {"min_items": 10, "starter_items": 20, "rotate_seconds": 3600, **settings}
    pools = ChallengePools(
        blobs,
        PoolSettings(**fields),
        url_ttl_seconds=60,
        clock=clock,  # type: ignore[arg-type]
    )
    for kind in kinds:
        pools.track(kind.name)
    typed: dict[str, PoolBacked] = {k.name: k for k in kinds}  # type: ignore[misc]
    return PoolKeeper(pools, typed, clock=clock)


async def test_starter_pools_then_rotation_by_age(tmp_path: Path) -> None:
    clock = Clock()
    grid, audio = Tiles("grid"), Tiles("audio")
    keeper = keeper_on(tmp_path, clock, [audio, grid])
    assert keeper.offered() == []
    done = await keeper.run_once()
    # The policy's first types come first; each gets a starter generation of starter_items.
    assert list(done) == ["grid", "audio"]
    assert done == {"grid": "built starter 20", "audio": "built starter 20"}
    assert keeper.offered() == ["grid", "audio"]
    first = (await read_index(keeper.pools.blobs, "grid")).current
    assert first is not None and first.count == 20
    # Nothing is due while the generation is young.
    clock.now += 3599
    assert await keeper.run_once() == {}
    clock.now += 1
    assert await keeper.run_once() == {"grid": "built rotate 20", "audio": "built rotate 20"}
    second = (await read_index(keeper.pools.blobs, "grid")).current
    assert second is not None and second.id != first.id
    assert keeper.pools.get("grid") is not None
    assert keeper.pools.get("grid").generation == second.id  # type: ignore[union-attr]


async def test_a_pool_below_min_items_gets_a_starter_and_rotation_can_be_off(
    tmp_path: Path,
) -> None:
    clock = Clock()
    grid = Tiles("grid")
    keeper = keeper_on(tmp_path, clock, [grid], rotate_seconds=0, starter_items=5)
    # starter_items below min_items still builds a pool that is offered.
    assert await keeper.run_once() == {"grid": "built starter 10"}
    clock.now += 10 * 365 * 86400
    assert await keeper.run_once() == {}


async def test_a_type_that_cannot_be_built_is_skipped_and_retried_later(tmp_path: Path) -> None:
    clock = Clock()
    broken, audio = Tiles("grid", broken=True), Tiles("audio")
    keeper = keeper_on(tmp_path, clock, [broken, audio])
    assert await keeper.run_once() == {"grid": "failed", "audio": "built starter 20"}
    assert keeper.offered() == ["audio"]
    # Its partial generation is gone and nothing is current: its band keeps falling back.
    assert (await read_index(keeper.pools.blobs, "grid")).current is None
    assert await keeper.run_once() == {}
    clock.now += RETRY_FAILED_SECONDS
    broken.broken = False
    assert await keeper.run_once() == {"grid": "built starter 20"}


async def test_one_replica_builds_while_another_holds_the_lock(tmp_path: Path) -> None:
    clock = Clock()
    held: set[str] = set()

    async def lock(key: str, ttl: float) -> bool:
        if key in held:
            return False
        held.add(key)
        return True

    async def unlock(key: str) -> None:
        held.discard(key)

    grid = Tiles("grid")
    keeper = keeper_on(tmp_path, clock, [grid])
    keeper._lock, keeper._unlock = lock, unlock
    held.add("pools:build:grid")
    assert await keeper.run_once() == {"grid": "locked"}
    assert grid.made == 0
    held.clear()
    assert await keeper.run_once() == {"grid": "built starter 20"}
    assert held == set()


@pytest.mark.skipif(
    not (STARTER_FONTS and shutil.which("espeak-ng")) and os.environ.get("CI") != "true",
    reason="needs the pool types' fonts and espeak-ng (CI installs them: .ci/run)",
)
async def test_a_fresh_runtime_stocks_every_pool_type_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded defaults, as ``haechi serve`` runs them: a fresh data directory, in-process
    jobs; start() returns at once and the pools fill in behind it."""
    from haechi.core.settings import Settings
    from haechi.runtime import Runtime

    monkeypatch.setenv("HAECHI_POOLS__STARTER", "true")
    monkeypatch.setenv("HAECHI_POOLS__STARTER_ITEMS", "12")
    monkeypatch.setenv("HAECHI_POOLS__MIN_ITEMS", "12")
    monkeypatch.setenv("HAECHI_DB__AUTO_MIGRATE", "false")  # no query is made here
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    runtime = Runtime.build(settings)
    try:
        await runtime.start()
        assert runtime.pools is not None
        pooled = ["abstract", "audio", "grid", "handwriting"]
        for _ in range(500):  # at most 100 s
            if all(runtime.pools.ready(n) for n in pooled):
                break
            await asyncio.sleep(0.2)
        for name in pooled:
            index = await read_index(runtime.pools.blobs, name)
            assert index.current is not None and index.current.count == 12
    finally:
        await runtime.close()
