"""Challenge pools on both blob backends: build, load, sample, rotate, prune, fail safely."""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from haechi.challenges.base import ChallengeRegistry
from haechi.challenges.pool import (
    STALE_BUILD_SECONDS,
    ChallengePools,
    GeneratedItem,
    PoolEmpty,
    read_index,
    uses_pool,
)
from haechi.core.blobs import BlobStore, BlobUrlSigner, FsBlobStore
from haechi.core.blobs.s3 import S3BlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.settings import PlanBand, PolicySettings, PoolSettings
from haechi.risk.policy import Policy
from tests.integration.s3_server import S3Server, s3_server  # noqa: F401


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


class Shapes:
    """A cheap pool-backed type for these tests: each item is random bytes labelled with a
    word; its generator is deterministic in ``rng`` like a real one."""

    name = "shapes"
    test_only = True
    uses_pool = True
    default_pool_size = 10
    words = ("circle", "square", "triangle")

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.made = 0

    def make_item(self, rng: random.Random) -> GeneratedItem:
        self.made += 1
        if self.fail_at is not None and self.made == self.fail_at:
            raise RuntimeError("generator broke")
        label = rng.choice(self.words)
        data = bytes(rng.getrandbits(8) for _ in range(64))
        return GeneratedItem(data, "image/webp", label, {"tone": rng.choice(("dark", "light"))})

    async def generate(self, ctx: object, rng: random.Random, d: float, loc: str) -> object:
        raise NotImplementedError  # not served in these tests

    def check(self, answer: object, submission: object) -> object:
        raise NotImplementedError


