"""The ephemeral store: spend-once keys, counters and rate-limit windows.

Two implementations share this interface and one test suite: an in-process store (embedded mode,
one server process) and Redis (shared by replicas). Every method is atomic on its own.

A store has an epoch: a random id created with its state and kept in it. Challenges and tokens
carry the epoch they were issued under, and spending one issued under another epoch fails
(``StaleEpoch``): a store that lost its state (Redis restarted without persistence, an embedded
process killed) no longer knows what was spent before, so nothing from before is accepted.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Sequence
from dataclasses import dataclass


class StoreUnavailable(Exception):
    """The backend could not be reached or refused the command; callers fail closed."""


class StaleEpoch(Exception):
    """The value was issued under an earlier epoch of the store: it may have been spent in state
    the store has since lost. Nothing was spent; callers refuse the value as expired."""


# What ``Store.epoch`` is before the store was first asked: matches no real epoch, so values
# sealed under it are refused rather than waved through.
UNKNOWN_EPOCH = "?"


def new_epoch() -> str:
    """A fresh store epoch: 96 random bits, base64url."""
    return secrets.token_urlsafe(12)


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

    @property
    @abc.abstractmethod
    def epoch(self) -> str:
        """The store's epoch as this process last saw it (no I/O): what new values carry."""

    @abc.abstractmethod
    async def sync_epoch(self) -> str:
        """Read the store's epoch (creating it when the store has none: new, or emptied) and
        return it; ``epoch`` follows. Every spend does the same in its own round trip."""

    @abc.abstractmethod
    async def spend(
        self, key: str, ttl_seconds: float, value: bytes = b"1", epoch: str | None = None
    ) -> bytes | None:
        """Mark ``key`` spent for ``ttl_seconds``, storing ``value``.

        Returns None when this call spent it (first use), otherwise the value stored by the call
        that spent it first. Atomic: of many concurrent calls exactly one gets None. With
        ``epoch`` (the one the value was issued under), raises ``StaleEpoch`` and spends nothing
        when the store's epoch is another.
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
    async def move_counters(self, prefix: str, into: str, unless: str) -> bool:
        """Move every counter whose key starts with ``prefix`` to ``into`` + its key (adding to
        what is there, without a TTL), unless the value ``unless`` exists: then move nothing and
        return False. Atomic per key (per SCAN page on Redis): no count is lost or doubled.

        With ``peek_counters`` this stages counters for an exactly-once roll-up: move them to a
        flush's own prefix, set ``unless`` (the flush's seal), read, persist, delete.
        """

    @abc.abstractmethod
    async def peek_counters(self, prefix: str) -> dict[str, int]:
        """Every non-zero counter whose key starts with ``prefix``, left in place."""

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
        epoch: str | None = None,
    ) -> tuple[list[RateDecision], bytes | None]:
        """``hit_many(limits)``, then ``spend(key, ..., epoch)`` only when every hit was allowed.

        Returns the decisions and the spend's result; when a limit denies, nothing is spent and
        the result is None (check the decisions first). Rate limiting and spending at the same
        point of a request cost one round trip on Redis instead of two.
        """
        decisions = await self.hit_many(limits, window_seconds)
        if not all(decision.allowed for decision in decisions):
            return decisions, None
        return decisions, await self.spend(key, ttl_seconds, value, epoch)

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the store answers (used by /readyz); never raises."""

    async def publish(self, channel: str, message: bytes) -> None:  # noqa: B027
        """Broadcast to other processes (cache invalidation). No-op where there are none."""

    async def close(self) -> None:  # noqa: B027
        """Release connections."""
