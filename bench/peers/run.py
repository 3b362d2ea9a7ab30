"""Haechi beside the self-hosted peers a user would pick instead (`make bench-peers`).

One server process each on this machine, wrk on loopback, medians of interleaved rounds:

- **Haechi**: `haechi serve` as `make serve` runs it (embedded defaults, one process; the compiled
  hot path when `make compile` built it, else interpreted: the table says which), the default
  policy, a fresh site and data directory per round. issue = `POST /v1/challenge` without
  telemetry; solve = `POST /v1/solve` with a solved proof-of-work (minted by the server's own code
  before it starts, as bench/protocol does); verify = `POST /siteverify`.
- **Cap** (`@cap.js/server` 4.0.5 on `node:http`) and **ALTCHA** (`altcha-lib` 2.8.0 on
  `node:http`), with their documented settings: bench/peers/peers.mjs says which and how their
  solutions are minted.

A "verified visitor" is one solve plus one verify for Haechi and Cap (two requests) and one
verify for ALTCHA (its payload is checked once, at the form's server); its rate is
1 / (1/solve + 1/verify) of the measured route rates.

    python bench/peers/run.py [--rounds 3] [--duration 4] [--record]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.protocol import run as protocol  # noqa: E402

LUA = HERE / "peers.lua"
RESULTS = ROOT / "bench" / "RESULTS.md"
SYSTEMS = ("haechi", "cap", "altcha")
ROUTES = ("issue", "solve", "verify")


@dataclass
class Sample:
    ok: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int
    exhausted: int

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


@dataclass
class Table:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, system: str, route: str, sample: Sample) -> None:
        self.samples.setdefault((system, route), []).append(sample)
        print(
            f"  {system:7} {route:7} {sample.rps:9,.0f} correct/s  p99 {sample.p99_ms:6.1f} ms"
            f"  bad {sample.bad}  exhausted {sample.exhausted}",
            file=sys.stderr,
            flush=True,
        )

    def median(self, system: str, route: str) -> float | None:
        runs = self.samples.get((system, route))
        return statistics.median(s.rps for s in runs) if runs else None


def wrk(
    port: int, path: str, ok_mark: str, bodies: Path | None, seconds: int, conns: int
) -> Sample:
    env = dict(os.environ, PB_PATH=path, PB_OK=ok_mark, PB_BODIES=str(bodies) if bodies else "")
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA)]
    out = subprocess.run(  # noqa: S603
        [*cmd, f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True, check=True
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("PBJSON "))
    raw = json.loads(line[len("PBJSON ") :])
    return Sample(
        ok=raw["ok"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        bad=max(0, raw["bad"]) + raw["errors"],
        exhausted=raw["exhausted"],
    )


def wait_ready(port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2),
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not answer {path}")


@contextlib.contextmanager
def node_server(system: str, port: int, preload: Path | None) -> Any:
    args = ["node", str(HERE / "peers.mjs"), "serve", system, "--port", str(port)]
    if preload is not None:
        args += ["--preload", str(preload)]
    proc = subprocess.Popen(args, cwd=HERE, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        wait_ready(port)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def mint_peer(system: str, work: Path, n: int) -> dict[str, Path]:
    files = {
        "preload": work / f"{system}-preload.json",
        "solve": work / f"{system}-solves.txt",
        "verify": work / f"{system}-verifies.txt",
    }
    cmd = ["node", str(HERE / "peers.mjs"), "mint", system, "--solves", str(n)]
    cmd += ["--solve-out", str(files["solve"])]
    if system == "cap":
        cmd += ["--tokens", str(n), "--preload", str(files["preload"])]
        cmd += ["--verify-out", str(files["verify"])]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=HERE, check=True)  # noqa: S603
    print(f"[{system}] minted {n} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return files


def round_peer(system: str, files: dict[str, Path], args: argparse.Namespace, table: Table) -> None:
    port = protocol.free_port()
    preload = files["preload"] if system == "cap" else None
    with node_server(system, port, preload):
        wrk(port, "/challenge", '"', None, 1, args.connections)  # warm-up
        mark = '"token"' if system == "cap" else '"signature"'
        table.add(
            system, "issue", wrk(port, "/challenge", mark, None, args.duration, args.connections)
        )
        ok = '"success":true'
        sample = wrk(port, "/solve", ok, files["solve"], args.duration, args.connections)
        table.add(system, "solve", sample)
        if system == "cap":
            sample = wrk(port, "/verify", ok, files["verify"], args.duration, args.connections)
            table.add(system, "verify", sample)


def round_haechi(args: argparse.Namespace, table: Table) -> None:
    with tempfile.TemporaryDirectory(prefix="haechi-peers-") as tmp:
        data_dir = Path(tmp)
        env = protocol.bench_env(data_dir, "embedded", "", {})
        sitekey, secret = protocol.create_site(env)
        solves, verifies = protocol.mint_for(
            protocol.BIN, env, sitekey, secret, args.mint, args.mint
        )
        solve_file, verify_file = data_dir / "solves.txt", data_dir / "verifies.txt"
        solve_file.write_text("\n".join(solves) + "\n")
        verify_file.write_text("\n".join(verifies) + "\n")
        files = {
            "HB_SITEKEY": sitekey,
            "HB_ORIGIN": protocol.ORIGIN,
            "HB_SOLVES": str(solve_file),
            "HB_VERIFIES": str(verify_file),
        }
        port = protocol.free_port()
        with protocol.server(env, port, 1, protocol.BIN, "uvicorn"):
            protocol.check_flow(port, sitekey, secret)
            protocol.run_wrk(port, "bare", 1, args.connections, files)  # warm-up
            for route, scenario in (
                ("issue", "challenge"),
                ("solve", "solve"),
                ("verify", "siteverify"),
            ):
                raw = protocol.run_wrk(port, scenario, args.duration, args.connections, files)
                r = protocol.to_result("haechi", "embedded", scenario, raw)
                table.add(
                    "haechi",
                    route,
                    Sample(r.ok, r.seconds, r.p50_ms, r.p99_ms, r.bad, r.exhausted),
                )


def haechi_build() -> str:
    """What `haechi serve` runs: the compiled hot path (a current `make compile`) or the sources."""
    python = str(Path(protocol.BIN).with_name("python"))
    probe = "from haechi import compiled; print(compiled.active())"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)  # noqa: S603
    return "compiled" if out.stdout.strip() == "True" else "interpreted"


def visitor_rate(table: Table, system: str) -> float | None:
    solve = table.median(system, "solve")
    verify = table.median(system, "verify")
    if solve is None:
        return None
    if verify is None:  # ALTCHA: one request
        return solve
    return 1 / (1 / solve + 1 / verify) if solve and verify else 0.0


def report(table: Table, args: argparse.Namespace, build: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    lines = [
        f"## {now} — Haechi beside Cap and ALTCHA (`bench/peers`) — issue 23",
        "",
        f"{protocol.machine()}; load average at the end {load[0]:.1f}. One process per system, "
        f"wrk -t1 -c{args.connections}, {args.duration} s per route, medians of {args.rounds} "
        f"interleaved rounds. Haechi {build}. Command: `python bench/peers/run.py --rounds "
        f"{args.rounds} --duration {args.duration}`.",
        "",
        "| system | issue req/s | solve req/s | verify req/s | verified visitors/s |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(v: float | None) -> str:
        return "—" if v is None else f"{v:,.0f}"

    for system in SYSTEMS:
        lines.append(
            f"| {system} | {cell(table.median(system, 'issue'))} | "
            f"{cell(table.median(system, 'solve'))} | {cell(table.median(system, 'verify'))} | "
            f"{cell(visitor_rate(table, system))} |"
        )
    issue = {s: table.median(s, "issue") or 0.0 for s in SYSTEMS}
    visit = {s: visitor_rate(table, s) or 0.0 for s in SYSTEMS}
    lines.append("")
    for name, rates in (("Issue", issue), ("Verified visitors", visit)):
        peers = [s for s in ("cap", "altcha") if rates[s]]
        if not rates["haechi"] or not peers:
            continue
        best = max(peers, key=lambda s: rates[s])
        each = ", ".join(f"÷ {s} {rates['haechi'] / rates[s]:.2f}" for s in peers)
        ratio = rates["haechi"] / rates[best]
        lines.append(f"- {name}: Haechi ÷ fastest peer ({best}) = {ratio:.2f} ({each}).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4, help="seconds per route")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--mint", type=int, default=0, help="solved items per round (default: 15k/s x duration)"
    )
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--record", action="store_true", help="prepend the table to bench/RESULTS.md"
    )
    args = parser.parse_args(argv)
    args.mint = args.mint or 15_000 * args.duration
    systems = [s for s in args.systems.split(",") if s]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if not (HERE / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)  # noqa: S607
    table = Table()
    with tempfile.TemporaryDirectory(prefix="haechi-peers-mint-") as tmp:
        peer_files = {s: mint_peer(s, Path(tmp), args.mint) for s in systems if s != "haechi"}
        for n in range(args.rounds):
            print(f"round {n + 1} of {args.rounds}", file=sys.stderr)
            for system in systems:
                if system == "haechi":
                    round_haechi(args, table)
                else:
                    round_peer(system, peer_files[system], args, table)
    text = report(table, args, haechi_build())
    print(text)
    if args.record:
        protocol.record(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
