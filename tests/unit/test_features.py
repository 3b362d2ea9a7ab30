"""Trajectory features: known shapes give known values; garbage never raises."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haechi.risk import features as F
from haechi.risk.telemetry import parse_telemetry

COL = {name: i for i, name in enumerate(F.FEATURE_NAMES)}


def traj(rows: list[tuple[float, int, float, float, int]]) -> F.Trajectory:
    t, kind, x, y, button = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return F.Trajectory(
        np.asarray(t, np.float64),
        np.asarray(kind, np.int8),
        np.asarray(x, np.float64),
        np.asarray(y, np.float64),
        np.asarray(button, np.int8),
    )


def line(n: int = 60, dt: float = 16.0, vx: float = 0.5, vy: float = 0.25, t0: float = 0.0):
    """A straight move at constant speed: (t, MOVE, x, y, -1) rows."""
    return [(t0 + i * dt, F.MOVE, 100 + vx * i * dt, 200 + vy * i * dt, -1) for i in range(n)]


def feature(fs: F.SegmentFeatures, name: str, row: int = 0) -> float:
    return float(fs.matrix[row, COL[name]])


def test_straight_constant_speed_line() -> None:
    fs = F.extract_trajectory(traj(line()))
    assert fs.matrix.shape == (1, F.N_FEATURES)
    assert not fs.flags
    length = math.hypot(0.5, 0.25) * 59 * 16
    assert feature(fs, "straightness") == pytest.approx(1.0, abs=1e-6)
    assert feature(fs, "deviation") == pytest.approx(0.0, abs=1e-6)
    assert feature(fs, "overshoot") == pytest.approx(0.0, abs=1e-6)
    assert feature(fs, "path_px_log") == pytest.approx(math.log1p(length), rel=1e-5)
    assert feature(fs, "chord_px_log") == pytest.approx(math.log1p(length), rel=1e-5)
    assert feature(fs, "duration_ms_log") == pytest.approx(math.log1p(59 * 16), rel=1e-6)
    assert feature(fs, "steps_log") == pytest.approx(math.log1p(59), rel=1e-6)
    speed = length / (59 * 16) * 1000  # px/s
    assert feature(fs, "speed_mean_log") == pytest.approx(math.log1p(speed), rel=1e-5)
    assert feature(fs, "speed_max_log") == pytest.approx(math.log1p(speed), rel=1e-5)
    for name in ("speed_cv", "acc_mean_log", "jerk_mean_log", "turn_mean", "turn_std"):
        assert feature(fs, name) == pytest.approx(0.0, abs=1e-4), name
    assert feature(fs, "curvature_mean_log") == pytest.approx(0.0, abs=1e-6)
    assert feature(fs, "dt_cv") == pytest.approx(0.0, abs=1e-6)
    assert feature(fs, "dt_regular") == pytest.approx(1.0)
    assert feature(fs, "dt_median_log") == pytest.approx(math.log1p(16), rel=1e-6)
    assert feature(fs, "still_share") == 0.0
    assert feature(fs, "drag") == 0.0
    assert feature(fs, "ends_in_click") == 0.0


def test_circle_arc_has_its_curvature() -> None:
    radius, n = 200.0, 80
    rows = [
        (i * 16.0, F.MOVE, 500 + radius * math.cos(i * 0.02), 400 + radius * math.sin(i * 0.02), -1)
        for i in range(n)
    ]
    fs = F.extract_trajectory(traj(rows))
    # Turning 0.02 rad per step of 2 R sin(0.01) px: curvature 1/R per px (x 1000).
    step = 2 * radius * math.sin(0.01)
    assert feature(fs, "curvature_mean_log") == pytest.approx(
        math.log1p(0.02 / step * 1000), rel=1e-3
    )
    assert feature(fs, "turn_mean") == pytest.approx(0.02, rel=1e-6)
    assert feature(fs, "turn_flips") == 0.0
    assert feature(fs, "straightness") < 0.95


def test_accelerating_line_has_constant_acceleration() -> None:
    # x = a t² / 2 with a = 0.002 px/ms² (2,000 px/s²), sampled every 10 ms.
    rows = [(i * 10.0, F.MOVE, 0.001 * (i * 10.0) ** 2, 0.0, -1) for i in range(40)]
    fs = F.extract_trajectory(traj(rows))
    assert feature(fs, "acc_mean_log") == pytest.approx(math.log1p(2000.0), rel=1e-6)
    assert feature(fs, "acc_std_log") == pytest.approx(0.0, abs=1e-3)
    assert feature(fs, "jerk_mean_log") == pytest.approx(0.0, abs=1e-3)
    assert feature(fs, "speed_peak_at") > 0.9


def test_pause_and_click_split_segments() -> None:
    rows = line(30)
    end_t, end_x, end_y = rows[-1][0], rows[-1][2], rows[-1][3]
    rows += [(end_t + 40, F.DOWN, end_x, end_y, 0), (end_t + 130, F.UP, end_x, end_y, 0)]
    # After a 500 ms pause, a second movement that drags with the button held.
    rows += [(r[0] + end_t + 630, F.MOVE, r[2], r[3] + 300, 0) for r in line(20)]
    fs = F.extract_trajectory(traj(rows))
    assert fs.matrix.shape[0] == 2
    first, second = fs.matrix
    assert first[COL["ends_in_click"]] == 1.0
    assert first[COL["dwell_log"]] == pytest.approx(math.log1p(90))
    assert first[COL["drag"]] == 0.0
    assert second[COL["drag"]] == 1.0
    assert second[COL["pause_before_log"]] > math.log1p(300)
    assert fs.segments >= 2


def test_still_samples_and_hesitations_are_counted() -> None:
    rows = line(20)
    t, x, y = rows[-1][0], rows[-1][2], rows[-1][3]
    rows += [(t + 16 * (i + 1), F.MOVE, x, y, -1) for i in range(5)]  # resting, still sampled
    rows += [(r[0] + t + 200, F.MOVE, r[2] + x - 100, r[3] + y - 200, -1) for r in line(20)]
    fs = F.extract_trajectory(traj(rows))
    assert fs.matrix.shape[0] == 1
    # Five resting samples, and the next movement starts where the pointer rested: 6 still steps.
    assert feature(fs, "still_share") == pytest.approx(6 / (len(rows) - 1), rel=1e-6)
    assert feature(fs, "hesitation_share") > 0.0


@pytest.mark.parametrize(
    ("rows", "flag"),
    [
        ([], "too-few-points"),
        ([(0.0, F.MOVE, 1.0, 1.0, -1)], "too-few-points"),
        ([(float("nan"), F.MOVE, 1.0, 1.0, -1), *line(10)], "non-finite"),
        ([(0.0, F.MOVE, 1e12, 1.0, -1), *line(10)], "absurd-values"),
        ([*line(10, t0=1000), *line(10)], "out-of-order"),
        ([*line(10), (144.0, F.MOVE, 3.0, 4.0, -1)], "duplicate-times"),
        ([(0.0, F.MOVE, 0.0, 0.0, -1), (1.0, F.MOVE, 90000.0, 0.0, -1)], "absurd-speed"),
        ([(i * 1000.0, F.MOVE, i * 10.0, 0.0, -1) for i in range(10)], "no-segments"),
        (line(3), "no-usable-segments"),
    ],
)
def test_bad_input_is_flagged_not_raised(rows: list[Any], flag: str) -> None:
    fs = F.extract_trajectory(traj(rows))
    assert flag in fs.flags
    assert np.isfinite(fs.matrix).all()


def test_out_of_order_input_reads_as_sorted() -> None:
    rows = line(40)
    shuffled = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    a = F.extract_trajectory(traj(rows))
    b = F.extract_trajectory(traj(shuffled))
    assert "out-of-order" in b.flags
    np.testing.assert_allclose(a.matrix, b.matrix, rtol=1e-6)


def test_mismatched_arrays_are_malformed() -> None:
    bad = F.Trajectory(
        np.zeros(3), np.zeros(2, np.int8), np.zeros(3), np.zeros(3), np.zeros(3, np.int8)
    )
    fs = F.extract_trajectory(bad)
    assert fs.empty and "malformed" in fs.flags


def test_telemetry_without_mouse_is_flagged() -> None:
    tele = {
        "v": 1,
        "viewport": None,
        "pointer": "touch",
        "events": [[0, "d", 1, 1, 0], [90, "u", 1, 1, 0]],
    }
    assert "touch-only" in F.extract(parse_telemetry(tele)).flags
    tele = {"v": 1, "viewport": None, "pointer": "mouse", "events": [[0, "s", 0, 10, -1]]}
    assert "no-pointer" in F.extract(parse_telemetry(tele)).flags
    assert "no-pointer" in F.extract(parse_telemetry(None)).flags


number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12),
    st.sampled_from([0.0, -0.0, 1e-300, 8.0, 16.0, 1e308]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(number, st.integers(-3, 5), number, number, st.integers(-128, 127)),
        max_size=60,
    )
)
def test_garbage_arrays_never_raise(rows: list[tuple[Any, int, Any, Any, int]]) -> None:
    t = F.Trajectory(
        np.asarray([float(r[0]) for r in rows], np.float64),
        np.asarray([r[1] for r in rows], np.int8),
        np.asarray([float(r[2]) for r in rows], np.float64),
        np.asarray([float(r[3]) for r in rows], np.float64),
        np.asarray([r[4] for r in rows], np.int8),
    )
    fs = F.extract_trajectory(t)
    assert fs.matrix.shape[1] == F.N_FEATURES
    assert "error" not in fs.flags
    assert np.isfinite(fs.matrix).all() and np.isfinite(fs.window).all()
    assert fs.matrix.dtype == np.float32 and fs.window.dtype == np.float32
    assert "error" not in fs.flags


event = st.lists(
    st.one_of(number, st.sampled_from(["m", "d", "u", "s", "x"]), st.integers(-2, 5)),
    min_size=5,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            event, st.tuples(st.integers(0, 5000), st.just("m"), number, number, st.just(-1))
        ),
        max_size=80,
    )
)
def test_garbage_telemetry_never_raises(events: list[Any]) -> None:
    tele = parse_telemetry({"v": 1, "viewport": None, "pointer": "mouse", "events": events})
    fs = F.extract(tele)
    assert fs.matrix.shape[1] == F.N_FEATURES
    assert np.isfinite(fs.matrix).all()
    assert "error" not in fs.flags


def test_cost_at_the_event_cap() -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.choice([16.0, 17.0, 33.0, 400.0], 2000, p=[0.45, 0.45, 0.07, 0.03]))
    kind = np.where(rng.random(2000) < 0.02, F.DOWN, F.MOVE).astype(np.int8)
    xy = np.cumsum(rng.normal(0, 5, (2, 2000)), axis=1)
    fs = F.extract_trajectory(
        F.Trajectory(t, kind, xy[0], xy[1], np.where(kind == F.MOVE, -1, 0).astype(np.int8))
    )
    assert fs.matrix.shape[0] > 10


# ------------------------------------------------------------------------------ resampling


def recorded(n: int = 120) -> F.Trajectory:
    """A curved 60 Hz movement, a click, a rest of 1 s, and another movement."""
    rows = [(i * 16.7, F.MOVE, 300 + 200 * math.sin(i / 40), 300 + 0.8 * i, -1) for i in range(n)]
    end = rows[-1]
    rows += [(end[0] + 60, F.DOWN, end[2], end[3], 0), (end[0] + 150, F.UP, end[2], end[3], 0)]
    rows += [(end[0] + 1150 + i * 16.7, F.MOVE, end[2] + 3 * i, end[3], -1) for i in range(40)]
    return traj(rows)


@pytest.mark.parametrize("hz", [30.0, 60.0, 120.0, 144.0])
def test_resample_takes_the_new_rate(hz: float) -> None:
    src = recorded()
    out = F.resample(src, hz, rng=np.random.default_rng(3))
    moves = out.kind == F.MOVE
    dts = np.diff(out.t[moves])
    assert np.median(dts) == pytest.approx(1000 / hz, abs=1.0)
    # Clicks keep their times and places; nothing is emitted while the pointer rests.
    np.testing.assert_array_equal(out.t[~moves], np.round(src.t[src.kind != F.MOVE]))
    rest = (out.t > src.t[121] + 1) & (out.t < src.t[122] - 1) & moves
    assert not rest.any()
    # Positions stay on the original path (a smooth curve: interpolation error is small).
    ref_x = np.interp(out.t[moves], src.t[src.kind == F.MOVE], src.x[src.kind == F.MOVE])
    assert np.abs(out.x[moves] - ref_x).max() <= 1.0
    assert out.t[0] >= src.t[0] and out.t[-1] <= src.t[-1] + 1


def test_resample_flushes_the_move_before_a_click() -> None:
    out = F.resample(recorded(), 30.0, rng=np.random.default_rng(0))
    down = int(np.flatnonzero(out.kind == F.DOWN)[0])
    assert out.kind[down - 1] == F.MOVE
    assert (out.x[down - 1], out.y[down - 1]) == pytest.approx((out.x[down], out.y[down]), abs=0.5)


def test_resample_keeps_the_button_held_in_a_drag() -> None:
    rows = [*line(10), (160.0, F.DOWN, 180.0, 240.0, 0)]
    rows += [(176.0 + 16 * i, F.MOVE, 180.0 + 8 * i, 240.0, 0) for i in range(10)]
    rows += [(340.0, F.UP, 252.0, 240.0, 0)]
    out = F.resample(traj(rows), 120.0)
    drag = (out.kind == F.MOVE) & (out.t > 160) & (out.t < 340)
    assert drag.any() and (out.button[drag] == 0).all()
    assert (out.button[(out.kind == F.MOVE) & (out.t < 160)] == -1).all()


def test_resampled_line_keeps_its_features() -> None:
    src = traj(line(120))
    for hz in F.SAMPLE_RATES:
        fs = F.extract_trajectory(F.resample(src, hz, decimals=2))
        assert feature(fs, "straightness") == pytest.approx(1.0, abs=1e-4)
        assert feature(fs, "speed_cv") < 0.2  # whole-ms times add a little noise


# --------------------------------------------------------------------------- telemetry writer


def test_writer_applies_the_8ms_rule_and_parses_cleanly() -> None:
    rows = [(i * 4.0, F.MOVE, float(i), 0.0, -1) for i in range(50)]
    rows += [(198.0, F.DOWN, 49.0, 0.0, 0), (260.0, F.UP, 49.0, 0.0, 0)]
    obj = F.to_telemetry(traj(rows), viewport=(800.0, 600.0))
    tele = parse_telemetry(obj)
    assert tele.anomalies == 0
    moves = [e for e in tele.events if e[1] == "m"]
    gaps = np.diff([e[0] for e in moves])
    assert (gaps[:-1] >= 8).all()  # the last move was flushed by the down
    assert moves[-1][2] == 49.0  # the pending move before the click is written
    assert [e[1] for e in tele.events[-2:]] == ["d", "u"]
    assert tele.events[0][0] == 0


def test_writer_drops_the_oldest_moves_over_the_cap() -> None:
    rows = [(i * 10.0, F.MOVE, float(i % 500), 0.0, -1) for i in range(2500)]
    rows.insert(100, (995.0, F.DOWN, 99.0, 0.0, 0))
    obj = F.to_telemetry(traj(rows))
    assert len(obj["events"]) == 2000  # type: ignore[arg-type]
    assert obj["dropped"] == 501
    assert parse_telemetry(obj).anomalies == 0
    assert any(e[1] == "d" for e in obj["events"])  # type: ignore[attr-defined]
