"""Haechi's red team: bots against a live ``haechi serve``, per challenge type and difficulty.

    python -m bench.redteam.run                      # the full run (make redteam)
    python -m bench.redteam.run --quick              # CI smoke: tiny pools, ~20 challenges each
    python -m bench.redteam.run --types audio -n 1000 --record

For each type it starts a real server on embedded defaults in a temporary data directory, with a
one-band policy that serves only that type (proof-of-work at the settings' minimum: the visual
task is what is attacked), builds the type's pool with ``haechi challenges build-pool`` (a fixed
server seed; trained attackers use other seeds), and for each difficulty and each attacker whose
``types`` match: takes N challenges over HTTP (``/v1/challenge``), lets the attacker solve them
(fetching blobs from the server as a browser does), posts ``/v1/solve`` and counts the server's
``token`` answers. Memorisers first get a *harvest*: K challenges whose answers the runner reads
by opening the seal with the server's keyring (a human click farm, simulated).

Pinning difficulty without touching the protocol: the server derives it from the effective risk,
``(risk + security offset + attack level - 10) / 90``. The runner sends no telemetry, so the
risk is ``policy.missing_telemetry_risk``; it sets that knob, turns the attack level and the
per-IP rate points off, and picks the site's security level (``strict``, +30, for difficulties
above 0.89). The first challenge's seal is opened to check the difficulty really is the one asked
for. The default difficulty is what a visitor without telemetry gets under the default policy:
risk 30, so (30 - 10) / 90 = 0.222.

Attackers: every module in ``bench/redteam/attackers/`` that defines ``ATTACKERS``. A type whose
pool cannot be built (not registered) is skipped with a note. With ``--quick`` an attacker whose
packages are missing is skipped with a note; the full run counts that as a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.redteam import stats  # noqa: E402
from bench.redteam.attackers.base import Attacker, Challenge  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HOST = "localhost"
ORIGIN = f"http://{HOST}"
HIGH = "1000000000"
DEFAULT_DIFFICULTY = (30 - 10) / 90
TYPES = ("abstract", "audio", "grid", "handwriting")
SERVER_SEED = 20261122
# Locales asked for, in turn; audio clips are English or Korean, and a recogniser cares.
LOCALES = {"audio": ("en", "ko")}
# --quick pool sizes: seconds to build (an audio clip costs about 0.4 s, an image 0.01 s).
QUICK_POOL = {"audio": 12}
SECURITY_OFFSETS = {"medium": 0, "strict": 30}


def haechi_bin() -> str:
    found = Path(sys.executable).with_name("haechi")
    return str(found) if found.exists() else "haechi"


BIN = haechi_bin()


@dataclass
class Row:
    type: str
    difficulty: float
    attacker: str
    family: str
    budget: str
    locale: str = "all"
    n: int = 0
    passes: int = 0
    solve_s: float = 0.0
    prepare_s: float = 0.0
    baseline: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.passes / self.n if self.n else 0.0

    @property
    def ci(self) -> tuple[float, float]:
        return stats.wilson(self.passes, self.n)

    @property
    def verdict(self) -> str:
        return stats.verdict(self.family, self.passes, self.n)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "difficulty": round(self.difficulty, 4),
            "attacker": self.attacker,
            "family": self.family,
            "locale": self.locale,
            "n": self.n,
            "passes": self.passes,
            "rate": self.rate,
            "ci95": list(self.ci),
            "random_guess": self.baseline,
            "ms_per_solve": 1000 * self.solve_s / self.n if self.n else None,
            "prepare_s": round(self.prepare_s, 1),
            "budget": self.budget,
            "target": stats.target_for(self.family),
            "verdict": self.verdict,
            "codes": dict(self.codes),
            "note": self.note,
        }


# ---------------------------------------------------------------------------- attackers


def discover() -> tuple[list[type[Attacker]], list[str]]:
    """Every ``ATTACKERS`` list in ``bench/redteam/attackers/``; modules that fail to import
    are noted, not fatal (another engineer's module may be half-written)."""
    import bench.redteam.attackers as package

    found: list[type[Attacker]] = []
    notes: list[str] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}")
        except Exception as error:
            notes.append(f"attackers/{info.name}.py did not import: {error!r}")
            continue
        for cls in getattr(module, "ATTACKERS", []):
            if isinstance(cls, type) and issubclass(cls, Attacker):
                found.append(cls)
    return found, notes


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(difficulty: float) -> tuple[int, str]:
    """(missing-telemetry risk, security level) that make the server use ``difficulty``."""
    risk = round(10 + 90 * difficulty)
    if not 0 <= risk <= 100:
        raise ValueError("difficulty must be in [0, 1]")
    if risk <= 90:
        return risk, "medium"
    return risk - SECURITY_OFFSETS["strict"], "strict"


