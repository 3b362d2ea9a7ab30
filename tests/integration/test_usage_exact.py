"""Load through the edge on a private Redis (AOF, appendfsync always, as docs/operations.md
configures it) and PostgreSQL, the site at the test level, with the roll-up job's process
SIGKILLed and restarted three times and Redis killed and restarted once: SQL's verify count
equals the tokens the load saw verified, exactly.
``HAECHI_USAGE_LOAD_SECONDS`` sets the load's length (8 s here; ``make usage-exact`` runs 60)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

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


# The roll-up job as its own process, running back to back until it is killed.
ROLL_UP_LOOP = """
import asyncio, sys
from haechi.core.db import create_engine, session_factory
from haechi.core.store.redis import RedisStore
from haechi.platform.usage import rollup

async def main():
    store = RedisStore.from_url(sys.argv[1], socket_timeout=1.0, pool_timeout=1.0)
    sessions = session_factory(create_engine(sys.argv[2]))
    while True:
        print("begin", flush=True)
        try:
            result = await rollup.roll_up(store=store, sessions=sessions)
            print(f"run {result.flushes} {result.total} {result.replayed}", flush=True)
        except Exception as error:  # Redis down: the next run finishes the flush
            print(f"failed {type(error).__name__}", flush=True)
        await asyncio.sleep(0.05)

asyncio.run(main())
"""


async def roll_up_killed(redis_url: str, db_url: str, redis: AofRedis, events: list[str]) -> None:
    """Run the roll-up job for SECONDS in its own process, SIGKILLed in the middle of a run
    (just after it began one) and restarted three times, with Redis killed and restarted (from
    its AOF) once halfway. Goes on past SECONDS until the third kill."""
    start = time.monotonic()
    kills = [SECONDS * f for f in (0.2, 0.45, 0.8)]
    redis_at = SECONDS * 0.6
    rng = random.Random()

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", ROLL_UP_LOOP, redis_url, db_url,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip

    proc = await spawn()
    assert proc.stdout is not None
    runs = 0
    while kills or time.monotonic() - start < SECONDS:
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=0.2)
        except TimeoutError:
            line = b""
        elapsed = time.monotonic() - start
        runs += line.startswith(b"run ")
        if kills and elapsed > kills[0] and line.startswith(b"begin"):
            kills.pop(0)
            await asyncio.sleep(rng.uniform(0, 0.3))
            proc.kill()  # SIGKILL, somewhere inside the run it just began
            await proc.wait()
            events.append(f"roll-up killed in its run {runs + 1}")
            runs = 0
            proc = await spawn()
            assert proc.stdout is not None
        if redis_at and elapsed > redis_at:
            redis_at = 0.0
            await asyncio.to_thread(redis.kill)
            await asyncio.to_thread(redis.start)
            events.append("redis restarted")
    proc.kill()
    await proc.wait()


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
    # The site at the test level: proof-of-work only, never a task (the hardening issue's
    # friction-free setting), with the first band's work kept light.
    policy = PolicySettings(bands=[PlanBand(max_risk=100, pow_bits=6, pow_count=2)])
    settings = edge_settings(tmp_path, url, policy=policy, db={"url": url, "auto_migrate": True})
    try:
        async for edge in start_edge(settings, store):
            site = await edge.create_site(security_level="test")
            load = Load(edge, site.sitekey, site.secret)
            workers = [asyncio.create_task(load.worker()) for _ in range(4)]
            sessions = edge.runtime.sessions
            events: list[str] = []

            db_url = settings.db.url
            await roll_up_killed(f"redis://127.0.0.1:{redis.port}/0", db_url, redis, events)
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
            record = os.environ.get("HAECHI_USAGE_RECORD")
            if record:  # make usage-exact: the counts for bench/RESULTS.md
                Path(record).parent.mkdir(parents=True, exist_ok=True)
                Path(record).write_text(  # noqa: ASYNC240
                    f"{SECONDS:.0f} s of load: {load.verified} tokens verified by the load"
                    f" generator; SQL usage_hourly {hourly}, usage_daily {daily}; {events}\n"
                )
            assert sum(e.startswith("roll-up killed") for e in events) == 3, events
            assert "redis restarted" in events
            assert load.verified >= 20, load.outcomes
            assert hourly == daily == load.verified
    finally:
        await store.close()
        redis.kill()
        await _drop_database(POSTGRES_URL, name)
