"""Runtime wiring: cache invalidation across processes, jobs, settings safety."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from haechi.core.jobs import InProcessRunner
from haechi.core.settings import Settings
from haechi.core.store.redis import RedisStore
from haechi.runtime import Runtime

from ..conftest import REDIS_URL, unavailable, unique
from .conftest import edge_settings, start_edge


async def test_site_changes_reach_other_replicas_through_redis(tmp_path: Path) -> None:
    """Two runtimes share SQLite and Redis: a rotation in one invalidates the other's cache."""
    prefix = unique("haechi_inv") + ":"
    stores = [RedisStore.from_url(REDIS_URL, key_prefix=prefix) for _ in range(2)]
    if not await stores[0].ping():
        unavailable("Redis", ConnectionError(REDIS_URL))
    settings = edge_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")
    # Long TTL: only the explicit invalidation can make the second replica notice.
    settings.protocol.site_cache_ttl_seconds = 3600
    a_iter, b_iter = start_edge(settings, stores[0]), start_edge(settings, stores[1])
    a, b = await a_iter.__anext__(), await b_iter.__anext__()
    try:
        site = await a.create_site()
        token = await b.token(site.sitekey)
        assert (await b.verify(secret=site.secret, response=token))["success"]
        before = await a.runtime.sites.get_by_sitekey(site.sitekey)  # cached in replica a
        assert before is not None and before.security_level == "medium"
        await asyncio.sleep(0.2)  # let both listeners subscribe
        await b.set_security_level(site.sitekey, "strict")  # publishes an invalidation
        for _ in range(50):
            cached = await a.runtime.sites.get_by_sitekey(site.sitekey)
            if cached is not None and cached.security_level == "strict":
                break
            await asyncio.sleep(0.05)
        assert cached is not None and cached.security_level == "strict"
    finally:
        for it in (a_iter, b_iter):
            with pytest.raises(StopAsyncIteration):
                await it.__anext__()
        await stores[0].flush_prefix()
        for s in stores:
            await s.close()


async def test_embedded_runtime_runs_in_process_jobs(tmp_path: Path) -> None:
    from haechi.core.store.memory import MemoryStore

    settings = edge_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'j.db'}")
    runtime = Runtime.build(settings, store=MemoryStore())
    await runtime.start()
    try:
        assert isinstance(runtime.jobs, InProcessRunner)
        assert (await runtime.ready()) == {"store": True, "database": True}
    finally:
        await runtime.close()
    assert runtime.jobs is None


def test_production_refuses_generated_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_ENV", "production")
    with pytest.raises(ValueError, match="HAECHI_KEYS__KEYRING"):
        Settings()
    monkeypatch.setenv("HAECHI_KEYS__KEYRING", '{"k1": "' + "A" * 43 + '"}')
    monkeypatch.setenv("HAECHI_KEYS__ACTIVE", "k1")
    monkeypatch.setenv("HAECHI_KEYS__SECRET_PEPPER", "B" * 43)
    assert Settings().keys.active == "k1"


def test_nested_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAECHI_STORE__URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("HAECHI_TRUSTED_PROXIES", '["10.0.0.0/8"]')
    monkeypatch.setenv("HAECHI_POLICY__BANDS", '[{"max_risk": 100, "pow_bits": 4}]')
    settings = Settings()
    assert settings.store.url.endswith("/3") and not settings.store.is_memory
    assert settings.trusted_networks[0].prefixlen == 8
    assert settings.policy.bands[0].pow_count == 1
    monkeypatch.setenv("HAECHI_POLICY__BANDS", '[{"max_risk": 50, "pow_bits": 4}]')
    with pytest.raises(ValueError, match="max_risk 100"):
        Settings()


async def test_embedded_restart_keeps_spent_tokens_and_counts(tmp_path: Path) -> None:
    """A graceful restart of embedded mode neither reopens a replay nor drops usage counts."""
    settings = edge_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    first = start_edge(settings, None)
    edge = await first.__anext__()
    assert edge.runtime.owns_store
    site = await edge.create_site()
    token = await edge.token(site.sitekey)
    assert (await edge.verify(secret=site.secret, response=token))["success"]
    with pytest.raises(StopAsyncIteration):
        await first.__anext__()
    snapshot = settings.data_dir / "store-snapshot.json"
    assert snapshot.stat().st_mode & 0o777 == 0o600

    second = start_edge(settings, None)
    edge = await second.__anext__()
    try:
        assert not snapshot.exists()
        again = await edge.verify(secret=site.secret, response=token)
        assert again["error-codes"] == ["timeout-or-duplicate"]
        hour = time.strftime("%Y%m%d%H", time.gmtime())
        assert await edge.runtime.store.get_counter(f"usage:{hour}:{site.sitekey}:verifies") == 1
    finally:
        with pytest.raises(StopAsyncIteration):
            await second.__anext__()


async def test_a_server_app_freezes_its_startup_heap_and_collects_less_often(
    tmp_path: Path,
) -> None:
    import gc

    from haechi.app import GC_THRESHOLDS, create_app
    from haechi.core.store.memory import MemoryStore

    settings = edge_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}")
    app = create_app(settings, store=MemoryStore(), freeze_gc=True)
    before = gc.get_threshold()
    try:
        async with app.app.router.lifespan_context(app.app):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
    # The tests' own apps leave the collector as it is.
    plain = create_app(settings, store=MemoryStore())
    async with plain.app.router.lifespan_context(plain.app):
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
