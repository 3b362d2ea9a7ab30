"""In-process microbenchmark of the edge: drives Haechi's ASGI app directly, no server, no sockets.

    python bench/protocol/inproc.py                       # µs of CPU per request, every endpoint
    python bench/protocol/inproc.py --redis redis://127.0.0.1:6379/15   # the same on Redis
    python bench/protocol/inproc.py --only solve --profile cumulative   # cProfile one endpoint
    python bench/protocol/inproc.py --n 2000 --rounds 5   # smaller/larger samples

Why: on a shared machine, req/s under wrk moves with other people's jobs. CPU time of the request
path in this process moves much less, so this is the number to compare two builds by while
working on the hot path (``run.py`` then confirms it end to end). The bare number is
``GET /healthz`` through the same app and middleware; the difference is the protocol's own cost.

Every request is a correct one: pre-minted solve bodies (each sent once) and tokens (each
verified once), made by the service's own code before timing; rate limits are raised out of the
way but stay on. Each round uses fresh bodies; the best round is reported (the least disturbed by
other processes). Any non-2xx answer is reported and fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ENDPOINTS = ("bare", "challenge", "challenge_tele", "solve", "siteverify")
TELEMETRY = Path(__file__).resolve().parent / "telemetry-5s.json"
BANDS = [{"max_risk": 100, "pow_bits": 2, "pow_count": 4}]
HIGH = 10**9
Call = tuple[str, str, bytes, bytes]  # method, path, body, content type


def _haechi() -> str:
    found = Path(sys.executable).with_name("haechi")
    return str(found) if found.exists() else "haechi"


def _create_site() -> tuple[str, str]:
    binary = _haechi()
    subprocess.run([binary, "migrate"], check=True, capture_output=True)  # noqa: S603
    out = subprocess.run(  # noqa: S603
        [binary, "sites", "create", "--name", "inproc", "--hostname", "localhost", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    site = json.loads(out)
    return site["sitekey"], site["secret"]


def _log_to_devnull() -> None:
    """Access logging on, as served, written nowhere: its cost is measured, not its I/O."""
    import logging

    from haechi.core import logging as hlog

    hlog.configure("INFO", True)
    logging.getLogger().handlers[0].stream = open(os.devnull, "w")  # noqa: SIM115


async def main(args: argparse.Namespace) -> int:
    data_dir = tempfile.mkdtemp(prefix="haechi-inproc-")
    os.environ["HAECHI_DATA_DIR"] = data_dir
    os.environ["HAECHI_POLICY__BANDS"] = json.dumps(BANDS)
    sitekey, secret = _create_site()

    from haechi.app import create_app
    from haechi.client import solve_pow
    from haechi.core.settings import Settings
    from haechi.core.store.base import Store
    from haechi.core.store.memory import MemoryStore
    from haechi.protocol import messages
    from haechi.runtime import Runtime

    settings = Settings(
        log={"access": args.access_log},
        rate_limit={"per_ip": HIGH, "per_sitekey": HIGH, "siteverify_per_ip": HIGH},
    )
    store: Store
    if args.redis:
        from haechi.core.store.redis import RedisStore

        redis_store = RedisStore.from_url(args.redis, key_prefix="haechi-inproc:")
        await redis_store.flush_prefix()
        store = redis_store
    else:
        store = MemoryStore()
    if args.access_log:
        _log_to_devnull()
    runtime = Runtime.build(settings, store=store)
    app = create_app(settings, runtime=runtime)
    app.state.runtime = runtime
    service = runtime.protocol

    n, rounds = args.n, args.rounds
    wanted = [args.only] if args.only else list(ENDPOINTS)
    challenge_request = messages.parse_challenge({"v": 1, "sitekey": sitekey})
    from haechi.risk.telemetry import to_v2

    async def mint_solves(count: int) -> list[dict[str, Any]]:
        bodies = []
        for _ in range(count):
            challenge = await service.issue(challenge_request, hostname="localhost")
            pow_ = solve_pow(challenge)
            bodies.append({"v": 1, "challenge": challenge["challenge"], "solution": {"pow": pow_}})
        return bodies

    async def calls_for(name: str) -> list[Call]:
        if name == "bare":
            return [("GET", "/healthz", b"", b"")] * n
        if name == "challenge":
            body = json.dumps({"v": 1, "sitekey": sitekey}).encode()
            return [("POST", "/v1/challenge", body, b"application/json")] * n
        if name == "challenge_tele":  # the 5-second payload run.py's challenge_tele sends (v2)
            telemetry = to_v2(json.loads(TELEMETRY.read_bytes()))
            body = json.dumps({"v": 1, "sitekey": sitekey, "telemetry": telemetry}).encode()
            return [("POST", "/v1/challenge", body, b"application/json")] * n
        if name == "solve":
            return [
                ("POST", "/v1/solve", json.dumps(b).encode(), b"application/json")
                for b in await mint_solves(n)
            ]
        calls = []
        for body in await mint_solves(n):
            outcome = await service.solve(messages.parse_solve(body), hostname="localhost")
            form = urlencode({"secret": secret, "response": outcome.body["token"]}).encode()
            calls.append(("POST", "/siteverify", form, b"application/x-www-form-urlencoded"))
        return calls

    statuses: dict[int, int] = {}
    first_bad: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1
        elif message["type"] == "http.response.body" and statuses.keys() - {200} and not first_bad:
            first_bad.append(message.get("body", b"")[:300])

    def request(call: Call) -> Awaitable[None]:
        method, path, body, content_type = call
        headers = [
            (b"host", b"localhost"),
            (b"user-agent", b"inproc"),
            (b"origin", b"http://localhost"),
            (b"content-length", str(len(body)).encode()),
        ]
        if content_type:
            headers.append((b"content-type", content_type))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8080),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        result: Awaitable[None] = app(scope, receive, send)
        return result

    async def timed(calls: list[Call], profile: cProfile.Profile | None) -> float:
        start = time.process_time()
        if profile is not None:
            profile.enable()
        for call in calls:
            await request(call)
        if profile is not None:
            profile.disable()
        return (time.process_time() - start) / len(calls) * 1e6

    run_one: Callable[[list[Call], cProfile.Profile | None], Awaitable[float]] = timed
    await run_one((await calls_for("bare"))[:200], None)  # warm imports and caches
    failed = False
    try:
        for name in wanted:
            best = min([await run_one(await calls_for(name), None) for _ in range(rounds)])
            print(f"{name:<11} {best:8.1f} µs/request  (best of {rounds} x {n})", flush=True)
            if args.profile:
                profile = cProfile.Profile()
                await run_one(await calls_for(name), profile)
                pstats.Stats(profile).sort_stats(args.profile).print_stats(args.lines)
            bad = {status: count for status, count in statuses.items() if status >= 300}
            if bad:
                print(f"  non-2xx answers: {bad}; first: {first_bad[:1]!r}", flush=True)
                failed = True
            statuses.clear()
            first_bad.clear()
    finally:
        await runtime.store.close()
        await runtime.engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=ENDPOINTS, help="one endpoint instead of all")
    parser.add_argument("--n", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--redis", metavar="URL", help="use a Redis store at URL (its db)")
    parser.add_argument("--access-log", action="store_true", help="log access lines to /dev/null")
    parser.add_argument(
        "--profile", metavar="SORT", help="cProfile one more round, sorted by SORT (tottime, ...)"
    )
    parser.add_argument("--lines", type=int, default=30, help="profile lines to print")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
