"""The bot zoo and the people harness against a fresh ``haechi serve`` on the README's defaults.

    python -m bench.bots.run                 # make bench-bots: zoo.FULL x 100, 100+10+5 people
    python -m bench.bots.run --quick         # CI: zoo.QUICK x 10 sessions, 3 people
    python -m bench.bots.run --families 'pw-headed/*' -n 20 --people 30
    python -m bench.bots.run --list --families '*'   # every family the zoo has
    # one server shared by several processes (each its own families):
    python -m bench.bots.run --serve-only /tmp/s.json &
    python -m bench.bots.run --attach /tmp/s.json --people 0 --families 'sel-*'

Order: start the server in a fresh data directory (it builds its starter pools; the run waits
until every type is offered), run the people first (their telemetry is what the HTTP copy
family replays), then each bot family. Outcome per session: ``token`` (a token with no task),
``task`` (a visual task was shown), ``denied``. Bots pass when they get ``token``; people should.
Every session's telemetry goes to ``bench/bots/recordings/<family>.jsonl`` (docs/telemetry.md)
for the behaviour model's work. ``--record`` prepends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import fnmatch
import json
import os
import platform
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bots import paths, zoo  # noqa: E402
from bench.bots.harness import Harness, HaechiServer  # noqa: E402
from bench.redteam.stats import wilson  # noqa: E402

RECORDINGS = ROOT / "bench" / "bots" / "recordings"
# The strongest red-team attacker's solve rate per task type (bench/RESULTS.md, the red-team
# sections of 2026-11-22: Haechi's own shipped models used as the solver; audio: no attacker
# solved any). A family's token rate with that attacker plugged in is ESTIMATED as
# (token + sum over shown tasks of that type's rate) / sessions: it assumes a second task, where
# one follows, is solved at the same rate.
DESKTOPS: list[Any] = []  # stopped when the run ends (the headed bots use the same screen)
REDTEAM_BEST = {"grid": 1.0, "abstract": 1.0, "handwriting": 0.933, "audio": 0.0}
POOL_TYPES = ("grid", "abstract", "handwriting", "audio")


def final_subjects() -> list[int]:
    """The people's final test: the second half of the behaviour model's test split (by subject,
    fixed seed), kept out of every threshold in the policy and of this harness's tuning."""
    sys.path.insert(0, str(ROOT / "src"))
    from haechi.ml.sapimouse import split_subjects, subjects

    split = split_subjects(subjects(paths.SAPIMOUSE))
    test = list(split.test)
    return test[len(test) // 2 :]


def row(name: str, counts: Counter[str], n: int, passing: str) -> dict[str, Any]:
    k = counts[passing]
    low, high = wilson(k, n) if n else (0.0, 1.0)
    return {
        "family": name,
        "n": n,
        "token": counts["token"],
        "task": counts["task"],
        "denied": counts["denied"],
        "none": counts["none"],
        "rate": k / n if n else 0.0,
        "upper95": high,
        "task_types": {t[5:]: c for t, c in counts.items() if t.startswith("task:")},
        "redteam_est": (
            (
                k
                + sum(
                    c * REDTEAM_BEST.get(t[5:], 1.0)
                    for t, c in counts.items()
                    if t.startswith("task:")
                )
            )
            / n
            if n
            else 0.0
        ),  # fmt: skip
    }


async def run_bots(
    args: argparse.Namespace, harness: Harness, server: HaechiServer, chosen: list[zoo.Family],
    approaches: list[paths.Approach], copied: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    rng = random.Random(args.seed)
    args.recordings.mkdir(parents=True, exist_ok=True)
    async with contextlib.AsyncExitStack() as stack:
        drivers: dict[str, Any] = {}

        async def driver(framework: str) -> Any:
            kind = {"firefox": "puppeteer", "uc": "selenium"}.get(framework, framework)
            if kind not in drivers:
                make = {
                    "playwright": zoo.PlaywrightBots,
                    "puppeteer": zoo.PuppeteerBots,
                    "selenium": zoo.SeleniumBots,
                }[kind]
                drivers[kind] = await stack.enter_async_context(
                    make(harness, approaches, args.seed)
                )
            return drivers[kind]

        counts: dict[str, Counter[str]] = {f.name: Counter() for f in chosen}
        spent: Counter[str] = Counter()
        broken: set[str] = set()

        async def one(family: zoo.Family) -> None:
            started = time.monotonic()
            if family.framework == "http":
                try:
                    outcome = await zoo.http_session(
                        family, server.url, harness.sitekey, copied, rng
                    )
                except Exception as error:  # a refused or broken exchange is no token
                    print(f"    http session failed: {error!r}", file=sys.stderr)
                    outcome = "denied"
                if outcome.startswith("task:"):  # the type of the task shown
                    counts[family.name][outcome] += 1
                    outcome = "task"
            else:
                try:
                    bots = await driver(family.framework)
                except Exception as error:  # a framework that cannot start here
                    print(f"  {family.name}: cannot start: {error!r}", file=sys.stderr)
                    broken.add(family.name)
                    return
                session = await bots.session(family)
                outcome = session.outcome() or "none"
                zoo.save_recording(
                    args.recordings / (family.name.replace("/", "__") + ".jsonl"),
                    family.name,
                    session,
                    outcome,
                )
                if outcome == "denied" and args.verbose:
                    errors = [e["v"] for e in session.events if e["k"] == "error"]
                    print(f"    denied {family.name}: {errors[:1]}", file=sys.stderr)
                if outcome == "token":
                    try:
                        detail: Any = await zoo.decision(session)
                    except Exception as error:
                        detail = repr(error)
                    print(f"    TOKEN {family.name}: {detail}", file=sys.stderr)
                if outcome == "task":
                    counts[family.name]["task:" + zoo.task_type(session)] += 1
            counts[family.name][outcome] += 1
            spent[family.name] += time.monotonic() - started

        def report(family: zoo.Family) -> None:
            c = counts[family.name]
            n = sum(c[k] for k in ("token", "task", "denied", "none"))
            if not n:
                return
            r = row(family.name, c, n, "token")
            rows[:] = [x for x in rows if x["family"] != family.name] + [r]
            print(
                f"  {family.name:40s} token {r['token']:3d}/{r['n']} task {r['task']:3d} "
                f"denied {r['denied']:3d} none {r['none']:2d}  upper95 {r['upper95']:.1%}  "
                f"({spent[family.name]:.0f} s)",
                file=sys.stderr,
            )
            if args.json:
                partial = args.json.with_suffix(".partial.json")
                partial.write_text(json.dumps({"bots": rows}, indent=2))

        if args.interleave:
            # Round-robin: stopped early, every family has about as many sessions.
            for _ in range(args.n):
                for family in chosen:
                    if family.name not in broken:
                        await one(family)
                        report(family)
        else:
            for family in chosen:
                for _ in range(args.n):
                    if family.name in broken:
                        break
                    await one(family)
                report(family)
    return rows


def run_people(
    args: argparse.Namespace,
    harness: Harness,
    server: HaechiServer,
    approaches: list[paths.Approach],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from bench.bots.people import Desktop, Person

    desktop = Desktop.start()
    DESKTOPS.append(desktop)
    os.environ["DISPLAY"] = desktop.display  # headed bot families share this screen
    keyring = server.keyring()
    rng = random.Random(args.seed + 1)
    person = Person(desktop, approaches, rng)
    results: dict[str, list[dict[str, Any]]] = {
        "pointer": [],
        "keyboard": [],
        "audio": [],
        "firefox": [],
    }
    recordings: list[dict[str, Any]] = []
    args.recordings.mkdir(parents=True, exist_ok=True)
    kinds = (
        ["pointer"] * args.people
        + ["keyboard"] * args.keyboard_people
        + ["audio"] * args.audio_people
        + ["firefox"] * args.firefox_people
    )
    for kind in kinds:
        session, url = harness.new(f"people/{kind}")
        try:
            result = person.visit(session, url, kind, keyring)
        except Exception as error:
            result = {"outcome": "none", "final": None, "tasks": 0, "error": repr(error)}
        results[kind].append(result)
        zoo.save_recording(
            args.recordings / f"people__{kind}.jsonl", f"people/{kind}", session, result["outcome"]
        )
        recordings.append({"telemetry": session.telemetry()})
        print(f"  people/{kind}: {result}", file=sys.stderr)
    desktop.close_browser()
    rows = []
    for kind, items in results.items():
        if not items:
            continue
        counts = Counter(r["outcome"] for r in items)
        r = row(f"people/{kind}", counts, len(items), "token")
        r["final_token"] = sum(1 for i in items if i["final"] == "token")
        # Tasks answered (taking a task's audio alternative is the same task, in another form).
        r["within_two_tasks"] = sum(
            1 for i in items if i["final"] == "token" and i.get("answered", i["tasks"]) <= 2
        )
        r["audio_answered"] = sum(i.get("audio", 0) for i in items)
        rows.append(r)
    return rows, zoo.copied_telemetry(recordings)


def table(bots: list[dict[str, Any]], people: list[dict[str, Any]]) -> str:
    lines = [
        "| who | sessions | token, no task | task shown | denied | no outcome | token rate | 95% upper | target | verdict "
        "| tasks by type | with red team (est.) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for r in people:
        ok = (
            r["rate"] >= 0.97
            if r["family"].split()[0] in ("people/pointer", "people/firefox")
            else None
        )
        target = ">= 97% no task" if ok is not None else "token within two tasks"
        verdict = (
            ("pass" if ok else "FAIL")
            if ok is not None
            else ("pass" if r["within_two_tasks"] == r["n"] else "FAIL")
        )
        lines.append(
            f"| {r['family']} | {r['n']} | {r['token']} | {r['task']} | {r['denied']} | {r['none']} | {r['rate']:.1%} "
            f"| — | {target} | {verdict} (final token {r['final_token']}/{r['n']}, within two tasks {r['within_two_tasks']}"
            f"{', audio tasks answered ' + str(r['audio_answered']) if r['family'] == 'people/audio' else ''}) | | |"
        )
    for r in bots:
        verdict = "pass" if r["rate"] <= 0.05 else "FAIL"
        lines.append(
            f"| {r['family']} | {r['n']} | {r['token']} | {r['task']} | {r['denied']} | {r['none']} | {r['rate']:.1%} "
            f"| {r['upper95']:.1%} | <= 5% | {verdict} "
            f"| {', '.join(f'{t} {c}' for t, c in sorted(r['task_types'].items())) or '—'} "
            f"| {r['redteam_est']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CI: a few families x 10 sessions")
    parser.add_argument(
        "--families",
        default="",
        help="comma-separated fnmatch patterns ('*': all; default zoo.FULL)",
    )
    parser.add_argument(
        "-n", type=int, default=None, help="sessions per bot family (100; quick 10)"
    )
    parser.add_argument("--people", type=int, default=None, help="pointer people (100; quick 2)")
    parser.add_argument(
        "--keyboard-people", type=int, default=None, help="keyboard-only people (10; quick 1)"
    )
    parser.add_argument(
        "--audio-people",
        type=int,
        default=None,
        help="keyboard people who take the audio alternative of a task (5; quick 0)",
    )
    parser.add_argument(
        "--serve-only", type=Path, help="start the server, write how to reach it here, wait"
    )
    parser.add_argument("--attach", type=Path, help="use the server a --serve-only run wrote")
    parser.add_argument(
        "--interleave", action="store_true", help="one session of each family in turn"
    )
    parser.add_argument("--list", action="store_true", help="print the families and exit")
    parser.add_argument("--verbose", action="store_true", help="print why sessions were denied")
    parser.add_argument(
        "--firefox-people", type=int, default=0, help="pointer people in Firefox ESR (0)"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument(
        "--recordings", type=Path, default=RECORDINGS, help="where sessions' telemetry goes"
    )
    parser.add_argument("--record", action="store_true", help="prepend to bench/RESULTS.md")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    args.n = args.n or (10 if args.quick else 100)
    args.people = args.people if args.people is not None else (2 if args.quick else 100)
    args.keyboard_people = (
        args.keyboard_people if args.keyboard_people is not None else (1 if args.quick else 10)
    )
    args.audio_people = (
        args.audio_people if args.audio_people is not None else (0 if args.quick else 5)
    )
    every = zoo.families()
    patterns = [p for p in args.families.split(",") if p] or (
        list(zoo.QUICK) if args.quick else list(zoo.FULL)
    )
    # In the order the patterns are given (then the zoo's order).
    chosen = sorted(
        (f for f in every if any(fnmatch.fnmatch(f.name, p) for p in patterns)),
        key=lambda f: next(i for i, p in enumerate(patterns) if fnmatch.fnmatch(f.name, p)),
    )
    if args.list:
        print("\n".join(f.name for f in chosen))
        return 0

    # A run stopped with SIGTERM still stops its server, Xvfb and browsers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    if args.attach:
        # Another run's server (--serve-only): several processes share one fresh server.
        info = json.loads(args.attach.read_text())
        server = HaechiServer(Path(info["dir"]))
        server.port, server.url = info["port"], info["url"]
        server.start = server.stop = server.cleanup = lambda: None  # type: ignore[method-assign]
        sitekey, offered = info["sitekey"], info["offered"]
    else:
        server = HaechiServer()
    server.start()
    try:
        if not args.attach:
            sitekey, _secret = server.site()
            # The quick run waits for the first task band's type only (audio alone: a minute).
            offered = server.wait_for_pools(POOL_TYPES[:1] if args.quick else POOL_TYPES, 600)
        print(
            f"haechi at {server.url}; offered after {time.monotonic() - started:.0f} s: {offered}",
            file=sys.stderr,
        )
        if args.serve_only:
            info = {"dir": str(server.dir), "port": server.port, "url": server.url,
                    "sitekey": sitekey, "offered": offered}  # fmt: skip
            args.serve_only.write_text(json.dumps(info))
            while True:  # until SIGTERM
                time.sleep(3600)
        harness = Harness(server.url, sitekey)
        subjects = final_subjects()
        approaches = paths.human_approaches(subjects)
        print(
            f"people: held-out subjects {subjects} ({len(approaches)} approaches)", file=sys.stderr
        )
        people_rows, copied = run_people(args, harness, server, approaches)
        bot_rows = asyncio.run(run_bots(args, harness, server, chosen, approaches, copied))
        harness.close()
    finally:
        for desktop in DESKTOPS:
            desktop.stop()
        server.stop()
        server.cleanup()
    text = table(bot_rows, people_rows)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"people": people_rows, "bots": bot_rows}, indent=2))
    if args.record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        label = f" — {args.label}" if args.label else ""
        head = (
            f"## {stamp} — bot zoo and people (`bench/bots`){label}\n\n"
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
            f"Command: `python -m bench.bots.run {' '.join(argv if argv is not None else sys.argv[1:])}`; "
            f"{time.monotonic() - started:.0f} s. Server: `haechi serve` on the README's defaults, fresh data "
            f"directory, offered: {', '.join(offered)}. People: SapiMouse subjects {subjects} (held out).\n\n"
        )
        results = ROOT / "bench" / "RESULTS.md"
        old = results.read_text()
        first = old.find("\n## ")
        results.write_text(
            old[: first + 1] + head + text + "\n\n" + old[first + 1 :]
            if first >= 0
            else old + "\n" + head + text + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
