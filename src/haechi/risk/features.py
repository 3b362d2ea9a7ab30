"""Behaviour features of a pointer trajectory: per segment, and for the window as a whole.

Serving code and training code share this module, so the model sees the same numbers in both.
Trajectories, cleaning and resampling live in ``haechi.risk.trajectory`` (re-exported here).

A *segment* is a maximal run of steps (from one point to the next) with the same button state
(hovering or dragging) and no pause longer than ``PAUSE_MS`` in it: a down or an up, or a pause,
ends a segment. So an approach to a target ends at its click, and the drag of a held button is
a segment of its own. Segments with fewer than ``MIN_STEPS`` steps or ``MIN_PATH_PX`` of path
get no feature vector (too little to judge); they are counted. Segment features are
``FEATURE_NAMES`` (``log`` means ``log1p`` of the value).

*Window* features (``WINDOW_NAMES``) describe what a visitor did around the movements, over the
whole telemetry object: how the clicks are timed (hover before the down, dwell, idle after the
up), whether the hand slipped while a button was held, how often movements stop short of a
click, pauses, and whether movement time and peak speed follow the distance the way Fitts's law
says one person's do. A script that draws human-looking paths still has to get these right.
Two of them look at the pixels: a mouse moves the pointer by whole counts along x and y, so the
slow stretches of a hand's movement step along one screen axis at a time (``axis_steps``,
``axis_pairs``); a recorded movement that was rotated onto another direction loses that. They
are measured only where a pixel is a count (device pixel ratio 1, whole coordinates:
``pixels_unknown``), else both read ``AXIS_UNKNOWN``. Since v5 the window features also count
what scripts repeat (still stretches of one length, runs of one identical step) and describe
speed by ratios (peak / mean, acceleration / speed) that a screen's scale does not change;
since v6 how few different steps the moves are made of (``step_vocab_log``, ``step_entropy``:
a script's fixed steps, 1-px ones included). A model from v6 on reads an ``AXIS_UNKNOWN``
window's pixel-step features as the people's median (``haechi.risk.model``), not as a value.

Everything is computed for all segments at once: sums as differences of prefix sums, maxima with
``reduceat``, medians from one sort, so the cost grows with the number of events, not of
segments (about 1 ms at the 2,000-event cap on the 2-core development machine).

Nothing here raises on bad input: ``extract`` returns an empty feature matrix and flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from haechi.risk.telemetry import Telemetry
from haechi.risk.trajectory import (
    DOWN,
    EMPTY,
    F64,
    I64,
    KIND_CODES,
    KIND_NAMES,
    MOVE,
    MOVE_INTERVAL_MS,
    SAMPLE_RATES,
    UP,
    EventRow,
    Trajectory,
    clean,
    from_telemetry,
    resample,
    to_events,
    to_telemetry,
)

__all__ = [
    "ABSURD_SPEED",
    "DOWN",
    "EMPTY",
    "F64",
    "FEATURE_NAMES",
    "KIND_CODES",
    "KIND_NAMES",
    "MIN_PATH_PX",
    "MIN_STEPS",
    "MOVE",
    "MOVE_INTERVAL_MS",
    "N_FEATURES",
    "N_WINDOW",
    "PAUSE_MS",
    "SAMPLE_RATES",
    "UP",
    "WINDOW_NAMES",
    "EventRow",
    "SegmentFeatures",
    "Trajectory",
    "clean",
    "extract",
    "extract_trajectory",
    "from_telemetry",
    "resample",
    "to_events",
    "to_telemetry",
]

PAUSE_MS: Final = 300.0  # a step longer than this is a pause: it ends the segment
MIN_STEPS: Final = 4
MIN_PATH_PX: Final = 5.0
ABSURD_SPEED: Final = 30.0  # px/ms (30,000 px/s): no hand moves a pointer this fast
HESITATION_MS: Final = 50.0
APPROACH_MIN_PX: Final = 20.0  # click-ending segments at least this long enter the Fitts fit
CLICK_CAP_MS: Final = 5_000.0  # hover, dwell and idle times are capped here

FEATURE_NAMES: Final = (
    "duration_ms_log",  # first to last point of the segment
    "steps_log",  # number of steps (points - 1)
    "path_px_log",  # length along the path
    "chord_px_log",  # start to end, straight
    "straightness",  # chord / path (1 = straight line)
    "deviation",  # largest distance from the chord, / chord
    "overshoot",  # how far the path passes beyond its end along the chord, / chord
    "speed_mean_log",  # path / duration, px/s
    "speed_max_log",  # px/s
    "speed_cv",  # std / mean of the step speeds
    "speed_peak_at",  # time of the fastest step, share of the duration (0..1)
    "t90",  # time to cover 90% of the path, share of the duration
    "acc_mean_log",  # mean |acceleration|, px/s²
    "acc_std_log",
    "acc_max_log",
    "acc_flips",  # share of acceleration sign changes (submovements)
    "jerk_mean_log",  # mean |jerk|, px/s³
    "jerk_std_log",
    "turn_mean",  # mean |turning angle| between moving steps, rad
    "turn_std",  # std of the signed turning angle, rad
    "turn_flips",  # share of turning-direction changes
    "curvature_mean_log",  # mean |turn| / step length, 1/px (x 1000)
    "curvature_median_log",
    "dt_median_log",  # ms between points
    "dt_cv",  # timing regularity: std / mean of the intervals
    "dt_regular",  # share of intervals within 1 ms of the median
    "dt_max_ratio_log",  # longest / median interval
    "still_share",  # share of steps that do not move (sampling of a resting pointer)
    "hesitation_share",  # share of the duration in steps longer than 50 ms
    "step_cv",  # std / mean of the step lengths
    "pause_before_log",  # ms of pause before the segment (0 if it follows a click)
    "drag",  # 1 when a button is held
    "ends_in_click",  # 1 when a button goes down at its end
    "dwell_log",  # ms from that down to its up (0 without one)
)
N_FEATURES: Final = len(FEATURE_NAMES)

WINDOW_NAMES: Final = (
    "segments_log",  # all segments, short ones included
    "usable_log",  # segments with a feature vector
    "usable_share",
    "clicks_per_s_log",  # downs per second of the trajectory's span
    "click_slip",  # share of clicks with a move while the button is held
    "hover_mean",  # log ms from the last move to the down
    "hover_std",
    "dwell_mean",  # log ms from the down to its up
    "dwell_std",
    "idle_mean",  # log ms from an up to the next move
    "idle_std",
    "pause_share",  # share of the span spent in pauses
    "click_end_share",  # share of usable hovering segments that end in a click
    "approaches_log",  # click-ending hovering segments of at least APPROACH_MIN_PX
    "fitts_slope",  # log duration against log distance over those approaches
    "fitts_residual",  # std of the residuals of that line (one person is consistent)
    "peak_slope",  # log peak speed against log distance
    "peak_residual",
    "resume_step_log",  # mean first step (px) after a pause
    "axis_steps",  # share of moving steps along one screen axis only (dx or dy exactly 0)
    "axis_pairs",  # share of consecutive moving steps that both move along the same axis only
    # Since v5 (issue 18): what scripts repeat, and speed as shapes rather than levels.
    "pause_twins",  # share of still stretches (> 100 ms) as long as another to within 2 ms
    "step_repeat",  # share of consecutive moving steps (>= 2 px) with identical (dx, dy)
    "step_run_log",  # longest run of identical moving steps (>= 2 px)
    "speed_ratio",  # mean over segments of log(peak speed / mean speed): a shape, not a level
    "acc_ratio",  # mean over segments of log(mean |acceleration| / mean speed), 1/s
    # Since v6: how few different steps the moves are made of (any size, 1-px steps too).
    "step_vocab_log",  # log1p(distinct (dx, dy) among moving steps / sqrt(moving steps))
    "step_entropy",  # entropy of the moving steps' (dx, dy), over log(moving steps)
)
N_WINDOW: Final = len(WINDOW_NAMES)

_EPS: Final = 1e-9
_APPROACH_LOG: Final = float(np.log1p(APPROACH_MIN_PX))
# Rows of the feature matrix (transposed while it is built), in the order they are filled.
_LOGGED: Final = [
    FEATURE_NAMES.index(f"{name}_log")
    for name in (
        "duration_ms", "steps", "path_px", "chord_px", "speed_mean", "speed_max", "acc_mean",
        "acc_std", "acc_max", "jerk_mean", "jerk_std", "curvature_mean", "curvature_median",
        "dt_median", "dt_max_ratio", "pause_before", "dwell",
    )
]  # fmt: skip
_PLAIN: Final = [
    FEATURE_NAMES.index(name)
    for name in (
        "straightness", "deviation", "overshoot", "speed_cv", "speed_peak_at", "t90",
        "acc_flips", "turn_mean", "turn_std", "turn_flips", "dt_cv", "dt_regular",
        "still_share", "hesitation_share", "step_cv", "drag", "ends_in_click",
    )
]  # fmt: skip
_COL: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}
_WIN: Final = {name: i for i, name in enumerate(WINDOW_NAMES)}
_AXIS: Final = [_WIN["axis_steps"], _WIN["axis_pairs"]]
AXIS_UNKNOWN: Final = -1.0  # the pixel-step features of a window whose pixels are not counts


@dataclass(frozen=True, slots=True)
class SegmentFeatures:
    """Feature vectors of the usable segments of one trajectory, its window features, and what
    was odd about it."""

    matrix: npt.NDArray[np.float32]  # (segments, N_FEATURES)
    flags: frozenset[str] = frozenset()
    segments: int = 0  # all segments, short ones included
    points: int = 0  # points after cleaning
    span_ms: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)
    window: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(N_WINDOW, np.float32))
    clicks: int = 0  # downs after cleaning
    moves: int = 0  # moves after cleaning

    @property
    def empty(self) -> bool:
        return bool(self.matrix.shape[0] == 0)


def _empty_features(flags: set[str], **kw: float) -> SegmentFeatures:
    return SegmentFeatures(
        matrix=np.zeros((0, N_FEATURES), np.float32),
        flags=frozenset(flags),
        points=int(kw.get("points", 0)),
        span_ms=float(kw.get("span_ms", 0.0)),
        segments=int(kw.get("segments", 0)),
        clicks=int(kw.get("clicks", 0)),
        moves=int(kw.get("moves", 0)),
    )


def extract(
    tele: Telemetry,
    *,
    pause_ms: float = PAUSE_MS,
    last_ms: float | None = None,
    max_events: int | None = None,
) -> SegmentFeatures:
    """Segment and window features of a parsed telemetry object (of its most recent events
    only, with ``last_ms``/``max_events``: see ``from_telemetry``); never raises."""
    try:
        traj, flags = from_telemetry(tele, last_ms=last_ms, max_events=max_events)
        if flags:
            return _empty_features(flags)
        features = extract_trajectory(traj, pause_ms=pause_ms)
        if pixels_unknown(tele, traj):
            features.window[_AXIS] = AXIS_UNKNOWN
        return features
    except Exception:  # a safety net: bad input is suspicious, never a crash
        return _empty_features({"error"})


def pixels_unknown(tele: Telemetry, traj: Trajectory) -> bool:
    """Whether a position step is not one count of a mouse: a device pixel ratio other than 1
    (a count moves the pointer by 1/dpr CSS pixels, rounded or not by the browser) or
    fractional coordinates. The pixel-step features are then not measured (``AXIS_UNKNOWN``)."""
    dpr = tele.hints.get("dpr")
    if isinstance(dpr, (int, float)) and not isinstance(dpr, bool) and abs(dpr - 1.0) > 0.01:
        return True
    x = traj.x
    return bool(x.shape[0] and np.any(x != np.floor(x)))


def extract_trajectory(traj: Trajectory, *, pause_ms: float = PAUSE_MS) -> SegmentFeatures:
    """Segment and window features of a trajectory (cleaned first); never raises."""
    try:
        with np.errstate(all="ignore"):
            return _extract(traj, pause_ms)
    except Exception:
        return _empty_features({"error"})


def _extract(traj: Trajectory, pause_ms: float) -> SegmentFeatures:
    traj, flags = clean(traj)
    n = len(traj)
    span = traj.duration_ms
    t, kind, x, y, button = traj.t, traj.kind, traj.x, traj.y, traj.button
    is_move = kind == MOVE
    counts = {
        "clicks": int(np.count_nonzero(kind == DOWN)),
        "moves": int(np.count_nonzero(is_move)),
    }
    if n < 2:
        flags.add("too-few-points")
        return _empty_features(flags, points=n, span_ms=span, **counts)
    dt = t[1:] - t[:-1]
    dx, dy = x[1:] - x[:-1], y[1:] - y[:-1]
    ds = np.sqrt(dx * dx + dy * dy)
    # A step is a drag when it ends at a move with a button held, or at the up.
    drag = (is_move[1:] & (button[1:] >= 0)) | (kind[1:] == UP)
    pause = dt > pause_ms
    speed = ds / np.maximum(dt, 1.0)  # px/ms; a 0 ms step counts as 1 ms
    if bool((speed > ABSURD_SPEED).any()):
        flags.add("absurd-speed")

    # Segments: runs of steps split at a pause, a button-state change or a click; a pause step
    # is never part of one (it can only be the last step of a run: the next step starts anew).
    m = n - 1
    start = np.ones(m, bool)
    start[1:] = pause[:-1] | (drag[1:] != drag[:-1]) | ~is_move[1:-1]
    gfirst = start.nonzero()[0]
    glast = np.empty_like(gfirst)
    glast[:-1] = gfirst[1:] - 1
    glast[-1] = m - 1
    glast -= pause[glast]
    kept = glast >= gfirst
    k_all = int(kept.sum())
    if not k_all:
        flags.add("no-segments")
        return _empty_features(flags, points=n, span_ms=span, **counts)
    first, last = gfirst[kept], glast[kept]
    cum_ds = ds.cumsum()
    path = cum_ds[last] - cum_ds[first] + ds[first]
    good = (last - first + 1 >= MIN_STEPS) & (path >= MIN_PATH_PX)
    k = int(good.sum())
    stats = {"segments": float(k_all), "usable": float(k), "short": float(k_all - k)}
    if not k:
        flags.add("no-usable-segments")
        win = _window(t, kind, x, y, dt, pause, ds, k_all, None, span)
        return SegmentFeatures(
            np.zeros((0, N_FEATURES), np.float32), frozenset(flags), k_all, n, span, stats, win,
            **counts,
        )  # fmt: skip
    first, last, path = first[good], last[good], path[good]
    steps = (last - first + 1).astype(np.float64)
    # Per step: the usable segment it belongs to (-1 outside). Sums over a segment's steps are
    # ``reduceat`` from its first step with everything outside it zeroed (maxima: -inf).
    opens = np.zeros(m, np.int64)
    opens[first] = 1
    latest = opens.cumsum() - 1  # the last usable segment opened at or before each step
    inside = (latest >= 0) & (np.arange(m) <= last[np.maximum(latest, 0)])
    sid = np.where(inside, latest, -1)
    at = np.maximum(sid, 0)  # for gathers; masked by ``inside``

    t0, t1 = t[first], t[last + 1]
    dur = np.maximum(t1 - t0, 1.0)
    ax, ay, bx, by = x[first], y[first], x[last + 1], y[last + 1]
    cx, cy = bx - ax, by - ay
    chord = np.sqrt(cx * cx + cy * cy)
    straight = np.where(path > _EPS, chord / np.maximum(path, _EPS), 1.0)
    # Distance from the chord and progress along it, at each step's end point.
    ch = np.maximum(chord, _EPS)
    rx, ry = x[1:] - ax[at], y[1:] - ay[at]
    cxs, cys, chs = cx[at], cy[at], ch[at]
    perp = np.abs(cxs * ry - cys * rx) / chs
    along = (cxs * rx + cys * ry) / (chs * chs)
    # Running path within the segment, for the time to 90% of it.
    run = cum_ds - (cum_ds[first] - ds[first])[at]

    zero = ~inside
    ds_in = np.where(zero, 0.0, ds)
    sp_in = np.where(zero, 0.0, speed)
    dt_in = np.where(zero, 0.0, dt)
    sums = np.add.reduceat(
        np.array(
            [ds_in * ds_in, sp_in, sp_in * sp_in, dt_in, dt_in * dt_in,
             inside & (ds == 0.0), np.where(dt > HESITATION_MS, dt_in, 0.0),
             inside & (run < 0.9 * path[at])],
        ),
        first,
        axis=1,
    )  # fmt: skip
    sp_mean = sums[1] / steps
    sp_std = np.sqrt(np.maximum(sums[2] / steps - sp_mean * sp_mean, 0.0))
    dt_mean = sums[3] / steps
    dt_std = np.sqrt(np.maximum(sums[4] / steps - dt_mean * dt_mean, 0.0))
    st_mean = path / steps
    st_std = np.sqrt(np.maximum(sums[0] / steps - st_mean * st_mean, 0.0))
    still = sums[5] / steps
    hesitation = sums[6] / dur
    before = sums[7].astype(np.int64)
    t90 = (t[np.minimum(first + before, last) + 1] - t0) / dur

    maxes = np.maximum.reduceat(
        np.where(zero, -np.inf, np.array([speed, dt, perp, along])), first, axis=1
    )
    sp_max, dt_max = maxes[0], maxes[1]
    deviation = maxes[2] / np.maximum(chord, 1.0)
    overshoot = np.where(chord < 1.0, 0.0, (maxes[3] - 1.0).clip(0.0, 10.0))
    tm = (t[:-1] + t[1:]) / 2
    at_max = inside & (speed >= sp_max[at])
    peak_step = np.maximum.reduceat(np.where(at_max, np.arange(m), -1), first)
    peak_at = (tm[peak_step] - t0) / dur

    # Pairs of consecutive steps in one segment: acceleration and turning (the angle between
    # the two steps, from their cross and dot products).
    pair = inside[:-1] & inside[1:] & (sid[:-1] == sid[1:])
    acc = (speed[1:] - speed[:-1]) / np.maximum(tm[1:] - tm[:-1], 1.0) * 1e6  # px/s²
    turn_ok = pair & (ds[:-1] > 0.0) & (ds[1:] > 0.0)
    cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:] + 0.0  # no -0.0: a reversal turns +pi
    dot = dx[:-1] * dx[1:] + dy[:-1] * dy[1:]
    turn = np.where(turn_ok, np.arctan2(cross, dot), 0.0)
    abs_turn = np.abs(turn)
    curv = np.where(turn_ok, abs_turn / np.maximum((ds[:-1] + ds[1:]) / 2, 0.5) * 1000.0, 0.0)
    acc_in = np.where(pair, acc, 0.0)
    abs_acc = np.abs(acc_in)
    psum = np.add.reduceat(
        np.array([abs_acc, acc_in, acc_in * acc_in, turn_ok, abs_turn, turn, turn * turn, curv]),
        first,
        axis=1,
    )
    # A usable segment has at least 4 steps: steps - 1 pairs and steps - 2 triples.
    n_pair = steps - 1.0
    acc_abs_mean = psum[0] / n_pair
    acc_mean = psum[1] / n_pair
    acc_std = np.sqrt(np.maximum(psum[2] / n_pair - acc_mean * acc_mean, 0.0))
    acc_max = np.maximum.reduceat(np.where(pair, abs_acc, -np.inf), first)
    n_turn = psum[3]
    turn_div = np.maximum(n_turn, 1.0)
    turn_abs_mean = psum[4] / turn_div
    turn_mean = psum[5] / turn_div
    turn_std = np.sqrt(np.maximum(psum[6] / turn_div - turn_mean * turn_mean, 0.0))
    curv_mean = psum[7] / turn_div

    # Triples: acceleration sign changes and jerk.
    triple = pair[:-1] & pair[1:]
    flips = triple & (acc[:-1] * acc[1:] < 0)
    tma = (tm[1:] + tm[:-1]) / 2
    jerk = np.where(triple, (acc[1:] - acc[:-1]) / np.maximum(tma[1:] - tma[:-1], 1.0), 0.0)
    jerk *= 1e3  # px/s³
    tsum = np.add.reduceat(np.array([flips, np.abs(jerk), jerk, jerk * jerk]), first, axis=1)
    n_triple = steps - 2.0
    acc_flips = tsum[0] / n_triple
    jerk_abs_mean = tsum[1] / n_triple
    jerk_mean = tsum[2] / n_triple
    jerk_std = np.sqrt(np.maximum(tsum[3] / n_triple - jerk_mean * jerk_mean, 0.0))

    # Turning-direction changes between consecutive bends (|turn| > 0.01 rad) of a segment.
    bend_at = (abs_turn > 0.01).nonzero()[0]
    bseg = sid[bend_at]
    bsign = turn[bend_at] > 0
    bflip = (bseg[1:] == bseg[:-1]) & (bsign[1:] != bsign[:-1])
    n_bend = np.bincount(bseg, minlength=k)
    turn_flips = np.bincount(bseg[1:][bflip], minlength=k) / np.maximum(n_bend - 1, 1)

    # Lower medians from one sort each: segment id * a span larger than any value, plus value.
    dt_med = _lower_median(sid[inside], dt[inside], steps, max(2048.0, 2 * pause_ms))
    curv_med = _lower_median(sid[:-1][turn_ok], curv[turn_ok], n_turn, 8192.0)
    regular = np.add.reduceat(inside & (np.abs(dt - dt_med[at]) <= 1.0), first)
    dt_regular = regular / steps

    prev = np.maximum(first - 1, 0)
    pause_before = np.where((first > 0) & pause[prev], dt[prev], 0.0)
    end_down = kind[last + 1] == DOWN
    # Dwell: from the down at the end of the segment to the next up.
    ups = (kind == UP).nonzero()[0]
    nxt = np.searchsorted(ups, last + 1)
    has_up = end_down & (nxt < ups.shape[0])
    up_t = t[ups[np.minimum(nxt, max(ups.shape[0] - 1, 0))]] if ups.shape[0] else t1
    dwell = np.where(has_up, (up_t - t1).clip(0.0, 60_000.0), 0.0)

    rows = np.empty((N_FEATURES, k))
    rows[_LOGGED] = (
        dur, steps, path, chord, path / dur * 1000.0, sp_max * 1000.0, acc_abs_mean, acc_std,
        acc_max, jerk_abs_mean, jerk_std, curv_mean, curv_med, dt_med,
        dt_max / np.maximum(dt_med, 1.0), np.minimum(pause_before, 60_000.0), dwell,
    )  # fmt: skip
    rows[_LOGGED] = np.log1p(rows[_LOGGED])
    rows[_PLAIN] = (
        straight, deviation.clip(0.0, 10.0), overshoot, sp_std / np.maximum(sp_mean, _EPS),
        peak_at, t90, acc_flips, turn_abs_mean, turn_std, turn_flips,
        dt_std / np.maximum(dt_mean, _EPS), dt_regular, still, hesitation.clip(0.0, 1.0),
        st_std / np.maximum(st_mean, _EPS), drag[first], end_down,
    )  # fmt: skip
    rows[~np.isfinite(rows)] = 0.0
    win = _window(t, kind, x, y, dt, pause, ds, k_all, rows, span)
    matrix = np.ascontiguousarray(rows.T, dtype=np.float32)
    return SegmentFeatures(matrix, frozenset(flags), k_all, n, span, stats, win, **counts)


def _lower_median(seg: I64, v: F64, counts: F64, width: float) -> F64:
    """The lower median of ``v`` per segment (0 for a segment without values); ``seg`` is
    sorted and every value lies in [0, width)."""
    if not v.shape[0]:
        return np.zeros(counts.shape[0])
    keys = np.sort(seg * width + v)
    size = counts.astype(np.int64)
    pick = np.minimum(size.cumsum() - size + (size - 1) // 2, keys.shape[0] - 1)
    got = keys[np.maximum(pick, 0)] - np.arange(size.shape[0]) * width
    return np.where(size > 0, got, 0.0)


def _window(
    t: F64,
    kind: npt.NDArray[np.int8],
    x: F64,
    y: F64,
    dt: F64,
    pause: npt.NDArray[np.bool_],
    ds: F64,
    segments: int,
    rows: F64 | None,
    span: float,
) -> npt.NDArray[np.float32]:
    """The window features (``WINDOW_NAMES``) of a cleaned trajectory, given its segment
    features as rows (``rows[i]`` is feature ``i`` of every usable segment)."""
    w = np.zeros(N_WINDOW)
    usable = 0 if rows is None else rows.shape[1]
    w[_WIN["segments_log"]] = np.log1p(segments)
    w[_WIN["usable_log"]] = np.log1p(usable)
    w[_WIN["usable_share"]] = usable / max(segments, 1)
    span = max(span, 1.0)
    is_move = kind == MOVE
    moves = is_move.nonzero()[0]
    downs = (kind == DOWN).nonzero()[0]
    ups = (kind == UP).nonzero()[0]
    w[_WIN["clicks_per_s_log"]] = np.log1p(downs.shape[0] / span * 1000.0)
    # Click timing from the few downs and ups, against the sorted move indices.
    none = np.zeros(0)
    hover = dwell = idle = none
    if downs.shape[0]:
        before = np.searchsorted(moves, downs) - 1
        hover = t[downs[before >= 0]] - t[moves[before[before >= 0]]]
        up_of = np.searchsorted(ups, downs)
        ok = up_of < ups.shape[0]
        if ok.any():
            d, u = downs[ok], ups[up_of[ok]]
            slipped = np.searchsorted(moves, u) > np.searchsorted(moves, d)
            w[_WIN["click_slip"]] = np.count_nonzero(slipped) / d.shape[0]
            dwell = t[u] - t[d]
    if ups.shape[0]:
        after = np.searchsorted(moves, ups)
        has = after < moves.shape[0]
        idle = t[moves[after[has]]] - t[ups[has]]
    _click_times(w, [hover, dwell, idle])
    w[_WIN["pause_share"]] = min(1.0, float(np.add.reduce(dt[pause])) / span)
    # A mouse moves the pointer by whole counts along x and y: slow stretches of a hand's
    # movement step along one axis at a time, and a rotated recording loses that.
    walk = ~pause & is_move[1:] & is_move[:-1] & (ds > 0.0)  # moving steps between moves
    n_walk = np.count_nonzero(walk)
    if n_walk:
        hor = walk & (y[1:] == y[:-1])
        ver = walk & (x[1:] == x[:-1])
        w[_WIN["axis_steps"]] = np.count_nonzero(hor | ver) / n_walk
        same = (hor[1:] & hor[:-1]) | (ver[1:] & ver[:-1])
        pairs = int(np.count_nonzero(walk[1:] & walk[:-1]))
        w[_WIN["axis_pairs"]] = np.count_nonzero(same) / max(pairs, 1)
    _repeats(w, dt, dx_dy(x, y), walk, is_move)
    resume = pause & is_move[1:] & is_move[:-1]
    n_resume = np.count_nonzero(resume)
    if n_resume:
        w[_WIN["resume_step_log"]] = float(np.add.reduce(np.log1p(ds[resume]))) / n_resume
    if rows is not None and usable:
        hovering = rows[_COL["drag"]] == 0.0
        clicked = rows[_COL["ends_in_click"]] > 0.0
        n_hover = np.count_nonzero(hovering)
        if n_hover:
            w[_WIN["click_end_share"]] = np.count_nonzero(clicked & hovering) / n_hover
        approach = hovering & clicked & (rows[_COL["chord_px_log"]] >= _APPROACH_LOG)
        w[_WIN["speed_ratio"]] = float(
            np.mean(rows[_COL["speed_max_log"]] - rows[_COL["speed_mean_log"]])
        )
        w[_WIN["acc_ratio"]] = float(
            np.mean(rows[_COL["acc_mean_log"]] - rows[_COL["speed_mean_log"]])
        )
        count = np.count_nonzero(approach)
        w[_WIN["approaches_log"]] = np.log1p(count)
        if count >= 3:
            _fits(w, rows[_FIT_ROWS][:, approach])
    w[~np.isfinite(w)] = 0.0
    return w.astype(np.float32)


_CLICK_TIMES: Final = ("hover", "dwell", "idle")


def _click_times(w: F64, times: list[F64]) -> None:
    """Mean and std of log1p(ms, capped at CLICK_CAP_MS) of hover, dwell and idle times."""
    for name, ms in zip(_CLICK_TIMES, times, strict=True):
        n = ms.shape[0]
        if n:
            v = np.log1p(ms.clip(0.0, CLICK_CAP_MS))
            mean = float(np.add.reduce(v)) / n
            w[_WIN[f"{name}_mean"]] = mean
            w[_WIN[f"{name}_std"]] = max(0.0, float(v @ v) / n - mean * mean) ** 0.5


_FIT_ROWS: Final = [_COL["chord_px_log"], _COL["duration_ms_log"], _COL["speed_max_log"]]


def _fits(w: F64, rows: F64) -> None:
    """Least-squares lines of log duration and log peak speed on log distance over the
    approaches (``rows``: distance, duration, peak speed): slopes (clipped to ±3) and the
    residuals' std."""
    n = rows.shape[1]
    centred = rows - (np.add.reduce(rows, axis=1) / n)[:, None]
    du, dv = centred[0], centred[1:]
    var = float(du @ du)
    slopes = (dv @ du / var).clip(-3.0, 3.0) if var > 1e-9 else np.zeros(2)
    resid = dv - slopes[:, None] * du
    spread = np.sqrt(np.add.reduce(resid * resid, axis=1) / n)
    for j, name in enumerate(("fitts", "peak")):
        w[_WIN[f"{name}_slope"]] = slopes[j]
        w[_WIN[f"{name}_residual"]] = spread[j]


