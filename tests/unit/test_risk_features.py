"""Risk features beyond single segments: window features with known answers, the fast paths
against plain per-event code, and robustness to whatever a client sends."""

from __future__ import annotations

import math

import numpy as np
import pytest

from haechi.risk import features as F
from haechi.risk.telemetry import parse_telemetry

COL = {name: i for i, name in enumerate(F.FEATURE_NAMES)}
WIN = {name: i for i, name in enumerate(F.WINDOW_NAMES)}
Row = tuple[float, int, float, float, int]


def traj(rows: list[Row]) -> F.Trajectory:
    t, kind, x, y, button = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return F.Trajectory(
        np.asarray(t, np.float64),
        np.asarray(kind, np.int8),
        np.asarray(x, np.float64),
        np.asarray(y, np.float64),
        np.asarray(button, np.int8),
    )


def approach(t0: float, x0: float, y0: float, dist: float, duration: float, dt: float = 16.0
             ) -> list[Row]:  # fmt: skip
    """A straight, minimum-jerk move of ``dist`` px to the right over ``duration`` ms."""
    n = max(4, round(duration / dt))
    rows = []
    for i in range(1, n + 1):
        s = i / n
        s = s**3 * (10 - 15 * s + 6 * s * s)
        rows.append((t0 + i * duration / n, F.MOVE, x0 + dist * s, y0, -1))
    return rows


def clicks_session(hover: float, dwell: float, idle: float, moves: int = 4) -> list[Row]:
    """``moves`` approaches, each followed by a click with the given hover, dwell and idle."""
    rows: list[Row] = [(0.0, F.MOVE, 100.0, 100.0, -1)]
    t, x = 0.0, 100.0
    for i in range(moves):
        dist = 100.0 * 2**i
        rows += approach(t, x, 100.0, dist, 300.0)
        t, x = rows[-1][0], rows[-1][2]
        rows += [(t + hover, F.DOWN, x, 100.0, 0), (t + hover + dwell, F.UP, x, 100.0, 0)]
        t += hover + dwell + idle
    return rows


def window(rows: list[Row]) -> dict[str, float]:
    fs = F.extract_trajectory(traj(rows))
    return {name: float(fs.window[i]) for name, i in WIN.items()}


# ------------------------------------------------------------------------ known answers


def test_straight_line_at_known_speed_and_regular_clock() -> None:
    rows = [(i * 10.0, F.MOVE, 50.0 + 3.0 * i, 80.0 + 4.0 * i, -1) for i in range(41)]
    fs = F.extract_trajectory(traj(rows))
    row = fs.matrix[0]
    assert row[COL["straightness"]] == pytest.approx(1.0, abs=1e-6)
    assert row[COL["speed_mean_log"]] == pytest.approx(math.log1p(500.0), rel=1e-6)  # 5 px/10 ms
    assert row[COL["dt_regular"]] == pytest.approx(1.0)
    assert row[COL["dt_cv"]] == pytest.approx(0.0, abs=1e-9)
    assert row[COL["dt_median_log"]] == pytest.approx(math.log1p(10.0))
    assert row[COL["t90"]] == pytest.approx(0.9, abs=0.03)


def test_circle_has_curvature_one_over_radius() -> None:
    radius = 150.0
    rows = [
        (i * 16.0, F.MOVE, radius * math.cos(i * 0.05), radius * math.sin(i * 0.05), -1)
        for i in range(60)
    ]
    row = F.extract_trajectory(traj(rows)).matrix[0]
    step = 2 * radius * math.sin(0.025)
    assert row[COL["curvature_median_log"]] == pytest.approx(
        math.log1p(0.05 / step * 1e3), rel=1e-3
    )
    assert row[COL["turn_mean"]] == pytest.approx(0.05, rel=1e-6)
    assert row[COL["turn_std"]] == pytest.approx(0.0, abs=1e-6)  # always the same way


