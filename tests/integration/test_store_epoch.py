"""The store's epoch: values issued under another are refused, and a store that lost its state
(flushed Redis, a new in-process store) has a new one."""

from __future__ import annotations

import pytest

from haechi.core.store import StaleEpoch, Store
from haechi.core.store.base import UNKNOWN_EPOCH
from haechi.core.store.memory import MemoryStore
from haechi.core.store.redis import RedisStore
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.integration


async def test_spends_are_checked_against_the_epoch(store: Store) -> None:
    epoch = await store.sync_epoch()
    assert epoch == store.epoch and epoch != UNKNOWN_EPOCH
    assert await store.sync_epoch() == epoch
    assert await store.spend("ep:a", 30.0, b"1", epoch) is None
    assert await store.spend("ep:a", 30.0, b"1", epoch) == b"1"
    with pytest.raises(StaleEpoch):
        await store.spend("ep:b", 30.0, b"1", "another-epoch")
    # Nothing was spent by the refusal; no epoch checks nothing (values of older releases).
    assert await store.spend("ep:b", 30.0, b"1", epoch) is None
    assert await store.spend("ep:c", 30.0) is None
    with pytest.raises(StaleEpoch):
        await store.hit_many_then_spend([("ep:ip", 5)], 10.0, "ep:d", 30.0, b"1", UNKNOWN_EPOCH)
    decisions, first = await store.hit_many_then_spend(
        [("ep:ip", 5)], 10.0, "ep:d", 30.0, b"1", epoch
    )
    assert first is None and decisions[0].allowed and decisions[0].count == 2
    _, again = await store.hit_many_then_spend([("ep:ip", 5)], 10.0, "ep:d", 30.0, b"1", epoch)
    assert again == b"1"
    assert store.epoch == epoch


async def test_redis_that_lost_its_state_has_a_new_epoch_for_every_replica(store: Store) -> None:
    if not isinstance(store, RedisStore):
        pytest.skip("Redis only")
    other = RedisStore.from_url(REDIS_URL, key_prefix=store._prefix)  # a second replica
    try:
        first = await store.sync_epoch()
        assert await other.sync_epoch() == first
        await store.spend("lost:tok", 300.0, b"1", first)
        seen = {first}
        for _ in range(3):
            await store.flush_prefix()  # what a restart without persistence leaves
            # The replica that has not looked yet still seals with the old epoch; its first
            # spend after the loss notices, refuses, and learns the new one.
            with pytest.raises(StaleEpoch):
                await other.spend("lost:tok", 300.0, b"1", other.epoch)
            assert other.epoch not in seen
            seen.add(other.epoch)
            assert await store.sync_epoch() == other.epoch
        assert await other.spend("lost:tok", 300.0, b"1", other.epoch) is None
    finally:
        await other.close()


async def test_memory_epoch_survives_only_a_snapshot() -> None:
    store = MemoryStore()
    await store.spend("tk:1", 300.0, b"-", store.epoch)
    restarted = MemoryStore()
    assert restarted.epoch != store.epoch  # a crash: nothing was written
    restarted.load(store.dump())
    assert restarted.epoch == store.epoch  # a graceful restart
    assert await restarted.spend("tk:1", 300.0, b"-", store.epoch) == b"-"
    older = MemoryStore()
    fresh = older.epoch
    older.load(b'{"v": 1, "values": [], "counters": []}')  # written before epochs
    assert older.epoch == fresh
