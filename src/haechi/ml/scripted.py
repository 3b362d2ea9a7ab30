"""Scripted bot families of the kinds real browser bots use (issue 18), next to ``bots``.

The families of ``haechi.ml.bots`` imitate published "human-like" movers. Real bots that pass a
behaviour model more often move in low-variance scripted ways and leave out what a model may
have learnt to expect of a bot (every movement ending in a click, no long pause). These
families do exactly that, each with per-session randomised constants:

- ``constant_speed``: straight moves at one speed with one step interval, one identical pause
  between moves (repeated pauses), clicking or not (moves without clicks);
- ``regular_steps``: xdotool/CDP loops: relative steps of one fixed length, along one axis then
  the other or along the chord, at one interval; pauses of one length, clicks optional;
- ``jittered_line``: a straight line with Gaussian noise on every point and a random interval
  between points: low-variance geometry dressed as tremor;
- ``step_runs``: runs of identical integer steps (one ``(dx, dy)`` repeated 3-20 times, then the
  next), on a jittered frame clock: what integer rounding of a fixed velocity produces;
- ``pause_repeat``: ghost-cursor-like curves with human-looking timing, but every stop is the
  same length (a ``sleep(n)`` between moves), often without clicks;
- ``zigzag``: a line with a regular perpendicular wobble (a sawtooth of a few pixels), on a
  frame clock with a minimum-jerk speed profile. **The team's final test family**: it is in no
  training run and no development evaluation (``FINAL_FAMILY``).

``session(family, seed, duration_ms=...)`` builds these and, for the families of ``bots``,
hands over to ``bots.session``: one entry point for every family.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from haechi.ml import bots
from haechi.ml.bots import BotSession, Path, Point, Rng
from haechi.risk.features import DOWN, F64, MOVE, UP, Trajectory, clean

SCRIPTED: Final = (
    "constant_speed",
    "regular_steps",
    "jittered_line",
    "step_runs",
    "pause_repeat",
    "zigzag",
)
FINAL_FAMILY: Final = "zigzag"  # kept out of all development: the final test
ALL_FAMILIES: Final = (*bots.EVAL_FAMILIES, *SCRIPTED)
# Families a model may be trained on: the generators, never a replay nor the final family.
TRAINABLE: Final = tuple(f for f in (*bots.TRAINING_FAMILIES, *SCRIPTED) if f != FINAL_FAMILY)
_BASE: Final = 50  # rng streams of these families: apart from bots.EVAL_FAMILIES' indices


def rng_for(family: str, seed: int) -> Rng:
    return np.random.default_rng([_BASE + SCRIPTED.index(family), seed])


def _clock(rng: Rng, n: int, interval: float, jitter: float) -> F64:
    steps = np.maximum(rng.normal(interval, jitter, max(n - 1, 0)), 0.5)
    return np.concatenate([[0.0], np.cumsum(steps)])


def constant_speed_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    dist = math.dist(a, b)
    n = max(2, math.ceil(dist / p["step"]))
    s = np.linspace(0.0, 1.0, n + 1)
    x = np.round(a[0] + (b[0] - a[0]) * s, int(p["decimals"]))
    y = np.round(a[1] + (b[1] - a[1]) * s, int(p["decimals"]))
    return _clock(rng, n + 1, p["interval"], p["timer_jitter"]), x, y


def regular_steps_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    step = p["step"]
    xs, ys = [a[0]], [a[1]]
    if p["axis_first"] > 0.5:  # along x, then along y
        for axis, goal in ((0, b[0]), (1, b[1])):
            cur = xs[-1] if axis == 0 else ys[-1]
            n = int(abs(goal - cur) // step)
            sign = 1.0 if goal >= cur else -1.0
            for _ in range(n):
                if axis == 0:
                    xs.append(xs[-1] + sign * step)
                    ys.append(ys[-1])
                else:
                    xs.append(xs[-1])
                    ys.append(ys[-1] + sign * step)
        xs.append(b[0])
        ys.append(b[1])
    else:
        dist = math.dist(a, b)
        n = max(1, int(dist // step))
        ux, uy = (b[0] - a[0]) / dist, (b[1] - a[1]) / dist
        dx, dy = round(ux * step), round(uy * step)
        for _ in range(n):
            xs.append(xs[-1] + dx)
            ys.append(ys[-1] + dy)
        xs.append(b[0])
        ys.append(b[1])
    x, y = np.round(np.asarray(xs)), np.round(np.asarray(ys))
    return _clock(rng, x.shape[0], p["interval"], p["timer_jitter"]), x, y


def jittered_line_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    dist = math.dist(a, b)
    duration = dist / p["speed"]
    t = [0.0]
    while t[-1] < duration:
        t.append(t[-1] + float(rng.uniform(p["dt_lo"], p["dt_hi"])))
    tt = np.asarray(t)
    s = np.clip(tt / tt[-1], 0.0, 1.0)
    if p["eased"] > 0.5:
        s = s * s * (3 - 2 * s)
    noise = rng.normal(0.0, p["sigma"], (2, tt.shape[0]))
    noise[:, [0, -1]] = 0.0
    x = a[0] + (b[0] - a[0]) * s + noise[0]
    y = a[1] + (b[1] - a[1]) * s + noise[1]
    return tt, np.round(x, int(p["decimals"])), np.round(y, int(p["decimals"]))


def step_runs_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    xs, ys = [float(round(a[0]))], [float(round(a[1]))]
    speed = p["speed"]  # px per step
    for _ in range(400):
        rx, ry = b[0] - xs[-1], b[1] - ys[-1]
        left = math.hypot(rx, ry)
        if left < speed * 1.5:
            break
        k = int(rng.integers(3, 21))
        dx, dy = round(rx / left * speed), round(ry / left * speed)
        if dx == 0 and dy == 0:
            break
        k = min(k, max(1, int(left / max(math.hypot(dx, dy), 1.0))))
        for _ in range(k):
            xs.append(xs[-1] + dx)
            ys.append(ys[-1] + dy)
    xs.append(float(round(b[0])))
    ys.append(float(round(b[1])))
    x, y = np.asarray(xs), np.asarray(ys)
    return _clock(rng, x.shape[0], p["interval"], p["timer_jitter"]), x, y


def pause_repeat_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    return bots.PATHS["jitter"](rng, a, b)


def zigzag_path(rng: Rng, a: Point, b: Point, p: dict[str, float]) -> Path:
    dist = math.dist(a, b)
    duration = 1000.0 * (rng.uniform(0.15, 0.3) + 0.15 * math.log2(dist / 20 + 1))
    n = max(4, int(duration / p["interval"]))
    t = _clock(rng, n, p["interval"], p["timer_jitter"])
    tau = np.clip(t / t[-1], 0.0, 1.0)
    s = tau**3 * (10 - 15 * tau + 6 * tau * tau)
    ux, uy = (b[0] - a[0]) / dist, (b[1] - a[1]) / dist
    phase = (np.arange(n) % p["period"]) / p["period"]
    wobble = p["amp"] * (2 * np.abs(2 * phase - 1) - 1) * np.sin(np.pi * tau)
    x = a[0] + (b[0] - a[0]) * s - uy * wobble
    y = a[1] + (b[1] - a[1]) * s + ux * wobble
    return t, np.round(x), np.round(y)


_PATHS: Final[dict[str, Callable[[Rng, Point, Point, dict[str, float]], Path]]] = {
    "constant_speed": constant_speed_path,
    "regular_steps": regular_steps_path,
    "jittered_line": jittered_line_path,
    "step_runs": step_runs_path,
    "pause_repeat": pause_repeat_path,
    "zigzag": zigzag_path,
}


def _params(family: str, rng: Rng) -> dict[str, float]:
    interval = float(rng.choice([4.0, 8.0, 10.0, 16.0, 16.7, 20.0, 33.3, 50.0]))
    p = {
        "interval": interval,
        "timer_jitter": float(rng.choice([0.0, 0.0, 0.2, 1.0])),
        "decimals": float(rng.choice([0, 0, 2])),
        "click": float(rng.random() < 0.5),  # moves without clicks in half of the sessions
        "pause": float(rng.choice([0.0, rng.uniform(100.0, 2000.0)])),  # one length, repeated
        "pause_jitter": float(rng.choice([0.0, 0.0, 1.0, 5.0])),
    }
    if family == "constant_speed":
        p["step"] = float(rng.uniform(2.0, 40.0))
    elif family == "regular_steps":
        p["step"] = float(rng.choice([1.0, 2.0, 3.0, 5.0, 10.0, 20.0]))
        p["axis_first"] = float(rng.random() < 0.5)
        p["interval"] = float(rng.choice([1.0, 2.0, 5.0, 8.0, 10.0, 16.0]))
    elif family == "jittered_line":
        p["speed"] = float(rng.uniform(0.3, 3.0))  # px/ms
        p["dt_lo"] = float(rng.uniform(4.0, 12.0))
        p["dt_hi"] = p["dt_lo"] + float(rng.uniform(2.0, 30.0))
        p["sigma"] = float(rng.uniform(0.5, 4.0))
        p["eased"] = float(rng.random() < 0.5)
    elif family == "step_runs":
        p["speed"] = float(rng.uniform(2.0, 25.0))
        p["interval"] = float(rng.choice([8.0, 16.7, 16.7, 8.3, 6.9]))
        p["timer_jitter"] = float(rng.uniform(0.2, 2.0))
    elif family == "pause_repeat":
        p["pause"] = float(rng.uniform(150.0, 2500.0))
        p["click"] = float(rng.random() < 0.4)
    elif family == "zigzag":
        p["interval"] = float(rng.choice([6.9, 8.3, 16.7]))
        p["timer_jitter"] = float(rng.uniform(0.1, 1.5))
        p["amp"] = float(rng.uniform(1.5, 12.0))
        p["period"] = float(rng.integers(2, 9))
    return p


def session(
    family: str,
    seed: int,
    *,
    duration_ms: float | None = None,
    pool: Sequence[bots.ReplaySegment] | None = None,
) -> BotSession:
    """One visit of any family (those of ``bots`` are handed over to ``bots.session``)."""
    if family not in SCRIPTED:
        return bots.session(family, seed, duration_ms=duration_ms, pool=pool)
    rng = rng_for(family, seed)
    vw, vh = bots.VIEWPORTS[int(rng.integers(len(bots.VIEWPORTS)))]
    total = duration_ms if duration_ms is not None else rng.uniform(3000.0, 10000.0)
    p = _params(family, rng)
    margin = 20.0

    def target() -> Point:
        return (rng.uniform(margin, vw - margin), rng.uniform(margin, vh - margin))

    start = target()
    pos: Point = (float(round(start[0])), float(round(start[1])))
    now = float(rng.uniform(0.0, 300.0))
    dwell = float(rng.uniform(40.0, 150.0))  # one dwell, every click
    ts: list[F64] = []
    xs: list[F64] = []
    ys: list[F64] = []
    kinds: list[F64] = []
    while now < total:
        goal = target()
        while math.dist(goal, pos) < 40:
            goal = target()
        pt, px, py = _PATHS[family](rng, pos, goal, p)
        ts.append(now + pt[1:])
        xs.append(px[1:])
        ys.append(py[1:])
        kinds.append(np.zeros(pt.shape[0] - 1))
        now += float(pt[-1])
        end = (float(px[-1]), float(py[-1]))
        if p["click"] > 0.5:
            now += float(rng.uniform(0.0, 30.0)) if p["pause_jitter"] else 10.0
            ts.append(np.array([now, now + dwell]))
            xs.append(np.array([end[0], end[0]]))
            ys.append(np.array([end[1], end[1]]))
            kinds.append(np.array([DOWN, UP], np.float64))
            now += dwell
        pause = p["pause"] if p["pause"] > 0 else 80.0
        now += pause + float(rng.normal(0.0, p["pause_jitter"])) if p["pause_jitter"] else pause
        pos = end
    kind = np.concatenate(kinds).astype(np.int8)
    traj = Trajectory(
        np.concatenate(ts),
        kind,
        np.concatenate(xs),
        np.concatenate(ys),
        np.where(kind == MOVE, -1, 0).astype(np.int8),
    )
    keep = traj.t <= total
    traj = Trajectory(traj.t[keep], traj.kind[keep], traj.x[keep], traj.y[keep], traj.button[keep])
    if family in ("constant_speed", "regular_steps", "jittered_line") and rng.random() < 0.5:
        traj = _frames(rng, traj)  # delivered at a display's frame rate, as a browser would
    return BotSession(family, seed, clean(traj)[0], (vw, vh))


def _frames(rng: Rng, traj: Trajectory) -> Trajectory:
    """Coalesce moves to 60/120/144 Hz frames (the last move of each frame wins)."""
    period = 1000.0 / float(rng.choice(bots.FRAME_RATES))
    moves = traj.kind == MOVE
    frame = np.ceil((traj.t - rng.uniform(0, period)) / period)
    last = np.ones(len(traj), bool)
    mi = np.flatnonzero(moves)
    last[mi[:-1][frame[mi[1:]] == frame[mi[:-1]]]] = False
    keep = ~moves | last
    return Trajectory(traj.t[keep], traj.kind[keep], traj.x[keep], traj.y[keep], traj.button[keep])


__all__ = ["ALL_FAMILIES", "FINAL_FAMILY", "SCRIPTED", "TRAINABLE", "UP", "session"]
