"""Load through the edge on a private Redis (AOF, appendfsync always, as docs/operations.md
configures it) and PostgreSQL, with the roll-up crashed three times and Redis killed and
restarted once: SQL's verify count equals the tokens the load saw verified, exactly.
``HAECHI_USAGE_LOAD_SECONDS`` sets the load's length (8 s here; ``make usage-exact`` runs 60)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from haechi.core.settings import PlanBand, PolicySettings
from haechi.core.store.redis import RedisStore
from haechi.platform.usage import rollup
from haechi.platform.usage.models import UsageDaily, UsageHourly
from tests.conftest import POSTGRES_URL, _create_database, _drop_database, unavailable, unique
from tests.integration.conftest import edge_settings, start_edge
from tests.integration.test_store_loss_redis import Load

pytestmark = pytest.mark.integration

SECONDS = float(os.environ.get("HAECHI_USAGE_LOAD_SECONDS", "8"))


class AofRedis:
    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", FileNotFoundError("redis-server"))
            return
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.workdir), "--save", "", "--appendonly", "yes"]
        args += ["--appendfsync", "always", "--maxmemory-policy", "noeviction"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # SIGKILL: no shutdown save, only what the AOF has
            self.proc.wait()
            self.proc = None


class Crash(Exception):
    pass


async def roll_up_with_faults(
    store: RedisStore, sessions: Any, redis: AofRedis, events: list[str]
) -> None:
    """Roll up every SECONDS / 12 for SECONDS: crash after three steps in turn, and kill and
    restart Redis halfway."""
    crashes = iter(("applied", "committed", "sealed"))
    step: str | None = next(crashes)
    deadline = time.monotonic() + SECONDS
    restarted = False
    while time.monotonic() < deadline:
        await asyncio.sleep(SECONDS / 12)
        if not restarted and time.monotonic() > deadline - SECONDS / 2:
            await asyncio.to_thread(redis.kill)
            await asyncio.to_thread(redis.start)
            events.append("redis restarted")
            restarted = True

        def fault(name: str, crash_at: str | None = step) -> None:
            if name == crash_at:
                raise Crash(name)

        try:
            await rollup.roll_up(store=store, sessions=sessions, fault=fault)
        except Crash as crash:
            events.append(f"crashed after {crash}")
            step = next(crashes, None)
        except Exception as error:  # Redis down: the next run finishes the flush
            events.append(f"failed: {type(error).__name__}")


async def test_sql_totals_equal_verified_tokens(tmp_path: Path) -> None:
    redis = AofRedis(tmp_path)
    redis.start()
    name = unique("haechi_usage")
    try:
        url = await _create_database(POSTGRES_URL, name)
    except Exception as error:
        redis.kill()
        unavailable("postgres", error)
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{redis.port}/0", socket_timeout=1.0, pool_timeout=1.0
    )
    policy = PolicySettings(bands=[PlanBand(max_risk=100, pow_bits=6, pow_count=2)])
    settings = edge_settings(tmp_path, url, policy=policy, db={"url": url, "auto_migrate": True})
    try:
        async for edge in start_edge(settings, store):
            site = await edge.create_site()
            load = Load(edge, site.sitekey, site.secret)
            workers = [asyncio.create_task(load.worker()) for _ in range(4)]
            sessions = edge.runtime.sessions
            events: list[str] = []

            await roll_up_with_faults(store, sessions, redis, events)
            load.stop.set()
            await asyncio.gather(*workers)
            await edge.runtime.counters.flush(store)
            await rollup.roll_up(store=store, sessions=sessions)
            async with sessions() as db:
                hourly = await db.scalar(
                    sa.select(sa.func.sum(UsageHourly.count)).where(
                        UsageHourly.sitekey == site.sitekey, UsageHourly.event == "verifies"
                    )
                )
                daily = await db.scalar(
                    sa.select(sa.func.sum(UsageDaily.count)).where(
                        UsageDaily.sitekey == site.sitekey, UsageDaily.event == "verifies"
                    )
                )
            print(
                f"usage exact: {load.verified} tokens verified in {SECONDS:.0f} s, SQL "
                f"{hourly} hourly / {daily} daily; {events}"
            )
            assert sum(e.startswith("crashed") for e in events) == 3, events
            assert "redis restarted" in events
            assert load.verified >= 20, load.outcomes
            assert hourly == daily == load.verified
    finally:
        await store.close()
        redis.kill()
        await _drop_database(POSTGRES_URL, name)
