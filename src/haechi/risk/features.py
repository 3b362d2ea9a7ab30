"""Pointer trajectories: cleaning, segmentation, per-segment features, resampling (numpy only).

Serving code and training code share this module, so the model sees the same numbers in both.

A trajectory is the mouse/pen pointer events (moves, downs, ups) of one telemetry object as
parallel arrays. ``clean`` makes any input usable: it drops non-finite and absurd points, sorts
by time (stable) and merges moves that share a timestamp, and says what it did in ``flags``.

A *segment* is a maximal run of steps (from one point to the next) with the same button state
(hovering or dragging) and no pause longer than ``PAUSE_MS`` in it: a down or an up, or a pause,
ends a segment. So an approach to a target ends at its click, and the drag of a held button is
a segment of its own. Segments with fewer than ``MIN_STEPS`` steps or ``MIN_PATH_PX`` of path
get no feature vector (too little to judge); they are counted.

Features are computed for all segments at once over the per-step arrays (``np.bincount`` and
friends), so the cost grows with the number of events, not with the number of segments. Their
names, units and transforms are ``FEATURE_NAMES`` (``log`` means ``log1p`` of the value).

Resampling (``resample``) re-times a trajectory as a browser at another frame rate would have
delivered it (30, 60, 120, 144 Hz), so that a model trained on one recorder's rate learns the
person, not the recorder.

Nothing here raises on bad input: ``extract`` returns an empty feature matrix and flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Final

import numpy as np
import numpy.typing as npt

from haechi.risk.telemetry import MAX_COORD, MAX_EVENTS, Telemetry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
EventRow = list[int | float | str]  # one telemetry v1 event: [t, kind, x, y, button]

MOVE, DOWN, UP = 0, 1, 2
KIND_CODES: Final = {"m": MOVE, "d": DOWN, "u": UP}
KIND_NAMES: Final = ("m", "d", "u")

PAUSE_MS: Final = 300.0  # a step longer than this is a pause: it ends the segment
MIN_STEPS: Final = 4
MIN_PATH_PX: Final = 5.0
ABSURD_SPEED: Final = 30.0  # px/ms (30,000 px/s): no hand moves a pointer this fast
SAMPLE_RATES: Final = (30.0, 60.0, 120.0, 144.0)
MOVE_INTERVAL_MS: Final = 8  # the recorder's rule: at most one move per 8 ms

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

HESITATION_MS: Final = 50.0
_NUMERIC: Final = itemgetter(0, 2, 3, 4)  # t, x, y, button of an event
_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True)
class Trajectory:
    """Pointer events as parallel arrays: time (ms), kind (MOVE/DOWN/UP), x, y, button held."""

    t: F64
    kind: I8
    x: F64
    y: F64
    button: I8  # for moves the button held (-1 none); for downs/ups the button pressed/released

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) else 0.0

    def window(self, start: int, stop: int) -> Trajectory:
        return Trajectory(
            self.t[start:stop],
            self.kind[start:stop],
            self.x[start:stop],
            self.y[start:stop],
            self.button[start:stop],
        )


EMPTY: Final = Trajectory(
    np.zeros(0), np.zeros(0, np.int8), np.zeros(0), np.zeros(0), np.zeros(0, np.int8)
)


@dataclass(frozen=True, slots=True)
class SegmentFeatures:
    """Feature vectors of the usable segments of one trajectory, and what was odd about it."""

    matrix: npt.NDArray[np.float32]  # (segments, N_FEATURES)
    flags: frozenset[str] = frozenset()
    segments: int = 0  # all segments, short ones included
    points: int = 0  # points after cleaning
    span_ms: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return bool(self.matrix.shape[0] == 0)


def _empty_features(flags: set[str], **kw: float) -> SegmentFeatures:
    return SegmentFeatures(
        matrix=np.zeros((0, N_FEATURES), np.float32),
        flags=frozenset(flags),
        points=int(kw.get("points", 0)),
        span_ms=float(kw.get("span_ms", 0.0)),
    )


def from_telemetry(tele: Telemetry) -> tuple[Trajectory, set[str]]:
    """The mouse/pen pointer events of parsed telemetry (touch is not a trajectory here)."""
    flags: set[str] = set()
    events = tele.events
    n = len(events)
    kinds = "".join([e[1] for e in events]).encode("ascii", "replace")
    ptypes = "".join([e[5] for e in events]).encode("ascii", "replace")
    if len(kinds) != n or len(ptypes) != n:
        flags.add("malformed")  # not what the parser makes
        return EMPTY, flags
    k = np.frombuffer(kinds, np.uint8)
    pointer = (k == ord("m")) | (k == ord("d")) | (k == ord("u"))
    if not pointer.any():
        flags.add("no-pointer")
        return EMPTY, flags
    keep = pointer & (np.frombuffer(ptypes, np.uint8) != ord("t"))
    if not keep.any():
        flags.add("touch-only")
        return EMPTY, flags
    num = np.fromiter(chain.from_iterable(map(_NUMERIC, events)), np.float64, 4 * n)
    num = num.reshape(n, 4)[keep]
    k = k[keep]
    codes = np.where(k == ord("m"), MOVE, np.where(k == ord("d"), DOWN, UP)).astype(np.int8)
    return Trajectory(num[:, 0], codes, num[:, 1], num[:, 2], num[:, 3].astype(np.int8)), flags


def clean(traj: Trajectory) -> tuple[Trajectory, set[str]]:
    """Drop non-finite or absurd points, sort by time, merge moves at the same instant."""
    flags: set[str] = set()
    t, kind, x, y, button = traj.t, traj.kind, traj.x, traj.y, traj.button
    n = t.shape[0]
    if not (kind.shape[0] == x.shape[0] == y.shape[0] == button.shape[0] == n):
        flags.add("malformed")
        return EMPTY, flags
    ok = np.isfinite(t) & np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        flags.add("non-finite")
    lim = float(MAX_COORD)
    sane = (np.abs(x) <= lim) & (np.abs(y) <= lim) & (t >= 0) & (t <= 1e8)
    sane &= (kind >= MOVE) & (kind <= UP)
    if not (sane | ~ok).all():
        flags.add("absurd-values")
    keep = ok & sane
    if not keep.all():
        t, kind, x, y, button = t[keep], kind[keep], x[keep], y[keep], button[keep]
    if t.shape[0] > 1 and bool((np.diff(t) < 0).any()):
        flags.add("out-of-order")
        order = np.argsort(t, kind="stable")
        t, kind, x, y, button = t[order], kind[order], x[order], y[order], button[order]
    if t.shape[0] > 1:
        # A move followed by another move at the same instant is superseded by it.
        same = (t[1:] == t[:-1]) & (kind[1:] == MOVE) & (kind[:-1] == MOVE)
        if same.any():
            flags.add("duplicate-times")
            keep = np.ones(t.shape[0], bool)
            keep[:-1] = ~same
            t, kind, x, y, button = t[keep], kind[keep], x[keep], y[keep], button[keep]
    return Trajectory(t, kind, x, y, button), flags


def extract(tele: Telemetry, *, pause_ms: float = PAUSE_MS) -> SegmentFeatures:
    """Per-segment features of a parsed telemetry object; never raises."""
    try:
        traj, flags = from_telemetry(tele)
        if flags:
            return _empty_features(flags)
        return extract_trajectory(traj, pause_ms=pause_ms)
    except Exception:  # a safety net: bad input is suspicious, never a crash
        return _empty_features({"error"})


def extract_trajectory(traj: Trajectory, *, pause_ms: float = PAUSE_MS) -> SegmentFeatures:
    """Per-segment features of a trajectory (cleaned first); never raises."""
    try:
        with np.errstate(all="ignore"):
            return _extract(traj, pause_ms)
    except Exception:
        return _empty_features({"error"})


def _extract(traj: Trajectory, pause_ms: float) -> SegmentFeatures:
    traj, flags = clean(traj)
    n = len(traj)
    span = traj.duration_ms
    if n < 2:
        flags.add("too-few-points")
        return _empty_features(flags, points=n, span_ms=span)
    t, kind, x, y, button = traj.t, traj.kind, traj.x, traj.y, traj.button
    dt = np.diff(t)
    dx, dy = np.diff(x), np.diff(y)
    ds = np.hypot(dx, dy)
    # A step is a drag when it ends at a move with a button held, or at the up.
    drag = ((kind[1:] == MOVE) & (button[1:] >= 0)) | (kind[1:] == UP)
    pause = dt > pause_ms
    speed = ds / np.maximum(dt, 1.0)  # px/ms; a 0 ms step counts as 1 ms
    if bool((speed > ABSURD_SPEED).any()):
        flags.add("absurd-speed")

    # Segment ids per step: a new segment at a pause, a button-state change, or after a click.
    start = np.ones(n - 1, bool)
    start[1:] = pause[:-1] | (drag[1:] != drag[:-1]) | (kind[1:-1] != MOVE)
    seg_all = np.cumsum(start) - 1
    seg_all[pause] = -1
    valid = seg_all >= 0
    if not valid.any():
        flags.add("no-segments")
        return _empty_features(flags, points=n, span_ms=span)
    # Renumber the segments that have steps 0..K-1.
    used, seg_v = np.unique(seg_all[valid], return_inverse=True)
    seg = np.full(n - 1, -1, np.int64)
    seg[valid] = seg_v
    k = int(used.shape[0])
    idx = np.arange(n - 1)
    first = np.full(k, n, np.int64)
    np.minimum.at(first, seg_v, idx[valid])
    last = np.zeros(k, np.int64)
    np.maximum.at(last, seg_v, idx[valid])
    steps = (last - first + 1).astype(np.float64)

    vs, sv = seg[valid], valid
    path = np.bincount(vs, ds[sv], k)
    good = (steps >= MIN_STEPS) & (path >= MIN_PATH_PX)
    stats = {"segments": float(k), "usable": float(good.sum())}
    if not good.any():
        flags.add("no-usable-segments")
        return SegmentFeatures(
            np.zeros((0, N_FEATURES), np.float32), frozenset(flags), k, n, span, stats
        )

    t0, t1 = t[first], t[last + 1]
    dur = np.maximum(t1 - t0, 1.0)
    ax, ay, bx, by = x[first], y[first], x[last + 1], y[last + 1]
    cx, cy = bx - ax, by - ay
    chord = np.hypot(cx, cy)
    straight = np.where(path > _EPS, chord / np.maximum(path, _EPS), 1.0)
    # Distance from the chord and progress along it, at each step's end point.
    px_, py_ = x[1:][sv] - ax[vs], y[1:][sv] - ay[vs]
    ch = np.maximum(chord[vs], _EPS)
    perp = np.abs(cx[vs] * py_ - cy[vs] * px_) / ch
    along = (cx[vs] * px_ + cy[vs] * py_) / (ch * ch)
    deviation = _seg_max(vs, perp, k) / np.maximum(chord, 1.0)
    overshoot = np.clip(_seg_max(vs, along, k) - 1.0, 0.0, 10.0)
    overshoot[chord < 1.0] = 0.0

    sp = speed[sv]
    sp_mean, sp_std = _seg_mean_std(vs, sp, k)
    sp_max = _seg_max(vs, sp, k)
    tm = (t[:-1] + t[1:]) / 2
    peak_step = _seg_argmax(vs, sp, idx[sv], k)
    peak_at = (tm[peak_step] - t0) / dur
    # Time to cover 90% of the path: the end of the first step at which the running sum passes it.
    dsv = ds[sv]
    cum = np.cumsum(dsv)
    head = np.searchsorted(vs, np.arange(k))  # steps of a segment are contiguous
    run = cum - (cum[head] - dsv[head])[vs]
    before = np.bincount(vs, run < 0.9 * path[vs], k).astype(np.int64)
    t90 = (t[np.minimum(first + before, last) + 1] - t0) / dur

    # Acceleration and jerk between consecutive steps of one segment (per second units).
    pair = (seg[:-1] == seg[1:]) & (seg[:-1] >= 0)
    acc = (speed[1:] - speed[:-1]) / np.maximum(tm[1:] - tm[:-1], 1.0) * 1e6  # px/s²
    acc_seg = seg[:-1][pair]
    acc_v = acc[pair]
    acc_abs_mean, _ = _seg_mean_std(acc_seg, np.abs(acc_v), k)
    _, acc_std = _seg_mean_std(acc_seg, acc_v, k)
    acc_max = _seg_max(acc_seg, np.abs(acc_v), k)
    triple = pair[:-1] & pair[1:]
    flips = triple & (np.sign(acc[:-1]) * np.sign(acc[1:]) < 0)
    n_triple = np.bincount(seg[:-2][triple], minlength=k)
    acc_flips = np.bincount(seg[:-2][flips], minlength=k) / np.maximum(n_triple, 1)
    tma = (tm[1:] + tm[:-1]) / 2
    jerk = (acc[1:] - acc[:-1]) / np.maximum(tma[1:] - tma[:-1], 1.0) * 1e3  # px/s³
    jerk_abs_mean, _ = _seg_mean_std(seg[:-2][triple], np.abs(jerk[triple]), k)
    _, jerk_std = _seg_mean_std(seg[:-2][triple], jerk[triple], k)

    # Turning between consecutive moving steps.
    moving = ds > 0.0
    turn_ok = pair & moving[:-1] & moving[1:]
    heading = np.arctan2(dy, dx)
    turn = np.angle(np.exp(1j * (heading[1:] - heading[:-1])))
    tseg, tv = seg[:-1][turn_ok], turn[turn_ok]
    turn_abs_mean, _ = _seg_mean_std(tseg, np.abs(tv), k)
    _, turn_std = _seg_mean_std(tseg, tv, k)
    bend = tv[np.abs(tv) > 0.01]
    bseg = tseg[np.abs(tv) > 0.01]
    bflip = (bseg[1:] == bseg[:-1]) & (np.sign(bend[1:]) != np.sign(bend[:-1]))
    turn_flips = np.bincount(bseg[1:][bflip], minlength=k) / np.maximum(
        np.bincount(bseg, minlength=k) - 1, 1
    )
    mean_len = (ds[:-1] + ds[1:])[turn_ok] / 2
    curv = np.abs(tv) / np.maximum(mean_len, 0.5) * 1000.0
    curv_mean, _ = _seg_mean_std(tseg, curv, k)
    curv_median = _seg_quantile(tseg, curv, k, 0.5)

    dts = dt[sv]
    dt_med = _seg_quantile(vs, dts, k, 0.5)
    dt_mean, dt_std = _seg_mean_std(vs, dts, k)
    dt_regular = np.bincount(vs, np.abs(dts - dt_med[vs]) <= 1.0, k) / steps
    dt_max = _seg_max(vs, dts, k)
    still = np.bincount(vs, ds[sv] == 0.0, k) / steps
    hesitation = np.bincount(vs, np.where(dts > HESITATION_MS, dts, 0.0), k) / dur
    st_mean, st_std = _seg_mean_std(vs, ds[sv], k)

    prev = first - 1
    pause_before = np.where(prev >= 0, np.where(pause[np.maximum(prev, 0)], dt[prev], 0.0), 0.0)
    is_drag = drag[first].astype(np.float64)
    end_down = kind[last + 1] == DOWN
    # Dwell: from the down at the end of the segment to the next up.
    ups = np.flatnonzero(kind == UP)
    nxt = np.searchsorted(ups, last + 1)
    has_up = end_down & (nxt < ups.shape[0])
    up_t = t[ups[np.minimum(nxt, max(ups.shape[0] - 1, 0))]] if ups.shape[0] else t1
    dwell = np.where(has_up, np.clip(up_t - t1, 0.0, 60_000.0), 0.0)

    log = np.log1p
    cols = [
        log(dur),
        log(steps),
        log(path),
        log(chord),
        straight,
        np.clip(deviation, 0.0, 10.0),
        overshoot,
        log(path / dur * 1000.0),
        log(sp_max * 1000.0),
        sp_std / np.maximum(sp_mean, _EPS),
        peak_at,
        t90,
        log(acc_abs_mean),
        log(acc_std),
        log(acc_max),
        acc_flips,
        log(jerk_abs_mean),
        log(jerk_std),
        turn_abs_mean,
        turn_std,
        turn_flips,
        log(curv_mean),
        log(curv_median),
        log(dt_med),
        dt_std / np.maximum(dt_mean, _EPS),
        dt_regular,
        log(dt_max / np.maximum(dt_med, 1.0)),
        still,
        np.clip(hesitation, 0.0, 1.0),
        st_std / np.maximum(st_mean, _EPS),
        log(np.minimum(pause_before, 60_000.0)),
        is_drag,
        end_down.astype(np.float64),
        log(dwell),
    ]
    matrix = np.stack(cols, axis=1)[good]
    matrix = np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    stats["short"] = float(k - good.sum())
    return SegmentFeatures(matrix, frozenset(flags), k, n, span, stats)


def _seg_mean_std(seg: I64, v: F64, k: int) -> tuple[F64, F64]:
    count = np.maximum(np.bincount(seg, minlength=k), 1)
    mean = np.bincount(seg, v, k) / count
    var = np.bincount(seg, v * v, k) / count - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def _seg_max(seg: I64, v: F64, k: int) -> F64:
    out = np.zeros(k)
    if v.shape[0]:
        out[:] = -np.inf
        np.maximum.at(out, seg, v)
        out[~np.isfinite(out)] = 0.0
    return out


def _seg_argmax(seg: I64, v: F64, where: I64, k: int) -> I64:
    """For each segment, ``where`` at its largest ``v`` (the last one among ties)."""
    order = np.lexsort((v, seg))
    last_of = np.searchsorted(seg[order], np.arange(k), side="right") - 1
    return where[order][np.maximum(last_of, 0)]


def _seg_quantile(seg: I64, v: F64, k: int, q: float) -> F64:
    """A lower quantile per segment (0 for a segment without values)."""
    out = np.zeros(k)
    if not v.shape[0]:
        return out
    order = np.lexsort((v, seg))
    sv, ss = v[order], seg[order]
    lo = np.searchsorted(ss, np.arange(k), side="left")
    hi = np.searchsorted(ss, np.arange(k), side="right")
    has = hi > lo
    pick = lo + np.floor((hi - lo - 1) * q).astype(np.int64)
    out[has] = sv[pick[has]]
    return out


def resample(
    traj: Trajectory,
    hz: float,
    *,
    rng: np.random.Generator | None = None,
    jitter_ms: float = 0.0,
    max_gap_ms: float = 50.0,
    decimals: int = 0,
) -> Trajectory:
    """The trajectory as a browser polling at ``hz`` would have delivered it.

    Moves are re-timed to frames ``1000 / hz`` ms apart (a random phase when ``rng`` is given,
    plus Gaussian ``jitter_ms``), positions interpolated with a cubic Hermite curve through the
    original moves. Like a browser, it fires no move while the pointer rests: a frame is kept
    when an original move fell since the previous frame, or when it lies between two original
    moves at most ``max_gap_ms`` apart. Downs and ups keep their times and positions. Times
    are rounded to whole ms, coordinates to ``decimals``.
    """
    traj, _ = clean(traj)
    moves = traj.kind == MOVE
    tm, xm, ym = traj.t[moves], traj.x[moves], traj.y[moves]
    if tm.shape[0] < 2 or not hz > 0:
        return traj
    period = 1000.0 / hz
    phase = float(rng.uniform(0.0, period)) if rng is not None else 0.0
    frames = np.arange(tm[0] + phase, tm[-1] + _EPS, period)
    i = np.clip(np.searchsorted(tm, frames, side="right") - 1, 0, tm.shape[0] - 2)
    h = tm[i + 1] - tm[i]
    recent = tm[i] > frames - period  # an original move since the previous frame
    close = h <= max_gap_ms
    keep = recent | close
    frames, i, h, close = frames[keep], i[keep], h[keep], close[keep]
    # Hermite tangents from neighbouring moves (one-sided at the ends), zero across long gaps.
    vx, vy = _tangents(tm, xm, max_gap_ms), _tangents(tm, ym, max_gap_ms)
    s = np.where(h > 0, (frames - tm[i]) / np.maximum(h, _EPS), 1.0)
    s = np.clip(s, 0.0, 1.0)
    s2, s3 = s * s, s * s * s
    h00, h10, h01, h11 = 2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2
    fx = h00 * xm[i] + h10 * h * vx[i] + h01 * xm[i + 1] + h11 * h * vx[i + 1]
    fy = h00 * ym[i] + h10 * h * vy[i] + h01 * ym[i + 1] + h11 * h * vy[i + 1]
    # Across a long gap the pointer rested at the earlier move until it moved again.
    fx = np.where(close, fx, xm[i])
    fy = np.where(close, fy, ym[i])
    if rng is not None and jitter_ms > 0:
        frames = frames + rng.normal(0.0, jitter_ms, frames.shape[0])
    ft = np.round(frames)

    # Button held at each frame: the state after the last original event at or before it.
    held = _held_buttons(traj)
    j = np.clip(np.searchsorted(traj.t, ft, side="right") - 1, 0, len(traj) - 1)
    fb = held[j]
    # A browser flushes a coalesced move before a down or up: keep the last original move
    # before each click when no frame came after it.
    move_at = np.flatnonzero(moves)
    click_at = np.flatnonzero(~moves)
    before = np.searchsorted(move_at, click_at) - 1
    pm = move_at[np.maximum(before, 0)]
    lastf = np.searchsorted(ft, np.round(traj.t[click_at]), side="right") - 1
    last_frame_t = np.where(lastf >= 0, ft[np.maximum(lastf, 0)], -np.inf)
    pm = np.unique(pm[(before >= 0) & (np.round(traj.t[pm]) > last_frame_t)])
    ft = np.concatenate([ft, np.round(traj.t[pm])])
    fx = np.concatenate([fx, traj.x[pm]])
    fy = np.concatenate([fy, traj.y[pm]])
    fb = np.concatenate([fb, traj.button[pm]])
    clicks = ~moves
    t = np.concatenate([ft, np.round(traj.t[clicks])])
    order = np.lexsort((np.concatenate([np.zeros(ft.shape[0]), np.ones(int(clicks.sum()))]), t))
    out = Trajectory(
        t[order],
        np.concatenate([np.zeros(ft.shape[0], np.int8), traj.kind[clicks]])[order],
        np.round(np.concatenate([fx, traj.x[clicks]]), decimals)[order],
        np.round(np.concatenate([fy, traj.y[clicks]]), decimals)[order],
        np.concatenate([fb, traj.button[clicks]])[order],
    )
    return clean(out)[0]


def _tangents(t: F64, v: F64, max_gap_ms: float) -> F64:
    n = t.shape[0]
    out = np.zeros(n)
    if n < 2:
        return out
    dt = np.diff(t)
    slope = np.where(dt > 0, np.diff(v) / np.maximum(dt, _EPS), 0.0)
    slope[dt > max_gap_ms] = 0.0
    out[0], out[-1] = slope[0], slope[-1]
    out[1:-1] = (slope[:-1] + slope[1:]) / 2
    return out


def _held_buttons(traj: Trajectory) -> I8:
    """The button held after each event (-1 none)."""
    held = np.full(len(traj), -1, np.int8)
    state = -1
    for n, (kind, button) in enumerate(zip(traj.kind.tolist(), traj.button.tolist(), strict=True)):
        if kind == DOWN:
            state = button
        elif kind == UP:
            state = -1
        else:
            state = button
        held[n] = state
    return held


def to_events(traj: Trajectory, *, start_ms: float | None = None) -> list[EventRow]:
    """Telemetry v1 events for a trajectory, as the widget writes them.

    Times become whole ms from ``start_ms`` (default: the first event) and never decrease;
    moves follow the recorder's 8 ms rule (a move sooner than 8 ms after the last written one
    is held as pending and replaced by later ones; a down or up, and the end, flush it).
    Coordinates are rounded to two decimals and clipped to the format's limits.
    """
    traj, _ = clean(traj)
    if not len(traj):
        return []
    base = float(traj.t[0]) if start_ms is None else start_ms
    times = np.maximum(np.round(traj.t - base), 0.0).astype(np.int64).tolist()
    xs = np.round(np.clip(traj.x, -MAX_COORD, MAX_COORD), 2).tolist()
    ys = np.round(np.clip(traj.y, -MAX_COORD, MAX_COORD), 2).tolist()
    out: list[EventRow] = []
    pending: EventRow | None = None
    last_move = -MOVE_INTERVAL_MS
    last_t = 0
    for t, kind, x, y, button in zip(
        times, traj.kind.tolist(), xs, ys, traj.button.tolist(), strict=True
    ):
        t = max(t, last_t)
        last_t = t
        if kind == MOVE:
            event: EventRow = [t, "m", x, y, max(-1, min(4, button))]
            if t - last_move >= MOVE_INTERVAL_MS:
                out.append(event)
                last_move = t
                pending = None
            else:
                pending = event
            continue
        if pending is not None:
            out.append(pending)
            pending = None
        out.append([t, KIND_NAMES[kind], x, y, max(0, min(4, button))])
    if pending is not None:
        out.append(pending)
    return out


def to_telemetry(
    traj: Trajectory,
    *,
    viewport: tuple[float, float] | None = None,
    start_ms: float | None = None,
    hints: dict[str, bool | int | float] | None = None,
) -> dict[str, object]:
    """A telemetry v1 object for a mouse trajectory; over 2,000 events, the oldest moves go."""
    events = to_events(traj, start_ms=start_ms)
    dropped = max(0, len(events) - MAX_EVENTS)
    if dropped:
        moves = [n for n, e in enumerate(events) if e[1] == "m"][:dropped]
        gone = set(moves)
        events = [e for n, e in enumerate(events) if n not in gone][-MAX_EVENTS:]
    return {
        "v": 1,
        "viewport": list(viewport) if viewport is not None else None,
        "pointer": "mouse",
        "events": events,
        "keys": [],
        "hints": dict(hints or {}),
        "dropped": dropped,
    }