STILL_MS: Final = 100.0  # a gap between pointer events this long is a still stretch
TWIN_MS: Final = 2.0  # two still stretches this close in length are twins
MIN_REPEAT_PX: Final = 2.0  # steps shorter than this are a hand's jitter, not a script's step
VOCAB_GRID: Final = 64.0  # steps are told apart to 1/64 px (fractional pixels of a scaled screen)


def dx_dy(x: F64, y: F64) -> tuple[F64, F64]:
    return x[1:] - x[:-1], y[1:] - y[:-1]


def _repeats(
    w: F64, dt: F64, d: tuple[F64, F64], walk: npt.NDArray[np.bool_], is_move: npt.NDArray[np.bool_]
) -> None:
    """Repetition a script leaves: still stretches of one length (``sleep(n)`` between moves),
    and runs of one identical step (a fixed velocity rounded to pixels)."""
    still = np.sort(dt[dt > STILL_MS])
    if still.shape[0] >= 2:
        close = np.diff(still) <= TWIN_MS
        twin = np.zeros(still.shape[0], bool)
        twin[1:] |= close
        twin[:-1] |= close
        w[_WIN["pause_twins"]] = np.count_nonzero(twin) / still.shape[0]
    dx, dy = d
    big = walk & (np.abs(dx) + np.abs(dy) >= MIN_REPEAT_PX)
    pairs = big[1:] & big[:-1]
    n_pairs = int(np.count_nonzero(pairs))
    if n_pairs:
        same = pairs & (dx[1:] == dx[:-1]) & (dy[1:] == dy[:-1])
        w[_WIN["step_repeat"]] = np.count_nonzero(same) / n_pairs
        # Longest run of consecutive identical steps: lengths of runs of True in ``same``.
        edges = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        longest = int((ends - starts).max()) + 1 if starts.shape[0] else 1
        w[_WIN["step_run_log"]] = np.log1p(longest)
    _vocabulary(w, dx[walk], dy[walk])


def _vocabulary(w: F64, dx: F64, dy: F64) -> None:
    """How few different steps the moving steps are made of (since v6). A script moves by one
    or a few fixed steps (of 1 px too, under ``MIN_REPEAT_PX``), in runs or not; a hand's steps
    change with its speed and direction, so it uses about as many distinct (dx, dy) as the
    square root of its steps or more. Scale-free: a screen's pixel ratio divides every step by
    the same number. Below two moving steps both stay 0."""
    n = dx.shape[0]
    if n < 2:
        return
    key = np.round(dx * VOCAB_GRID) * 1e7 + np.round(dy * VOCAB_GRID)
    _, counts = np.unique(key, return_counts=True)
    w[_WIN["step_vocab_log"]] = np.log1p(counts.shape[0] / np.sqrt(n))
    p = counts / n
    w[_WIN["step_entropy"]] = float(-(p * np.log(p)).sum()) / np.log(n)
