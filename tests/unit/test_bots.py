"""Bot generators give valid telemetry v1, deterministically; the evaluation metrics are right."""

from __future__ import annotations

import math

import numpy as np
import pytest

from haechi.ml import bots, data
from haechi.ml.evaluate import auc, movement_onsets, threshold
from haechi.risk import features as F
from haechi.risk.telemetry import parse_telemetry


def human_like(seed: int, moves: int = 12) -> F.Trajectory:
    """Synthetic click-to-target movements (curved, minimum-jerk) to build a replay pool from."""
    rng = np.random.default_rng(seed)
    t: list[float] = []
    kind: list[int] = []
    x: list[float] = []
    y: list[float] = []
    now, px, py = 0.0, 400.0, 300.0
    for _ in range(moves):
        gx, gy = rng.uniform(50, 1200), rng.uniform(50, 650)
        n = int(rng.integers(20, 45))
        bend = rng.uniform(-0.3, 0.3)
        for i in range(1, n + 1):
            s = i / n
            s = s**3 * (10 - 15 * s + 6 * s * s)
            t.append(now + i * 16.7)
            kind.append(F.MOVE)
            x.append(round(px + (gx - px) * s - (gy - py) * bend * math.sin(math.pi * s)))
            y.append(round(py + (gy - py) * s + (gx - px) * bend * math.sin(math.pi * s)))
        now += n * 16.7 + rng.uniform(20, 120)
        px, py = x[-1], y[-1]
        t += [now, now + rng.uniform(60, 140)]
        kind += [F.DOWN, F.UP]
        x += [px, px]
        y += [py, py]
        now = t[-1] + rng.uniform(10, 150)
    return F.Trajectory(
        np.array(t),
        np.array(kind, np.int8),
        np.array(x, np.float64),
        np.array(y, np.float64),
        np.where(np.array(kind) == F.MOVE, -1, 0).astype(np.int8),
    )


@pytest.fixture(scope="module")
def pool() -> list[bots.ReplaySegment]:
    return bots.replay_pool([human_like(s) for s in range(4)])


@pytest.mark.parametrize("family", bots.FAMILIES)
def test_each_family_gives_clean_telemetry(family: str, pool: list[bots.ReplaySegment]) -> None:
    for seed in range(8):
        session = bots.session(family, seed, pool=pool)
        obj = session.telemetry()
        tele = parse_telemetry(obj)
        assert tele.anomalies == 0, (family, seed)
        assert obj["viewport"] == list(session.viewport)
        kinds = [e[1] for e in tele.events]
        assert kinds.count("m") >= 10
        assert kinds.count("d") >= 1
        assert tele.events[0][0] >= 0
        assert tele.events[-1][0] <= 10_000 + 17  # a move may land on the next frame
        xs = [e[2] for e in tele.events]
        assert min(xs) >= -200
        assert max(xs) <= session.viewport[0] + 200
        # The bot moves are features the model can read.
        assert not F.extract(tele).empty


@pytest.mark.parametrize("family", bots.FAMILIES)
def test_same_seed_same_session(family: str, pool: list[bots.ReplaySegment]) -> None:
    a = bots.session(family, 7, pool=pool).telemetry()
    b = bots.session(family, 7, pool=pool).telemetry()
    c = bots.session(family, 8, pool=pool).telemetry()
    assert a == b
    assert a != c


def test_duration_is_respected(pool: list[bots.ReplaySegment]) -> None:
    session = bots.session("windmouse", 1, duration_ms=4000.0)
    assert session.trajectory.t[-1] <= 4000.0 + 17  # a coalesced move lands on the next frame
    assert bots.session("replay", 1, pool=pool, duration_ms=3000.0).trajectory.t[-1] <= 3001.0


def test_unknown_family_and_replay_without_pool_are_refused() -> None:
    with pytest.raises(ValueError):
        bots.session("teleporter", 1)
    with pytest.raises(ValueError):
        bots.session("replay", 1)


