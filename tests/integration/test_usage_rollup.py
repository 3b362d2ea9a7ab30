"""The usage roll-up loses and doubles nothing: a crash after every step, a replayed flush, two
runs at once, on the embedded store + SQLite and on Redis + PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from haechi.core.db import create_engine, migrate, session_factory
from haechi.core.store import Store
from haechi.platform.usage import rollup
from haechi.platform.usage.models import UsageDaily, UsageFlush, UsageHourly
from haechi.protocol.usage import usage_key
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    _create_database,
    _drop_database,
    unavailable,
    unique,
)

pytestmark = pytest.mark.integration

STEPS = ("moved", "sealed", "read", "applied", "committed", "deleted")
# 2026-12-07 10:xx and 11:xx UTC, and the next day.
T0 = datetime(2026, 12, 7, 10, 15, tzinfo=UTC).timestamp()


class Crash(Exception):
    """Stands for the process dying at a step."""


@dataclass
class Backends:
    store: Store
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(params=["memory+sqlite", "redis+postgres"])
async def backends(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backends]:
    store: Store
    if request.param == "memory+sqlite":
        from haechi.core.store.memory import MemoryStore

        store = MemoryStore()
        url = f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}"
        server = name = ""
    else:
        from haechi.core.store.redis import RedisStore

        store = RedisStore.from_url(REDIS_URL, key_prefix=unique("haechi_test") + ":")
        if not await store.ping():
            unavailable("Redis", ConnectionError(REDIS_URL))
        server, name = POSTGRES_URL, unique("haechi_usage")
        try:
            url = await _create_database(server, name)
        except Exception as error:
            unavailable("postgres", error)
    await migrate(url)
    engine = create_engine(url)
    try:
        yield Backends(store=store, sessions=session_factory(engine))
    finally:
        await engine.dispose()
        if hasattr(store, "flush_prefix"):
            await store.flush_prefix()
        await store.close()
        if name:
            await _drop_database(server, name)


async def count(b: Backends, n: int, *, sitekey: str = "sk_a", at: float = T0) -> None:
    """What the edge's CounterBuffer sends: n challenges, n solves, n // 2 verifies."""
    await b.store.incr_many(
        {
            usage_key(sitekey, "challenges", at): n,
            usage_key(sitekey, "solves", at): n,
            usage_key(sitekey, "verifies", at): n // 2,
        }
    )


async def totals(b: Backends, model: type[UsageHourly] | type[UsageDaily]) -> dict[str, int]:
    async with b.sessions() as db:
        rows = await db.execute(
            sa.select(model.event, sa.func.sum(model.count))
            .where(model.sitekey != rollup.ALL_SITES, ~model.sitekey.startswith(rollup.ORG_PREFIX))
            .group_by(model.event)
        )
        return {event: int(total) for event, total in rows.all()}


async def left_in_store(b: Backends) -> dict[str, int]:
    return {
        **await b.store.peek_counters("usage:"),
        **await b.store.peek_counters(rollup.FLUSH_PREFIX),
    }


def crash_at(step: str) -> rollup.Fault:
    def fault(name: str) -> None:
        if name == step:
            raise Crash(step)

    return fault