@pytest.fixture(params=["fs", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "fs":
        keyring = Keyring({"k1": b64d(new_key())}, "k1")
        yield FsBlobStore(tmp_path / "blobs", BlobUrlSigner(keyring))
        return
    server: S3Server = request.getfixturevalue("s3_server")
    store = S3BlobStore(server.client(), bucket=server.new_bucket())
    yield store
    await store.close()


def pools_on(store: BlobStore, clock: Clock, **settings: object) -> ChallengePools:
    fields = {"min_items": 5, "grace_seconds": 600, **settings}
    pools = ChallengePools(
        store,
        PoolSettings(**fields),
        url_ttl_seconds=300,
        clock=clock,  # type: ignore[arg-type]
    )
    pools.track("shapes")
    return pools


async def test_build_load_and_sample(blob_store: BlobStore) -> None:
    clock = Clock()
    pools = pools_on(blob_store, clock)
    kind = Shapes()
    assert uses_pool(kind)
    await pools.refresh()
    assert not pools.ready("shapes")
    with pytest.raises(PoolEmpty):
        pools.sample("shapes", random.Random(1))

    seen: list[tuple[int, int]] = []
    info = await pools.build(
        kind, 12, rng=random.Random(7), progress=lambda d, t: seen.append((d, t))
    )
    assert info.state == "current" and info.count == 12
    assert seen[-1] == (12, 12) and len(seen) == 12
    assert pools.ready("shapes")

    pool = pools.get("shapes")
    assert pool is not None and len(pool.items) == 12 and pool.generation == info.id
    keys = await blob_store.list(f"pools/shapes/{info.id}/items/")
    assert sorted(keys) == sorted(i.key for i in pool.items)
    for item in pool.items:
        # Keys are random hex: they hold no label and no metadata.
        name = item.key.rsplit("/", 1)[1]
        assert len(name) == 32 and all(c in "0123456789abcdef" for c in name)
        assert item.label not in item.key
        assert (await blob_store.get(item.key)).content_type == "image/webp"

    rng = random.Random(3)
    dark = {pools.sample("shapes", rng, tone="dark").meta["tone"] for _ in range(50)}
    assert dark == {"dark"}
    # Nothing matches: any item rather than an error.
    assert pools.sample("shapes", rng, tone="neon").key in {i.key for i in pool.items}
    url = await pools.url(pool.items[0])
    assert (
        pool.items[0].key in url and pool.items[0].label not in url.split("?")[0].rsplit("/", 1)[1]
    )


async def test_seeded_builds_are_reproducible_whatever_the_concurrency(
    blob_store: BlobStore,
) -> None:
    pools = pools_on(blob_store, Clock())
    await pools.build(Shapes(), 8, rng=random.Random(42), concurrency=1)
    one = pools.get("shapes")
    await pools.build(Shapes(), 8, rng=random.Random(42), concurrency=4)
    four = pools.get("shapes")
    assert one is not None and four is not None and one.generation != four.generation
    assert [(i.label, i.meta) for i in one.items] == [(i.label, i.meta) for i in four.items]
    data_one = [(await blob_store.get(i.key)).data for i in one.items]
    data_four = [(await blob_store.get(i.key)).data for i in four.items]
    assert data_one == data_four
    # Same content, fresh names: the blob keys of a rebuild share nothing.
    assert not {i.key for i in one.items} & {i.key for i in four.items}


async def test_rotation_keeps_the_old_generation_for_the_grace_period(
    blob_store: BlobStore,
) -> None:
    clock = Clock()
    builder = pools_on(blob_store, clock)
    server = pools_on(blob_store, clock)  # another process, refreshing on its own
    first = await builder.build(Shapes(), 6, rng=random.Random(1))
    await server.refresh()
    served = server.get("shapes")
    assert served is not None and served.generation == first.id
    old_item = served.items[0]

    clock.now += 60
    second = await builder.build(Shapes(), 7, rng=random.Random(2))
    index = await read_index(blob_store, "shapes")
    states = {g.id: g.state for g in index.generations}
    assert states == {first.id: "retired", second.id: "current"}
    # The other process still serves the first generation until it refreshes...
    assert server.get("shapes").generation == first.id  # type: ignore[union-attr]
    await server.refresh()
    assert server.get("shapes").generation == second.id  # type: ignore[union-attr]
    assert len(server.get("shapes").items) == 7  # type: ignore[union-attr]
    # ...and URLs handed out for the first generation keep working through the grace period.
    assert await blob_store.exists(old_item.key)
    clock.now += 599
    assert await builder.prune("shapes") == 0
    assert await blob_store.exists(old_item.key)

    clock.now += 2
    deleted = await builder.prune("shapes")
    assert deleted == 6 + 1  # six items and the manifest
    assert not await blob_store.exists(old_item.key)
    assert await blob_store.list(f"pools/shapes/{first.id}/") == []
    index = await read_index(blob_store, "shapes")
    assert [g.id for g in index.generations] == [second.id]


async def test_failed_build_leaves_the_current_generation(blob_store: BlobStore) -> None:
    pools = pools_on(blob_store, Clock())
    good = await pools.build(Shapes(), 6, rng=random.Random(1))
    with pytest.raises(RuntimeError, match="generator broke"):
        await pools.build(Shapes(fail_at=4), 6, rng=random.Random(2), concurrency=2)
    index = await read_index(blob_store, "shapes")
    assert [(g.id, g.state) for g in index.generations] == [(good.id, "current")]
    everything = await blob_store.list("pools/shapes/")
    assert all(k.startswith(f"pools/shapes/{good.id}/") for k in everything if k.count("/") > 2)
    assert pools.get("shapes").generation == good.id  # type: ignore[union-attr]


async def test_dead_builds_and_orphans_are_pruned(blob_store: BlobStore) -> None:
    clock = Clock()
    pools = pools_on(blob_store, clock)
    current = await pools.build(Shapes(), 5, rng=random.Random(1))
    # A build that died after registering itself, and one that died before.
    index = await read_index(blob_store, "shapes")
    from haechi.challenges.pool import GenerationInfo, new_generation, write_index

    dead = new_generation(clock.now)
    index.generations.append(GenerationInfo(dead, "building", clock.now))
    await write_index(blob_store, index)
    await blob_store.put(f"pools/shapes/{dead}/items/{secrets.token_hex(16)}", b"x", "image/webp")
    orphan = new_generation(clock.now)
    await blob_store.put(f"pools/shapes/{orphan}/items/{secrets.token_hex(16)}", b"y", "image/webp")

    clock.now += STALE_BUILD_SECONDS - 10
    assert await pools.prune("shapes") == 0  # might still be running
    clock.now += 20
    assert await pools.prune("shapes") == 2
    remaining = {k.split("/")[2] for k in await blob_store.list("pools/shapes/")}
    assert remaining == {"index.json", current.id}


async def test_unreadable_index_keeps_the_loaded_pool(blob_store: BlobStore) -> None:
    pools = pools_on(blob_store, Clock())
    info = await pools.build(Shapes(), 5, rng=random.Random(1))
    await blob_store.put("pools/shapes/index.json", b"{not json", "application/json")
    await pools.refresh()
    assert pools.get("shapes").generation == info.id  # type: ignore[union-attr]
    # An index that names no current generation empties the pool: the type stops being offered.
    await blob_store.put(
        "pools/shapes/index.json",
        orjson.dumps({"v": 1, "name": "shapes", "generations": []}),
        "application/json",
    )
    await pools.refresh()
    assert not pools.ready("shapes")


class Pooled:
    """The registry's view of a pool-backed type: usable only while its pool is ready."""

    name = "shapes"
    test_only = False

    def __init__(self, pools: ChallengePools) -> None:
        self.pools = pools

    def available(self) -> bool:
        return self.pools.ready(self.name)

    async def generate(self, ctx: object, rng: random.Random, d: float, loc: str) -> object:
        raise NotImplementedError

    def check(self, answer: object, submission: object) -> object:
        raise NotImplementedError


async def test_policy_falls_back_until_the_pool_is_ready(blob_store: BlobStore) -> None:
    pools = pools_on(blob_store, Clock(), min_items=5)
    registry = ChallengeRegistry()
    registry.register(Pooled(pools))  # type: ignore[arg-type]
    settings = PolicySettings(
        bands=[
            PlanBand(max_risk=50, pow_bits=10, pow_count=2, challenges=["shapes"]),
            PlanBand(max_risk=100, pow_bits=12, pow_count=2, block=True),
        ],
        fallback_extra_bits=3,
    )
    policy = Policy(settings, registry)
    empty = policy.decide(30)
    assert empty.challenge is None and empty.pow_bits == 13
    await pools.build(Shapes(), 4, rng=random.Random(1))
    assert policy.decide(30).challenge is None  # 4 < min_items
    await pools.build(Shapes(), 5, rng=random.Random(2))
    ready = policy.decide(30)
    assert ready.challenge == "shapes" and ready.pow_bits == 10