def test_a_reversal_turns_plus_pi_either_way() -> None:
    right_left = [(i * 16.0, F.MOVE, float(i % 2), 0.0, -1) for i in range(12)]
    left_right = [(i * 16.0, F.MOVE, float((i + 1) % 2), 0.0, -1) for i in range(12)]
    a = F.extract_trajectory(traj(right_left)).matrix[0]
    b = F.extract_trajectory(traj(left_right)).matrix[0]
    assert a[COL["turn_mean"]] == pytest.approx(math.pi)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_pause_splits_and_is_measured() -> None:
    rows = approach(0.0, 100.0, 100.0, 200.0, 400.0)
    rows += approach(rows[-1][0] + 600.0, rows[-1][2], 100.0, 150.0, 300.0)
    fs = F.extract_trajectory(traj(rows))
    assert fs.matrix.shape[0] == 2 and fs.segments == 2
    assert fs.matrix[1, COL["pause_before_log"]] == pytest.approx(math.log1p(600 + 300 / 19))
    w = window(rows)
    assert w["pause_share"] == pytest.approx((600 + 300 / 19) / fs.span_ms, rel=1e-6)
    assert w["click_end_share"] == 0.0  # neither movement ends in a click
    assert w["resume_step_log"] > 0.0


def test_click_timing_features() -> None:
    w = window(clicks_session(hover=40.0, dwell=90.0, idle=150.0))
    assert w["hover_mean"] == pytest.approx(math.log1p(40.0))
    assert w["dwell_mean"] == pytest.approx(math.log1p(90.0))
    assert w["idle_mean"] == pytest.approx(math.log1p(150.0 + 300 / 19))  # to the next move
    assert w["hover_std"] == pytest.approx(0.0, abs=1e-6)
    assert w["dwell_std"] == pytest.approx(0.0, abs=1e-6)
    assert w["click_slip"] == 0.0
    assert w["click_end_share"] == 1.0
    assert w["approaches_log"] == pytest.approx(math.log1p(4))


def test_a_slip_while_the_button_is_held_is_counted() -> None:
    rows = clicks_session(hover=40.0, dwell=90.0, idle=150.0)
    down = next(i for i, r in enumerate(rows) if r[1] == F.DOWN)
    t, x = rows[down][0], rows[down][2]
    rows.insert(down + 1, (t + 30.0, F.MOVE, x + 1.0, 100.0, 0))  # moved 1 px while pressing
    assert window(rows)["click_slip"] == pytest.approx(1 / 4)


def test_fitts_line_recovers_the_slope() -> None:
    # Durations grow as distance^0.5: the log-log slope is 0.5 with no residual. Clicks are
    # 1 ms long and the next move starts at once, so a segment lasts its movement (+1 ms).
    rows: list[Row] = [(0.0, F.MOVE, 0.0, 100.0, -1)]
    t, x = 0.0, 0.0
    for dist in (40.0, 90.0, 200.0, 450.0, 1000.0):
        rows += approach(t, x, 100.0, dist, 20.0 * dist**0.5, dt=2.0)
        t, x = rows[-1][0], rows[-1][2]
        rows += [(t + 1, F.DOWN, x, 100.0, 0), (t + 2, F.UP, x, 100.0, 0)]
        t += 2.0
    w = window(rows)
    assert w["fitts_slope"] == pytest.approx(0.5, abs=0.03)  # log1p, not log: nearly 0.5
    assert w["fitts_residual"] < 0.03
    assert w["peak_slope"] == pytest.approx(0.5, abs=0.05)  # speed = dist / time


def test_too_few_approaches_leave_the_fit_empty() -> None:
    w = window(clicks_session(hover=40.0, dwell=90.0, idle=150.0, moves=2))
    assert w["fitts_slope"] == w["fitts_residual"] == 0.0


def moves(steps: list[tuple[float, float]], t0: float = 0.0, dt: float = 16.0) -> list[Row]:
    """Moves from (100, 100) by the given steps, ``dt`` ms apart."""
    rows: list[Row] = [(t0, F.MOVE, 100.0, 100.0, -1)]
    for dx, dy in steps:
        rows.append((rows[-1][0] + dt, F.MOVE, rows[-1][2] + dx, rows[-1][3] + dy, -1))
    return rows


def test_steps_along_one_axis_are_counted() -> None:
    # Along x only, then along y only: every step and every pair but the turn is on one axis.
    w = window(moves([(1.0, 0.0)] * 10 + [(0.0, -2.0)] * 10))
    assert w["axis_steps"] == pytest.approx(1.0)
    assert w["axis_pairs"] == pytest.approx(18 / 19)
    # A staircase alternates the axes: every step is on one axis, no pair on the same one.
    w = window(moves([(1.0, 0.0), (0.0, 1.0)] * 10))
    assert w["axis_steps"] == pytest.approx(1.0)
    assert w["axis_pairs"] == 0.0
    # A diagonal (the horizontal line rotated by 45 degrees) has none.
    w = window(moves([(2.0, 2.0)] * 20))
    assert w["axis_steps"] == w["axis_pairs"] == 0.0


