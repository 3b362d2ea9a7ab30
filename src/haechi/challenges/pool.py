"""Challenge pools: items generated ahead of time, stored as blobs, sampled per challenge.

Some types cost too much to generate per request (synthesised speech, rendered and labelled
images), so a worker builds a *pool generation* of items ahead of time and serving processes
sample from it. A type opts in by implementing ``PoolBacked`` (``uses_pool = True`` and
``make_item(rng)``); ``build`` drives its generator, ``ChallengePools`` serves what was built.

Layout in the blob store, per pool (one pool per type name)::

    pools/<name>/index.json                 current generation, and the ones on their way out
    pools/<name>/<generation>/manifest.json the items: blob key, label, small metadata
    pools/<name>/<generation>/items/<hex>   the items' bytes, under random names

Item keys are random and carry no label, so a URL says nothing about its answer; the manifest
holds the labels, so the store must stay private (the fs backend signs URLs only for item keys
handed out by a type, and an S3 bucket is reached only through presigned URLs).

Rotation: a build writes a whole new generation, then points the index at it in one write; the
previous generation is *retired* and its blobs deleted after ``pools.grace_seconds``, so URLs
and sealed challenges already handed out keep working. Serving processes re-read the index every
``pools.refresh_seconds`` and swap the new manifest in whole. A type whose pool is missing or
smaller than ``pools.min_items`` reports itself unavailable, and the policy falls back.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import logging
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from haechi.challenges.base import JSON
from haechi.core.blobs import BlobNotFound, BlobStore, BlobUnavailable
from haechi.core.blobs.alias import BlobAliases
from haechi.core.settings import PoolSettings

log = logging.getLogger("haechi.pools")

ROOT = "pools"
FORMAT = 1
_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# A build that has not finished after this long is taken to have died; its blobs are removed.
STALE_BUILD_SECONDS = 24 * 3600
MAX_LABEL_BYTES = 1024

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class GeneratedItem:
    """What a type's generator returns for one pool item."""

    data: bytes
    content_type: str
    # The answer material, sealed into challenges later; JSON, small, never in the key.
    label: JSON
    # Small facts a type samples by (e.g. {"locale": "ko"}); never the label.
    meta: dict[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PoolItem:
    key: str
    label: JSON
    meta: dict[str, JSON]


@runtime_checkable
class PoolBacked(Protocol):
    """A challenge type that serves pre-generated items from a pool."""

    name: str
    uses_pool: bool
    # How many items ``build-pool`` makes when no count is given.
    default_pool_size: int

    def make_item(self, rng: random.Random) -> GeneratedItem:
        """Generate one item; CPU-bound and synchronous (it runs in a worker thread), and
        deterministic in ``rng``. Imports heavy generator code lazily: serving never calls it."""
        ...


def uses_pool(kind: object) -> bool:
    return isinstance(kind, PoolBacked) and kind.uses_pool is True


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"bad pool name {name!r}")
    return name


def index_key(name: str) -> str:
    return f"{ROOT}/{check_name(name)}/index.json"


def manifest_key(name: str, generation: str) -> str:
    return f"{ROOT}/{check_name(name)}/{generation}/manifest.json"


