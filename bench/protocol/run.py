"""Haechi protocol benchmark: `haechi serve` under wrk, side by side with a bare endpoint.

    python bench/protocol/run.py                   # embedded and Redis, 10 s per scenario
    python bench/protocol/run.py --quick           # CI smoke: 2 s per scenario, checks it works
    python bench/protocol/run.py --record          # also prepend the results to bench/RESULTS.md
    make compile && python bench/protocol/run.py --interpreted   # mypyc build vs the sources

For each mode (``embedded``: SQLite + in-process store; ``redis``: SQLite + Redis on loopback) it
makes a fresh data directory and site, starts ``haechi serve`` as a subprocess with its default
middleware stack (access log included, written to /dev/null), and runs wrk (one thread, so the
load generator leaves the server a core) with ``haechi.lua`` against:

- ``bare``: ``GET /healthz``, a constant JSON answer through the same process, server and
  middleware: the ceiling every other number is divided by;
- ``challenge`` (no telemetry), ``challenge_tele`` (a 5-second SapiMouse window as the widget
  sends it: telemetry v2, 3.5 KB) and ``challenge_tele_v1`` (the same window as v1 rows, 4.8 KB,
  what the widget sent before v2);
- ``solve``: pre-minted challenges with their proof-of-work solved, each sent once;
- ``siteverify``: pre-minted valid tokens, each verified once;
- ``mixed``: challenge, solve and siteverify in turn (1:1:1).

Pre-minted challenges and tokens come from the same code the server runs (``ProtocolService``
``issue`` and ``solve``, with the server's keyring from its data directory), run in this process
before the server starts. Only correct answers count (a sealed challenge; a solve with outcome
``token``; a siteverify with ``"success":true``); req/s is correct answers per second. Rate limits
stay on, raised out of the way; the policy is one band (4 sub-puzzles of 2 bits) so minting is
cheap while the server's verification work is what a real plan costs per sub-puzzle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from haechi import compiled

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LUA = HERE / "haechi.lua"
TELEMETRY = HERE / "telemetry-5s.json"
RESULTS = ROOT / "bench" / "RESULTS.md"
ORIGIN = "http://localhost"
SCENARIOS = (
    "bare",
    "challenge",
    "challenge_tele",
    "challenge_tele_v1",
    "solve",
    "siteverify",
    "mixed",
)
BANDS = [{"max_risk": 100, "pow_bits": 2, "pow_count": 4}]
HIGH = "1000000000"


@dataclass
class Result:
    build: str
    mode: str
    scenario: str
    ok: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int
    exhausted: int
    cpu_s: float = 0.0  # server CPU time (user + system, all its processes) during the run
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def cpu_us_per_ok(self) -> float:
        return 1e6 * self.cpu_s / self.ok if self.ok else 0.0

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in the server's process group.

    Throughput on a shared 2-core machine moves with whatever else runs; CPU time per correct
    answer moves much less, so it is the number to compare builds by when the machine is busy.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state; pgrp is the 5th field overall
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_env(data_dir: Path, mode: str, redis_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HAECHI_DATA_DIR": str(data_dir),
            "HAECHI_ENV": "development",
            "HAECHI_RATE_LIMIT__PER_IP": HIGH,
            "HAECHI_RATE_LIMIT__PER_SITEKEY": HIGH,
            "HAECHI_RATE_LIMIT__SITEVERIFY_PER_IP": HIGH,
            "HAECHI_POLICY__BANDS": json.dumps(BANDS),
            # The bench's bands ask for no task: no starter pools building beside the load.
            "HAECHI_POOLS__STARTER": "false",
        }
    )
    if mode == "redis":
        env["HAECHI_STORE__URL"] = redis_url
    env.update(extra)
    return env


def haechi_bin() -> str:
    found = Path(sys.executable).with_name("haechi")
    return str(found) if found.exists() else "haechi"


BIN = haechi_bin()  # the server under test; --build NAME=PATH runs others side by side


def create_site(env: dict[str, str], binary: str = BIN) -> tuple[str, str]:
    """The site, in a database migrated by the build under test (a baseline's code refuses a
    schema newer than its own migrations)."""
    subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [binary, "sites", "create", "--name", "bench", "--hostname", "localhost", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    site = json.loads(out)
    return site["sitekey"], site["secret"]


async def mint(
    env: dict[str, str], sitekey: str, secret: str, solves: int, tokens: int
) -> tuple[list[str], list[str]]:
    """Solve bodies and siteverify bodies made by the server's own code and keyring, under the
    epoch of the store the server will use: the same Redis, or (embedded) this store handed over
    through the graceful-restart snapshot, as if the server had minted them before a restart."""
    from haechi.client import solve_pow
    from haechi.core.settings import Settings
    from haechi.core.store import create_store
    from haechi.core.store.memory import MemoryStore
    from haechi.protocol import messages
    from haechi.runtime import SNAPSHOT_FILE, Runtime

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    store = create_store(settings.store)
    sync_epoch = getattr(store, "sync_epoch", None)  # a --build baseline may predate epochs
    if sync_epoch is not None:
        await sync_epoch()
    runtime = Runtime.build(settings, store=store)
    service = runtime.protocol
    request = messages.parse_challenge({"v": 1, "sitekey": sitekey})
    solve_bodies: list[str] = []
    verify_bodies: list[str] = []
    try:
        for index in range(solves + tokens):
            challenge = await service.issue(request, hostname="localhost")
            body = {"v": 1, "challenge": challenge["challenge"]}
            body["solution"] = {"pow": solve_pow(challenge)}
            if index < solves:
                solve_bodies.append(json.dumps(body, separators=(",", ":")))
                continue
            outcome = await service.solve(messages.parse_solve(body), hostname="localhost")
            token = outcome.body["token"]
            verify_bodies.append(urlencode({"secret": secret, "response": token}))
        if isinstance(store, MemoryStore):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            (settings.data_dir / SNAPSHOT_FILE).write_bytes(store.dump())
    finally:
        await store.close()
        await runtime.engine.dispose()
    return solve_bodies, verify_bodies


def mint_for(
    binary: str, env: dict[str, str], sitekey: str, secret: str, solves: int, tokens: int
) -> tuple[list[str], list[str]]:
    """``mint`` with the code of the build under test: another build (``--build``) may seal in
    another format, so its own Python mints for it (``run.py --mint``)."""
    if binary == BIN:
        return asyncio.run(mint(env, sitekey, secret, solves, tokens))
    python = str(Path(binary).with_name("python"))
    with tempfile.TemporaryDirectory(prefix="haechi-mint-") as tmp:
        out = Path(tmp) / "minted.json"
        spec = json.dumps([sitekey, secret, solves, tokens])
        cmd = [python, __file__, "--mint", spec, "--json", str(out)]
        subprocess.run(cmd, env=env, check=True)  # noqa: S603
        minted = json.loads(out.read_text())
    return minted["solves"], minted["verifies"]


@contextlib.contextmanager
def server(env: dict[str, str], port: int, workers: int, binary: str, http: str) -> Any:
    args = [binary, "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--workers", str(workers)]
    if http != "uvicorn":  # a baseline build from before --server still runs on its default
        args += ["--server", http]
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"haechi serve exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("haechi serve did not come up in 60 s")
            time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def check_flow(port: int, sitekey: str, secret: str) -> None:
    """One real flow through HTTP with the SDK: challenge, PoW, solve, siteverify once."""
    from haechi.client import solve, verify

    base = f"http://127.0.0.1:{port}"
    token = solve(url=base, sitekey=sitekey, origin=ORIGIN)
    first = verify(secret=secret, response=token, url=base)
    second = verify(secret=secret, response=token, url=base)
    if not first.success or second.success:
        raise RuntimeError(f"flow check failed: {first} then {second}")


def run_wrk(
    port: int,
    scenario: str,
    seconds: float,
    connections: int,
    files: dict[str, str],
) -> dict[str, Any]:
    env = dict(os.environ)
    env.update(files)
    env["HB_SCENARIO"] = scenario
    env["HB_THREADS"] = "1"
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("HBJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    data: dict[str, Any] = json.loads(line[len("HBJSON ") :])
    return data


def to_result(build: str, mode: str, scenario: str, raw: dict[str, Any]) -> Result:
    ok = raw["ok_challenge"] + raw["ok_solve"] + raw["ok_verify"]
    errors = {k[len("errors_") :]: v for k, v in raw.items() if k.startswith("errors_") and v}
    return Result(
        build=build,
        mode=mode,
        scenario=scenario,
        ok=ok,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        bad=raw["bad"],
        exhausted=raw["exhausted"],
        errors=errors,
    )


def bench_mode(
    args: argparse.Namespace,
    mode: str,
    build: str,
    binary: str,
    http: str = "uvicorn",
    build_env: dict[str, str] | None = None,
) -> list[Result]:
    extra = dict(kv.split("=", 1) for kv in args.env) | (build_env or {})
    with tempfile.TemporaryDirectory(prefix=f"haechi-bench-{mode}-") as tmp:
        data_dir = Path(tmp)
        env = bench_env(data_dir, mode, args.redis_url, extra)
        if mode == "redis":
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
        sitekey, secret = create_site(env, binary)
        per_scenario = int(args.max_rps * args.duration)
        mixed_share = per_scenario // 3 + 1
        started = time.perf_counter()
        solves, verifies = mint_for(
            binary, env, sitekey, secret, per_scenario + mixed_share, per_scenario + mixed_share
        )
        print(
            f"[{mode}] minted {len(solves)} solves and {len(verifies)} tokens "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        from haechi.risk.telemetry import to_v2

        telemetry_v2 = data_dir / "telemetry-5s.v2.json"
        telemetry_v2.write_bytes(json.dumps(to_v2(json.loads(TELEMETRY.read_bytes()))).encode())
        solve_file = data_dir / "solves.txt"
        verify_file = data_dir / "verifies.txt"
        files = {
            "HB_SITEKEY": sitekey,
            "HB_ORIGIN": ORIGIN,
            "HB_TELEMETRY": str(telemetry_v2),
            "HB_TELEMETRY_V1": str(TELEMETRY),
            "HB_SOLVES": str(solve_file),
            "HB_VERIFIES": str(verify_file),
        }
        results: list[Result] = []
        port = free_port()
        with server(env, port, args.workers, binary, http) as proc:
            check_flow(port, sitekey, secret)
            run_wrk(port, "bare", min(2.0, args.duration), args.connections, files)  # warm-up
            for scenario in args.scenarios:
                n = mixed_share if scenario == "mixed" else per_scenario
                if scenario in ("solve", "mixed"):
                    solve_file.write_text("\n".join(_take(solves, n)) + "\n")
                if scenario in ("siteverify", "mixed"):
                    verify_file.write_text("\n".join(_take(verifies, n)) + "\n")
                spy = _pyspy(args, proc.pid, f"{build}-{mode}", scenario)
                cpu_before = cpu_seconds(proc.pid)
                raw = run_wrk(port, scenario, args.duration, args.connections, files)
                cpu = cpu_seconds(proc.pid) - cpu_before
                if spy is not None:
                    spy.wait()
                result = to_result(build, mode, scenario, raw)
                result.cpu_s = cpu
                results.append(result)
                print(_row(result, None), file=sys.stderr, flush=True)
                if result.exhausted:
                    print(
                        f"[{mode}] {scenario}: ran out of pre-minted items; raise --max-rps",
                        file=sys.stderr,
                    )
    return results


def _pyspy(
    args: argparse.Namespace, pid: int, mode: str, scenario: str
) -> subprocess.Popen[bytes] | None:
    """Sample the server with py-spy for the scenario, as collapsed stacks (--pyspy DIR)."""
    if args.pyspy is None:
        return None
    args.pyspy.mkdir(parents=True, exist_ok=True)
    out = args.pyspy / f"{mode}-{scenario}.txt"
    cmd = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "250"]
    cmd += ["--duration", str(max(1, round(args.duration)) - 0), "--subprocesses", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _take(pool: list[str], n: int) -> list[str]:
    taken = pool[:n]
    del pool[:n]
    return taken


def _row(r: Result, bare: Result | None) -> str:
    ratio = f"{r.rps / bare.rps:.2f}" if bare and bare.rps else "-"
    errors = ", ".join(f"{k} {v}" for k, v in r.errors.items()) or "-"
    return (
        f"| {r.build} | {r.mode} | {r.scenario} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {ratio} "
        f"| {r.cpu_us_per_ok:,.0f} | {r.ok:,} / {r.requests:,} | {errors} |"
    )


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    wrk_version = re.sub(r"\s+", " ", wrk[0]).strip() if wrk else "wrk"
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}, {wrk_version.split(' Copyright')[0]}"
    )


def table(results: list[Result]) -> str:
    lines = [
        "| build | mode | scenario | correct req/s | p50 ms | p99 ms | ÷ bare "
        "| server CPU µs / answer | correct / sent | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    bare = {(r.build, r.mode): r for r in results if r.scenario == "bare"}
    lines += [_row(r, bare.get((r.build, r.mode))) for r in results]
    return "\n".join(lines)


def record(text: str) -> None:
    """Put ``text`` first among the results (RESULTS.md is newest first)."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    at = current.find("\n## ")
    if at < 0:
        RESULTS.write_text(f"{current.rstrip()}\n\n{text}\n")
    else:
        RESULTS.write_text(f"{current[: at + 1]}{text}\n{current[at:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="embedded,redis")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--servers",
        default="uvicorn",
        help="HTTP servers to run each build under, side by side (uvicorn,granian)",
    )
    parser.add_argument("--max-rps", type=float, default=9000.0, help="sizes the pre-minting")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for serve")
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        help="NAME=PATH of another haechi executable to run side by side (e.g. a baseline)",
    )
    parser.add_argument(
        "--interpreted",
        action="store_true",
        help="with a compiled build (make compile), also run the same checkout interpreted",
    )
    parser.add_argument("--label", default="", help="what this run measures (for --record)")
    parser.add_argument("--quick", action="store_true", help="CI smoke: short, small")
    parser.add_argument("--record", action="store_true", help="prepend to bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    parser.add_argument("--pyspy", type=Path, help="profile the server into this folder")
    parser.add_argument("--mint", help=argparse.SUPPRESS)  # [sitekey, secret, solves, tokens]
    args = parser.parse_args(argv)
    if args.mint:  # mint_for, in another build's Python: write what it minted to --json
        sitekey, secret, n_solves, n_tokens = json.loads(args.mint)
        solves, verifies = asyncio.run(mint(dict(os.environ), sitekey, secret, n_solves, n_tokens))
        args.json.write_text(json.dumps({"solves": solves, "verifies": verifies}))
        return 0
    if args.quick:
        args.duration, args.max_rps, args.connections = 1.0, 3000.0, 16
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    results: list[Result] = []
    builds = [("compiled" if compiled.active() else "current", BIN, {})]
    if args.interpreted:
        if not compiled.active():
            parser.error("--interpreted compares with a compiled build: run `make compile` first")
        builds.append(("interpreted", BIN, {"HAECHI_COMPILED": "0"}))
    builds += [(*b.split("=", 1), {}) for b in args.build]
    servers = [s for s in args.servers.split(",") if s]
    for mode in args.modes.split(","):
        for build, binary, build_env in builds:
            for http in servers:
                name = build if len(servers) == 1 else f"{build}/{http}"
                results += bench_mode(args, mode, name, binary, http, build_env)
    text = table(results)
    print(text)
    if args.json:
        rows = [r.__dict__ | {"rps": r.rps, "cpu_us_per_ok": r.cpu_us_per_ok} for r in results]
        args.json.write_text(json.dumps(rows, indent=1))
    failed = [r for r in results if r.ok == 0 or r.bad]
    if args.record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        settings = (
            f"{args.duration:g} s per scenario, {args.connections} connections, wrk -t1, "
            f"{args.workers} worker(s), server: {args.servers}"
        )
        label = f" — {args.label}" if args.label else ""
        record(
            f"## {stamp} — protocol throughput (`bench/protocol`){label}\n\n{machine()}. {settings}. "
            f"Command: `python bench/protocol/run.py {' '.join(argv or sys.argv[1:])}`\n\n{text}\n"
        )
    if failed:
        print(f"incorrect answers in: {[(r.mode, r.scenario) for r in failed]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
