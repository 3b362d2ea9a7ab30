"""Redis restarted without persistence in the middle of a load: no token and no challenge is
accepted twice across the restart (a private redis-server started here, never the shared one)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from haechi.core.settings import PlanBand, PolicySettings
from haechi.core.store.redis import RedisStore
from tests.conftest import unavailable
from tests.integration.conftest import Edge, edge_settings, start_edge

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """redis-server on a free loopback port, without persistence, restartable."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", FileNotFoundError("redis-server"))
            return
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        # No RDB snapshots, no append-only file: a restart comes back empty.
        args += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # no shutdown save: everything in memory is gone
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class Load:
    """Workers running whole CAPTCHAs (challenge, solve, verify) and keeping what they saw."""

    def __init__(self, edge: Edge, sitekey: str, secret: str) -> None:
        self.edge, self.sitekey, self.secret = edge, sitekey, secret
        self.challenges: list[dict[str, object]] = []  # every challenge a solve was tried on
        self.issued: list[str] = []  # every token
        self.verified = 0  # tokens verified once
        self.outcomes: Counter[str] = Counter()
        self.stop = asyncio.Event()

    async def worker(self) -> None:
        while not self.stop.is_set():
            reply = await self.edge.challenge(self.sitekey)
            if reply.status_code != 200:  # the store is down: 503
                self.outcomes[f"challenge:{reply.status_code}"] += 1
                await asyncio.sleep(0.01)
                continue
            challenge = reply.json()
            self.challenges.append(challenge)
            solved = await self.edge.solve(challenge)
            outcome = solved.json().get("outcome") or f"solve:{solved.status_code}"
            self.outcomes[outcome if outcome != "fail" else solved.json()["code"]] += 1
            if outcome != "token":
                continue
            token = solved.json()["token"]
            self.issued.append(token)
            body = await self.edge.verify(secret=self.secret, response=token)
            self.verified += body["success"] is True


async def test_redis_restart_mid_load_accepts_nothing_twice(
    redis_server: PrivateRedis, tmp_path: Path
) -> None:
    store = RedisStore.from_url(redis_server.url, socket_timeout=1.0, pool_timeout=1.0)
    url = f"sqlite+aiosqlite:///{tmp_path / 'loss.db'}"
    # Proof-of-work only, whatever the risk: every solve that reaches the store gets a token.
    policy = PolicySettings(bands=[PlanBand(max_risk=100, pow_bits=6, pow_count=2)])
    async for edge in start_edge(edge_settings(tmp_path, url, policy=policy), store):
        site = await edge.create_site()
        load = Load(edge, site.sitekey, site.secret)
        workers = [asyncio.create_task(load.worker()) for _ in range(4)]
        await asyncio.sleep(1.5)
        before = load.verified
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)
        await asyncio.sleep(1.5)
        load.stop.set()
        await asyncio.gather(*workers)
        after = load.verified - before
        assert before >= 10 and after >= 10, (before, after, load.outcomes)

        again = 0
        for token in load.issued:
            body = await edge.verify(secret=site.secret, response=token)
            again += body["success"] is True
        solved = 0
        for challenge in load.challenges:
            reply = await edge.solve(challenge)
            solved += reply.json().get("outcome") == "token"
        print(
            f"redis restart: {before} tokens verified before, {after} after "
            f"({dict(load.outcomes)}); replayed {len(load.issued)} tokens: {again} accepted, "
            f"{len(load.challenges)} challenges: {solved} solved"
        )
        assert again == 0 and solved == 0
