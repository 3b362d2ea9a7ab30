"""Per-site attack level: more friction for everyone on a site while it is under attack.

Three parts, so the hot path never waits on the store:

- ``AttackMonitor.record`` counts challenges, solves and solve failures per site and minute in
  process (a dict add); its loop flushes the counts to the store (``atk:<minute>:<site>:<event>``)
  every ``store.counter_flush_seconds`` and reads the shared levels back every
  ``risk.attack.refresh_seconds`` into a dict that ``AttackMonitor.level`` answers from.
- ``update_levels`` (the ``update_attack_levels`` job, once a minute, one run across replicas)
  takes each settled minute's counts, compares them with each site's own baseline and writes
  every site's level to one store key that all replicas read.
- ``advance`` is that comparison, a pure function over one minute.

The rule (defaults in ``AttackSettings``; ``docs/risk-model.md``, Serving): per site, the
baselines are exponentially weighted moving averages of challenges per minute and of the solve
failure rate (half-life ``baseline_half_life_minutes``; a minute with no traffic counts as 0).
A minute is a volume spike when it has at least ``min_volume`` challenges and more than
``volume_ratio`` times the baseline (severity 1, +1 per further doubling, at most 3); a failure
spike when it has at least ``min_attempts`` solves and failures and its failure rate is
``failure_jump`` or more above the baseline (severity 1 per ``failure_jump``, at most 3). The
target level is ``step`` times the larger severity (+1 when both spike), at most ``max_level``;
the level rises to the target at once and otherwise halves every ``decay_half_life_minutes``.
During a spike the baselines learn at a quarter of their rate, so an attack does not quickly
become the new normal while a lasting change of traffic still does within hours.
Failures are the client's: a wrong answer, a PoW that does not check, a replayed challenge.
Denials are not counted: they are the policy's own decision, and counting them would let a
raised level keep itself up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

import orjson

from haechi.core.settings import AttackSettings
from haechi.core.store.base import Store, StoreUnavailable
from haechi.core.store.counters import CounterBuffer

log = logging.getLogger("haechi.risk.attack")

COUNT_PREFIX: Final = "atk:"
STATE_KEY: Final = "risk:attack:state"
LEVELS_KEY: Final = "risk:attack:levels"
COUNT_TTL_S: Final = 3600.0
STATE_TTL_S: Final = 2 * 86400.0
# Levels vanish this long after the job last ran: a stopped job must not pin a site's friction.
LEVELS_TTL_S: Final = 600.0
MAX_CATCH_UP: Final = 30  # minutes processed after the job was away; older counts expire
SPIKE_LEARNING: Final = 0.25  # baseline learning rate during a spike, relative
DEFAULT_FAILURE_RATE: Final = 0.1  # a new site's failure baseline until it has its own
FORGET_VOLUME: Final = 0.05  # a quiet site at level 0 below this baseline is dropped
# Solve failures that count: the client's, not the policy's ("denied") or the clock's.
COUNTED_FAILURES: Final = frozenset({"wrong-answer", "invalid-pow", "already-solved"})

Event = Literal["challenge", "solved", "failed"]
_EVENT_CODES: Final[dict[str, str]] = {"challenge": "c", "solved": "s", "failed": "f"}


def minute_of(now: float) -> int:
    return int(now // 60)


@dataclass(slots=True)
class SiteState:
    volume: float  # EWMA of challenges per minute
    failure: float | None  # EWMA of the failure rate; None until a minute had enough attempts
    level: float


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    challenges: int = 0
    solved: int = 0
    failed: int = 0


@dataclass(slots=True)
class AttackState:
    minute: int | None  # the last minute processed
    sites: dict[str, SiteState]

    def levels(self) -> dict[str, int]:
        """The integer level of every site above 0."""
        return {site: round(s.level) for site, s in self.sites.items() if round(s.level) > 0}

    def dumps(self) -> bytes:
        sites = {k: [s.volume, s.failure, s.level] for k, s in self.sites.items()}
        return orjson.dumps({"minute": self.minute, "sites": sites})

    @classmethod
    def loads(cls, raw: bytes | None) -> AttackState:
        """The stored state; a missing or unreadable one starts afresh (logged)."""
        if raw is None:
            return cls(None, {})
        try:
            data = orjson.loads(raw)
            sites = {
                str(k): SiteState(float(v[0]), None if v[1] is None else float(v[1]), float(v[2]))
                for k, v in data["sites"].items()
            }
            minute = data["minute"]
            return cls(None if minute is None else int(minute), sites)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
            log.warning("ignored an unreadable attack state; starting afresh")
            return cls(None, {})


def _volume_severity(count: int, baseline: float, p: AttackSettings) -> int:
    reference = p.volume_ratio * max(baseline, 1.0)
    if count < p.min_volume or count <= reference:
        return 0
    return min(3, 1 + int(math.log2(count / reference)))


def _failure_severity(counts: MinuteCounts, baseline: float | None, p: AttackSettings) -> int:
    attempts = counts.solved + counts.failed
    if attempts < p.min_attempts:
        return 0
    jump = counts.failed / attempts - (DEFAULT_FAILURE_RATE if baseline is None else baseline)
    return min(3, int(jump / p.failure_jump + 1e-9)) if jump > 0 else 0


def advance(
    sites: dict[str, SiteState], counts: dict[str, MinuteCounts], p: AttackSettings
) -> dict[str, SiteState]:
    """Move every site one minute on, given that minute's counts; returns the new states.

    A site seen for the first time takes the minute as its baseline and no level: there is no
    "normal" to compare with yet.
    """
    alpha = 1.0 - 0.5 ** (1.0 / p.baseline_half_life_minutes)
    decay = 0.5 ** (1.0 / p.decay_half_life_minutes)
    out: dict[str, SiteState] = {}
    for site in sites.keys() | counts.keys():
        c = counts.get(site, MinuteCounts())
        attempts = c.solved + c.failed
        rate = c.failed / attempts if attempts >= p.min_attempts else None
        state = sites.get(site)
        if state is None:
            out[site] = SiteState(float(c.challenges), rate, 0.0)
            continue
        vol = _volume_severity(c.challenges, state.volume, p)
        fail = _failure_severity(c, state.failure, p)
        severity = max(vol, fail) + (1 if vol and fail else 0)
        target = min(p.max_level, p.step * severity)
        level = max(state.level * decay, float(target))
        if level < 0.5:
            level = 0.0
        learn = alpha * (SPIKE_LEARNING if severity else 1.0)
        volume = state.volume + learn * (c.challenges - state.volume)
        failure = state.failure
        if rate is not None:
            failure = rate if failure is None else failure + learn * (rate - failure)
        if volume < FORGET_VOLUME and level == 0.0 and not c.challenges:
            continue
        out[site] = SiteState(volume, failure, level)
    return out


def parse_counts(taken: dict[str, int], minute: int) -> dict[str, MinuteCounts]:
    """Per-site counts from the counters of one minute (``atk:<minute>:<site>:<code>``)."""
    prefix = f"{COUNT_PREFIX}{minute}:"
    per_site: dict[str, dict[str, int]] = {}
    for key, n in taken.items():
        if not key.startswith(prefix):
            continue
        site, _, code = key[len(prefix) :].rpartition(":")
        if site and code in ("c", "s", "f"):
            bucket = per_site.setdefault(site, {})
            bucket[code] = bucket.get(code, 0) + n
    return {
        site: MinuteCounts(b.get("c", 0), b.get("s", 0), b.get("f", 0))
        for site, b in per_site.items()
    }


async def update_levels(
    store: Store, p: AttackSettings, *, now: float, settle_seconds: float = 5.0
) -> dict[str, int]:
    """Process every minute that has ended (and had ``settle_seconds`` for its last counts to
    be flushed) since the last run; store the state and the levels; return the levels."""
    state = AttackState.loads(await store.get(STATE_KEY))
    ready = minute_of(now - settle_seconds) - 1
    first = ready if state.minute is None else max(state.minute + 1, ready - MAX_CATCH_UP + 1)
    before = state.levels()
    for minute in range(first, ready + 1):
        taken = await store.take_counters(f"{COUNT_PREFIX}{minute}:")
        state.sites = advance(state.sites, parse_counts(taken, minute), p)
        state.minute = minute
    levels = state.levels()
    await store.set(STATE_KEY, state.dumps(), STATE_TTL_S)
    await store.set(LEVELS_KEY, orjson.dumps(levels), LEVELS_TTL_S)
    for site in sorted(levels.keys() | before.keys()):
        if levels.get(site, 0) != before.get(site, 0):
            log.warning(
                "attack level of %s is now %d",
                site,
                levels.get(site, 0),
                extra={"sitekey": site, "attack_level": levels.get(site, 0)},
            )
    return levels


class AttackMonitor:
    """This process's side: counts per minute in memory, levels from the store in memory."""

    def __init__(
        self, *, refresh_seconds: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._counts = CounterBuffer(ttl_seconds=COUNT_TTL_S)
        self._levels: dict[str, int] = {}

    def record(self, sitekey: str, event: Event, now: float | None = None) -> None:
        """Count one event for the site's current minute. Never awaits, never fails."""
        minute = minute_of(self._clock() if now is None else now)
        self._counts.add(f"{COUNT_PREFIX}{minute}:{sitekey}:{_EVENT_CODES[event]}")

    def record_failure(self, sitekey: str, code: str, now: float | None = None) -> None:
        if code in COUNTED_FAILURES:
            self.record(sitekey, "failed", now)

    def level(self, sitekey: str) -> int:
        return self._levels.get(sitekey, 0)

    def levels(self) -> dict[str, int]:
        """Every site's current level above zero, as this process last read them."""
        return self._levels

    @property
    def pending(self) -> dict[str, int]:
        return self._counts.pending

    def set_levels(self, levels: dict[str, int]) -> None:
        self._levels = dict(levels)

    async def flush(self, store: Store) -> int:
        return await self._counts.flush(store)

    async def refresh(self, store: Store) -> None:
        """Read the shared levels; a missing key means no site is under attack."""
        raw = await store.get(LEVELS_KEY)
        self._levels = _read_levels(raw)

    async def run(self, store: Store, flush_seconds: float, stop_event: asyncio.Event) -> None:
        """Flush counts every ``flush_seconds`` and refresh levels every ``refresh_seconds``
        until ``stop_event`` is set, then flush once more. Store outages are logged and retried."""
        loop = asyncio.get_running_loop()
        next_refresh = loop.time()
        try:
            while not stop_event.is_set():
                if loop.time() >= next_refresh:
                    next_refresh = loop.time() + self.refresh_seconds
                    await self._logged(self.refresh(store), "attack level refresh")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(flush_seconds):
                        await stop_event.wait()
                await self._logged(self.flush(store), "attack counter flush")
        finally:
            await self._logged(self.flush(store), "final attack counter flush")

    @staticmethod
    async def _logged(work: Awaitable[object], what: str) -> None:
        try:
            await work
        except StoreUnavailable as error:
            log.warning("%s failed: %s", what, error)


def _read_levels(raw: bytes | None) -> dict[str, int]:
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
        return {str(k): int(v) for k, v in data.items() if int(v) > 0}
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        log.warning("ignored unreadable attack levels")
        return {}