def new_generation(now: float) -> str:
    """Sortable by creation time, and unique: ``20250101T120000Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(4)


def generation_time(generation: str) -> float | None:
    stamp = generation.partition("-")[0]
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- the index


@dataclass
class GenerationInfo:
    id: str
    state: str  # "building", "current" or "retired"
    created_at: float
    count: int = 0
    retired_at: float | None = None

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "state": self.state,
            "created_at": self.created_at,
            "count": self.count,
            "retired_at": self.retired_at,
        }


@dataclass
class PoolIndex:
    name: str
    generations: list[GenerationInfo] = field(default_factory=list)

    @property
    def current(self) -> GenerationInfo | None:
        return next((g for g in self.generations if g.state == "current"), None)

    def to_bytes(self) -> bytes:
        gens = [g.to_json() for g in self.generations]
        return orjson.dumps({"v": FORMAT, "name": self.name, "generations": gens})

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> PoolIndex:
        raw = orjson.loads(data)
        if raw.get("v") != FORMAT or raw.get("name") != name:
            raise ValueError(f"pool index for {name!r} has an unknown format")
        return cls(name, [GenerationInfo(**g) for g in raw["generations"]])


async def read_index(blobs: BlobStore, name: str) -> PoolIndex:
    try:
        return PoolIndex.from_bytes(name, (await blobs.get(index_key(name))).data)
    except BlobNotFound:
        return PoolIndex(name)


async def write_index(blobs: BlobStore, index: PoolIndex) -> None:
    await blobs.put(index_key(index.name), index.to_bytes(), "application/json")


async def read_manifest(blobs: BlobStore, name: str, generation: str) -> list[PoolItem]:
    raw = orjson.loads((await blobs.get(manifest_key(name, generation))).data)
    if raw.get("v") != FORMAT or raw.get("generation") != generation:
        raise ValueError(f"pool manifest {name}/{generation} has an unknown format")
    return [PoolItem(i["key"], i["label"], i.get("meta") or {}) for i in raw["items"]]


# ---------------------------------------------------------------------------- building


def _checked(item: GeneratedItem) -> GeneratedItem:
    if not isinstance(item, GeneratedItem) or not item.data:
        raise ValueError("a pool generator returned an empty item")
    if len(orjson.dumps(item.label)) > MAX_LABEL_BYTES:
        raise ValueError("a pool item's label is too large to seal into a challenge")
    return item


async def build(
    blobs: BlobStore,
    kind: PoolBacked,
    count: int,
    *,
    rng: random.Random | None = None,
    progress: Progress | None = None,
    concurrency: int = 1,
    grace_seconds: int = 3600,
    clock: Callable[[], float] = time.time,
) -> GenerationInfo:
    """Generate ``count`` items into a new generation and make it current.

    Items are generated in worker threads, ``concurrency`` at a time, each from its own seed
    drawn from ``rng`` in order, so a seeded build is reproducible whatever the scheduling.
    Blob names come from ``secrets``, never from ``rng``. On failure the partial generation is
    removed and the current one stays. Expired generations are pruned at the end.
    """
    name = check_name(kind.name)
    if count < 1:
        raise ValueError("a pool needs at least one item")
    rng = rng or random.SystemRandom()
    seeds = [rng.getrandbits(64) for _ in range(count)]
    generation = new_generation(clock())
    info = GenerationInfo(generation, "building", clock())
    index = await read_index(blobs, name)
    index.generations.append(info)
    await write_index(blobs, index)
    prefix = f"{ROOT}/{name}/{generation}/"
    items: list[PoolItem | None] = [None] * count
    positions = iter(range(count))
    done = 0
    errors: list[BaseException] = []

    async def worker() -> None:
        nonlocal done
        for position in positions:
            if errors:
                return
            try:
                made = await asyncio.to_thread(kind.make_item, random.Random(seeds[position]))
                item = _checked(made)
                key = f"{prefix}items/{secrets.token_hex(16)}"
                await blobs.put(key, item.data, item.content_type)
            except Exception as error:
                # Stop starting items but let the other workers finish theirs: nothing may
                # still be writing when the partial generation is removed.
                errors.append(error)
                return
            items[position] = PoolItem(key, item.label, dict(item.meta))
            done += 1
            if progress is not None:
                progress(done, count)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
        if errors:
            raise errors[0]
        manifest = {
            "v": FORMAT,
            "name": name,
            "generation": generation,
            "created_at": info.created_at,
            "items": [
                {"key": i.key, "label": i.label, "meta": i.meta} for i in items if i is not None
            ],
        }
        await blobs.put(manifest_key(name, generation), orjson.dumps(manifest), "application/json")
    except BaseException:
        with contextlib.suppress(Exception):
            await _drop_generation(blobs, name, generation)
        raise
    # Commit: one index write makes the new generation current and retires the old one.
    now = clock()
    index = await read_index(blobs, name)
    for gen in index.generations:
        if gen.state == "current":
            gen.state, gen.retired_at = "retired", now
    committed = GenerationInfo(generation, "current", info.created_at, count)
    index.generations = [g for g in index.generations if g.id != generation] + [committed]
    await write_index(blobs, index)
    await prune(blobs, name, grace_seconds=grace_seconds, clock=clock)
    return committed


async def _drop_generation(blobs: BlobStore, name: str, generation: str) -> int:
    keys = await blobs.list(f"{ROOT}/{name}/{generation}/")
    # The manifest goes first: a generation without one can never be loaded half-deleted.
    keys.sort(key=lambda k: not k.endswith("/manifest.json"))
    await blobs.delete_many(keys)
    index = await read_index(blobs, name)
    kept = [g for g in index.generations if g.id != generation]
    if len(kept) != len(index.generations):
        index.generations = kept
        await write_index(blobs, index)
    return len(keys)


async def prune(
    blobs: BlobStore,
    name: str,
    *,
    grace_seconds: int,
    clock: Callable[[], float] = time.time,
) -> int:
    """Delete generations retired more than ``grace_seconds`` ago, builds that died, and
    folders no index names (a build that crashed before writing one). Returns blobs deleted."""
    now = clock()
    index = await read_index(blobs, name)
    doomed = {
        g.id
        for g in index.generations
        if (g.state == "retired" and (g.retired_at or 0) + grace_seconds <= now)
        or (g.state == "building" and g.created_at + STALE_BUILD_SECONDS <= now)
    }
    known = {g.id for g in index.generations}
    for key in await blobs.list(f"{ROOT}/{name}/"):
        generation = key.split("/")[2]
        if generation == "index.json" or generation in known:
            continue
        born = generation_time(generation)
        if born is not None and born + STALE_BUILD_SECONDS <= now:
            doomed.add(generation)
    deleted = 0
    for generation in sorted(doomed):
        deleted += await _drop_generation(blobs, name, generation)
    if doomed:
        log.info("pruned pool generations", extra={"pool": name, "generations": len(doomed)})
    return deleted


# ---------------------------------------------------------------------------- serving


class PoolEmpty(LookupError):
    """The pool has no loaded items; the type should have reported itself unavailable."""


@dataclass
class LoadedPool:
    """One generation's manifest, in memory and immutable once loaded."""

    name: str
    generation: str
    items: tuple[PoolItem, ...]
    _by_meta: dict[tuple[tuple[str, Any], ...], tuple[int, ...]] = field(default_factory=dict)

    def sample(self, rng: random.Random, **prefer: JSON) -> PoolItem:
        """A random item whose metadata matches ``prefer``; any item when none does (e.g. a
        pool built without Korean clips still serves a Korean visitor)."""
        if not self.items:
            raise PoolEmpty(self.name)
        if not prefer:
            return self.items[rng.randrange(len(self.items))]
        wanted = tuple(sorted(prefer.items()))
        matches = self._by_meta.get(wanted)
        if matches is None:
            matches = tuple(
                i
                for i, item in enumerate(self.items)
                if all(item.meta.get(k) == v for k, v in wanted)
            )
            self._by_meta[wanted] = matches
        if not matches:
            return self.items[rng.randrange(len(self.items))]
        return self.items[matches[rng.randrange(len(matches))]]


