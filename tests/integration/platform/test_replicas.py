"""Two replicas on one PostgreSQL and one Redis: revocation on one reaches the other at once
(the denylist lives in the shared store; each request reads it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from haechi.app import create_app
from haechi.core.store.redis import RedisStore
from haechi.runtime import Runtime
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    _create_database,
    _drop_database,
    unavailable,
    unique,
)
from tests.integration.platform.conftest import CLIENT, platform_settings
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration
CSRF = {"x-haechi-csrf": "1"}


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Api, Api]]:
    name = unique("haechi_replicas")
    try:
        url = await _create_database(POSTGRES_URL, name)
    except Exception as error:
        unavailable("postgres", error)
    prefix = unique("haechi_test") + ":"
    apis: list[Api] = []
    runtimes: list[Runtime] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for i in range(2):
            store = RedisStore.from_url(REDIS_URL, key_prefix=prefix)
            if not await store.ping():
                unavailable("Redis", ConnectionError(REDIS_URL))
            # Same keys for both (as replicas share HAECHI_KEYS__*): one data dir.
            settings = platform_settings(tmp_path / "data", url, role="platform")
            runtime = Runtime.build(settings, store=store)
            await runtime.start(jobs=False)
            runtimes.append(runtime)
            app = create_app(settings, runtime=runtime)
            app.state.runtime = runtime
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=CLIENT),
                base_url=f"http://replica{i}.test",
            )
            clients.append(client)
            apis.append(Api(runtime, client))
        yield apis[0], apis[1]
    finally:
        for client in clients:
            await client.aclose()
        for runtime in runtimes:
            await runtime.close()
            await runtime.store.close()
        if runtimes:
            cleanup = RedisStore.from_url(REDIS_URL, key_prefix=prefix)
            await cleanup.flush_prefix()
            await cleanup.close()
        await _drop_database(POSTGRES_URL, name)


async def test_sign_out_everywhere_reaches_the_other_replica(replicas: tuple[Api, Api]) -> None:
    a, b = replicas
    token = await a.user("replicated@example.com")
    assert (await b.call("GET", "/me", token=token)).status_code == 200
    await a.ok("POST", "/auth/logout-all", token=token, headers=CSRF)
    stolen = await b.call("GET", "/me", token=token)
    assert stolen.status_code == 401 and stolen.json()["code"] == "session-ended"


async def test_one_session_ended_on_one_replica_is_ended_on_the_other(
    replicas: tuple[Api, Api],
) -> None:
    a, b = replicas
    first = await a.user("two@example.com")
    second = await b.login("two@example.com")
    sid = next(
        s["id"] for s in (await b.ok("GET", "/me/sessions", token=second))["data"] if s["current"]
    )
    await a.ok("DELETE", f"/me/sessions/{sid}", token=first)
    assert (await b.call("GET", "/me", token=second)).status_code == 401
    assert (await b.call("GET", "/me", token=first)).status_code == 200
