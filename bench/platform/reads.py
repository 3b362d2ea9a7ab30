"""/api reads under a steady 200 requests a second on PostgreSQL: p50/p99 of GET sites list.

    python bench/platform/reads.py [--rate 200] [--seconds 20] [--db postgresql+asyncpg://...]

Starts `haechi serve --role platform` (one worker) on a fresh PostgreSQL database, signs in as
an org owner with 10 sites, then sends GET /api/v1/orgs/{org}/sites open-loop at ``--rate``
(each request at its scheduled time, whether or not earlier ones have answered) and reports the
latency percentiles, counted from the scheduled time. Bar (issue 20): p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

PASSWORD = "bench passphrase 123"


async def admin(url: str, sql: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def load(base: str, rate: int, seconds: int) -> list[float]:
    api = f"{base}/api/v1"
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64)) as http:
        token = (
            await http.post(
                f"{api}/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
            )
        ).json()["access_token"]
        headers = {"authorization": f"Bearer {token}"}
        org = (await http.post(f"{api}/orgs", json={"name": "Bench"}, headers=headers)).json()["id"]
        for i in range(10):
            await http.post(
                f"{api}/orgs/{org}/sites",
                json={"name": f"s{i}", "hostnames": [f"s{i}.example.com"]},
                headers=headers,
            )
        url = f"{api}/orgs/{org}/sites"
        for _ in range(50):  # warm-up
            await http.get(url, headers=headers)
        latencies: list[float] = []
        errors = 0

        async def one(at: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            try:
                reply = await http.get(url, headers=headers)
                errors += reply.status_code != 200
            except httpx.HTTPError:
                errors += 1  # counted at its time: a dropped request is a slow one
            latencies.append(time.perf_counter() - at)

        start = time.perf_counter() + 0.5
        await asyncio.gather(*(one(start + i / rate) for i in range(rate * seconds)))
        if errors:
            print(f"{errors} answers were not 200")
        return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--db", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--port", type=int, default=18098)
    args = parser.parse_args()
    name = f"haechi_bench_{secrets.token_hex(4)}"
    url = make_url(args.db).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(args.db, f'CREATE DATABASE "{name}"'))
    haechi = str(Path(sys.executable).parent / "haechi")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HAECHI_DATA_DIR": tmp,
            "HAECHI_DB__URL": url,
            "HAECHI_LOG__ACCESS": "false",
            "HAECHI_POOLS__STARTER": "false",
            "HAECHI_NEW_PASSWORD": PASSWORD,
        }
        subprocess.run(  # noqa: S603
            [haechi, "users", "create", "--email", "bench@example.com"],
            env=env,
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(  # noqa: S603
            [haechi, "serve", "--role", "platform", "--port", str(args.port)], env=env
        )
        try:
            base = f"http://127.0.0.1:{args.port}"
            for _ in range(120):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            latencies = asyncio.run(load(base, args.rate, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
            asyncio.run(admin(args.db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[int(len(ms) * 0.99) - 1]
    p50, p90 = statistics.median(ms), ms[int(len(ms) * 0.9) - 1]
    print(f"{len(ms)} GET sites at {args.rate}/s for {args.seconds} s:")
    print(f"  p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")
    print("  bar: p99 < 50 ms")
    return 0 if p99 < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
