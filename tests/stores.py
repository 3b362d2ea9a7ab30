"""A store for tests that need one to fail: a real in-process store behind a switch.

``MemoryStore`` is a compiled class on the compiled hot path (``make test-compiled``), which
takes neither subclasses nor patched methods, so a test wraps it instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from haechi.core.store.base import RateDecision, Store, StoreUnavailable
from haechi.core.store.memory import MemoryStore


class OutageStore(Store):
    """Every call goes to a ``MemoryStore``, except that the methods named in ``down`` raise
    ``StoreUnavailable`` (as a real store does when its backend fails) while they are there."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.down: set[str] = set()

    def _check(self, method: str) -> None:
        if method in self.down:
            raise StoreUnavailable(f"{method}: down for the test")

    @property
    def epoch(self) -> str:
        return self.inner.epoch

    async def sync_epoch(self) -> str:
        self._check("sync_epoch")
        return await self.inner.sync_epoch()

    async def spend(
        self, key: str, ttl_seconds: float, value: bytes = b"1", epoch: str | None = None
    ) -> bytes | None:
        self._check("spend")
        return await self.inner.spend(key, ttl_seconds, value, epoch)

    async def get(self, key: str) -> bytes | None:
        self._check("get")
        return await self.inner.get(key)

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._check("set")
        await self.inner.set(key, value, ttl_seconds)

    async def delete(self, key: str) -> None:
        self._check("delete")
        await self.inner.delete(key)

    async def incr_many(self, counts: dict[str, int], ttl_seconds: float | None = None) -> None:
        self._check("incr_many")
        await self.inner.incr_many(counts, ttl_seconds)

    async def get_counter(self, key: str) -> int:
        self._check("get_counter")
        return await self.inner.get_counter(key)

    async def take_counters(self, prefix: str) -> dict[str, int]:
        self._check("take_counters")
        return await self.inner.take_counters(prefix)

    async def move_counters(self, prefix: str, into: str, unless: str) -> bool:
        self._check("move_counters")
        return await self.inner.move_counters(prefix, into, unless)

    async def peek_counters(self, prefix: str) -> dict[str, int]:
        self._check("peek_counters")
        return await self.inner.peek_counters(prefix)

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        self._check("hit")
        return await self.inner.hit(key, limit, window_seconds)

    async def hit_many(
        self, limits: Sequence[tuple[str, int]], window_seconds: float
    ) -> list[RateDecision]:
        self._check("hit")
        return await self.inner.hit_many(limits, window_seconds)

    async def hit_many_then_spend(
        self,
        limits: Sequence[tuple[str, int]],
        window_seconds: float,
        key: str,
        ttl_seconds: float,
        value: bytes = b"1",
        epoch: str | None = None,
    ) -> tuple[list[RateDecision], bytes | None]:
        self._check("hit")
        self._check("spend")
        return await self.inner.hit_many_then_spend(
            limits, window_seconds, key, ttl_seconds, value, epoch
        )

    async def ping(self) -> bool:
        return "ping" not in self.down and await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
