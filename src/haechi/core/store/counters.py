"""In-process batching of counter increments, flushed to the store in the background.

The hot path only adds to a dict; a background loop sends the sums with one ``incr_many`` per
interval. These counters bill customers, so a batch that fails to reach the store is merged back
and sent again: delivery is at least once. (A failure after the store applied the batch, such as
a lost reply, counts that batch twice; losing it would be worse.)
"""

from __future__ import annotations

import asyncio
import logging
import time

from haechi.core.store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)


class CounterBuffer:
    """Counter increments waiting to be flushed to the store.

    ``ttl_seconds`` is passed to ``incr_many`` on every flush (None: counters never expire).
    """

    def __init__(self, *, ttl_seconds: float | None = None) -> None:
        self._ttl_seconds = ttl_seconds
        self._counts: dict[str, int] = {}
        # When the buffer last had nothing unsent (a flush that succeeded, or found nothing to
        # send): /metrics exports it, and an alert fires when it falls behind.
        self.flushed_at = time.time()

    def add(self, key: str, n: int = 1) -> None:
        """Count ``n`` against ``key``. Never awaits, never fails."""
        counts = self._counts
        counts[key] = counts.get(key, 0) + n

    @property
    def pending(self) -> dict[str, int]:
        """A copy of the counts not yet flushed."""
        return dict(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    async def flush(self, store: Store) -> int:
        """Send everything buffered to ``store``; returns how many counters were sent.

        When the store fails (or this is cancelled), the batch is merged back into the buffer
        before the error propagates, so the next flush sends it again.
        """
        if not self._counts:
            self.flushed_at = time.time()
            return 0
        batch, self._counts = self._counts, {}
        try:
            await store.incr_many(batch, ttl_seconds=self._ttl_seconds)
        except BaseException:
            self._merge(batch)
            raise
        if not self._counts:
            self.flushed_at = time.time()
        return len(batch)

    def _merge(self, batch: dict[str, int]) -> None:
        # Counts added while the batch was in flight are in self._counts; keep both.
        counts = self._counts
        for key, n in batch.items():
            counts[key] = counts.get(key, 0) + n

    async def run(self, store: Store, interval_seconds: float, stop_event: asyncio.Event) -> None:
        """Flush every ``interval_seconds`` until ``stop_event`` is set, then flush once more.

        A store outage is logged and retried on the next tick; the final flush also runs when
        the task is cancelled. Whatever the final flush cannot send stays in ``pending``.
        """
        try:
            while not stop_event.is_set():
                try:
                    async with asyncio.timeout(interval_seconds):
                        await stop_event.wait()
                except TimeoutError:
                    await self._flush_logged(store)
        finally:
            await self._flush_logged(store, final=True)

    async def _flush_logged(self, store: Store, *, final: bool = False) -> None:
        try:
            await self.flush(store)
        except StoreUnavailable as error:
            log.log(
                logging.ERROR if final else logging.WARNING,
                "counter flush failed, %d counters kept for the next try%s: %s",
                len(self._counts),
                " (final flush: they are lost unless this process flushes again)" if final else "",
                error,
            )