def server_env(data_dir: Path, kind: str, missing_risk: int, pool_min: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAECHI_")}
    bands = [{"max_risk": 100, "pow_bits": 0, "pow_count": 0, "challenges": [kind]}]
    env.update(
        {
            "HAECHI_DATA_DIR": str(data_dir),
            "HAECHI_ENV": "development",
            "HAECHI_RATE_LIMIT__PER_IP": HIGH,
            "HAECHI_RATE_LIMIT__PER_SITEKEY": HIGH,
            "HAECHI_RATE_LIMIT__SITEVERIFY_PER_IP": HIGH,
            "HAECHI_POLICY__BANDS": json.dumps(bands),
            "HAECHI_POLICY__MISSING_TELEMETRY_RISK": str(missing_risk),
            "HAECHI_RISK__IP_RATE_POINTS": "0",
            "HAECHI_RISK__ATTACK__ENABLED": "false",
            "HAECHI_POOLS__MIN_ITEMS": str(pool_min),
            # The attacked pool is the one built here (fixed seed): no starter build, no rotation.
            "HAECHI_POOLS__STARTER": "false",
            # Challenges live long enough for a slow recogniser.
            "HAECHI_PROTOCOL__CHALLENGE_TTL_SECONDS": "600",
        }
    )
    return env


def haechi(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([BIN, *args], env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"haechi {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def registered(kind: str) -> tuple[bool, bool]:
    """(registered, serves from a pool) for a type in the shipped registry."""
    from haechi.challenges import default_registry
    from haechi.challenges.pool import ChallengePools, uses_pool
    from haechi.core.settings import PoolSettings

    pools = ChallengePools(None, PoolSettings(), url_ttl_seconds=60)  # type: ignore[arg-type]
    found = default_registry(pools).get(kind)
    return found is not None, uses_pool(found)


@contextlib.contextmanager
def server(env: dict[str, str], port: int) -> Iterator[None]:
    args = [BIN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(  # noqa: S603
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
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
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Live:
    """The HTTP side of one running server: challenges, blobs, solves, and the seal opener."""

    def __init__(self, port: int, sitekey: str, env: dict[str, str]) -> None:
        from haechi.core.settings import Settings
        from haechi.runtime import resolve_keys

        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"origin": ORIGIN}, timeout=60
        )
        self.sitekey = sitekey
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            self.keyring = resolve_keys(Settings())[0]
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def close(self) -> None:
        self.http.close()

    def challenge(self, locale: str) -> dict[str, Any]:
        reply = self.http.post(
            "/v1/challenge", json={"v": 1, "sitekey": self.sitekey, "locale": locale}
        )
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def fetch(self, url: str) -> bytes:
        reply = self.http.get(url)
        reply.raise_for_status()
        return reply.content

    def opened(self, challenge: dict[str, Any]) -> dict[str, Any]:
        """The sealed challenge, opened with the server's keyring (never sent to a bot)."""
        import orjson

        from haechi.protocol.service import CHALLENGE_PURPOSE

        data: dict[str, Any] = orjson.loads(
            self.keyring.open(CHALLENGE_PURPOSE, challenge["challenge"])
        )
        return data

    def solve(self, challenge: dict[str, Any], answer: dict[str, Any]) -> str:
        """The server's verdict: "token" or the failure code."""
        from haechi.client import solve_pow

        body = {
            "v": 1,
            "challenge": challenge["challenge"],
            "solution": {"pow": solve_pow(challenge), "answer": answer},
        }
        reply = self.http.post("/v1/solve", json=body)
        if reply.status_code != 200:
            return f"http-{reply.status_code}"
        outcome = reply.json()
        return "token" if outcome.get("outcome") == "token" else str(outcome.get("code"))


# ---------------------------------------------------------------------------- one type


def baseline(kind: str, tasks: list[dict[str, Any]], answer_lengths: list[int]) -> float:
    if kind == "audio":
        return stats.digits_baseline(answer_lengths)
    selects = [t for t in tasks if t.get("kind") == "select"]
    if selects:
        return sum(stats.select_baseline(t) for t in selects) / len(selects)
    if kind == "handwriting":
        # The best blind guess: the commonest word of the lexicon, written legibly (every word
        # is equally likely in a pool, so 1 / the number of words).
        from haechi.challenges.handwriting.lexicon import LEXICON

        return 1.0 / len(LEXICON)
    return float("nan")


def attack(
    live: Live,
    kind: str,
    difficulty: float,
    attacker: Attacker,
    prepare_s: float,
    n: int,
    harvest: int,
) -> list[Row]:
    locales = LOCALES.get(kind, ("en",))
    if attacker.family == "memoriser":
        for i in range(harvest):
            raw = live.challenge(locales[i % len(locales)])
            ch = Challenge(kind, raw["task"], live.fetch)
            attacker.learn(ch, live.opened(raw)["ans"])
    rows = {
        loc: Row(kind, difficulty, attacker.name, attacker.family, attacker.budget, locale=loc)
        for loc in ("all", *locales)
    }
    tasks: list[dict[str, Any]] = []
    lengths: dict[str, list[int]] = {loc: [] for loc in rows}
    for i in range(n):
        locale = locales[i % len(locales)]
        raw = live.challenge(locale)
        task = raw["task"]
        if task is None or task.get("type") != kind:
            raise RuntimeError(f"the server did not serve {kind}: {task}")
        tasks.append(task)
        if kind == "audio":
            # The exact baseline needs the answer's length; the bot never sees it.
            length = len(live.opened(raw)["ans"])
            lengths["all"].append(length)
            lengths[locale].append(length)
        ch = Challenge(kind, task, live.fetch)
        started = time.perf_counter()
        try:
            submission = attacker.solve(ch)
        except Exception:
            traceback.print_exc()
            submission = {}
        spent = time.perf_counter() - started
        code = live.solve(raw, submission)
        for loc in ("all", locale):
            row = rows[loc]
            row.n += 1
            row.passes += code == "token"
            row.solve_s += spent
            row.codes[code] += 1
    for loc, row in rows.items():
        row.prepare_s = prepare_s
        mine = [t for t in tasks if loc == "all" or t.get("locale") == loc]
        row.baseline = baseline(kind, mine, lengths[loc])
    if len(locales) == 1:
        return [rows["all"]]
    return list(rows.values())


def run_type(
    args: argparse.Namespace, kind: str, attackers: list[Attacker], work: Path
) -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    is_registered, pooled = registered(kind)
    if not is_registered:
        return [], [f"{kind}: not registered in haechi.challenges.default_registry; skipped"]
    mine = [a for a in attackers if kind in a.types]
    if not mine:
        return [], [f"{kind}: no attacker targets it; skipped"]
    data_dir = work / f"server-{kind}"
    data_dir.mkdir(parents=True, exist_ok=True)
    pool_size = args.pool.get(kind, args.pool.get("*"))
    if args.quick and pool_size is None:
        pool_size = QUICK_POOL.get(kind, 60)
    pool_min = min(pool_size or 50, 50)
    base_env = server_env(data_dir, kind, 30, pool_min)
    haechi(base_env, "migrate")
    if pooled:
        count = [] if pool_size is None else ["--count", str(pool_size)]
        started = time.perf_counter()
        try:
            out = haechi(
                base_env, "challenges", "build-pool", "--type", kind, "--seed",
                str(SERVER_SEED), "--json", *count,
            )  # fmt: skip
        except RuntimeError as error:
            why = str(error).strip().splitlines()[-1]
            return [], [f"{kind}: the pool could not be built ({why}); skipped"]
        info = json.loads(out)
        notes.append(
            f"{kind}: pool of {info['count']} items (seed {SERVER_SEED}) built in "
            f"{time.perf_counter() - started:.0f} s"
        )
    sites: dict[str, str] = {}
    rows: list[Row] = []
    prepared: dict[str, float] = {}
    for difficulty in args.difficulty:
        missing, level = pin(difficulty)
        if level not in sites:
            cmd = ["sites", "create", "--name", f"redteam-{level}", "--hostname", HOST]
            site = json.loads(haechi(base_env, *cmd, "--security-level", level, "--json"))
            sites[level] = site["sitekey"]
        env = server_env(data_dir, kind, missing, pool_min)
        port = free_port()
        with server(env, port):
            live = Live(port, sites[level], env)
            try:
                probe = live.challenge("en")
                sealed = live.opened(probe)
                effective = min(100, sealed["r"] + SECURITY_OFFSETS[level])
                served = min(1.0, max(0.0, (effective - 10) / 90))
                if abs(served - difficulty) > 0.006 or sealed["ty"] != kind:
                    raise RuntimeError(f"asked for difficulty {difficulty}, got {served}")
                for attacker in mine:
                    if attacker.name not in prepared:
                        started = time.process_time()
                        try:
                            attacker.prepare(work / "attackers", args.quick)
                        except ImportError as error:
                            notes.append(f"{attacker.name}: missing package ({error}); skipped")
                            prepared[attacker.name] = -1.0
                            continue
                        measured = time.process_time() - started
                        # A cached model reports what training cost when it ran.
                        cost = getattr(attacker, "prepare_cpu_s", measured)
                        prepared[attacker.name] = float(cost)
                    if prepared[attacker.name] < 0:
                        continue
                    if attacker.family == "memoriser":
                        # A fresh memory per difficulty: each row sees exactly K harvests.
                        attacker = type(attacker)()
                        attacker.prepare(work / "attackers", args.quick)
                    print(f"  {kind} d={difficulty:.3f} {attacker.name} ...", file=sys.stderr)
                    got = attack(
                        live, kind, served, attacker, prepared[attacker.name], args.n,
                        args.harvest,
                    )  # fmt: skip
                    rows += got
                    print(f"    {got[0].passes}/{got[0].n} passed", file=sys.stderr)
            finally:
                live.close()
    return rows, notes


# ---------------------------------------------------------------------------- reporting


def pct(x: float) -> str:
    if x != x:  # NaN: no baseline formula for this kind of task (draw)
        return "-"
    if 0 < x < 0.0001:  # audio baselines: two significant digits, not 0.00%
        return f"{100 * x:.2g}%"
    return f"{100 * x:.2f}%"


def table(rows: list[Row]) -> str:
    lines = [
        "| type | difficulty | attacker | family | n | passes | rate | 95% CI | random guess "
        "| ms / solve | prepare CPU s | budget | target | verdict |",
        "|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---|",
    ]
    for r in rows:
        low, high = r.ci
        name = r.attacker if r.locale == "all" else f"{r.attacker} [{r.locale}]"
        target = stats.target_for(r.family)
        verdict = r.verdict if r.locale == "all" else ""
        lines.append(
            f"| {r.type} | {r.difficulty:.3f} | {name} | {r.family} | {r.n:,} | {r.passes:,} "
            f"| {pct(r.rate)} | {pct(low)}–{pct(high)} | {pct(r.baseline)} "
            f"| {1000 * r.solve_s / max(r.n, 1):,.1f} | {r.prepare_s:,.0f} | {r.budget} "
            f"| {'< ' + pct(target) if target else '-'} | {verdict} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores (load {load} at the end), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


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
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument(
        "--difficulty",
        default=f"{DEFAULT_DIFFICULTY:.6f}",
        help="comma-separated, 0..1 (default: what a visitor without telemetry gets)",
    )
    parser.add_argument("-n", type=int, default=1000, help="challenges per attacker")
    parser.add_argument("--harvest", type=int, default=1000, help="challenges a memoriser sees")
    parser.add_argument(
        "--pool", default="", help="pool size: N, or TYPE=N,... (default: the type's own)"
    )
    parser.add_argument(
        "--attackers", default="", help="only attackers whose name has one of these (a,b,...)"
    )
    parser.add_argument("--workdir", type=Path, help="keep servers and attacker caches here")
    parser.add_argument("--quick", action="store_true", help="CI smoke: tiny pools, seconds")
    parser.add_argument("--record", action="store_true", help="prepend to bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--label", default="", help="what this run measures (for --record)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n = min(args.n, 20)
        args.harvest = min(args.harvest, 20)
    args.difficulty = [float(d) for d in str(args.difficulty).split(",") if d]
    args.pool = {
        (part.split("=")[0] if "=" in part else "*"): int(part.rpartition("=")[2])
        for part in args.pool.split(",")
        if part
    }
    random.seed(0)
    classes, notes = discover()
    wanted = [w for w in args.attackers.split(",") if w] or [""]
    attackers = [c() for c in classes if any(w in c.name for w in wanted)]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="haechi-redteam-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    notes.append(f"memorisers harvest {args.harvest:,} answered challenges before they are tested")
    try:
        for kind in [t for t in args.types.split(",") if t]:
            print(f"{kind}:", file=sys.stderr)
            got, more = run_type(args, kind, attackers, work)
            rows += got
            notes += more
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(text)
    for note in notes:
        print(f"- {note}")
    if args.json:
        args.json.write_text(json.dumps([r.to_json() for r in rows], indent=1))
    # Anything but a right or wrong answer means the runner, not the bot, went wrong.
    broken = [
        (r.type, r.attacker, dict(r.codes))
        for r in rows
        if set(r.codes) - {"token", "wrong-answer"}
    ]
    missing = [n for n in notes if "missing package" in n]
    if args.record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        label = f" — {args.label}" if args.label else ""
        listed = "".join(f"\n- {n}" for n in notes)
        record(
            f"## {stamp} — red team (`bench/redteam`){label}\n\n{machine()}. Command: "
            f"`python -m bench.redteam.run {' '.join(argv if argv is not None else sys.argv[1:])}`"
            f"\n\n{text}\n{listed}\n"
        )
    if broken:
        print(f"unexpected server answers: {broken}", file=sys.stderr)
        return 1
    if missing and not args.quick:
        print("the full run needs every attacker's packages (pip install -e '.[redteam]')")
        return 1
    if not rows:
        print("no attacker ran", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
