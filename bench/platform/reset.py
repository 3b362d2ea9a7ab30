"""Password-reset requests: does the answer's time tell whether the account exists?

    python bench/platform/reset.py [--count 300] [--inline]

In process (the platform app over ASGI, embedded defaults: SQLite, memory store, the in-process
job runner). ``--count`` requests for existing accounts (each a different one, so the per-address
budget never cuts in) and as many for unknown addresses, interleaved; each answer is timed from
the request to the last byte, and the job runner is let finish before the next request (the
work it does is the same background load for both kinds from the next request's point of view
only if it finishes; an attacker on one connection sees answers, not the runner). The medians
must be within 5 %. ``--inline`` measures the old way (lookup, link and mail inside the request)
for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from haechi.app import create_app
from haechi.core.settings import Settings
from haechi.core.store.memory import MemoryStore
from haechi.runtime import Runtime


async def _idle(runtime: Runtime) -> None:
    runs = getattr(runtime.jobs, "_runs", None)
    while runs:  # noqa: ASYNC110 - a private set of the runner, polled
        await asyncio.sleep(0.001)


async def run(count: int, inline: bool, folder: Path) -> tuple[float, float]:
    cfg = Settings(
        env="test",
        data_dir=folder,
        log={"access": False},
        platform={"secure_cookies": False, "argon2_time_cost": 1, "argon2_memory_kib": 1024},
    )
    runtime = Runtime.build(cfg, store=MemoryStore())
    await runtime.start(jobs=True)
    app = create_app(cfg, runtime=runtime)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    http = httpx.AsyncClient(transport=transport, base_url="http://bench.test")
    from haechi.platform.accounts import service
    from haechi.platform.accounts.schemas import UserCreate

    known = [f"user{i}@example.com" for i in range(count)]
    async with runtime.sessions() as db:
        for email in known:
            data = UserCreate(email=email, password="a long enough passphrase")
            await service.create(db, data=data, settings=cfg, jobs=None, verified=True)
        await db.commit()
    if inline:
        await runtime.jobs.stop()  # type: ignore[union-attr]
        runtime.jobs = None
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    try:
        for i in range(5):  # warm-up
            await http.post("/api/v1/accounts/password-reset", json={"email": f"w{i}@x.example"})
            await _idle(runtime)
        for i in range(count):
            pairs = [("known", known[i]), ("unknown", f"nobody{i}@example.com")]
            if i % 2:
                pairs.reverse()
            for kind, email in pairs:
                start = time.perf_counter()
                reply = await http.post("/api/v1/accounts/password-reset", json={"email": email})
                times[kind].append(time.perf_counter() - start)
                assert reply.status_code == 202, reply.text
                await _idle(runtime)
    finally:
        await http.aclose()
        await runtime.close()
    return statistics.median(times["known"]), statistics.median(times["unknown"])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--inline", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        known, unknown = await run(args.count, args.inline, Path(folder))
    diff = abs(known - unknown) / unknown
    mode = "inline (before)" if args.inline else "job queue"
    print(
        f"{mode}: median known {known * 1000:.2f} ms, unknown {unknown * 1000:.2f} ms, "
        f"difference {diff:.1%} ({args.count} each; load average {os.getloadavg()[0]:.1f})"
    )
    return 0 if diff <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
