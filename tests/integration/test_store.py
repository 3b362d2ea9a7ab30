"""The ephemeral store contract, run on the in-process store and on real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from haechi.core.store import Store, StoreUnavailable
from haechi.core.store.memory import MemoryStore
from haechi.core.store.redis import _SPEND, RedisStore

pytestmark = pytest.mark.integration

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- spend-once


async def test_spend_once_returns_the_first_value(store: Store) -> None:
    assert await store.spend("tok:a", 5, b"first") is None
    assert await store.spend("tok:a", 5, b"second") == b"first"
    assert await store.get("tok:a") == b"first"
    assert await store.spend("tok:b", 5) is None


async def test_concurrent_spends_have_exactly_one_winner(store: Store) -> None:
    results = await asyncio.gather(
        *(store.spend("tok:race", 5, f"caller-{i}".encode()) for i in range(200))
    )
    winners = [i for i, result in enumerate(results) if result is None]
    assert len(winners) == 1
    winner_value = f"caller-{winners[0]}".encode()
    assert all(result == winner_value for result in results if result is not None)
    assert await store.get("tok:race") == winner_value


async def test_spent_key_expires(store: Store) -> None:
    assert await store.spend("tok:short", 0.2) is None
    assert await store.spend("tok:short", 0.2) == b"1"
    await asyncio.sleep(0.3)
    assert await store.get("tok:short") is None
    assert await store.spend("tok:short", 0.2, b"again") is None


# ---------------------------------------------------------------------------- get / set / delete


async def test_get_set_delete(store: Store) -> None:
    assert await store.get("k") is None
    await store.set("k", b"v1", 5)
    assert await store.get("k") == b"v1"
    await store.set("k", b"v2", 5)
    assert await store.get("k") == b"v2"
    await store.delete("k")
    assert await store.get("k") is None
    await store.delete("k")  # deleting what is absent is fine


async def test_set_value_expires(store: Store) -> None:
    await store.set("k", b"v", 0.2)
    await asyncio.sleep(0.3)
    assert await store.get("k") is None


# ---------------------------------------------------------------------------- counters


async def test_incr_get_and_take_counters(store: Store) -> None:
    await store.incr_many({"use:s1:day": 2, "use:s2:day": 3, "other:x": 7})
    await store.incr_many({"use:s1:day": 5})
    await store.incr_many({})
    assert await store.get_counter("use:s1:day") == 7
    assert await store.get_counter("missing") == 0

    assert await store.take_counters("use:") == {"use:s1:day": 7, "use:s2:day": 3}
    assert await store.get_counter("use:s1:day") == 0
    assert await store.take_counters("use:") == {}
    assert await store.get_counter("other:x") == 7

    await store.incr_many({"use:s1:day": 1})
    assert await store.take_counters("use:") == {"use:s1:day": 1}


async def test_take_counters_leaves_values_alone(store: Store) -> None:
    await store.set("use:token", b"1", 5)
    await store.incr_many({"use:hits": 4})
    assert await store.take_counters("use:") == {"use:hits": 4}
    assert await store.get("use:token") == b"1"


async def test_take_counters_prefix_is_literal(store: Store) -> None:
    await store.incr_many({"u[1]*:a": 1, "u1x:b": 2, "u[1]*:c": 3})
    assert await store.take_counters("u[1]*:") == {"u[1]*:a": 1, "u[1]*:c": 3}
    assert await store.get_counter("u1x:b") == 2


async def test_counter_ttl_is_refreshed_and_expires(store: Store) -> None:
    await store.incr_many({"c": 1}, ttl_seconds=0.25)
    await asyncio.sleep(0.15)
    await store.incr_many({"c": 1}, ttl_seconds=0.25)
    await asyncio.sleep(0.15)
    assert await store.get_counter("c") == 2
    await asyncio.sleep(0.2)
    assert await store.get_counter("c") == 0
    assert await store.take_counters("c") == {}


# ---------------------------------------------------------------------------- rate limits


async def test_rate_limit_allows_limit_then_denies(store: Store) -> None:
    decisions = [await store.hit("ip:1", limit=5, window_seconds=2.0) for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.limit for d in decisions] == [5] * 5
    assert decisions[-1].count == 5
    assert all(d.retry_after == 0 for d in decisions)

    denied = await store.hit("ip:1", limit=5, window_seconds=2.0)
    assert not denied.allowed
    assert denied.count == 5
    assert 0 < denied.retry_after <= 4.0

    # Other keys have budgets of their own.
    assert (await store.hit("ip:2", limit=5, window_seconds=2.0)).allowed


async def test_rate_limit_window_slides_open_and_denials_are_free(store: Store) -> None:
    for _ in range(3):
        assert (await store.hit("ip:s", limit=3, window_seconds=0.4)).allowed
    denied = await store.hit("ip:s", limit=3, window_seconds=0.4)
    assert not denied.allowed
    # Hammering while denied must not push the reopening back.
    for _ in range(20):
        assert not (await store.hit("ip:s", limit=3, window_seconds=0.4)).allowed
    await asyncio.sleep(denied.retry_after + 0.02)
    assert (await store.hit("ip:s", limit=3, window_seconds=0.4)).allowed


async def test_rate_limit_zero_denies_everything(store: Store) -> None:
    decision = await store.hit("ip:z", limit=0, window_seconds=1.0)
    assert not decision.allowed
    assert decision.retry_after > 0


async def test_memory_sliding_window_arithmetic() -> None:
    clock = FakeClock(10.0)  # the start of window 1 for a 10 s window
    store = MemoryStore(clock=clock)
    for i in range(4):
        decision = await store.hit("k", limit=4, window_seconds=10.0)
        assert decision.allowed and decision.count == i + 1
    denied = await store.hit("k", limit=4, window_seconds=10.0)
    # Window 1 is full; in window 2 its 4 hits weigh 4 * (1 - elapsed / 10) and a hit fits
    # once that is <= 3, 2.5 s in.
    assert not denied.allowed and denied.retry_after == pytest.approx(12.5)
    clock.now = 22.4
    assert not (await store.hit("k", limit=4, window_seconds=10.0)).allowed
    clock.now = 22.5
    decision = await store.hit("k", limit=4, window_seconds=10.0)
    assert decision.allowed and decision.count == 4
    # Two idle windows later the history is gone.
    clock.now = 40.0
    assert (await store.hit("k", limit=4, window_seconds=10.0)).count == 1


async def test_memory_retry_after_within_the_window() -> None:
    clock = FakeClock(5.0)  # halfway through window 0
    store = MemoryStore(clock=clock)
    for _ in range(4):
        assert (await store.hit("k", limit=4, window_seconds=10.0)).allowed
    clock.now = 10.0  # window 1: the 4 earlier hits weigh 4, one more needs them at <= 3
    denied = await store.hit("k", limit=4, window_seconds=10.0)
    assert not denied.allowed and denied.retry_after == pytest.approx(2.5)
    clock.now = 12.5
    assert (await store.hit("k", limit=4, window_seconds=10.0)).allowed


# ---------------------------------------------------------------------------- memory bounds


async def test_memory_store_sweeps_expired_keys_nobody_reads() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for i in range(2000):
        await store.spend(f"tok:{i}", 1.0)
        await store.incr_many({f"c:{i}": 1}, ttl_seconds=1.0)
        await store.hit(f"ip:{i}", limit=10, window_seconds=0.5)
    await store.incr_many({"forever": 1})
    assert len(store) == 6001
    clock.now += 5.0
    for i in range(100):  # ordinary traffic drives the sweep
        await store.set(f"new:{i}", b"x", 60.0)
    assert len(store) == 101
    assert await store.get_counter("forever") == 1


async def test_memory_store_overwrites_do_not_grow_the_expiry_queue() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for _ in range(10_000):
        await store.set("same", b"x", 60.0)
        await store.hit("ip", limit=1_000_000, window_seconds=1.0)
        clock.now += 0.001
    assert len(store._expiry) < 50


# ---------------------------------------------------------------------------- health, broadcast


async def test_ping(store: Store) -> None:
    assert await store.ping() is True


async def test_publish_reaches_subscribers(store: Store) -> None:
    if not isinstance(store, RedisStore):
        await store.publish("sites", b"changed")  # no other process: a no-op
        return
    messages = store.subscribe("sites")
    received = asyncio.ensure_future(anext(messages))
    try:
        deadline = time.monotonic() + 5
        # The subscription starts inside the first iteration: publish until it is heard.
        while not received.done() and time.monotonic() < deadline:
            await store.publish("sites", b"site:42")
            await asyncio.sleep(0.05)
        assert await received == b"site:42"
    finally:
        received.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await received
        await messages.aclose()


async def test_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisStore.from_url(CLOSED_PORT_URL, key_prefix="haechi_test:")
    try:
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable):
            await store.spend("tok", 5)
        with pytest.raises(StoreUnavailable):
            await store.get("tok")
        with pytest.raises(StoreUnavailable):
            await store.incr_many({"c": 1})
        with pytest.raises(StoreUnavailable):
            await store.take_counters("c")
        with pytest.raises(StoreUnavailable):
            await store.hit("ip", limit=1, window_seconds=1.0)
        with pytest.raises(StoreUnavailable):
            await store.publish("sites", b"x")
    finally:
        await store.close()


async def test_hit_many_counts_in_order_and_stops_at_the_first_denial(store: Store) -> None:
    both = await store.hit_many([("many:ip", 2), ("many:site", 10)], window_seconds=5.0)
    assert [(d.allowed, d.count, d.limit) for d in both] == [(True, 1, 2), (True, 1, 10)]
    await store.hit_many([("many:ip", 2), ("many:site", 10)], window_seconds=5.0)
    # The IP is now over its limit: denied, and the site's budget is not touched.
    denied = await store.hit_many([("many:ip", 2), ("many:site", 10)], window_seconds=5.0)
    assert len(denied) == 1
    assert not denied[0].allowed
    assert denied[0].retry_after > 0
    site = await store.hit("many:site", limit=10, window_seconds=5.0)
    assert site.count == 3
    # A later key denied: the earlier one was counted.
    tight = await store.hit_many([("many:ip2", 5), ("many:zero", 0)], window_seconds=5.0)
    assert [d.allowed for d in tight] == [True, False]
    assert (await store.hit("many:ip2", limit=5, window_seconds=5.0)).count == 2


async def test_hit_many_then_spend_spends_only_when_every_limit_allows(store: Store) -> None:
    limits = [("hs:ip", 2)]
    first = await store.hit_many_then_spend(limits, 5.0, "hs:token", 30.0, b"first")
    assert [(d.allowed, d.count) for d in first[0]] == [(True, 1)]
    assert first[1] is None  # spent by this call
    again = await store.hit_many_then_spend(limits, 5.0, "hs:token", 30.0, b"second")
    assert [(d.allowed, d.count) for d in again[0]] == [(True, 2)]
    assert again[1] == b"first"  # already spent: the first value, not overwritten
    assert await store.get("hs:token") == b"first"
    # Over the limit: denied, not counted, and nothing is spent.
    denied, spent = await store.hit_many_then_spend(limits, 5.0, "hs:other", 30.0, b"x")
    assert len(denied) == 1
    assert not denied[0].allowed
    assert denied[0].retry_after > 0
    assert spent is None
    assert await store.get("hs:other") is None
    assert (await store.spend("hs:other", 30.0)) is None
    assert (await store.hit("hs:ip", limit=3, window_seconds=5.0)).count == 3
    # With no limits it is a plain spend; a later limit denying stops the spend too.
    assert await store.hit_many_then_spend([], 5.0, "hs:plain", 30.0) == ([], None)
    assert (await store.hit_many_then_spend([], 5.0, "hs:plain", 30.0))[1] == b"1"
    tight, spent = await store.hit_many_then_spend(
        [("hs:ip2", 5), ("hs:zero", 0)], 5.0, "hs:third", 30.0
    )
    assert [d.allowed for d in tight] == [True, False]
    assert spent is None
    assert await store.get("hs:third") is None


async def test_hit_many_then_spend_has_exactly_one_winner(store: Store) -> None:
    results = await asyncio.gather(
        *(
            store.hit_many_then_spend([("hs:race-ip", 1000)], 5.0, "hs:race", 30.0, b"%d" % i)
            for i in range(20)
        )
    )
    assert sum(1 for decisions, spent in results if spent is None) == 1
    assert all(decisions[0].allowed for decisions, _ in results)


async def test_redis_reloads_a_script_it_lost(store: Store) -> None:
    if not isinstance(store, RedisStore):
        pytest.skip("Redis only")
    # A script text Redis has never seen stands for one lost to a restart or SCRIPT FLUSH.
    store._spend = store._redis.register_script(f"{_SPEND}-- {time.time_ns()}\n")
    assert await store.spend("noscript:tok", 5.0) is None
    assert await store.spend("noscript:tok", 5.0) == b"1"
    results = await asyncio.gather(*(store.spend(f"noscript:{i}", 5.0) for i in range(5)))
    assert results == [None] * 5


async def test_commands_batched_in_one_turn_each_get_their_own_reply(store: Store) -> None:
    await store.set("batch:a", b"A", 30.0)
    replies = await asyncio.gather(
        store.get("batch:a"),
        store.spend("batch:b", 30.0, b"B"),
        store.hit_many([("batch:ip", 1)], 5.0),
        store.hit_many([("batch:ip2", 0)], 5.0),
        store.get("batch:missing"),
    )
    assert replies[0] == b"A"
    assert replies[1] is None
    assert [d.allowed for d in replies[2]] == [True]
    assert [d.allowed for d in replies[3]] == [False]
    assert replies[4] is None


async def test_unreachable_redis_fails_every_batched_command() -> None:
    store = RedisStore.from_url(CLOSED_PORT_URL, key_prefix="haechi_test:")
    try:
        results = await asyncio.gather(
            store.spend("tok", 5),
            store.get("tok"),
            store.hit_many_then_spend([("ip", 5)], 1.0, "tok2", 5.0),
            return_exceptions=True,
        )
        assert all(isinstance(result, StoreUnavailable) for result in results)
    finally:
        await store.close()
