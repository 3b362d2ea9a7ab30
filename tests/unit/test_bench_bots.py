"""The bot zoo's pure parts (bench/bots): family names, planned paths and the telemetry
perturbation the HTTP solvers use. The zoo itself runs in `make bench-bots(-smoke)`."""

from __future__ import annotations

import random

from bench.bots import paths, zoo

from haechi.risk.telemetry import parse_telemetry, to_v2


def test_family_names_are_unique_and_quick_families_exist() -> None:
    names = [f.name for f in zoo.families()]
    assert len(names) == len(set(names))
    assert set(zoo.QUICK) <= set(names) and set(zoo.FULL) <= set(names)
    frameworks = {f.framework for f in zoo.families()}
    assert frameworks == {"playwright", "puppeteer", "firefox", "selenium", "uc", "http"}


def test_plan_ends_on_the_target() -> None:
    rng = random.Random(3)
    approach = paths.Approach(
        1, ((0.0, -200.0, -80.0), (16.0, -90.0, -30.0), (16.0, 0.0, 0.0)), 90.0
    )
    for strategy in (*paths.STRATEGIES, "warped", "replay"):
        family = zoo.Family(f"t/{strategy}", "playwright", strategy)
        _start, steps, dwell = zoo.plan(rng, family, (300.0, 200.0), [approach])
        assert steps, strategy
        assert abs(steps[-1][1] - 300.0) < 1.0 and abs(steps[-1][2] - 200.0) < 1.0, strategy
        assert 0 < dwell <= 150
        assert all(dt >= 0 for dt, _, _ in steps)


def test_perturb_moves_events_by_at_most_a_pixel_and_a_millisecond() -> None:
    events = [[1000 + 16 * i, "m", 100 + 3 * i, 200 + i, -1] for i in range(40)]
    events += [[1700, "d", 220, 240, 0], [1790, "u", 220, 240, 0]]
    v1 = {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": events, "keys": []}
    v2 = to_v2(v1)
    moved = zoo.perturb(v2, random.Random(1))
    assert moved["events"]["d"] != v2["events"]["d"]
    a, b = parse_telemetry(v2), parse_telemetry(moved)
    assert b.anomalies == 0 and len(a.events) == len(b.events)
    times = [e[0] for e in b.events]
    assert times == sorted(times)
    for ea, eb in zip(a.events, b.events, strict=True):
        assert abs(ea[0] - eb[0]) <= 1
        assert abs(ea[2] - eb[2]) <= 1.0 and abs(ea[3] - eb[3]) <= 1.0
        assert ea[1] == eb[1]
