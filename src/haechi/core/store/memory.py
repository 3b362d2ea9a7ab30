"""In-process ephemeral store for embedded mode: one server process, one event loop.

No method awaits, so each one is atomic under asyncio without locks. Expired entries are dropped
lazily when read, and by a sweep driven by a min-heap of expiry times that runs on every write,
so memory stays bounded by what is live even when an attacker writes keys nobody reads again.
Its epoch is born with it and lives on only through a graceful restart's snapshot.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import orjson

from haechi.core.store.base import RateDecision, StaleEpoch, Store, new_epoch

# Most entries one sweep looks at, so a mass expiry is spread over calls instead of stalling
# the event loop. A write pushes at most one heap item and a sweep pops up to this many, so the
# sweep always keeps up.
SWEEP_BATCH = 256

_INF = math.inf
_VALUES, _COUNTERS, _WINDOWS = 0, 1, 2


def window_retry_after(prev: int, cur: int, limit: int, elapsed: float, window: float) -> float:
    """Seconds until a two-bucket sliding window lets one more hit in (rounded up to 1 ms).

    ``prev`` and ``cur`` are the previous and current fixed-window counts and ``elapsed`` the time
    into the current window. The previous bucket weighs ``1 - elapsed / window``.
    """
    if limit <= 0:
        return window
    if cur < limit and prev > 0:
        # Allowed again in this window once the previous bucket's weight has fallen far enough.
        wait = window * (1.0 - (limit - cur - 1) / prev) - elapsed
    else:
        # This window is full (cur >= limit >= 1): wait until its count has become the previous
        # bucket and decayed enough.
        wait = window - elapsed + window * max(0.0, 1.0 - (limit - 1) / cur)
    return max(math.ceil(wait * 1000.0) / 1000.0, 0.001)


class MemoryStore(Store):
    """The ephemeral store in a dict: right for one process, lost on restart.

    ``clock`` (monotonic seconds) can be replaced in tests to move time without sleeping.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Every entry is a tuple whose last item is its expiry time (inf: never).
        self._values: dict[str, tuple[bytes, float]] = {}
        self._counters: dict[str, tuple[int, float]] = {}
        # key -> (window index, current count, previous count, expiry)
        self._windows: dict[str, tuple[int, int, int, float]] = {}
        self._tables: tuple[dict[str, Any], ...] = (self._values, self._counters, self._windows)
        # (expires_at, table, key); every finite-expiry entry has an item at or before its expiry.
        self._expiry: list[tuple[float, int, str]] = []
        self._epoch = new_epoch()

    # ------------------------------------------------------------------ epoch

    @property
    def epoch(self) -> str:
        return self._epoch

    async def sync_epoch(self) -> str:
        return self._epoch

    # ------------------------------------------------------------------ expiry bookkeeping

    def _put(
        self, table_id: int, key: str, entry: tuple[Any, ...], old: tuple[Any, ...] | None
    ) -> None:
        self._tables[table_id][key] = entry
        expires_at: float = entry[-1]
        # An existing item that comes due earlier re-queues the key when it pops, so only a new
        # key or a shortened expiry needs an item of its own: one item per key, not per write.
        if expires_at != _INF and (old is None or expires_at < old[-1]):
            heappush(self._expiry, (expires_at, table_id, key))

    def _sweep(self, now: float) -> None:
        heap = self._expiry
        tables = self._tables
        for _ in range(SWEEP_BATCH):
            if not heap or heap[0][0] > now:
                return
            _, table_id, key = heappop(heap)
            table = tables[table_id]
            entry = table.get(key)
            if entry is None:
                continue
            if entry[-1] <= now:
                del table[key]
            elif entry[-1] != _INF:
                heappush(heap, (entry[-1], table_id, key))

    def __len__(self) -> int:
        """Entries held, expired ones not yet swept included."""
        return len(self._values) + len(self._counters) + len(self._windows)

    # ------------------------------------------------------------------ values

    def _now(self) -> float:
        """The clock, after sweeping what has expired by then (every write starts here)."""
        now = self._clock()
        if self._expiry and self._expiry[0][0] <= now:
            self._sweep(now)
        return now

    async def spend(
        self, key: str, ttl_seconds: float, value: bytes = b"1", epoch: str | None = None
    ) -> bytes | None:
        if epoch is not None and epoch != self._epoch:
            raise StaleEpoch(key)
        return self._spend(self._now(), key, ttl_seconds, value)

    def _spend(self, now: float, key: str, ttl_seconds: float, value: bytes) -> bytes | None:
        old = self._values.get(key)
        if old is not None and old[1] > now:
            return old[0]
        self._put(_VALUES, key, (value, now + ttl_seconds), old)
        return None

    async def get(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry[0]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        now = self._now()
        self._put(_VALUES, key, (value, now + ttl_seconds), self._values.get(key))

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    # ------------------------------------------------------------------ counters

    async def incr_many(self, counts: dict[str, int], ttl_seconds: float | None = None) -> None:
        now = self._now()
        counters = self._counters
        for key, n in counts.items():
            old = counters.get(key)
            if old is not None and old[1] <= now:
                old = None  # expired: starts again at 0 without a TTL, as in Redis
            total = n if old is None else old[0] + n
            if ttl_seconds is not None:
                expires_at = now + ttl_seconds
            else:
                expires_at = _INF if old is None else old[1]
            self._put(_COUNTERS, key, (total, expires_at), old)

    async def get_counter(self, key: str) -> int:
        entry = self._counters.get(key)
        if entry is None or entry[1] <= self._clock():
            return 0
        return entry[0]

    async def take_counters(self, prefix: str) -> dict[str, int]:
        now = self._clock()
        counters = self._counters
        taken: dict[str, int] = {}
        for key in [key for key in counters if key.startswith(prefix)]:
            n, expires_at = counters.pop(key)
            if expires_at > now and n:
                taken[key] = n
        return taken

    async def move_counters(self, prefix: str, into: str, unless: str) -> bool:
        now = self._now()
        seal = self._values.get(unless)
        if seal is not None and seal[1] > now:
            return False
        counters = self._counters
        for key in [key for key in counters if key.startswith(prefix)]:
            n, expires_at = counters.pop(key)
            if expires_at <= now or not n:
                continue
            target = into + key
            old = counters.get(target)
            if old is not None and old[1] <= now:
                old = None
            self._put(_COUNTERS, target, (n + (0 if old is None else old[0]), _INF), old)
        return True

    async def peek_counters(self, prefix: str) -> dict[str, int]:
        now = self._clock()
        return {
            key: n
            for key, (n, expires_at) in self._counters.items()
            if key.startswith(prefix) and expires_at > now and n
        }

    # ------------------------------------------------------------------ rate limits

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return self._hit(self._now(), key, limit, window_seconds)

    # The edge's calls, done here without an await per key: every request makes one of them.
    async def hit_many(
        self, limits: Sequence[tuple[str, int]], window_seconds: float
    ) -> list[RateDecision]:
        return self._hit_many(self._now(), limits, window_seconds)

    async def hit_many_then_spend(
        self,
        limits: Sequence[tuple[str, int]],
        window_seconds: float,
        key: str,
        ttl_seconds: float,
        value: bytes = b"1",
        epoch: str | None = None,
    ) -> tuple[list[RateDecision], bytes | None]:
        now = self._now()
        decisions = self._hit_many(now, limits, window_seconds)
        if decisions and not decisions[-1].allowed:  # only the last can be a denial
            return decisions, None
        if epoch is not None and epoch != self._epoch:
            raise StaleEpoch(key)
        return decisions, self._spend(now, key, ttl_seconds, value)

    def _hit_many(
        self, now: float, limits: Sequence[tuple[str, int]], window_seconds: float
    ) -> list[RateDecision]:
        decisions: list[RateDecision] = []
        for key, limit in limits:
            decision = self._hit(now, key, limit, window_seconds)
            decisions.append(decision)
            if not decision.allowed:
                break
        return decisions

    def _hit(self, now: float, key: str, limit: int, window_seconds: float) -> RateDecision:
        index = math.floor(now / window_seconds)
        old = self._windows.get(key)
        if old is None:
            cur = prev = 0
        else:
            old_index, cur, prev, _ = old
            if old_index != index:
                prev = cur if old_index == index - 1 else 0
                cur = 0
        elapsed = now - index * window_seconds
        weighted = prev * (1.0 - elapsed / window_seconds)
        if weighted + cur + 1 <= limit:
            cur += 1
            # Both buckets are empty two windows after this one began.
            self._put(_WINDOWS, key, (index, cur, prev, (index + 2) * window_seconds), old)
            return RateDecision(True, cur + math.ceil(weighted), limit, 0.0)
        retry = window_retry_after(prev, cur, limit, elapsed, window_seconds)
        return RateDecision(False, cur + math.ceil(weighted), limit, retry)

    # ------------------------------------------------------------------ lifecycle

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for table in self._tables:
            table.clear()
        self._expiry.clear()

    # ------------------------------------------------------------------ restart survival

    def dump(self) -> bytes:
        """Live values and counters with their remaining TTLs and the epoch, for a graceful
        restart.

        Embedded mode keeps spent challenge/token ids and unflushed usage counts here; writing
        them out on shutdown and reading them back on start keeps a restart from reopening a
        replay window or dropping counts, and keeps what was issued before it valid. A process
        that dies without writing one starts a new epoch instead. Rate-limit windows are not
        kept.
        """
        now = self._clock()

        def remaining(expires: float) -> float | None:
            return None if expires == _INF else expires - now

        values = [
            [key, base64.b64encode(value).decode("ascii"), remaining(expires)]
            for key, (value, expires) in self._values.items()
            if expires > now
        ]
        counters = [
            [key, count, remaining(expires)]
            for key, (count, expires) in self._counters.items()
            if expires > now
        ]
        return orjson.dumps({"v": 1, "epoch": self._epoch, "values": values, "counters": counters})

    def load(self, data: bytes) -> int:
        """Restore what ``dump`` wrote (merging counters) and take its epoch; returns the number
        of entries."""
        snapshot = orjson.loads(data)
        if snapshot.get("v") != 1:
            raise ValueError("unknown snapshot version")
        epoch = snapshot.get("epoch")
        now = self._clock()
        loaded = 0
        for key, encoded, ttl in snapshot["values"]:
            expires = _INF if ttl is None else now + float(ttl)
            if expires > now:
                self._put(_VALUES, key, (base64.b64decode(encoded), expires), None)
                loaded += 1
        for key, count, ttl in snapshot["counters"]:
            expires = _INF if ttl is None else now + float(ttl)
            old = self._counters.get(key)
            total = int(count) + (old[0] if old is not None and old[1] > now else 0)
            self._put(_COUNTERS, key, (total, expires), old)
            loaded += 1
        # A snapshot written before epochs existed keeps this store's new one: values issued
        # before it are refused once (fail closed).
        if isinstance(epoch, str) and epoch:
            self._epoch = epoch
        return loaded
