"""CounterBuffer: batching, merge-back when the store fails, and the final flush."""

from __future__ import annotations

import asyncio
import logging

import pytest

from haechi.core.store import StoreUnavailable
from haechi.core.store.counters import CounterBuffer

from ..stores import OutageStore


class FlakyStore(OutageStore):
    """A real in-process store whose ``incr_many`` fails while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[dict[str, int], float | None]] = []
        self.gate: asyncio.Event | None = None

    async def incr_many(self, counts: dict[str, int], ttl_seconds: float | None = None) -> None:
        self.calls.append((dict(counts), ttl_seconds))
        if self.gate is not None:
            await self.gate.wait()
        await super().incr_many(counts, ttl_seconds)


async def test_flush_sends_the_sums_once() -> None:
    store = FlakyStore()
    buffer = CounterBuffer(ttl_seconds=60.0)
    buffer.add("site:a")
    buffer.add("site:a", 4)
    buffer.add("site:b", 2)
    assert len(buffer) == 2

    assert await buffer.flush(store) == 2
    assert store.calls == [({"site:a": 5, "site:b": 2}, 60.0)]
    assert await store.get_counter("site:a") == 5
    assert len(buffer) == 0

    assert await buffer.flush(store) == 0  # nothing buffered: no call at all
    assert len(store.calls) == 1


async def test_failed_flush_merges_the_batch_back() -> None:
    store = FlakyStore()
    buffer = CounterBuffer()
    buffer.add("site:a", 3)
    store.down = {"incr_many"}
    with pytest.raises(StoreUnavailable):
        await buffer.flush(store)
    assert buffer.pending == {"site:a": 3}

    buffer.add("site:a", 2)
    buffer.add("site:b")
    store.down = set()
    await buffer.flush(store)
    assert await store.get_counter("site:a") == 5
    assert await store.get_counter("site:b") == 1
    assert buffer.pending == {}


async def test_counts_added_during_a_failed_flush_are_kept() -> None:
    store = FlakyStore()
    store.gate = asyncio.Event()
    store.down = {"incr_many"}
    buffer = CounterBuffer()
    buffer.add("site:a", 3)
    flushing = asyncio.create_task(buffer.flush(store))
    await asyncio.sleep(0)  # the batch is now in flight
    buffer.add("site:a", 1)
    buffer.add("site:c", 1)
    store.gate.set()
    with pytest.raises(StoreUnavailable):
        await flushing
    assert buffer.pending == {"site:a": 4, "site:c": 1}


async def test_cancelled_flush_keeps_the_batch() -> None:
    store = FlakyStore()
    store.gate = asyncio.Event()
    buffer = CounterBuffer()
    buffer.add("site:a", 3)
    flushing = asyncio.create_task(buffer.flush(store))
    await asyncio.sleep(0)
    flushing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    assert buffer.pending == {"site:a": 3}


async def test_run_flushes_periodically_and_once_more_on_stop() -> None:
    store = FlakyStore()
    buffer = CounterBuffer()
    stop = asyncio.Event()
    runner = asyncio.create_task(buffer.run(store, 0.02, stop))
    buffer.add("site:a")
    await asyncio.sleep(0.1)
    assert await store.get_counter("site:a") == 1

    buffer.add("site:a", 2)
    stop.set()
    await asyncio.wait_for(runner, 1)
    assert await store.get_counter("site:a") == 3
    assert buffer.pending == {}


async def test_run_survives_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.down = {"incr_many"}
    buffer = CounterBuffer()
    stop = asyncio.Event()
    runner = asyncio.create_task(buffer.run(store, 0.02, stop))
    buffer.add("site:a", 7)
    with caplog.at_level(logging.WARNING, logger="haechi.core.store.counters"):
        await asyncio.sleep(0.1)
    assert len(store.calls) >= 2  # retried on each tick
    assert not runner.done()
    assert "counter flush failed" in caplog.text
    assert buffer.pending == {"site:a": 7}

    store.down = set()
    await asyncio.sleep(0.05)
    assert await store.get_counter("site:a") == 7
    stop.set()
    await asyncio.wait_for(runner, 1)


async def test_cancelling_run_still_flushes() -> None:
    store = FlakyStore()
    buffer = CounterBuffer()
    runner = asyncio.create_task(buffer.run(store, 60.0, asyncio.Event()))
    await asyncio.sleep(0)
    buffer.add("site:a", 5)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert await store.get_counter("site:a") == 5


async def test_final_flush_failure_keeps_counts_pending() -> None:
    store = FlakyStore()
    store.down = {"incr_many"}
    buffer = CounterBuffer()
    stop = asyncio.Event()
    stop.set()
    buffer.add("site:a", 2)
    await buffer.run(store, 60.0, stop)  # logs, does not raise
    assert buffer.pending == {"site:a": 2}
