"""The ephemeral store: spend-once keys, counters and rate-limit windows.

Two implementations share this interface and one test suite: an in-process store (embedded mode,
one server process) and Redis (shared by replicas). Every method is atomic on its own.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass


class StoreUnavailable(Exception):
    """The backend could not be reached or refused the command; callers fail closed."""


# Not frozen: a frozen dataclass costs three times as much to build, and every request builds
# one or two.
@dataclass(slots=True)
class RateDecision:
    allowed: bool
    # Hits counted in the sliding window, this one included when allowed.
    count: int
    limit: int
    # Seconds until a request would be allowed again (0 when allowed).
    retry_after: float


class Store(abc.ABC):
    """Shared ephemeral state. Keys are plain strings; implementations add their own prefix."""

    @abc.abstractmethod
    async def spend(self, key: str, ttl_seconds: float, value: bytes = b"1") -> bytes | None:
        """Mark ``key`` spent for ``ttl_seconds``, storing ``value``.

        Returns None when this call spent it (first use), otherwise the value stored by the call
        that spent it first. Atomic: of many concurrent calls exactly one gets None.
        """

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key`` by spend/set, or None when absent or expired."""

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds`` (overwrites)."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def incr_many(self, counts: dict[str, int], ttl_seconds: float | None = None) -> None:
        """Add each count to its counter (created at 0); refresh the TTL when given."""

    @abc.abstractmethod
    async def get_counter(self, key: str) -> int: ...

    @abc.abstractmethod
    async def take_counters(self, prefix: str) -> dict[str, int]:
        """Atomically read and reset every counter whose key starts with ``prefix``.

        Used by roll-up jobs: what is taken is gone from the store, so the caller must persist it
        idempotently (or put it back with ``incr_many`` when persisting fails).
        """

    @abc.abstractmethod
    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit against a sliding window of ``window_seconds`` and decide it.

        A denied hit is not counted, so a client that backs off regains its budget.
        """

    async def hit_many(
        self, limits: Sequence[tuple[str, int]], window_seconds: float
    ) -> list[RateDecision]:
        """``hit`` each ``(key, limit)`` in order, stopping after the first denial.

        One decision per key counted: all of them when allowed, else up to and including the
        denied one (later keys are not counted). The Redis store does it in one round trip.
        """
        decisions: list[RateDecision] = []
        for key, limit in limits:
            decision = await self.hit(key, limit, window_seconds)
            decisions.append(decision)
            if not decision.allowed:
                break
        return decisions

    async def hit_many_then_spend(
        self,
        limits: Sequence[tuple[str, int]],
        window_seconds: float,
        key: str,
        ttl_seconds: float,
        value: bytes = b"1",
    ) -> tuple[list[RateDecision], bytes | None]:
        """``hit_many(limits)``, then ``spend(key, ...)`` only when every hit was allowed.

        Returns the decisions and the spend's result; when a limit denies, nothing is spent and
        the result is None (check the decisions first). Rate limiting and spending at the same
        point of a request cost one round trip on Redis instead of two.
        """
        decisions = await self.hit_many(limits, window_seconds)
        if not all(decision.allowed for decision in decisions):
            return decisions, None
        return decisions, await self.spend(key, ttl_seconds, value)

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the store answers (used by /readyz); never raises."""

    async def publish(self, channel: str, message: bytes) -> None:  # noqa: B027
        """Broadcast to other processes (cache invalidation). No-op where there are none."""

    async def close(self) -> None:  # noqa: B027
        """Release connections."""