async def test_rolls_up_per_hour_and_per_day(backends: Backends) -> None:
    await count(backends, 10, at=T0)
    await count(backends, 4, at=T0 + 3600)  # the next hour
    await count(backends, 6, sitekey="sk_b", at=T0 + 86400)  # the next day
    result = await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    assert result.flushes == 1 and result.total == 10 + 10 + 5 + 4 + 4 + 2 + 6 + 6 + 3
    async with backends.sessions() as db:
        hourly = {
            (r.sitekey, r.hour, r.event): r.count
            for r in (await db.execute(sa.select(UsageHourly))).scalars()
        }
        daily = {
            (r.sitekey, r.day, r.event): r.count
            for r in (await db.execute(sa.select(UsageDaily))).scalars()
        }
    h10 = datetime(2026, 12, 7, 10, tzinfo=UTC)
    h11 = datetime(2026, 12, 7, 11, tzinfo=UTC)
    assert hourly[("sk_a", h10, "challenges")] == 10
    assert hourly[("sk_a", h11, "verifies")] == 2
    assert hourly[("sk_b", datetime(2026, 12, 8, 10, tzinfo=UTC), "solves")] == 6
    assert daily[("sk_a", date(2026, 12, 7), "challenges")] == 14
    assert daily[("sk_b", date(2026, 12, 8), "verifies")] == 3
    # beside each site's rows, the all-sites aggregate (no Site rows here: no org aggregate)
    everything = {k: n for k, n in hourly.items() if k[0] == rollup.ALL_SITES}
    assert everything[(rollup.ALL_SITES, h10, "challenges")] == 10
    assert sum(everything.values()) == result.total
    hourly = {k: n for k, n in hourly.items() if k[0] != rollup.ALL_SITES}
    daily = {k: n for k, n in daily.items() if k[0] != rollup.ALL_SITES}
    assert len(hourly) == 9 and len(daily) == 6
    assert await left_in_store(backends) == {}
    # More counts later add to the same rows.
    await count(backends, 1, at=T0)
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    assert (await totals(backends, UsageHourly))["challenges"] == 10 + 4 + 6 + 1


@pytest.mark.parametrize("step", STEPS)
async def test_a_crash_after_any_step_loses_and_doubles_nothing(
    backends: Backends, step: str
) -> None:
    await count(backends, 100)
    with pytest.raises(Crash):
        await rollup.roll_up(store=backends.store, sessions=backends.sessions, fault=crash_at(step))
    # The edge keeps counting while the job is down.
    await count(backends, 20, at=T0 + 60)
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    expected = {"challenges": 120, "solves": 120, "verifies": 60}
    assert await totals(backends, UsageHourly) == expected
    assert await totals(backends, UsageDaily) == expected
    assert await left_in_store(backends) == {}
    # Running again changes nothing.
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    assert await totals(backends, UsageHourly) == expected


