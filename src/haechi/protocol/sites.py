"""Sites as the hot path sees them: an in-process cache in front of SQL.

The protocol never runs a query per request. Entries live ``ttl`` seconds; an expired entry is
still served while one background refresh runs (stale-while-revalidate), so only the very first
request for a sitekey waits on the database. Unknown sitekeys and secrets are cached too
(negative entries), so a flood of random keys cannot turn into a flood of queries. Changes made
in this process invalidate at once; other processes hear of them through the store's pub/sub
(Redis) and otherwise within ``ttl``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from haechi.core.crypto import constant_time_equal
from haechi.protocol.dialects import test_sitekey_behaviour
from haechi.protocol.iprules import IpRuleSet

log = logging.getLogger("haechi.sites")

_MAX_ENTRIES = 100_000
_MAX_NEGATIVE = 10_000


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    sitekey: str
    hostnames: tuple[str, ...]
    security_level: str
    widget_mode: str
    active: bool
    secret_digest: str
    previous_secret_digest: str | None = None
    previous_secret_expires_at: float | None = None  # unix seconds
    # Test sites: "pass" or "fail"; any hostname, trivial proof-of-work.
    test_mode: str | None = None
    # Its organisation is suspended by an operator: the site fails closed (site-suspended).
    suspended: bool = False
    # Its organisation is past its quota and grace period (haechi.platform.plans.quota):
    # "step-up" (a visual task for everyone) or "block" (quota-exceeded); "" otherwise.
    quota: str = ""
    # Its own and its organisation's IP rules (haechi.protocol.iprules); None when there are none.
    ip_rules: IpRuleSet | None = None

    def secret_matches(self, digest: str, now: float) -> bool:
        """Constant-time check of a secret digest against the current and grace secrets."""
        current = constant_time_equal(self.secret_digest, digest)
        previous = False
        if self.previous_secret_digest is not None and self.previous_secret_expires_at:
            previous = constant_time_equal(self.previous_secret_digest, digest) and (
                now < self.previous_secret_expires_at
            )
        return current or previous


def test_site(sitekey: str) -> SiteInfo | None:
    """Haechi's and the vendors' documented test sitekeys: any hostname, trivial work."""
    mode = test_sitekey_behaviour(sitekey)
    if mode is None:
        return None
    return SiteInfo(
        id=f"test-{mode}",
        sitekey=sitekey,
        hostnames=(),
        security_level="low",
        widget_mode="managed",
        active=True,
        secret_digest="",
        test_mode=mode,
    )


Loader = Callable[[str], Awaitable[SiteInfo | None]]


@dataclass(slots=True)
class _Entry:
    site: SiteInfo
    expires: float
    refreshing: bool = False


class _TtlCache:
    """Known sites and unknown keys, kept apart: a flood of random keys fills (and at worst
    clears) only the small negative table, never evicting real sites."""

    def __init__(self, loader: Loader, ttl: float, negative_ttl: float) -> None:
        self._loader = loader
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        # A stale entry is served while it refreshes, but not forever: when the database stays
        # down this long, the site is treated as unknown (fail closed). Five minutes rides out a
        # database restart or fail-over (the cluster's 60 s PostgreSQL stop failed at 60 s).
        self._max_stale = max(300.0, 60 * ttl)
        self._entries: dict[str, _Entry] = {}
        self._negative: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Future[SiteInfo | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> SiteInfo | None:
        now = time.monotonic()
        unknown_until = self._negative.get(key)
        if unknown_until is not None and unknown_until > now:
            return None
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires > now:
                return entry.site
            if entry.expires + self._max_stale > now:
                # Serve the stale entry; refresh it once in the background.
                if not entry.refreshing:
                    entry.refreshing = True
                    task = asyncio.create_task(self._refresh(key))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                return entry.site
        return await self._load(key)

    async def _refresh(self, key: str) -> None:
        try:
            await self._load(key)
        except Exception:
            log.warning("site refresh failed", exc_info=True)
            entry = self._entries.get(key)
            if entry is not None:
                entry.refreshing = False

    async def _load(self, key: str) -> SiteInfo | None:
        # Single flight: concurrent misses for one key share one query.
        pending = self._inflight.get(key)
        if pending is not None:
            return await pending
        future: asyncio.Future[SiteInfo | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            site = await self._loader(key)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved when nobody else waits
            raise
        else:
            future.set_result(site)
        finally:
            del self._inflight[key]
        now = time.monotonic()
        if site is None:
            if len(self._negative) >= _MAX_NEGATIVE:
                self._negative.clear()
            self._negative[key] = now + self._negative_ttl
            self._entries.pop(key, None)
            return None
        if len(self._entries) >= _MAX_ENTRIES:
            # Drop the oldest half (dicts keep insertion order; refreshes re-insert).
            for old in list(self._entries)[: _MAX_ENTRIES // 2]:
                del self._entries[old]
        self._negative.pop(key, None)
        self._entries.pop(key, None)
        self._entries[key] = _Entry(site, now + self._ttl)
        return site

    def invalidate(self, key: str | None = None) -> None:
        if key is None:
            self._entries.clear()
            self._negative.clear()
        else:
            self._entries.pop(key, None)
            self._negative.pop(key, None)


class SiteCache:
    def __init__(
        self,
        *,
        by_sitekey: Loader,
        by_secret_digest: Loader,
        ttl: float = 5.0,
        negative_ttl: float = 2.0,
    ) -> None:
        self._by_key = _TtlCache(by_sitekey, ttl, negative_ttl)
        self._by_digest = _TtlCache(by_secret_digest, ttl, negative_ttl)

    async def get_by_sitekey(self, sitekey: str) -> SiteInfo | None:
        test = test_site(sitekey)
        if test is not None:
            return test
        return await self._by_key.get(sitekey)

    async def get_by_secret_digest(self, digest: str) -> SiteInfo | None:
        return await self._by_digest.get(digest)

    def invalidate(self, sitekey: str | None = None) -> None:
        """Forget a site (or everything). Digests are dropped wholesale: rotation is rare."""
        self._by_key.invalidate(sitekey)
        self._by_digest.invalidate()