def test_axis_steps_skip_rests_pauses_and_clicks() -> None:
    # 4 steps on x, 1 diagonal, a still sample (not a moving step), a 400 ms pause (not a step
    # of a movement) and a click: 5 moving steps, 4 of them on one axis; 3 of the 4 pairs of
    # consecutive moving steps are on the same axis (the still sample breaks the run).
    rows = moves([(1.0, 0.0)] * 4 + [(1.0, 1.0), (0.0, 0.0)])
    rows.append((rows[-1][0] + 400.0, F.MOVE, rows[-1][2] + 1.0, rows[-1][3], -1))
    t, x, y = rows[-1][0], rows[-1][2], rows[-1][3]
    rows += [(t + 50.0, F.DOWN, x, y, 0), (t + 130.0, F.UP, x, y, 0)]
    w = window(rows)
    assert w["axis_steps"] == pytest.approx(4 / 5)
    assert w["axis_pairs"] == pytest.approx(3 / 4)


def test_a_rotated_recording_loses_its_axis_steps() -> None:
    # A hand's slow movement, a pixel at a time along x or y; rotated by 30 degrees and rounded
    # to whole pixels as a replay tool would map it onto another direction.
    rng = np.random.default_rng(1)
    steps = [(1.0, 0.0) if rng.random() < 0.6 else (0.0, 1.0) for _ in range(60)]
    steps = [s for s in steps for _ in range(int(rng.integers(1, 4)))]
    rows = moves(steps)
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    turned = [(t, k, round(100 + c * (x - 100) - s * (y - 100)),
               round(100 + s * (x - 100) + c * (y - 100)), b) for t, k, x, y, b in rows]  # fmt: skip
    a, b = window(rows), window(turned)
    assert a["axis_steps"] == pytest.approx(1.0)
    assert a["axis_pairs"] > 0.5
    assert b["axis_steps"] < 0.8 * a["axis_steps"]
    assert b["axis_pairs"] < 0.6 * a["axis_pairs"]


def test_step_vocabulary_of_a_script_and_of_a_hand() -> None:
    # One fixed 1-px step (under step_repeat's 2-px floor): one distinct step out of 100, all
    # of the same kind, so the entropy is 0 and the vocabulary log1p(1 / 10).
    w = window(moves([(1.0, 0.0)] * 100))
    assert w["step_repeat"] == 0.0
    assert w["step_vocab_log"] == pytest.approx(math.log1p(1 / 10))
    assert w["step_entropy"] == 0.0
    # Two steps alternating (a staircase): two distinct, entropy log 2 / log 100.
    w = window(moves([(1.0, 0.0), (0.0, 1.0)] * 50))
    assert w["step_vocab_log"] == pytest.approx(math.log1p(2 / 10))
    assert w["step_entropy"] == pytest.approx(math.log(2) / math.log(100))
    # A hand's steps change with its speed and direction: every step different.
    rng = np.random.default_rng(3)
    steps = [(float(rng.integers(-9, 10)), float(rng.integers(1, 12))) for _ in range(100)]
    w = window(moves(steps))
    assert w["step_vocab_log"] > math.log1p(5.0)
    assert w["step_entropy"] > 0.8


def test_step_vocabulary_does_not_change_with_the_pixel_ratio() -> None:
    # A screen at dpr 1.25 divides every step by the same number: the counts stay the same.
    rng = np.random.default_rng(4)
    steps = [(float(rng.integers(-3, 4)), float(rng.integers(1, 4))) for _ in range(80)]
    plain = window(moves(steps))
    scaled = window(moves([(dx / 1.25, dy / 1.25) for dx, dy in steps]))
    for name in ("step_vocab_log", "step_entropy"):
        assert scaled[name] == pytest.approx(plain[name])


def test_step_vocabulary_of_too_few_steps_stays_zero() -> None:
    w = window(moves([(3.0, 1.0)]))
    assert w["step_vocab_log"] == w["step_entropy"] == 0.0


