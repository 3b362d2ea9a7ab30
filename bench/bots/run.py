"""The bot zoo and the people harness against a fresh ``haechi serve`` on the README's defaults.

    python -m bench.bots.run                 # make bench-bots: every family, 100 sessions each
    python -m bench.bots.run --quick         # CI: a few families x 10 sessions, a few people
    python -m bench.bots.run --families 'pw-headed/*' -n 20 --people 30

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
import datetime as dt
import fnmatch
import json
import os
import platform
import random
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
    }


async def run_bots(
    args: argparse.Namespace, harness: Harness, server: HaechiServer, chosen: list[zoo.Family],
    approaches: list[paths.Approach], copied: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    rng = random.Random(args.seed)
    RECORDINGS.mkdir(parents=True, exist_ok=True)
    async with zoo.PlaywrightBots(harness, approaches, args.seed) as bots:
        for family in chosen:
            counts: Counter[str] = Counter()
            started = time.monotonic()
            for _ in range(args.n):
                if family.framework == "http":
                    try:
                        outcome = await zoo.http_session(
                            family, server.url, harness.sitekey, copied, rng
                        )
                    except Exception as error:  # a refused or broken exchange is no token
                        print(f"    http session failed: {error!r}", file=sys.stderr)
                        outcome = "denied"
                else:
                    session = await bots.session(family)
                    outcome = session.outcome() or "none"
                    zoo.save_recording(
                        RECORDINGS / (family.name.replace("/", "__") + ".jsonl"),
                        family.name,
                        session,
                        outcome,
                    )
                counts[outcome] += 1
            rows.append(row(family.name, counts, args.n, "token"))
            r = rows[-1]
            print(
                f"  {family.name:40s} token {r['token']:3d}/{r['n']} task {r['task']:3d} denied {r['denied']:3d} "
                f"none {r['none']:2d}  upper95 {r['upper95']:.1%}  ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
            )
    return rows


def run_people(
    args: argparse.Namespace,
    harness: Harness,
    server: HaechiServer,
    approaches: list[paths.Approach],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from bench.bots.people import Desktop, Person

    desktop = Desktop.start()
    os.environ["DISPLAY"] = desktop.display  # headed bot families share this screen
    keyring = server.keyring()
    rng = random.Random(args.seed + 1)
    person = Person(desktop, approaches, rng)
    results: dict[str, list[dict[str, Any]]] = {"pointer": [], "keyboard": []}
    recordings: list[dict[str, Any]] = []
    RECORDINGS.mkdir(parents=True, exist_ok=True)
    kinds = ["pointer"] * args.people + ["keyboard"] * args.keyboard_people
    for kind in kinds:
        session, url = harness.new(f"people/{kind}")
        try:
            result = person.visit(session, url, kind, keyring)
        except Exception as error:
            result = {"outcome": "none", "final": None, "tasks": 0, "error": repr(error)}
        results[kind].append(result)
        zoo.save_recording(
            RECORDINGS / f"people__{kind}.jsonl", f"people/{kind}", session, result["outcome"]
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
        r["within_two_tasks"] = sum(1 for i in items if i["final"] == "token" and i["tasks"] <= 2)
        rows.append(r)
    return rows, zoo.copied_telemetry(recordings)


def table(bots: list[dict[str, Any]], people: list[dict[str, Any]]) -> str:
    lines = [
        "| who | sessions | token, no task | task shown | denied | no outcome | token rate | 95% upper | target | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in people:
        ok = r["rate"] >= 0.97 if r["family"] == "people/pointer" else None
        target = ">= 97% no task" if ok is not None else "token within two tasks"
        verdict = (
            ("pass" if ok else "FAIL")
            if ok is not None
            else ("pass" if r["within_two_tasks"] == r["n"] else "FAIL")
        )
        lines.append(
            f"| {r['family']} | {r['n']} | {r['token']} | {r['task']} | {r['denied']} | {r['none']} | {r['rate']:.1%} "
            f"| — | {target} | {verdict} (final token {r['final_token']}/{r['n']}, within two tasks {r['within_two_tasks']}) |"
        )
    for r in bots:
        verdict = "pass" if r["rate"] <= 0.05 else "FAIL"
        lines.append(
            f"| {r['family']} | {r['n']} | {r['token']} | {r['task']} | {r['denied']} | {r['none']} | {r['rate']:.1%} "
            f"| {r['upper95']:.1%} | <= 5% | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="CI: a few families x 10 sessions")
    parser.add_argument("--families", default="", help="comma-separated fnmatch patterns")
    parser.add_argument(
        "-n", type=int, default=None, help="sessions per bot family (100; quick 10)"
    )
    parser.add_argument("--people", type=int, default=None, help="pointer people (200; quick 3)")
    parser.add_argument(
        "--keyboard-people", type=int, default=None, help="keyboard-only people (20; quick 1)"
    )
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--record", action="store_true", help="prepend to bench/RESULTS.md")
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    args.n = args.n or (10 if args.quick else 100)
    args.people = args.people if args.people is not None else (3 if args.quick else 200)
    args.keyboard_people = (
        args.keyboard_people if args.keyboard_people is not None else (1 if args.quick else 20)
    )
    every = zoo.families()
    patterns = [p for p in args.families.split(",") if p] or (
        list(zoo.QUICK) if args.quick else ["*"]
    )
    chosen = [f for f in every if any(fnmatch.fnmatch(f.name, p) for p in patterns)]

    started = time.monotonic()
    server = HaechiServer()
    server.start()
    try:
        sitekey, _secret = server.site()
        # The quick run waits for the first task band's type only (audio alone takes a minute).
        offered = server.wait_for_pools(POOL_TYPES[:1] if args.quick else POOL_TYPES, 300)
        print(
            f"haechi at {server.url}; offered after {time.monotonic() - started:.0f} s: {offered}",
            file=sys.stderr,
        )
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
