"""Platform API fixtures. ``api``: the app on SQLite + memory store and on PostgreSQL + Redis
(and MariaDB), each schema migrated once per test session and every test inside a transaction
that is rolled back (the app's commits release savepoints). Jobs do not run here: mail stays in
the outbox, where the driver reads it. ``live``: a real database and the job runner, for tests
that need mail delivered or the edge to see committed sites."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from haechi.app import create_app
from haechi.core.db import create_engine, migrate
from haechi.core.settings import RateLimitSettings, Settings
from haechi.runtime import Runtime
from tests.conftest import (
    MYSQL_URL,
    POSTGRES_URL,
    REDIS_URL,
    _create_database,
    _drop_database,
    unavailable,
    unique,
)
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration

CLIENT = ("198.51.100.7", 40000)


def platform_settings(data_dir: Path, url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "db": {"url": url, "auto_migrate": True},
        "rate_limit": RateLimitSettings(per_ip=10_000, per_sitekey=10_000),
        "log": {"access": False},
        "platform": {
            "secure_cookies": False,
            "public_url": "https://dash.example.com",
            # Cheap Argon2 in tests (the production profile is measured in bench/).
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            "argon2_parallelism": 1,
        },
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture(scope="session")
async def migrated(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """The URL of a migrated database per backend, created on first use, dropped at the end."""
    created: dict[str, tuple[str, str]] = {}

    async def get(backend: str) -> str:
        if backend not in created:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("platform") / "platform.db"
                url, server, name = f"sqlite+aiosqlite:///{path}", "", ""
            else:
                server = POSTGRES_URL if backend == "postgres" else MYSQL_URL
                name = unique("haechi_platform")
                try:
                    url = await _create_database(server, name)
                except Exception as error:
                    unavailable(backend, error)
            await migrate(url)
            created[backend] = (url, server + "|" + name)
        return created[backend][0]

    yield get
    for backend, (_, where) in created.items():
        if backend != "sqlite":
            server, name = where.split("|")
            await _drop_database(server, name)


async def _store(kind: str) -> Any:
    if kind == "memory":
        from haechi.core.store.memory import MemoryStore

        return MemoryStore()
    from haechi.core.store.redis import RedisStore

    store = RedisStore.from_url(REDIS_URL, key_prefix=unique("haechi_test") + ":")
    if not await store.ping():
        await store.close()
        unavailable("Redis", ConnectionError(REDIS_URL))
    return store


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Runtime, Any]]:
    """One runtime and app per backend for the session (building the app takes ~0.4 s); each
    test gives the runtime its own store and transaction-bound sessions."""
    return {}


@pytest.fixture(params=["sqlite+memory", "postgres+redis", "mysql+memory"])
async def api(
    request: pytest.FixtureRequest,
    migrated: Any,
    built: dict[str, tuple[Runtime, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Api]:
    backend, store_kind = request.param.split("+")
    url = await migrated(backend)
    store = await _store(store_kind)
    if request.param not in built:
        settings = platform_settings(tmp_path_factory.mktemp("data"), url)
        runtime = Runtime.build(settings, store=store)
        app = create_app(settings, runtime=runtime)
        app.state.runtime = runtime
        built[request.param] = (runtime, app)
    runtime, app = built[request.param]
    runtime.store = store
    engine = create_engine(url)
    conn = await engine.connect()
    outer = await conn.begin()
    runtime.sessions = async_sessionmaker(
        bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    transport = httpx.ASGITransport(app=app, client=CLIENT)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://haechi.test") as http:
            yield Api(runtime, http)
    finally:
        await outer.rollback()
        await conn.close()
        await engine.dispose()
        if store_kind == "redis":
            await store.flush_prefix()
        await store.close()
