"""Near-duplicate repeat detection (haechi.risk.repeat): a jittered copy of a path matches it,
different people's paths never match each other, and too little movement gets no sketch."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.risk import repeat
from haechi.risk.telemetry import parse_telemetry, to_v2

FIXTURE = Path(__file__).parent.parent / "fixtures" / "human_windows.jsonl"
HUMANS: list[dict[str, Any]] = [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines()]
SAPIMOUSE = Path("/work/shared/data/sapimouse")


def _path(obj: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    rows = [e for e in obj["events"] if e[1] in "mdu"]
    return [float(e[0]) for e in rows], [float(e[2]) for e in rows], [float(e[3]) for e in rows]


def _jitter(
    path: tuple[list[float], list[float], list[float]], rng: random.Random, j: int
) -> tuple[list[float], list[float], list[float]]:
    """Every event moved by -j..+j px and ms, the whole path translated and time-scaled."""
    t, x, y = path
    scale, ox, oy = rng.uniform(0.97, 1.03), rng.uniform(-300, 300), rng.uniform(-200, 200)
    pt = [float(round(v * scale) + rng.randint(-j, j)) for v in t]
    for i in range(1, len(pt)):
        pt[i] = max(pt[i], pt[i - 1])
    return pt, [v + ox + rng.randint(-j, j) for v in x], [v + oy + rng.randint(-j, j) for v in y]


def test_each_fixture_person_is_sketched_and_the_telemetry_reader_agrees() -> None:
    for human in HUMANS:
        digests = repeat.path_sketches(*_path(human))
        assert len(digests) == repeat.GRIDS and all(len(d) == 8 for d in digests)
        # v1 (per-event reader) and v2 (columns) give the same digests.
        assert repeat.sketches(parse_telemetry(human)) == digests
        assert repeat.sketches(parse_telemetry(to_v2(human))) == digests


def test_translation_is_ignored_and_jittered_copies_still_match() -> None:
    rng = random.Random(5)
    caught = {1: 0, 3: 0}
    tries = 100
    for human in HUMANS:
        path = _path(human)
        mine = set(repeat.path_sketches(*path))
        t, x, y = path
        moved = repeat.path_sketches(t, [v + 123.0 for v in x], [v - 45.0 for v in y])
        assert set(moved) == mine
        for j in caught:
            for _ in range(tries):
                caught[j] += bool(mine & set(repeat.path_sketches(*_jitter(path, rng, j))))
    n = tries * len(HUMANS)
    # bench/repeat_collisions.py on 4,583 SapiMouse windows: 93 % at 1 px / 1 ms, 76 % at 3.
    assert caught[1] >= 0.85 * n, caught
    assert caught[3] >= 0.6 * n, caught


def test_different_people_never_share_a_digest() -> None:
    seen: dict[bytes, int] = {}
    for i, human in enumerate(HUMANS):
        for d in repeat.path_sketches(*_path(human)):
            assert seen.setdefault(d, i) == i


@pytest.mark.skipif(not SAPIMOUSE.is_dir(), reason="SapiMouse is not on this machine")
def test_no_two_sapimouse_windows_share_a_digest() -> None:
    from bench.bots.paths import human_approaches

    windows = human_approaches(list(range(1, 13)), per_subject=25)
    seen: dict[bytes, int] = {}
    sketched = 0
    for i, w in enumerate(windows):
        t, x, y, now = [], [], [], 0.0
        for dt, dx, dy in w.steps:
            now += dt
            t.append(float(round(now)))
            x.append(dx)
            y.append(dy)
        digests = repeat.path_sketches(t, x, y)
        sketched += bool(digests)
        for d in digests:
            assert seen.setdefault(d, i) == i, (i, seen[d])
    assert sketched >= 150, sketched


def test_too_little_movement_gets_no_sketch() -> None:
    few = [float(i * 16) for i in range(repeat.MIN_MOVES - 1)]
    assert repeat.path_sketches(few, [i * 40.0 for i in range(len(few))], [0.0] * len(few)) == ()
    n = 40
    t = [float(i * 16) for i in range(n)]
    short = [i * (repeat.MIN_PATH_PX - 20) / n for i in range(n)]
    assert repeat.path_sketches(t, short, [0.0] * n) == ()
    long = [i * (repeat.MIN_PATH_PX + 20) / n for i in range(n)]
    assert len(repeat.path_sketches(t, long, [0.0] * n)) == repeat.GRIDS
    # No time passing (or no pointer at all) is no sketch either.
    assert repeat.path_sketches([0.0] * n, long, [0.0] * n) == ()
    assert repeat.sketches(parse_telemetry({"v": 1, "pointer": "mouse", "events": []})) == ()