@pytest.mark.parametrize("family", [f for f in bots.PATHS])
def test_paths_go_from_start_to_target(family: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = (float(rng.uniform(0, 1000)), float(rng.uniform(0, 700)))
        b = (float(rng.uniform(0, 1000)), float(rng.uniform(0, 700)))
        t, x, y = bots.PATHS[family](rng, a, b)
        assert t.shape == x.shape == y.shape
        assert (np.diff(t) >= 0).all()
        assert math.dist((x[-1], y[-1]), b) <= 1.0
        assert math.dist((x[0], y[0]), a) <= 3.0


def test_linear_bot_is_straight() -> None:
    rng = np.random.default_rng(2)
    t, x, y = bots.linear_path(rng, (100.0, 100.0), (700.0, 400.0))
    traj = F.Trajectory(t, np.zeros(t.shape[0], np.int8), x, y, np.full(t.shape[0], -1, np.int8))
    fs = F.extract_trajectory(traj)
    assert fs.matrix[0, F.FEATURE_NAMES.index("straightness")] > 0.999


@pytest.mark.parametrize("name", list(bots.EASINGS))
def test_easings_start_at_0_and_end_at_1(name: str) -> None:
    ease = bots.EASINGS[name]
    out = ease(np.array([0.0, 1.0]))
    assert out[0] == pytest.approx(0.0, abs=1e-9)
    assert out[1] == pytest.approx(1.0, abs=1e-9)


def test_windmouse_reaches_its_target_in_integer_steps() -> None:
    rng = np.random.default_rng(3)
    xs, ys = bots.windmouse_points(rng, (10.0, 10.0), (810.0, 410.0), 9, 3, 15, 12)
    assert (xs[-1], ys[-1]) == (810.0, 410.0)
    assert all(v == int(v) for v in xs + ys)
    steps = np.hypot(np.diff(xs), np.diff(ys))
    assert steps.max() <= 16.0  # the maximum step M0 = 15, rounding aside


def test_replay_keeps_timing_and_maps_the_endpoints(pool: list[bots.ReplaySegment]) -> None:
    rng = np.random.default_rng(4)
    (t, x, y), seg = bots.replay_path(rng, (100.0, 500.0), (600.0, 200.0), pool)
    np.testing.assert_array_equal(t, seg.t)
    assert (x[0], y[0]) == (100.0, 500.0)
    assert math.dist((x[-1], y[-1]), (600.0, 200.0)) <= 1.0
    # A similarity transform keeps the shape: straightness is unchanged.
    src = np.hypot(np.diff(seg.x), np.diff(seg.y)).sum() / seg.chord
    dst = np.hypot(np.diff(x), np.diff(y)).sum() / math.dist((x[0], y[0]), (x[-1], y[-1]))
    assert dst == pytest.approx(src, rel=0.05)


def test_direction_matched_replays_turn_little_or_not_at_all(
    pool: list[bots.ReplaySegment],
) -> None:
    a, b = (100.0, 500.0), (600.0, 200.0)
    want = math.atan2(b[1] - a[1], b[0] - a[0])

    def turned(seg: bots.ReplaySegment) -> float:
        own = math.atan2(seg.y[-1] - seg.y[0], seg.x[-1] - seg.x[0])
        return abs((own - want + math.pi) % (2 * math.pi) - math.pi)

    for seed in range(20):
        rng = np.random.default_rng(seed)
        _, seg = bots.replay_path(rng, a, b, pool, match_direction=bots.DIRECTION_MATCH_RAD)
        dist = math.dist(a, b)
        offs = [turned(s) for s in pool if 0.75 * dist <= s.chord <= 1.33 * dist]
        if any(o <= bots.DIRECTION_MATCH_RAD for o in offs):
            assert turned(seg) <= bots.DIRECTION_MATCH_RAD
        # Unrotated: one of the closest in direction, only scaled, the miss spread along it.
        (t, x, y), seg = bots.replay_path(
            rng, a, b, pool, match_direction=bots.DIRECTION_MATCH_RAD, rotate=False
        )
        np.testing.assert_array_equal(t, seg.t)
        assert (x[0], y[0]) == a and math.dist((x[-1], y[-1]), b) <= 1.0


@pytest.mark.parametrize("family", [bots.REPLAY_DIRECTION, bots.REPLAY_UNROTATED])
def test_smarter_replays_are_evaluation_only(family: str, pool: list[bots.ReplaySegment]) -> None:
    obj = bots.session(family, 3, pool=pool).telemetry()
    tele = parse_telemetry(obj)
    assert tele.anomalies == 0 and not F.extract(tele).empty
    assert family in bots.EVAL_FAMILIES and family not in bots.TRAINING_FAMILIES
    with pytest.raises(ValueError):
        bots.session(family, 3)  # needs a pool
    with pytest.raises(ValueError):
        data.bot_windows([family], 1, seed0=0, varied=0.0, jobs=1)


def test_replay_pool_holds_click_ending_segments() -> None:
    segs = bots.replay_pool([human_like(0, moves=5)])
    assert len(segs) == 5
    for seg in segs:
        assert seg.t[0] == 0.0 and 60 <= seg.dwell_ms <= 140
        assert seg.chord >= 20


def test_a_replayed_movement_starts_from_where_the_hand_rested() -> None:
    """After a click, a segment starts at the released click (time 0, with its first move), so
    the replay's first move is the person's first step, not their second."""
    traj = human_like(0, moves=3)
    segs = bots.replay_pool([traj])
    ups = np.flatnonzero(traj.kind == F.UP)
    for seg, up in zip(segs[1:], ups, strict=False):
        first_move = up + 1
        assert (seg.x[0], seg.y[0]) == (traj.x[up], traj.y[up])
        assert (seg.x[1], seg.y[1]) == (traj.x[first_move], traj.y[first_move])
        assert seg.t[0] == seg.t[1] == 0.0
    start = (300.0, 200.0)
    (_, px, py), seg = bots.replay_path(np.random.default_rng(0), start, (700.0, 500.0), segs[1:2])
    assert (px[0], py[0]) == start  # the rest, dropped by the session: the pointer is there
    first_step = math.hypot(seg.x[1] - seg.x[0], seg.y[1] - seg.y[0])
    scale = math.dist(start, (700.0, 500.0)) / seg.chord
    assert math.hypot(px[1] - px[0], py[1] - py[0]) == pytest.approx(first_step * scale, abs=1.0)


# ------------------------------------------------------------------------ evaluation metrics


def test_auc_counts_ties_half() -> None:
    humans = np.array([0.0, 1.0, 2.0, 3.0])
    assert auc(humans, np.array([10.0, 11.0])) == 1.0
    assert auc(humans, np.array([-1.0])) == 0.0
    assert auc(np.array([5.0, 5.0]), np.array([5.0])) == 0.5
    rng = np.random.default_rng(0)
    h, b = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    pairs = (b[:, None] > h[None, :]).mean() + 0.5 * (b[:, None] == h[None, :]).mean()
    assert auc(h, b) == pytest.approx(pairs)


def test_threshold_lets_the_share_through() -> None:
    humans = np.arange(100, dtype=np.float64)
    assert threshold(humans, 0.99) == 98.0
    assert (humans <= threshold(humans, 0.95)).mean() >= 0.95
    assert threshold(np.full(10, 5.0), 0.99) == 5.0


def test_windows_start_at_movement_onsets() -> None:
    traj = human_like(1, moves=4)
    onsets = movement_onsets(traj)
    assert onsets[0] == 0
    assert all(traj.kind[i - 1] == F.UP for i in onsets[1:])