async def test_a_crash_at_every_step_in_turn(backends: Backends) -> None:
    for i, step in enumerate(STEPS):
        await count(backends, 10 + i)
        with pytest.raises(Crash):
            await rollup.roll_up(
                store=backends.store, sessions=backends.sessions, fault=crash_at(step)
            )
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    n = sum(10 + i for i in range(len(STEPS)))
    assert await totals(backends, UsageDaily) == {
        "challenges": n,
        "solves": n,
        "verifies": sum((10 + i) // 2 for i in range(len(STEPS))),
    }


async def test_a_replayed_flush_is_applied_once(backends: Backends) -> None:
    counts = {usage_key("sk_a", "verifies", T0): 7}
    for _ in range(2):
        async with backends.sessions() as db:
            await rollup.apply_flush(db, flush_id="f" * 32, counts=counts)
            await db.commit()
    assert await totals(backends, UsageHourly) == {"verifies": 7}
    async with backends.sessions() as db:
        assert await db.scalar(sa.select(sa.func.count()).select_from(UsageFlush)) == 1


async def test_concurrent_runs_lose_and_double_nothing(backends: Backends) -> None:
    expected = 0

    async def edge() -> None:
        nonlocal expected
        for i in range(30):
            await backends.store.incr_many({usage_key(f"sk_{i % 3}", "verifies", T0): 3})
            expected += 3
            await asyncio.sleep(0)

    async def worker() -> None:
        for _ in range(8):
            await rollup.roll_up(store=backends.store, sessions=backends.sessions)
            await asyncio.sleep(0)

    await asyncio.gather(edge(), worker(), worker(), worker())
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    assert await totals(backends, UsageHourly) == {"verifies": expected}
    assert await left_in_store(backends) == {}


async def test_prune_keeps_daily_rows_longer(backends: Backends) -> None:
    now = time.time()
    await count(backends, 2, at=now - 10 * 86400)
    await count(backends, 2, at=now)
    await rollup.roll_up(store=backends.store, sessions=backends.sessions)
    async with backends.sessions() as db:
        await rollup.prune(db, hourly_days=5, daily_days=32)
        await db.commit()
    assert await totals(backends, UsageHourly) == {"challenges": 2, "solves": 2, "verifies": 1}
    assert await totals(backends, UsageDaily) == {"challenges": 4, "solves": 4, "verifies": 2}


KILL_SCRIPT = """
import asyncio, os, sys
from haechi.core.db import create_engine, session_factory
from haechi.core.store.redis import RedisStore
from haechi.platform.usage import rollup

def fault(name):
    if name == sys.argv[4]:
        os._exit(137)

async def main():
    store = RedisStore.from_url(sys.argv[1], key_prefix=sys.argv[2])
    engine = create_engine(sys.argv[3])
    await rollup.roll_up(store=store, sessions=session_factory(engine), fault=fault)

asyncio.run(main())
"""


async def test_a_killed_process_loses_and_doubles_nothing() -> None:
    """The roll-up in its own process, killed (os._exit) after each step in turn while the edge
    keeps counting, on Redis + PostgreSQL; then one clean run."""
    import sys

    from haechi.core.store.redis import RedisStore

    prefix = unique("haechi_test") + ":"
    store = RedisStore.from_url(REDIS_URL, key_prefix=prefix)
    if not await store.ping():
        unavailable("Redis", ConnectionError(REDIS_URL))
    name = unique("haechi_usage")
    try:
        url = await _create_database(POSTGRES_URL, name)
    except Exception as error:
        unavailable("postgres", error)
    await migrate(url)
    engine = create_engine(url)
    b = Backends(store=store, sessions=session_factory(engine))
    try:
        for i, step in enumerate(STEPS):
            await count(b, 10 + i, at=T0 + 60 * i)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", KILL_SCRIPT, REDIS_URL, prefix, url, step
            )
            assert await proc.wait() == 137
        await rollup.roll_up(store=store, sessions=b.sessions)
        n = sum(10 + i for i in range(len(STEPS)))
        verifies = sum((10 + i) // 2 for i in range(len(STEPS)))
        expected = {"challenges": n, "solves": n, "verifies": verifies}
        assert await totals(b, UsageHourly) == expected
        assert await totals(b, UsageDaily) == expected
        assert await left_in_store(b) == {}
    finally:
        await engine.dispose()
        await store.flush_prefix()
        await store.close()
        await _drop_database(POSTGRES_URL, name)


async def test_redis_killed_and_restarted_as_documented_loses_nothing(tmp_path: Path) -> None:
    """A private Redis with ``appendonly yes`` + ``appendfsync always`` (docs/operations.md),
    killed (SIGKILL, no shutdown save) between a roll-up's read and its commit, and restarted."""
    import shutil
    import socket
    import subprocess

    from haechi.core.store.redis import RedisStore

    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server", FileNotFoundError("redis-server"))
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    proc = start()
    name = unique("haechi_usage")
    try:
        url = await _create_database(POSTGRES_URL, name)
    except Exception as error:
        proc.kill()
        unavailable("postgres", error)
    await migrate(url)
    engine = create_engine(url)
    redis_url = f"redis://127.0.0.1:{port}/0"
    store = RedisStore.from_url(redis_url, key_prefix="haechi:")
    b = Backends(store=store, sessions=session_factory(engine))
    try:
        await count(b, 40)
        with pytest.raises(Crash):
            await rollup.roll_up(store=store, sessions=b.sessions, fault=crash_at("applied"))
        await count(b, 8, at=T0 + 60)
        with pytest.raises(Crash):
            await rollup.roll_up(store=store, sessions=b.sessions, fault=crash_at("committed"))
        await count(b, 2, at=T0 + 120)
        proc.kill()
        proc.wait()
        proc = start()
        await store.close()
        b.store = store = RedisStore.from_url(redis_url, key_prefix="haechi:")
        await count(b, 10, at=T0 + 180)
        await rollup.roll_up(store=store, sessions=b.sessions)
        assert await totals(b, UsageHourly) == {
            "challenges": 60,
            "solves": 60,
            "verifies": 20 + 4 + 1 + 5,
        }
        assert await left_in_store(b) == {}
    finally:
        await store.close()
        await engine.dispose()
        proc.kill()
        proc.wait()
        await _drop_database(POSTGRES_URL, name)
