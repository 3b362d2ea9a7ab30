"""Near-duplicate repeat detection (``haechi.risk.repeat``) on real people and on copies.

False positives: every approach-to-a-click window cut from SapiMouse (``bench.bots.paths
.human_approaches``, all subjects) is sketched and any digest shared by two different windows
is a collision (a person flagged as a replay). Catches: each window copied with every event
moved by a random -J..+J px and -J..+J ms (J = 1 and 3), translated and time-scaled by up to
3 %, and whether the copy shares a digest with its original. Also the people harness's own
recordings (bench/bots/recordings/people__*.jsonl).

    .venv/bin/python -m bench.repeat_collisions [--per-subject 40]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from bench.bots.paths import SAPIMOUSE, human_approaches

from haechi.risk.repeat import path_sketches, sketches
from haechi.risk.telemetry import parse_telemetry

RECORDINGS = Path(__file__).parent / "bots" / "recordings"


def _subjects() -> list[int]:
    ids = set()
    for p in SAPIMOUSE.iterdir():
        name = p.name.removeprefix("user").split(".")[0]
        if name.isdigit():
            ids.add(int(name))
    return sorted(ids)


def _path(
    steps: tuple[tuple[float, float, float], ...],
) -> tuple[list[float], list[float], list[float]]:
    t, x, y, now = [], [], [], 0.0
    for dt, dx, dy in steps:
        now += dt
        t.append(float(round(now)))
        x.append(500.0 + dx)
        y.append(400.0 + dy)
    return t, x, y


def _perturb(rng: random.Random, path: tuple[list[float], list[float], list[float]], j: int):
    t, x, y = path
    scale = rng.uniform(0.97, 1.03)
    ox, oy = rng.uniform(-300, 300), rng.uniform(-200, 200)
    pt = [round(v * scale) + rng.randint(-j, j) for v in t]
    for i in range(1, len(pt)):  # times never go backwards in a conforming recorder
        pt[i] = max(pt[i], pt[i - 1])
    px = [v + ox + rng.randint(-j, j) for v in x]
    py = [v + oy + rng.randint(-j, j) for v in y]
    return pt, px, py


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-subject", type=int, default=40)
    args = ap.parse_args()
    subjects = _subjects()
    windows = human_approaches(subjects, per_subject=args.per_subject)
    owners: dict[bytes, set[int]] = defaultdict(set)
    paths = []
    sketched = 0
    start = time.perf_counter()
    for i, w in enumerate(windows):
        path = _path(w.steps)
        paths.append(path)
        digests = path_sketches(*path)
        sketched += bool(digests)
        for d in digests:
            owners[d].add(i)
    took = time.perf_counter() - start
    collided: set[int] = set()
    cross_subject = 0
    for idx in owners.values():
        if len(idx) > 1:
            collided |= idx
            if len({windows[i].subject for i in idx}) > 1:
                cross_subject += 1
    print(
        f"SapiMouse: {len(subjects)} subjects, {len(windows)} windows, {sketched} sketched "
        f"({took / len(windows) * 1e6:.0f} us each); {len(collided)} windows share a digest "
        f"with another window ({cross_subject} digests shared across subjects)"
    )
    rng = random.Random(17)
    for j in (1, 3):
        caught = total = 0
        for path in paths:
            mine = set(path_sketches(*path))
            if not mine:
                continue
            total += 1
            caught += bool(mine & set(path_sketches(*_perturb(rng, path, j))))
        print(
            f"copies moved by +-{j} px / +-{j} ms, translated, time x0.97-1.03: "
            f"{caught} of {total} caught"
        )
    # The people harness's own recordings: every stage's telemetry of every session.
    seen: dict[bytes, int] = {}
    n = n_sketched = clash = 0
    for f in sorted(RECORDINGS.glob("people__*.jsonl")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            for stage in rec.get("telemetry", []):
                n += 1
                digests = sketches(parse_telemetry(stage["telemetry"]))
                n_sketched += bool(digests)
                hit = {seen[d] for d in digests if d in seen}
                clash += bool(hit)
                for d in digests:
                    seen.setdefault(d, n)
    print(
        f"people harness recordings: {n} telemetries, {n_sketched} sketched, "
        f"{clash} matched an earlier one"
    )
    # Cost at the telemetry cap (2,000 pointer events).
    big = np.cumsum(np.random.default_rng(1).normal(0, 3, (2, 2000)), axis=1)
    tt = np.arange(2000, dtype=np.float64) * 8
    reps = 2000
    start = time.perf_counter()
    for _ in range(reps):
        path_sketches(tt, big[0], big[1])
    print(
        f"cost at 2,000 events: {(time.perf_counter() - start) / reps * 1e6:.0f} us per telemetry"
    )


if __name__ == "__main__":
    main()