# ------------------------------------------------------------------------ fast paths


def test_from_telemetry_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(5)
    events = []
    for i in range(500):
        kind = str(rng.choice(["m", "m", "m", "d", "u", "s", "f", "b"]))
        ptype = str(rng.choice(["m", "m", "p", "t"]))
        button = int(rng.integers(0, 3)) if kind in "du" else -1
        events.append([i * 9, kind, float(rng.integers(0, 900)), float(rng.integers(0, 900)),
                       button, ptype])  # fmt: skip
    tele = parse_telemetry({"v": 1, "viewport": None, "pointer": "mouse", "events": events})
    traj_, flags = F.from_telemetry(tele)
    want = [e for e in tele.events if e[1] in "mdu" and e[5] != "t"]
    assert not flags
    np.testing.assert_array_equal(traj_.t, [e[0] for e in want])
    np.testing.assert_array_equal(traj_.x, [e[2] for e in want])
    np.testing.assert_array_equal(traj_.button, [e[4] for e in want])
    np.testing.assert_array_equal(traj_.kind, [F.KIND_CODES[e[1]] for e in want])


def test_segment_count_and_steps_are_exact() -> None:
    rows = approach(0.0, 0.0, 0.0, 300.0, 320.0)  # 20 steps
    rows += [(rows[-1][0] + 60, F.DOWN, rows[-1][2], 0.0, 0)]
    rows += [(rows[-1][0] + 2, F.MOVE, rows[-1][2] + 1, 0.0, 0)]  # a 1-step drag: too short
    rows += [(rows[-1][0] + 80, F.UP, rows[-1][2], 0.0, 0)]
    fs = F.extract_trajectory(traj(rows))
    assert fs.matrix.shape[0] == 1
    # 20 moves and the down that ends the segment: 20 steps.
    assert fs.matrix[0, COL["steps_log"]] == pytest.approx(math.log1p(20))
    assert fs.stats["usable"] == 1.0 and fs.stats["short"] >= 1.0
    assert fs.clicks == 1 and fs.moves == 21


# ------------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    "rows",
    [
        [(float("nan"), F.MOVE, 1.0, 1.0, -1)] * 50,
        [(-5.0 * i, F.MOVE, float(i), 0.0, -1) for i in range(50)],  # negative times
        [(10.0, F.MOVE, float(i), 0.0, -1) for i in range(50)],  # all at one instant
        [(float(i // 2), F.MOVE, float(i), 0.0, -1) for i in range(50)],  # duplicated times
        [(float(i), F.MOVE, 1e300, -1e300, -1) for i in range(50)],  # huge
        [(1e7 * i, F.MOVE, float(i), 0.0, -1) for i in range(50)],  # hours apart
    ],
)
def test_absurd_trajectories_give_finite_features(rows: list[Row]) -> None:
    fs = F.extract_trajectory(traj(rows))
    assert np.isfinite(fs.matrix).all() and np.isfinite(fs.window).all()
    assert fs.window.shape == (F.N_WINDOW,)
    assert "error" not in fs.flags


def test_out_of_order_input_gives_the_sorted_answer() -> None:
    rows = clicks_session(hover=40.0, dwell=90.0, idle=150.0)
    shuffled = [rows[i] for i in np.random.default_rng(2).permutation(len(rows))]
    a, b = F.extract_trajectory(traj(rows)), F.extract_trajectory(traj(shuffled))
    assert "out-of-order" in b.flags
    np.testing.assert_allclose(a.matrix, b.matrix, rtol=1e-6)
    np.testing.assert_allclose(a.window, b.window, rtol=1e-6)


def test_a_huge_trajectory_is_handled() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    t = np.cumsum(rng.choice([8.0, 16.0, 17.0, 500.0], n, p=[0.3, 0.35, 0.34, 0.01]))
    kind = np.where(rng.random(n) < 0.01, F.DOWN, F.MOVE).astype(np.int8)
    xy = np.cumsum(rng.normal(0, 4, (2, n)), axis=1)
    fs = F.extract_trajectory(F.Trajectory(t, kind, xy[0], xy[1], np.full(n, -1, np.int8)))
    assert fs.matrix.shape[0] > 100
    assert np.isfinite(fs.matrix).all() and np.isfinite(fs.window).all()
