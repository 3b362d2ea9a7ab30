"""Bot pointer trajectories for training and evaluation, each emitted as telemetry v1.

Every family is written here from its published algorithm (no code is vendored):

- ``linear``: straight lines with an easing function, as pyautogui moves with pytweening's
  easings (``linear``, ``easeInQuad``, ``easeOutQuad``, ``easeInOutQuad``, ``easeInOutCubic``,
  ``easeInOutSine``, ``easeOutBack``), stepping at pyautogui's 50 ms minimum sleep or at a
  scripted rate.
- ``ghost_cursor``: npm ghost-cursor's cubic Bézier through two anchors on random normals of the
  line (spread = distance clamped to 2..200, anchors sorted by x), with a step count from
  Fitts's law and an overshoot (radius 120, spread 10 back) on moves longer than 500 px.
- ``humancursor``: pyclick/humancursor's ``HumanCurve``: a Bernstein-polynomial curve through
  random internal knots in a box around the two points, Gaussian distortion of the y
  coordinate, then re-sampled to a target number of points through an easing function.
- ``windmouse``: Benjamin Land's WindMouse (gravity toward the target, random wind, a maximum
  step that shrinks near the target), as in PyPI ``windmouse``, with randomised constants.
- ``jitter``: the geometry of one of the above re-timed to look human: a minimum-jerk speed
  profile over a Fitts's-law duration, a browser's frame clock with jitter and dropped frames,
  and low-pass tremor on the positions.
- ``replay``: a real person's movement segments (another subject's) mapped onto the bot's own
  start and target by a similarity transform, keeping their timing and click dwell. It stays
  out of training entirely: its evaluation number is the honest one. Two smarter replay tools,
  also for evaluation only: ``replay_direction`` picks each segment by direction as well as by
  length, so that it is rotated by at most 30 degrees; ``replay_unrotated`` picks one of the
  three closest in direction and never rotates (scales, then spreads the miss at the end along
  the path).

A session moves to random targets in a viewport and clicks each (pre-click wait, dwell, idle),
for a widget-sized duration. Bots that drive a real browser are delivered at its frame rate, so
most scripted families are coalesced to 60/120/144 Hz frames as a browser would. The same family
and seed always give the same session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from haechi.risk.features import (
    DOWN,
    F64,
    MOVE,
    PAUSE_MS,
    UP,
    Trajectory,
    clean,
    resample,
    to_telemetry,
)

FAMILIES: Final = ("linear", "ghost_cursor", "humancursor", "windmouse", "jitter", "replay")
TRAINING_FAMILIES: Final = FAMILIES[:-1]  # replay is for evaluation only
# Evaluation only, never trained on: smarter replay tools. ``replay_direction`` also picks each
# segment by direction (it is rotated by at most ``DIRECTION_MATCH_RAD``); ``replay_unrotated``
# picks one of the three closest in direction and never rotates: it scales the segment and
# spreads the miss at the end along the path, so a mouse's steps along the screen axes survive.
REPLAY_DIRECTION: Final = "replay_direction"
REPLAY_UNROTATED: Final = "replay_unrotated"
REPLAYS: Final = ("replay", REPLAY_DIRECTION, REPLAY_UNROTATED)
EVAL_FAMILIES: Final = (*FAMILIES, REPLAY_DIRECTION, REPLAY_UNROTATED)
DIRECTION_MATCH_RAD: Final = math.pi / 6
VIEWPORTS: Final = ((1280, 720), (1366, 768), (1440, 900), (1536, 864), (1920, 1080))
FRAME_RATES: Final = (60.0, 120.0, 144.0)

Path = tuple[F64, F64, F64]  # times (ms from the start of the move), x, y; first point = start
Point = tuple[float, float]
Rng = np.random.Generator


# ------------------------------------------------------------------------- easing (pytweening)


def _ease_out_back(s: F64) -> F64:
    c = 1.70158
    u = s - 1
    return np.asarray(u * u * ((c + 1) * u + c) + 1, np.float64)


EASINGS: Final[dict[str, Callable[[F64], F64]]] = {
    "linear": lambda s: s,
    "easeInQuad": lambda s: s * s,
    "easeOutQuad": lambda s: -s * (s - 2),
    "easeInOutQuad": lambda s: np.where(s < 0.5, 2 * s * s, -2 * s * s + 4 * s - 1),
    "easeInOutCubic": lambda s: np.where(s < 0.5, 4 * s**3, 1 + 4 * (s - 1) ** 3),
    "easeInOutSine": lambda s: -0.5 * (np.cos(np.pi * s) - 1),
    "easeOutBack": _ease_out_back,
}


def _choose(rng: Rng, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _steady_clock(rng: Rng, n: int, interval_ms: float, jitter_ms: float) -> F64:
    """``n`` times from 0, ``interval_ms`` apart with Gaussian jitter, non-decreasing."""
    steps = np.maximum(rng.normal(interval_ms, jitter_ms, max(n - 1, 0)), 0.5)
    return np.concatenate([[0.0], np.cumsum(steps)])


def _script_interval(rng: Rng) -> float:
    """How often a scripted mover sends a position: pyautogui, rAF loops, raw CDP calls."""
    return float(rng.choice([50.0, 16.7, 10.0, 8.0, 5.0, 3.0]))


# ------------------------------------------------------------------------------ path families


def linear_path(rng: Rng, a: Point, b: Point) -> Path:
    """pyautogui ``moveTo(x, y, duration, tween)``: eased straight line, integer positions."""
    ease = EASINGS[_choose(rng, list(EASINGS))]
    dist = math.dist(a, b)
    interval = _script_interval(rng)
    duration = rng.uniform(0.15, 1.2) * 1000.0
    n = max(2, min(int(duration / interval), int(max(dist, 2.0))))
    s = ease(np.linspace(0.0, 1.0, n + 1))
    x = np.round(a[0] + (b[0] - a[0]) * s)
    y = np.round(a[1] + (b[1] - a[1]) * s)
    return _steady_clock(rng, n + 1, duration / n, rng.uniform(0.0, 1.0)), x, y


def _bezier(points: F64, s: F64) -> F64:
    """A Bézier curve of any degree (Bernstein form) at parameters ``s``: (len(s), 2)."""
    deg = points.shape[0] - 1
    k = np.arange(deg + 1)
    binom = np.array([math.comb(deg, int(i)) for i in k], np.float64)
    basis = binom * (s[:, None] ** k) * ((1 - s[:, None]) ** (deg - k))
    return np.asarray(basis @ points, np.float64)


def _ghost_anchor(rng: Rng, a: F64, b: F64, spread: float, side: float) -> F64:
    mid = a + (b - a) * rng.random()
    d = mid - a
    norm = float(np.hypot(*d)) or 1.0
    normal = np.array([-d[1], d[0]]) / norm * spread * side
    return np.asarray(mid + normal * rng.random(), np.float64)


def _ghost_curve(rng: Rng, a: F64, b: F64, spread_override: float | None) -> F64:
    dist = float(np.hypot(*(b - a)))
    spread = spread_override if spread_override is not None else min(max(dist, 2.0), 200.0)
    side = 1.0 if rng.random() < 0.5 else -1.0
    anchors = sorted(
        (_ghost_anchor(rng, a, b, spread, side) for _ in range(2)), key=lambda p: float(p[0])
    )
    # Fitts's law (a = 0, b = 2, target width 100) sets the number of steps.
    fitts = 2 * math.log2(dist / 100.0 + 1)
    base = float(rng.uniform(0.0, 1.0)) * 25
    steps = max(2, math.ceil((math.log2(fitts + 1) + base) * 3))
    return _bezier(np.stack([a, anchors[0], anchors[1], b]), np.linspace(0.0, 1.0, steps))


def ghost_cursor_path(rng: Rng, a: Point, b: Point) -> Path:
    """npm ghost-cursor ``path(start, end)``, with its overshoot on long moves."""
    pa, pb = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if math.dist(a, b) > 500:
        r, ang = 120 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        over = pb + np.array([r * math.cos(ang), r * math.sin(ang)])
        pts = np.concatenate([_ghost_curve(rng, pa, over, None), _ghost_curve(rng, over, pb, 10)])
    else:
        pts = _ghost_curve(rng, pa, pb, None)
    interval = float(rng.choice([3.0, 5.0, 8.0, 16.7]))
    t = _steady_clock(rng, pts.shape[0], interval, rng.uniform(0.2, 1.5))
    return t, np.round(pts[:, 0], 2), np.round(pts[:, 1], 2)


def humancursor_path(rng: Rng, a: Point, b: Point) -> Path:
    """pyclick/humancursor ``HumanCurve``: knots, distortion, tweened target points."""
    box = float(rng.integers(20, 120))
    lo_x, hi_x = min(a[0], b[0]) - box, max(a[0], b[0]) + box
    lo_y, hi_y = min(a[1], b[1]) - box, max(a[1], b[1]) + box
    knots = int(rng.integers(0, 4))
    inner = np.stack([rng.uniform(lo_x, hi_x, knots), rng.uniform(lo_y, hi_y, knots)], axis=1)
    ctrl = np.concatenate([[a], inner, [b]]).astype(np.float64)
    mid = max(abs(a[0] - b[0]), abs(a[1] - b[1]), 2.0)
    pts = _bezier(ctrl, np.linspace(0.0, 1.0, int(mid)))
    # Distortion: Gaussian offsets on y of interior points, each with a probability.
    hit = np.asarray(rng.random(pts.shape[0]) < float(rng.uniform(0.3, 0.7)), bool)
    hit[[0, -1]] = False
    pts[hit, 1] += rng.normal(rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5), int(hit.sum()))
    target = int(np.clip(math.dist(a, b) / rng.uniform(4, 20), 10, 150))
    ease = EASINGS[_choose(rng, ["easeOutQuad", "easeInOutQuad", "easeInOutCubic", "linear"])]
    idx = (ease(np.linspace(0.0, 1.0, target)) * (pts.shape[0] - 1)).astype(np.int64)
    pts = pts[np.clip(idx, 0, pts.shape[0] - 1)]
    interval = float(rng.choice([5.0, 10.0, 16.7, 20.0]))
    t = _steady_clock(rng, pts.shape[0], interval, rng.uniform(0.0, 1.0))
    return t, np.round(pts[:, 0]), np.round(pts[:, 1])


def windmouse_points(
    rng: Rng, a: Point, b: Point, g0: float, w0: float, m0: float, d0: float
) -> tuple[list[float], list[float]]:
    """WindMouse: integer positions from ``a`` to ``b`` (the start included)."""
    sqrt3, sqrt5 = math.sqrt(3.0), math.sqrt(5.0)
    x, y = a
    cx, cy = round(x), round(y)
    xs, ys = [float(cx)], [float(cy)]
    vx = vy = wx = wy = 0.0
    for _ in range(5_000):
        dist = math.hypot(b[0] - x, b[1] - y)
        if dist < 1:
            break
        w_mag = min(w0, dist)
        if dist >= d0:
            wx = wx / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
            wy = wy / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
        else:
            wx, wy = wx / sqrt3, wy / sqrt3
            m0 = rng.random() * 3 + 3 if m0 < 3 else m0 / sqrt5
        vx += wx + g0 * (b[0] - x) / dist
        vy += wy + g0 * (b[1] - y) / dist
        v_mag = math.hypot(vx, vy)
        if v_mag > m0:
            clip = m0 / 2 + rng.random() * m0 / 2
            vx, vy = vx / v_mag * clip, vy / v_mag * clip
        x, y = x + vx, y + vy
        nx, ny = round(x), round(y)
        if (nx, ny) != (cx, cy):
            cx, cy = nx, ny
            xs.append(float(cx))
            ys.append(float(cy))
    if (xs[-1], ys[-1]) != (round(b[0]), round(b[1])):
        xs.append(float(round(b[0])))
        ys.append(float(round(b[1])))
    return xs, ys


def windmouse_path(rng: Rng, a: Point, b: Point) -> Path:
    xs, ys = windmouse_points(
        rng, a, b, rng.uniform(5, 12), rng.uniform(2, 6), rng.uniform(10, 25), rng.uniform(8, 16)
    )
    lo = rng.uniform(2.0, 10.0)
    steps = rng.uniform(lo, lo * rng.uniform(1.2, 3.0), len(xs) - 1)
    t = np.concatenate([[0.0], np.cumsum(steps)])
    return t, np.asarray(xs), np.asarray(ys)


def jitter_path(rng: Rng, a: Point, b: Point) -> Path:
    """A scripted geometry with human-looking timing: minimum-jerk speed, frame clock, tremor."""
    base = _choose(rng, ["linear", "ghost_cursor", "humancursor", "windmouse"])
    _, gx, gy = PATHS[base](rng, a, b)
    # Arc-length parameterisation of the geometry.
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(gx), np.diff(gy)))])
    total = float(arc[-1])
    dist = math.dist(a, b)
    duration = 1000.0 * (rng.uniform(0.1, 0.3) + rng.uniform(0.1, 0.2) * math.log2(dist / 20 + 1))
    hz = float(rng.choice(FRAME_RATES))
    n = max(3, int(duration * hz / 1000.0))
    t = np.cumsum(np.concatenate([[0.0], rng.normal(1000.0 / hz, 0.4, n - 1)]))
    dropped = rng.random(n) < 0.03
    dropped[[0, -1]] = False
    t = t[~dropped]
    tau = np.clip(t / t[-1], 0.0, 1.0)
    s = tau**3 * (10 - 15 * tau + 6 * tau * tau)  # minimum-jerk progress
    x = np.interp(s * total, arc, gx) if total > 0 else np.full(t.shape[0], gx[0])
    y = np.interp(s * total, arc, gy) if total > 0 else np.full(t.shape[0], gy[0])
    sigma = rng.uniform(0.3, 1.5)
    noise = rng.normal(0.0, sigma, (2, t.shape[0]))
    kernel = np.ones(3) / 3
    x = x + np.convolve(noise[0], kernel, mode="same")
    y = y + np.convolve(noise[1], kernel, mode="same")
    x[-1], y[-1] = b
    return t, np.round(x), np.round(y)


PATHS: Final[dict[str, Callable[[Rng, Point, Point], Path]]] = {
    "linear": linear_path,
    "ghost_cursor": ghost_cursor_path,
    "humancursor": humancursor_path,
    "windmouse": windmouse_path,
    "jitter": jitter_path,
}


# -------------------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class ReplaySegment:
    """A person's movement that ended in a click: where the hand rested before it (the click
    released, or the last point before a pause) and then the moves (times from 0; the rest
    shares the first move's time), then the hover from the last move to the down, the click's
    dwell and the idle time until the person moved on. ``replay_path`` maps the rest onto the
    bot's position, so the first move replayed is the person's first step."""

    t: F64
    x: F64
    y: F64
    dwell_ms: float
    idle_ms: float
    hover_ms: float = 0.0

    @property
    def chord(self) -> float:
        return float(math.hypot(self.x[-1] - self.x[0], self.y[-1] - self.y[0]))


def replay_pool(
    trajectories: Sequence[Trajectory], *, min_chord: float = 20.0
) -> list[ReplaySegment]:
    """The click-ending movement segments of human trajectories (cut at pauses and clicks)."""
    pool: list[ReplaySegment] = []
    for raw in trajectories:
        traj, _ = clean(raw)
        t, kind, x, y = traj.t, traj.kind, traj.x, traj.y
        start = 0
        for i in range(1, len(traj)):
            if kind[i] == UP or (kind[i] == MOVE and t[i] - t[i - 1] > PAUSE_MS):
                start = i
                continue
            if kind[i] != DOWN:
                continue
            moves = np.flatnonzero(kind[start : i + 1] == MOVE) + start
            if moves.shape[0] >= 3:
                idx = moves  # the down is not a move: its time is the hover after the last one
                up = np.flatnonzero(kind[i:] == UP)
                dwell = float(t[i + up[0]] - t[i]) if up.shape[0] else 100.0
                after = i + (int(up[0]) if up.shape[0] else 0)
                idle = float(t[after + 1] - t[after]) if after + 1 < len(traj) else 200.0
                hover = float(t[i] - t[idx[-1]])
                o = start if kind[start] != MOVE else start - 1  # the rest before the first move
                if o >= 0 and o != idx[0]:
                    seg = ReplaySegment(
                        np.concatenate([[0.0], t[idx] - t[idx[0]]]),
                        np.concatenate([[x[o]], x[idx]]),
                        np.concatenate([[y[o]], y[idx]]),
                        dwell,
                        min(idle, 3000.0),
                        hover,
                    )
                else:
                    seg = ReplaySegment(
                        t[idx] - t[idx[0]], x[idx], y[idx], dwell, min(idle, 3000.0), hover
                    )
                if seg.chord >= min_chord:
                    pool.append(seg)
            start = i
    return pool


def replay_path(
    rng: Rng,
    a: Point,
    b: Point,
    pool: Sequence[ReplaySegment],
    *,
    match_direction: float | None = None,
    rotate: bool = True,
) -> tuple[Path, ReplaySegment]:
    """A pool segment of similar length, rotated and scaled onto ``a`` -> ``b``; timing kept.

    With ``match_direction`` (radians), only segments whose own direction is within that angle
    of ``a`` -> ``b`` are picked when there are any (the rotation stays small). With ``rotate``
    False (and ``match_direction``) one of the three closest in direction is picked, only
    scaled, and what it then misses ``b`` by is added along its path in proportion to the
    distance covered."""
    dist = math.dist(a, b)
    chords = np.array([s.chord for s in pool])
    near = np.flatnonzero((chords >= dist * 0.75) & (chords <= dist * 1.33))
    if near.shape[0] == 0:
        near = np.argsort(np.abs(chords - dist))[:20]
    if match_direction is not None:
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        heading = np.array([math.atan2(s.y[-1] - s.y[0], s.x[-1] - s.x[0]) for s in pool])
        own = heading[near]
        off = np.abs((own - angle + math.pi) % (2 * math.pi) - math.pi)
        if not rotate:  # the few closest in direction: the miss to spread stays small
            near = near[np.argsort(off, kind="stable")[:3]]
        elif bool((off <= match_direction).any()):
            near = near[off <= match_direction]
    seg = pool[int(near[int(rng.integers(near.shape[0]))])]
    src = (seg.x - seg.x[0]) + 1j * (seg.y - seg.y[0])
    end = src[-1]
    target = complex(b[0] - a[0], b[1] - a[1])
    if rotate:
        z = src * (target / end) if abs(end) > 0 else src
    else:
        z = src * (abs(target) / abs(end)) if abs(end) > 0 else src
        arc = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(z)))])
        z = z + (target - z[-1]) * (arc / arc[-1] if arc[-1] > 0 else 1.0)
    return (seg.t.copy(), np.round(a[0] + z.real), np.round(a[1] + z.imag)), seg


# ------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True, slots=True)
class BotSession:
    family: str
    seed: int
    trajectory: Trajectory
    viewport: tuple[int, int]

    def telemetry(self, *, with_viewport: bool = True) -> dict[str, object]:
        vp = (float(self.viewport[0]), float(self.viewport[1])) if with_viewport else None
        return to_telemetry(self.trajectory, viewport=vp, start_ms=0.0)


def rng_for(family: str, seed: int) -> Rng:
    return np.random.default_rng([EVAL_FAMILIES.index(family), seed])


def session(
    family: str,
    seed: int,
    *,
    duration_ms: float | None = None,
    pool: Sequence[ReplaySegment] | None = None,
) -> BotSession:
    """One bot visit: moves to random targets and clicks them for ``duration_ms``
    (default: 3-10 s drawn from the seed). ``replay`` needs a ``pool``."""
    if family not in EVAL_FAMILIES:
        raise ValueError(f"unknown bot family {family!r}")
    if family in REPLAYS and not pool:
        raise ValueError("the replay families need a pool of human segments")
    rng = rng_for(family, seed)
    vw, vh = VIEWPORTS[int(rng.integers(len(VIEWPORTS)))]
    total = duration_ms if duration_ms is not None else rng.uniform(3000.0, 10000.0)
    margin = 20.0
    pace = float(rng.uniform(0.5, 2.0))

    def target() -> Point:
        return (rng.uniform(margin, vw - margin), rng.uniform(margin, vh - margin))

    start = target()
    pos: Point = (float(round(start[0])), float(round(start[1])))
    now = float(rng.uniform(0.0, 300.0))
    ts: list[F64] = []
    xs: list[F64] = []
    ys: list[F64] = []
    kinds: list[F64] = []
    while now < total:
        goal = target()
        while math.dist(goal, pos) < 40:
            goal = target()
        if family in REPLAYS:
            assert pool is not None
            match = None if family == "replay" else DIRECTION_MATCH_RAD
            (pt, px, py), seg = replay_path(
                rng, pos, goal, pool, match_direction=match, rotate=family != REPLAY_UNROTATED
            )
            wait, dwell, idle = seg.hover_ms, seg.dwell_ms, seg.idle_ms
        else:
            pt, px, py = PATHS[family](rng, pos, goal)
            # Click timing drawn like SapiMouse people's (medians: hover 52 ms, dwell 85 ms,
            # idle 69 ms), scaled per session, so that the task's rhythm gives nothing away.
            wait = min(float(rng.exponential(70.0 * pace)), 400.0)
            dwell = float(np.exp(rng.normal(math.log(85.0 * pace), 0.35)))
            idle = min(float(rng.exponential(90.0 * pace)), 600.0)
        ts.append(now + pt[1:])
        xs.append(px[1:])
        ys.append(py[1:])
        kinds.append(np.zeros(pt.shape[0] - 1))
        now += float(pt[-1]) + wait
        end = (float(px[-1]), float(py[-1]))
        ts.append(np.array([now, now + dwell]))
        xs.append(np.array([end[0], end[0]]))
        ys.append(np.array([end[1], end[1]]))
        kinds.append(np.array([DOWN, UP], np.float64))
        now += dwell + idle
        pos = end
    traj = Trajectory(
        np.concatenate(ts),
        np.concatenate(kinds).astype(np.int8),
        np.concatenate(xs),
        np.concatenate(ys),
        np.where(np.concatenate(kinds) == MOVE, -1, 0).astype(np.int8),
    )
    keep = traj.t <= total
    traj = Trajectory(traj.t[keep], traj.kind[keep], traj.x[keep], traj.y[keep], traj.button[keep])
    traj = _deliver(rng, family, traj)
    return BotSession(family, seed, traj, (vw, vh))


def _deliver(rng: Rng, family: str, traj: Trajectory) -> Trajectory:
    """How the page receives the moves: a replayed path at a browser's rate, most scripted
    movers coalesced to the frames of a 60/120/144 Hz display, the rest as sent."""
    if family in REPLAYS:
        return resample(traj, float(rng.choice((30.0, *FRAME_RATES))), rng=rng, jitter_ms=0.3)
    if family == "jitter" or rng.random() < 0.4:
        return traj
    hz = float(rng.choice(FRAME_RATES))
    period = 1000.0 / hz
    moves = traj.kind == MOVE
    phase = rng.uniform(0, period)
    frame = np.ceil((traj.t - phase) / period)
    # The last move of each frame wins, stamped at the frame (never after the next click);
    # downs and ups pass through.
    last_of_frame = np.ones(len(traj), bool)
    mi = np.flatnonzero(moves)
    same = frame[mi[1:]] == frame[mi[:-1]]
    last_of_frame[mi[:-1][same]] = False
    clicks_t = np.where(moves, np.inf, traj.t)
    next_click = np.minimum.accumulate(clicks_t[::-1])[::-1]
    t = traj.t.copy()
    t[moves] = np.minimum(frame[moves] * period + phase, next_click[moves])
    keep = ~moves | last_of_frame
    return clean(
        Trajectory(t[keep], traj.kind[keep], traj.x[keep], traj.y[keep], traj.button[keep])
    )[0]
