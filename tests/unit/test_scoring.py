"""The provisional heuristic scorer: missing is friction not a block, bots score above humans."""

from __future__ import annotations

import csv
import math
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haechi.risk.scoring import (
    HeuristicScorer,
    RiskInput,
    RiskResult,
    RiskScorer,
    rests_on_missing,
)
from haechi.risk.telemetry import parse_telemetry

BLOCK = 91  # the first blocking risk of the seed bands


def score(obj: object, *, ip_rate: float | None = None, missing: int = 30) -> RiskResult:
    scorer: RiskScorer = HeuristicScorer(missing_telemetry_risk=missing)
    return scorer.score(RiskInput(telemetry=parse_telemetry(obj), ip_rate=ip_rate))


def telemetry(events: list[Any], /, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": events, **extra}


def human_events(seed: int) -> list[list[Any]]:
    """A hand-to-target movement: curved, overshooting, bell-shaped speed, jittered timing."""
    rng = random.Random(seed)
    x0, y0 = rng.uniform(50, 1200), rng.uniform(50, 650)
    x1, y1 = rng.uniform(100, 1100), rng.uniform(100, 600)
    # Control point off the straight line: a curved path.
    bend = rng.uniform(0.15, 0.35) * rng.choice([-1, 1])
    cx = (x0 + x1) / 2 - (y1 - y0) * bend
    cy = (y0 + y1) / 2 + (x1 - x0) * bend
    t = rng.randint(200, 900)
    events: list[list[Any]] = []
    steps = rng.randint(35, 60)
    for i in range(steps + 1):
        s = i / steps
        s = s * s * s * (10 - 15 * s + 6 * s * s)  # minimum-jerk: slow, fast, slow
        x = (1 - s) ** 2 * x0 + 2 * (1 - s) * s * cx + s * s * x1 + rng.gauss(0, 0.6)
        y = (1 - s) ** 2 * y0 + 2 * (1 - s) * s * cy + s * s * y1 + rng.gauss(0, 0.6)
        events.append([t, "m", round(x, 1), round(y, 1), -1])
        t += rng.choice([16, 17, 16, 17, 17, 33]) if rng.random() > 0.05 else rng.randint(60, 240)
    # Settle near the target, then click with a human dwell.
    fx, fy = events[-1][2], events[-1][3]
    for _ in range(rng.randint(2, 5)):
        fx, fy = round(fx + rng.uniform(-1.5, 1.5), 1), round(fy + rng.uniform(-1.5, 1.5), 1)
        events.append([t, "m", fx, fy, -1])
        t += rng.randint(16, 60)
    events.append([t, "d", fx, fy, 0])
    events.append([t + rng.randint(60, 140), "u", fx, fy, 0])
    return events


def straight_bot_events() -> list[list[Any]]:
    """A script's move: a straight line, equal steps, one fixed interval, then a click."""
    events: list[list[Any]] = [[i * 10, "m", 100 + i * 12.0, 200 + i * 5.0, -1] for i in range(50)]
    last = events[-1]
    events.append([last[0] + 10, "d", last[2], last[3], 0])
    events.append([last[0] + 20, "u", last[2], last[3], 0])
    return events


# ---------------------------------------------------------------------------- missing telemetry


@pytest.mark.parametrize("missing", [0, 17, 30, 90])
def test_missing_telemetry_scores_exactly_the_configured_risk(missing: int) -> None:
    result = score(None, missing=missing)
    assert result.risk == missing
    assert result.risk < BLOCK
    assert result.reasons == ("no-telemetry",)
    assert rests_on_missing(result)


def test_empty_telemetry_is_missing_too() -> None:
    result = score(telemetry([]))
    assert result.risk == 30
    assert result.reasons == ("no-telemetry",)


def test_keyboard_only_is_friction_not_a_block() -> None:
    result = score(telemetry([], keys=[[100, "d", 0], [180, "u", 0]]))
    assert result.risk == 30
    assert result.reasons == ("no-pointer",)
    assert rests_on_missing(result)


def test_touch_taps_are_friction_not_a_block() -> None:
    taps = [[900, "d", 200, 300, 0], [990, "u", 200, 300, 0], [2400, "d", 640, 500, 0]]
    result = score(telemetry(taps, pointer="touch"))
    assert result.risk == 15
    assert result.reasons == ("touch-only",)
    assert rests_on_missing(result)


@pytest.mark.parametrize("bad", [-1, 91, 100])
def test_missing_risk_must_stay_below_a_block(bad: int) -> None:
    with pytest.raises(ValueError, match="never a block"):
        HeuristicScorer(missing_telemetry_risk=bad)


# ---------------------------------------------------------------------------- hints and signals


@pytest.mark.parametrize("hint", ["webdriver", "headless"])
def test_automation_hints_block(hint: str) -> None:
    result = score(telemetry(human_events(1), hints={hint: True}))
    assert result.risk >= BLOCK
    assert hint in result.reasons
    assert not rests_on_missing(result)


def test_webdriver_blocks_even_without_telemetry() -> None:
    result = score(telemetry([], hints={"webdriver": True}))
    assert result.risk >= BLOCK


def test_webdriver_false_changes_nothing() -> None:
    events = human_events(2)
    assert score(telemetry(events, hints={"webdriver": False})) == score(telemetry(events))


def test_anomalies_raise_risk() -> None:
    events = human_events(3)
    clean = score(telemetry(events))
    few = score(telemetry([*events, "junk"]))
    many = score(telemetry([*events, *(["junk"] * 12)]))
    assert clean.risk < few.risk < many.risk
    assert "anomalies" in many.reasons


def test_ip_rate_raises_risk() -> None:
    events = human_events(4)
    base = score(telemetry(events)).risk
    assert score(telemetry(events), ip_rate=1.0).risk == base
    assert score(telemetry(events), ip_rate=math.nan).risk == base
    assert (
        base < score(telemetry(events), ip_rate=12).risk < score(telemetry(events), ip_rate=80).risk
    )


# ---------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("seed", range(25))
def test_human_like_movement_scores_low(seed: int) -> None:
    result = score(telemetry(human_events(seed)))
    assert result.risk <= 10, result.reasons


def test_straight_constant_speed_path_scores_higher_than_a_human() -> None:
    human = score(telemetry(human_events(7)))
    bot = score(telemetry(straight_bot_events()))
    assert bot.risk > human.risk
    assert {"linear-path", "regular-timing"} <= set(bot.reasons)


def test_regular_timing_on_a_curved_path_is_flagged() -> None:
    events = [[i * 10, *e[1:]] for i, e in enumerate(human_events(8))]
    result = score(telemetry(events))
    assert "regular-timing" in result.reasons
    assert result.risk > 10


def test_teleporting_click_is_flagged() -> None:
    result = score(telemetry([[500, "d", 640, 360, 0], [560, "u", 640, 360, 0]]))
    assert {"teleport", "few-moves"} <= set(result.reasons)
    assert result.risk > 10


def test_click_far_from_the_last_move_is_a_teleport() -> None:
    events = human_events(9)
    events[-2][2] += 300  # the down lands far from where the pointer was
    assert "teleport" in score(telemetry(events)).reasons


def test_sparse_moves_over_a_long_time_are_flagged() -> None:
    events = [[i * 1000, "m", 100 + i * 37, 200 + (i * 53) % 90, -1] for i in range(8)]
    assert "few-moves" in score(telemetry(events)).reasons


def test_scoring_is_deterministic() -> None:
    tele = parse_telemetry(telemetry(human_events(10)))
    scorer = HeuristicScorer()
    assert scorer.score(RiskInput(telemetry=tele)) == scorer.score(RiskInput(telemetry=tele))


# ---------------------------------------------------------------------------- the result


@pytest.mark.parametrize("risk", [-1, 101, 5.0, True])
def test_result_rejects_a_risk_out_of_contract(risk: Any) -> None:
    with pytest.raises(ValueError, match="risk"):
        RiskResult(risk=risk, reasons=(), model="x")


def test_rests_on_missing_needs_only_missing_reasons() -> None:
    assert not rests_on_missing(RiskResult(risk=5, reasons=(), model="x"))
    assert not rests_on_missing(RiskResult(risk=45, reasons=("no-telemetry", "ip-rate"), model="x"))


event_values = st.lists(
    st.tuples(
        st.integers(-5, 5_000),
        st.sampled_from(["m", "m", "m", "d", "u", "s", "f", "b", "?"]),
        st.floats(-2_000, 2_000) | st.integers(-5, 5),
        st.floats(-2_000, 2_000) | st.integers(-5, 5),
        st.integers(-2, 5),
    ).map(list)
    | st.tuples(
        st.integers(0, 5_000),
        st.sampled_from(["m", "d", "u"]),
        st.floats(0, 2_000),
        st.floats(0, 2_000),
        st.integers(-1, 2),
        st.sampled_from(["m", "t", "p"]),
    ).map(list),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(
    events=event_values,
    pointer=st.sampled_from(["mouse", "touch", "pen", "none"]),
    hints=st.fixed_dictionaries(
        {}, optional={"webdriver": st.booleans(), "languages": st.integers(0, 3)}
    ),
    ip_rate=st.none() | st.floats(),
    stage=st.sampled_from(["challenge", "solve"]),
    missing=st.integers(0, 90),
)
def test_score_is_always_an_int_in_range(
    events: list[list[Any]],
    pointer: str,
    hints: dict[str, Any],
    ip_rate: float | None,
    stage: Any,
    missing: int,
) -> None:
    tele = parse_telemetry(telemetry(events, pointer=pointer, hints=hints))
    scorer = HeuristicScorer(missing_telemetry_risk=missing)
    result = scorer.score(RiskInput(telemetry=tele, ip_rate=ip_rate, stage=stage))
    assert type(result.risk) is int
    assert 0 <= result.risk <= 100
    assert result.model == "heuristic-v1"
    if not hints.get("webdriver"):
        assert not (rests_on_missing(result) and result.risk >= BLOCK)


# ---------------------------------------------------------------------------- real humans


def sapimouse_dir() -> Path | None:
    here = Path(__file__).resolve().parents[2]
    for candidate in (
        os.environ.get("HAECHI_SAPIMOUSE_DIR"),
        here / "shared" / "data" / "sapimouse",
        here.parent / "shared" / "data" / "sapimouse",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def test_sapimouse_click_approaches_mostly_pass() -> None:
    """Real people (SapiMouse): the approach to each click, as a recorder would have seen it."""
    root = sapimouse_dir()
    if root is None:
        pytest.skip("SapiMouse data not found (set HAECHI_SAPIMOUSE_DIR)")
    buttons = {"NoButton": -1, "Left": 0, "Right": 2, "Other": 1}
    kinds = {"Move": "m", "Drag": "m", "Pressed": "d", "Released": "u"}
    scorer = HeuristicScorer()
    low = total = 0
    for path in sorted(root.glob("user1*/session_1min.csv")):
        with path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        events = [
            [int(ts), kinds[state], float(x), float(y), -1 if state == "Move" else buttons[b]]
            for ts, b, state, x, y in rows
        ]
        last_up: list[Any] | None = None
        window: list[list[Any]] = []
        for event in events:
            window.append(event)
            if event[1] != "u":
                continue
            downs = [e for e in window if e[1] == "d"]
            # One click after a real approach (not the second half of a double click).
            if last_up is not None and len(downs) == 1 and downs[0][0] - last_up[0] >= 400:
                start = [last_up[0], "m", last_up[2], last_up[3], -1]
                rec = [[e[0] - start[0], *e[1:]] for e in [start, *window]]
                total += 1
                low += scorer.score(RiskInput(telemetry=parse_telemetry(telemetry(rec)))).risk <= 10
            last_up, window = event, []
    assert total > 100
    assert low / total >= 0.95