class ChallengePools:
    """The serving side: loads each tracked pool's current generation and keeps it fresh.

    Types call ``track(name)`` when they are installed, ``ready(name)`` to say whether they can
    be offered, ``sample`` to pick an item and ``url`` to hand it to the browser.
    """

    def __init__(
        self,
        blobs: BlobStore,
        settings: PoolSettings,
        *,
        url_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        aliases: BlobAliases | None = None,
    ) -> None:
        self.blobs = blobs
        self.settings = settings
        self.url_ttl_seconds = url_ttl_seconds
        # Per-challenge URLs (``pools.alias_urls``); None: the backend's own URL for the key.
        self.aliases = aliases
        self.clock = clock
        self._names: set[str] = set()
        self._loaded: dict[str, LoadedPool] = {}
        self._lock = asyncio.Lock()

    def track(self, name: str) -> None:
        self._names.add(check_name(name))

    @property
    def names(self) -> list[str]:
        return sorted(self._names)

    def get(self, name: str) -> LoadedPool | None:
        return self._loaded.get(name)

    def ready(self, name: str) -> bool:
        pool = self._loaded.get(name)
        return pool is not None and len(pool.items) >= self.settings.min_items

    def sample(self, name: str, rng: random.Random, **prefer: JSON) -> PoolItem:
        pool = self._loaded.get(name)
        if pool is None:
            raise PoolEmpty(name)
        return pool.sample(rng, **prefer)

    async def url(self, item: PoolItem) -> str:
        """A URL for one showing of ``item``: a fresh alias each time when aliases are on, so
        a harvested URL says nothing about the next challenge."""
        if self.aliases is not None:
            return self.aliases.url(item.key, self.url_ttl_seconds)
        return await self.blobs.url(item.key, self.url_ttl_seconds)

    async def refresh(self, name: str | None = None) -> None:
        """Load the current generation of one pool, or of every tracked pool, when it changed.
        A pool that cannot be read keeps what was loaded: a stale pool beats no pool."""
        async with self._lock:
            for pool_name in [name] if name else self.names:
                try:
                    await self._refresh_one(pool_name)
                except (BlobUnavailable, BlobNotFound, ValueError, KeyError, TypeError):
                    log.warning(
                        "could not refresh a pool", extra={"pool": pool_name}, exc_info=True
                    )

    async def _refresh_one(self, name: str) -> None:
        current = (await read_index(self.blobs, name)).current
        loaded = self._loaded.get(name)
        if current is None:
            self._loaded.pop(name, None)
            return
        if loaded is not None and loaded.generation == current.id:
            return
        items = await read_manifest(self.blobs, name, current.id)
        self._loaded[name] = LoadedPool(name, current.id, tuple(items))
        log.info(
            "loaded a pool", extra={"pool": name, "generation": current.id, "items": len(items)}
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``refresh_seconds`` until ``stop`` is set."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.refresh_seconds)
            if not stop.is_set():
                await self.refresh()

    async def build(
        self,
        kind: PoolBacked,
        count: int,
        *,
        rng: random.Random | None = None,
        progress: Progress | None = None,
        concurrency: int = 1,
    ) -> GenerationInfo:
        """Build a generation for ``kind`` and load it here at once (others follow on their
        next refresh)."""
        info = await build(
            self.blobs,
            kind,
            count,
            rng=rng,
            progress=progress,
            concurrency=concurrency,
            grace_seconds=self.settings.grace_seconds,
            clock=self.clock,
        )
        if kind.name in self._names:
            await self.refresh(kind.name)
        return info

    async def prune(self, name: str) -> int:
        return await prune(
            self.blobs, name, grace_seconds=self.settings.grace_seconds, clock=self.clock
        )

    async def describe(self, name: str) -> dict[str, JSON]:
        """What ``haechi challenges list-pools`` prints for one pool."""
        index = await read_index(self.blobs, name)
        current = index.current
        return {
            "name": name,
            "current": current.id if current else None,
            "items": current.count if current else 0,
            "created_at": current.created_at if current else None,
            "ready": current is not None and current.count >= self.settings.min_items,
            "generations": [g.to_json() for g in index.generations],
        }


# ---------------------------------------------------------------------------- maintenance

# Built first to last: the types the policy reaches first are ready first.
STARTER_ORDER: tuple[str, ...] = ("grid", "abstract", "handwriting", "audio")
# A type whose build failed (a missing font, espeak-ng) is not retried sooner than this.
RETRY_FAILED_SECONDS = 600.0
# How long one process may hold a pool's build lock (a crashed build frees it after this).
BUILD_LOCK_SECONDS = 1800.0


@dataclass(frozen=True, slots=True)
class PoolDue:
    name: str
    reason: str  # "starter" or "rotate"
    count: int


def due(index: PoolIndex, settings: PoolSettings, *, now: float) -> PoolDue | None:
    """Whether a pool needs a build now: missing or too small (a starter generation), or older
    than ``rotate_seconds`` (a new generation of the same size)."""
    current = index.current
    if current is None or current.count < settings.min_items:
        return PoolDue(index.name, "starter", max(settings.starter_items, settings.min_items))
    if settings.rotate_seconds and now - current.created_at >= settings.rotate_seconds:
        return PoolDue(index.name, "rotate", max(current.count, settings.min_items))
    return None


def starter_order(names: list[str]) -> list[str]:
    known = [n for n in STARTER_ORDER if n in names]
    return known + sorted(n for n in names if n not in STARTER_ORDER)


class PoolKeeper:
    """Starter pools and rotation (``pools.starter``): the ``pool.maintain`` job's logic.

    Builds one pool at a time, in ``STARTER_ORDER``, each under a lock in the shared store so
    that replicas enqueueing the job at once build it once. A failed build is logged and the
    type is left alone for ``RETRY_FAILED_SECONDS`` in this process; its band keeps falling
    back (``haechi.risk.policy``)."""

    def __init__(
        self,
        pools: ChallengePools,
        kinds: dict[str, PoolBacked],
        *,
        lock: Callable[[str, float], Any] | None = None,
        unlock: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pools = pools
        self.kinds = kinds
        self._lock = lock
        self._unlock = unlock
        self._clock = clock
        self._failed_at: dict[str, float] = {}

    def offered(self) -> list[str]:
        return [n for n in starter_order(list(self.kinds)) if self.pools.ready(n)]

    async def pending(self) -> list[PoolDue]:
        now = self._clock()
        found: list[PoolDue] = []
        for name in starter_order(list(self.kinds)):
            failed = self._failed_at.get(name)
            if failed is not None and now - failed < RETRY_FAILED_SECONDS:
                continue
            try:
                index = await read_index(self.pools.blobs, name)
            except (BlobUnavailable, ValueError, KeyError, TypeError):
                log.warning("cannot read a pool index", extra={"pool": name}, exc_info=True)
                continue
            item = due(index, self.pools.settings, now=now)
            if item is not None:
                found.append(item)
        return found

    async def run_once(self) -> dict[str, str]:
        """Build what is due; returns ``{name: "built <reason> <count>" | "failed" | "locked"}``."""
        results: dict[str, str] = {}
        for item in await self.pending():
            key = f"pools:build:{item.name}"
            if self._lock is not None and not await self._lock(key, BUILD_LOCK_SECONDS):
                results[item.name] = "locked"
                continue
            started = time.perf_counter()
            try:
                info = await self.pools.build(self.kinds[item.name], item.count, concurrency=2)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed_at[item.name] = self._clock()
                results[item.name] = "failed"
                log.warning(
                    "could not build a %s pool; its band falls back until it is built",
                    item.name,
                    extra={"pool": item.name},
                    exc_info=True,
                )
                continue
            finally:
                if self._unlock is not None:
                    with contextlib.suppress(Exception):
                        await self._unlock(key)
            self._failed_at.pop(item.name, None)
            results[item.name] = f"built {item.reason} {info.count}"
            await self.pools.refresh(item.name)
            log.info(
                "built a %s pool (%s, %d items in %.1f s); challenge types offered: %s",
                item.name,
                item.reason,
                info.count,
                time.perf_counter() - started,
                ", ".join(self.offered()) or "none (proof-of-work only)",
                extra={"pool": item.name, "generation": info.id},
            )
        return results
