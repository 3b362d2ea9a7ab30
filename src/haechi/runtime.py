"""Everything a running Haechi process holds, built once from Settings and closed once.

Nothing here is module-level: tests build a Runtime of their own with their own settings, store
and database, and several can live in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from haechi.challenges import ChallengeRegistry, default_registry
from haechi.challenges.pool import ChallengePools
from haechi.core import db
from haechi.core.blobs import BlobStore, create_blob_store
from haechi.core.blobs.alias import BlobAliases
from haechi.core.crypto import Keyring, b64d, load_or_create_dev_keys, write_private_bytes
from haechi.core.files import private_dir
from haechi.core.jobs import JobRunner, create_runner
from haechi.core.jobs import registry as job_registry
from haechi.core.metrics import Metrics
from haechi.core.settings import Settings
from haechi.core.store import Store, StoreUnavailable, create_store
from haechi.core.store.counters import CounterBuffer
from haechi.core.store.memory import MemoryStore
from haechi.protocol.iprules import IpRuleSet
from haechi.protocol.service import ProtocolService
from haechi.protocol.sites import SiteCache, SiteInfo
from haechi.risk.attack import AttackMonitor
from haechi.risk.engine import LazyBehaviour, RiskEngine, shipped_model_loader
from haechi.risk.policy import TEST_LEVEL, Policy, allows_test_level
from haechi.risk.scoring import CombinedScorer
from haechi.risk.signals import IpRateRule

log = logging.getLogger("haechi.runtime")
INVALIDATE_CHANNEL = "sites:invalidate"
SNAPSHOT_FILE = "store-snapshot.json"
# How often a process re-reads a shared store's epoch (``haechi.core.store.base``).
EPOCH_CHECK_SECONDS = 1.0
# Modules whose import registers jobs on ``haechi.core.jobs.registry``. Features add theirs here.
JOB_MODULES: tuple[str, ...] = (
    "haechi.risk.jobs",
    "haechi.challenges.jobs",
    "haechi.platform.email.jobs",
    "haechi.platform.accounts.jobs",
    "haechi.platform.audit.jobs",
    "haechi.platform.usage.jobs",
    "haechi.platform.plans.jobs",
    "haechi.platform.billing.jobs",
)


def load_jobs() -> None:
    import importlib

    for name in JOB_MODULES:
        importlib.import_module(name)


def resolve_keys(settings: Settings) -> tuple[Keyring, bytes]:
    keys = settings.keys
    if keys.keyring and keys.active and keys.secret_pepper:
        return Keyring.from_settings(keys.keyring, keys.active), b64d(keys.secret_pepper)
    # Development and tests: generated once, kept in the data directory (mode 0600).
    stored = load_or_create_dev_keys(settings.data_dir)
    keyring = stored["keyring"]
    assert isinstance(keyring, dict)
    return (
        Keyring.from_settings(keyring, str(stored["active"])),
        b64d(str(stored["secret_pepper"])),
    )


def site_info(site: Any, *, suspended: bool = False, ip_rules: IpRuleSet | None = None) -> SiteInfo:
    expires = site.previous_secret_expires_at
    return SiteInfo(
        id=str(site.id),
        sitekey=site.sitekey,
        hostnames=tuple(site.hostnames or ()),
        security_level=site.security_level,
        widget_mode=site.widget_mode,
        active=bool(site.active),
        secret_digest=site.secret_digest,
        previous_secret_digest=site.previous_secret_digest,
        previous_secret_expires_at=expires.timestamp() if expires is not None else None,
        suspended=suspended,
        ip_rules=ip_rules,
    )


def _note_test_site(site: SiteInfo, allowed: bool, noted: set[str]) -> None:
    """Say once per process that a site runs at the ``test`` level (or why it does not)."""
    if site.sitekey in noted or len(noted) > 10_000:
        return
    noted.add(site.sitekey)
    if allowed:
        log.warning(
            "site %s is at security level test: proof-of-work only, no visual task, "
            "no automation denial",
            site.sitekey,
            extra={"sitekey": site.sitekey, "security_level": TEST_LEVEL},
        )
    else:
        log.error(
            "site %s is at security level test, refused in production "
            "(HAECHI_POLICY__ALLOW_TEST_LEVEL is not set): it is served as medium",
            site.sitekey,
            extra={"sitekey": site.sitekey, "security_level": TEST_LEVEL},
        )


def build_risk_engine(settings: Settings) -> RiskEngine:
    """The serving scorer: the behaviour model (loaded on first use) plus request signals."""
    risk = settings.risk
    scorer = CombinedScorer(
        LazyBehaviour(shipped_model_loader(risk.model_path)),
        missing_telemetry_risk=settings.policy.missing_telemetry_risk,
        model_failure_risk=risk.model_failure_risk,
        ip_rate_rule=IpRateRule(risk.ip_rate_low, risk.ip_rate_high, risk.ip_rate_points),
    )
    return RiskEngine(
        scorer,
        offload=risk.offload,
        offload_min_events=risk.offload_min_events,
        timeout_s=risk.model_timeout_ms / 1000.0,
        threads=risk.model_threads,
        behaviour_at_challenge=risk.behaviour_at == "both",
    )


def export_edge_state(metrics: Metrics, counters: CounterBuffer, attack: AttackMonitor) -> None:
    """Gauges of this process's own state, read at scrape time: the usage counters not yet in
    the store and when they last were all there (the "counters not flushed" alert), and each
    site's attack level as this process applies it."""
    metrics.gauge(
        "haechi_usage_counters_unflushed",
        "Usage counters counted here and not yet written to the store",
        (),
        lambda: [((), float(len(counters)))],
    )
    metrics.gauge(
        "haechi_usage_counters_flushed_timestamp_seconds",
        "When this process last had no usage count unwritten to the store (Unix time)",
        (),
        lambda: [((), counters.flushed_at)],
    )
    metrics.gauge(
        "haechi_attack_level",
        "Each site's attack level (0 none, up to 3) as this process applies it; sites at 0 omitted",
        ("site",),
        lambda: [((site,), float(level)) for site, level in attack.levels().items()],
    )


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    pepper: bytes
    store: Store
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sites: SiteCache
    registry: ChallengeRegistry
    policy: Policy
    scorer: RiskEngine
    attack: AttackMonitor
    counters: CounterBuffer
    metrics: Metrics
    protocol: ProtocolService
    owns_store: bool = True
    # Optional only so a Runtime can be built by hand; ``build`` always sets both.
    blobs: BlobStore | None = None
    pools: ChallengePools | None = None
    aliases: BlobAliases | None = None
    jobs: JobRunner | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings, *, store: Store | None = None) -> Runtime:
        from haechi.platform.iprules import service as ip_rule_service
        from haechi.platform.plans.quota import edge_flags
        from haechi.platform.sites import service as site_service

        keyring, pepper = resolve_keys(settings)
        owns_store = store is None
        # Not ``store or ...``: an empty in-process store is falsy (it has a length).
        store = store if store is not None else create_store(settings.store)
        engine = db.create_engine(settings)
        sessions = db.session_factory(engine)

        test_level = allows_test_level(settings)
        noted_test_sites: set[str] = set()

        async def by_sitekey(sitekey: str) -> SiteInfo | None:
            async with sessions() as session:
                site = await site_service.get_by_sitekey(session, sitekey=sitekey)
                info, quota = None, ""
                if site is not None:
                    suspended, quota = await edge_flags(session, settings.plans, site.org_id)
                    rules = await ip_rule_service.edge_rules(session, site=site, now=db.utcnow())
                    info = site_info(site, suspended=suspended, ip_rules=rules)
            if info is not None and quota:
                info = dataclasses.replace(info, quota=quota)
            if info is not None and info.security_level == TEST_LEVEL:
                _note_test_site(info, test_level, noted_test_sites)
            return info

        async def by_digest(digest: str) -> SiteInfo | None:
            async with sessions() as session:
                found = await site_service.get_by_secret_digest(
                    session, digest=digest, now=db.utcnow()
                )
                # Inactive and suspended sites are returned too; the protocol checks them.
                if found is None:
                    return None
                suspended = await site_service.org_suspended(session, org_id=found[0].org_id)
                return site_info(found[0], suspended=suspended)

        ttl = settings.protocol.site_cache_ttl_seconds
        sites = SiteCache(by_sitekey=by_sitekey, by_secret_digest=by_digest, ttl=ttl)
        blobs = create_blob_store(settings, keyring)
        aliases = (
            BlobAliases(keyring, settings.blobs.public_url) if settings.pools.alias_urls else None
        )
        pools = ChallengePools(
            blobs,
            settings.pools,
            url_ttl_seconds=settings.blobs.url_ttl_seconds,
            aliases=aliases,
        )
        registry = default_registry(pools)
        policy = Policy(
            settings.policy,
            registry,
            max_pow_bits=settings.protocol.max_pow_bits,
            max_pow_count=settings.protocol.max_pow_count,
        )
        scorer = build_risk_engine(settings)
        attack = AttackMonitor(refresh_seconds=settings.risk.attack.refresh_seconds)
        counters = CounterBuffer()
        metrics = Metrics()
        export_edge_state(metrics, counters, attack)
        protocol = ProtocolService(
            settings=settings,
            keyring=keyring,
            store=store,
            sites=sites,
            registry=registry,
            policy=policy,
            scorer=scorer,
            counters=counters,
            metrics=metrics,
            pepper=pepper,
            attack=attack,
            resources={"blobs": blobs, "pools": pools},
        )
        return cls(
            settings=settings,
            keyring=keyring,
            pepper=pepper,
            store=store,
            engine=engine,
            sessions=sessions,
            sites=sites,
            registry=registry,
            policy=policy,
            scorer=scorer,
            attack=attack,
            counters=counters,
            metrics=metrics,
            protocol=protocol,
            owns_store=owns_store,
            blobs=blobs,
            pools=pools,
            aliases=aliases,
        )

    def resources(self) -> dict[str, Any]:
        """What a job may use: it opens its own sessions through the same providers as HTTP."""
        return {
            "store": self.store,
            "sessions": self.sessions,
            "runtime": self,
            "blobs": self.blobs,
            "pools": self.pools,
        }

    def job_runner(self, *, start_worker: bool) -> JobRunner:
        load_jobs()
        return create_runner(
            self.settings, job_registry, self.resources(), start_worker=start_worker
        )

    async def start(self, *, jobs: bool = True) -> None:
        """Migrate (when asked), start counter flushing, invalidation and, unless ``jobs`` is
        False, the job runner: in-process jobs run here; on Redis this process only enqueues
        and ``haechi worker`` processes work them off."""
        if self.settings.db.auto_migrate:
            await db.migrate(self.settings.database_url)
        self._restore_memory_store()
        with contextlib.suppress(StoreUnavailable):  # else learnt by the watcher or a spend
            await self.store.sync_epoch()
        if jobs:
            self.jobs = self.job_runner(start_worker=False)
            await self.jobs.start()
        self._stop.clear()
        interval = self.settings.store.counter_flush_seconds
        self._tasks.append(asyncio.create_task(self.counters.run(self.store, interval, self._stop)))
        if self.pools is not None and self.settings.role != "platform":
            # Pools load before the first request; a missing pool only makes its type unusable.
            await self.pools.refresh()
            self._tasks.append(asyncio.create_task(self.pools.run(self._stop)))
            await self._stock_pools()
        self._tasks.append(asyncio.create_task(self.attack.run(self.store, interval, self._stop)))
        if self.settings.role != "edge":
            # What the workers' jobs left in SQL (roll-up, outbox, charges), for /metrics.
            from haechi.platform.gauges import PlatformGauges

            gauges = PlatformGauges()
            gauges.export(self.metrics)
            self._tasks.append(asyncio.create_task(gauges.run(self.sessions, self._stop)))
        if self.settings.role != "platform":
            await self.scorer.warm_up()
        subscribe = getattr(self.store, "subscribe", None)
        if subscribe is not None:
            self._tasks.append(asyncio.create_task(self._listen_invalidations(subscribe)))
        if not isinstance(self.store, MemoryStore):
            self._tasks.append(asyncio.create_task(self._watch_epoch()))

    async def _watch_epoch(self) -> None:
        """Keep ``store.epoch`` current, so that challenges issued soon after the shared store
        lost its state carry its new epoch (each spend learns it too, in its own round trip)."""
        while not self._stop.is_set():
            with contextlib.suppress(StoreUnavailable):
                await self.store.sync_epoch()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=EPOCH_CHECK_SECONDS)

    def offered_types(self) -> list[str]:
        """Visual types a plan may use right now (test-only types left out)."""
        enabled = self.settings.policy.enabled_test_types
        return [n for n in self.registry.names() if self.registry.usable(n, enabled)]

    async def _stock_pools(self) -> None:
        """Say which types are offered, and start the starter-pool build (``pool.maintain``)
        at once rather than a minute after start."""
        from haechi.challenges.pool import uses_pool

        pooled = [n for n in self.registry.names() if uses_pool(self.registry.get(n))]
        missing = [n for n in pooled if self.pools is not None and not self.pools.ready(n)]
        offered = ", ".join(self.offered_types()) or "none (proof-of-work only)"
        starter = self.settings.pools.starter and self.jobs is not None
        if missing and starter:
            log.info(
                "challenge types offered: %s; building starter pools in the background: %s",
                offered,
                ", ".join(missing),
            )
        elif missing:
            log.info(
                "challenge types offered: %s; not offered until their pools are built: %s "
                "(haechi challenges build-pool)",
                offered,
                ", ".join(missing),
            )
        else:
            log.info("challenge types offered: %s", offered)
        if starter and self.jobs is not None:
            try:
                await self.jobs.enqueue("pool.maintain")
            except Exception:
                log.warning("could not start the pool.maintain job", exc_info=True)

    @property
    def _snapshot_path(self) -> Path:
        return self.settings.data_dir / SNAPSHOT_FILE

    def _restore_memory_store(self) -> None:
        if not (self.owns_store and isinstance(self.store, MemoryStore)):
            return
        path = self._snapshot_path
        if path.exists():
            data = path.read_bytes()
            # Gone before it is used: a process that dies after this start must come back with a
            # new epoch, never with this older state (whatever it spends from now on is not in it).
            path.unlink()
            try:
                count = self.store.load(data)
                log.info("restored the in-process store", extra={"entries": count})
            except (ValueError, KeyError, TypeError):
                log.warning("ignored an unreadable store snapshot", exc_info=True)

    def _snapshot_memory_store(self) -> None:
        """Embedded mode: keep spent ids and unflushed counts across a graceful restart."""
        if not (self.owns_store and isinstance(self.store, MemoryStore)):
            return
        private_dir(self.settings.data_dir)
        write_private_bytes(self._snapshot_path, self.store.dump())

    async def _listen_invalidations(self, subscribe: Any) -> None:
        while not self._stop.is_set():
            try:
                async for message in subscribe(INVALIDATE_CHANNEL):
                    self.sites.invalidate(message.decode() or None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("invalidation listener failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def invalidate_site(self, sitekey: str | None) -> None:
        """Forget a changed site here and in every other process sharing the store."""
        self.sites.invalidate(sitekey)
        with contextlib.suppress(Exception):
            await self.store.publish(INVALIDATE_CHANNEL, (sitekey or "").encode())

    async def ready(self) -> dict[str, bool]:
        return {"store": await self.store.ping(), "database": await db.ping(self.engine)}

    async def close(self) -> None:
        self._stop.set()
        if self.jobs is not None:
            await self.jobs.stop()
            self.jobs = None
        flusher, others = (self._tasks[0], self._tasks[1:]) if self._tasks else (None, [])
        for task in others:
            task.cancel()
        if flusher is not None:
            # The flusher ends on its own after a final flush: counts are never dropped.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(flusher, timeout=5.0)
        for task in others:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.scorer.close()
        self._snapshot_memory_store()
        if self.owns_store:
            await self.store.close()
        if self.blobs is not None:
            await self.blobs.close()
        await self.engine.dispose()
