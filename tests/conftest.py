"""Shared fixtures: real backends on loopback, parametrised so one test body runs on each.

Set HAECHI_TEST_REQUIRE_SERVICES=1 (CI does) to turn a missing PostgreSQL, MariaDB or Redis into
a failure instead of a skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("HAECHI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "HAECHI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("HAECHI_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test")
REQUIRE_SERVICES = os.environ.get("HAECHI_TEST_REQUIRE_SERVICES") == "1"
# Starter pools (pool.maintain at start) cost seconds of CPU per runtime: tests, and the servers
# they start, turn them on only where they are tested (integration/test_starter_pools.py).
os.environ.setdefault("HAECHI_POOLS__STARTER", "false")


def unavailable(what: str, error: BaseException) -> None:
    message = (
        f"{what} is not reachable: {error!r} (bash .ci/run installs and starts PostgreSQL, "
        "MariaDB and Redis on loopback: apt-get install postgresql mariadb-server redis-server)"
    )
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


# ---------------------------------------------------------------------------- ephemeral store


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A fresh ephemeral store: in-process, and Redis under a key prefix of its own."""
    if request.param == "memory":
        from haechi.core.store.memory import MemoryStore

        mem = MemoryStore()
        yield mem
        await mem.close()
        return
    from haechi.core.store.redis import RedisStore

    prefix = unique("haechi_test") + ":"
    red = RedisStore.from_url(REDIS_URL, key_prefix=prefix)
    if not await red.ping():
        await red.close()
        unavailable("Redis", ConnectionError(REDIS_URL))
    yield red
    await red.flush_prefix()
    await red.close()


# ---------------------------------------------------------------------------- databases


async def _create_database(server_url: str, name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(server_url)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                await conn.execute(
                    text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                )
    finally:
        await engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(server_url)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a new, empty database on each backend (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'haechi.db'}"
        return
    server = POSTGRES_URL if request.param == "postgres" else MYSQL_URL
    name = unique("haechi_test")
    try:
        url = asyncio.run(_create_database(server, name))
    except Exception as error:
        unavailable(request.param, error)
    yield url
    asyncio.run(_drop_database(server, name))
