"""Sign-in under brute force, in process (the platform app over ASGI, embedded defaults).

    python bench/platform/login.py [--attempts 10000] [--timing 1000]

1. ``--attempts`` wrong-password sign-ins against one account, each from another IP: counts the
   answers (401 until the account's budget is spent, then 429), checks there is no 5xx and that
   another account still signs in and the target can still ask for a password reset.
2. ``--timing`` sign-ins each for an unknown address and for the known account with a wrong
   password (limits lifted, production Argon2 parameters): the medians must be within 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from haechi.app import create_app
from haechi.core.settings import Settings
from haechi.core.store.memory import MemoryStore
from haechi.runtime import Runtime

PASSWORD = "the right passphrase"


def settings(data: Path, **platform: object) -> Settings:
    return Settings(
        env="test",
        data_dir=data,
        trusted_proxies=["127.0.0.1/32"],
        log={"access": False},
        platform={"secure_cookies": False, **platform},
    )


async def client(cfg: Settings) -> tuple[Runtime, httpx.AsyncClient]:
    runtime = Runtime.build(cfg, store=MemoryStore())
    await runtime.start(jobs=False)
    app = create_app(cfg, runtime=runtime)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    return runtime, httpx.AsyncClient(transport=transport, base_url="http://bench.test")


async def signup(http: httpx.AsyncClient, runtime: Runtime, email: str) -> None:
    from haechi.core.db import utcnow
    from haechi.platform.accounts import service
    from haechi.platform.accounts.schemas import UserCreate

    async with runtime.sessions() as db:
        data = UserCreate(email=email, password=PASSWORD)
        user = await service.create(db, data=data, settings=runtime.settings, jobs=None)
        user.email_verified_at = utcnow()
        await db.commit()


def login(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password}


def ip() -> str:
    return f"203.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


async def brute_force(attempts: int, folder: Path) -> bool:
    runtime, http = await client(settings(folder / "a"))
    try:
        await signup(http, runtime, "target@example.com")
        await signup(http, runtime, "bystander@example.com")
        answers: Counter[int] = Counter()
        started = time.perf_counter()
        for _ in range(attempts):
            reply = await http.post(
                "/api/v1/auth/login",
                json=login("target@example.com", "wrong guess 123"),
                headers={"x-forwarded-for": ip()},
            )
            answers[reply.status_code] += 1
        elapsed = time.perf_counter() - started
        other = await http.post("/api/v1/auth/login", json=login("bystander@example.com", PASSWORD))
        reset = await http.post(
            "/api/v1/accounts/password-reset", json={"email": "target@example.com"}
        )
        right = await http.post("/api/v1/auth/login", json=login("target@example.com", PASSWORD))
        print(f"{attempts} wrong sign-ins from random IPs in {elapsed:.1f} s: {dict(answers)}")
        print(
            f"  another account signs in: {other.status_code}; target's reset: {reset.status_code}"
        )
        print(
            f"  target with the right password while locked: {right.status_code} (429 = back-off)"
        )
        return (
            not any(code >= 500 for code in answers)
            and other.status_code == 200
            and reset.status_code == 202
        )
    finally:
        await http.aclose()
        await runtime.close()


async def timing(count: int, folder: Path) -> bool:
    lifted = {"login_per_account": 10**9, "login_per_ip": 10**9}
    runtime, http = await client(settings(folder / "t", **lifted))
    try:
        await signup(http, runtime, "known@example.com")
        samples: dict[str, list[float]] = {"unknown": [], "known-wrong": []}
        for i in range(count):
            for kind, email in (
                ("unknown", f"ghost{i}@example.com"),
                ("known-wrong", "known@example.com"),
            ):
                started = time.perf_counter()
                reply = await http.post("/api/v1/auth/login", json=login(email, "wrong guess 123"))
                samples[kind].append(time.perf_counter() - started)
                assert reply.status_code == 401, reply.text
        unknown = statistics.median(samples["unknown"]) * 1000
        known = statistics.median(samples["known-wrong"]) * 1000
        gap = abs(unknown - known) / known
        print(
            f"median of {count} each: unknown {unknown:.1f} ms, known with a wrong password "
            f"{known:.1f} ms: {gap:.1%} apart (bar: 5 %)"
        )
        return gap <= 0.05
    finally:
        await http.aclose()
        await runtime.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--timing", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = await brute_force(args.attempts, Path(tmp))
        if args.timing:
            ok = await timing(args.timing, Path(tmp)) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
