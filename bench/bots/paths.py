"""Pointer paths: what each bot family moves like, and the held-out people's recorded approaches.

A path is a list of ``(dt_ms, x, y)`` steps ending on the target; the driver waits ``dt_ms``
before each move. Bot strategies are the ones the issue names (and what public bot kits do);
``human_approaches`` cuts real approaches-to-a-click out of SapiMouse recordings.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path

Path_ = list[tuple[float, float, float]]

SAPIMOUSE = Path("/work/shared/data/sapimouse")


def _ease(s: float) -> float:
    return s * s * (3 - 2 * s)


def straight(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """A straight line in 26 equal steps at a fixed rate (the issue's scripted mover)."""
    n = 26
    return [
        (16.0, start[0] + (end[0] - start[0]) * i / n, start[1] + (end[1] - start[1]) * i / n)
        for i in range(1, n + 1)
    ]


def eased(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """A straight line, smoothstep speed profile, 30-60 steps of 16 ms."""
    n = rng.randint(30, 60)
    return [
        (
            16.0,
            start[0] + (end[0] - start[0]) * _ease(i / n),
            start[1] + (end[1] - start[1]) * _ease(i / n),
        )
        for i in range(1, n + 1)
    ]


def bezier(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """A cubic Bézier with two random control points off the chord and Fitts-law step count,
    as ghost-cursor draws its paths (its overshoot left out)."""
    (x0, y0), (x3, y3) = start, end
    dist = math.hypot(x3 - x0, y3 - y0) or 1.0
    nx, ny = -(y3 - y0) / dist, (x3 - x0) / dist
    spread = min(200.0, dist * rng.uniform(0.1, 0.4))
    c1 = (
        x0 + (x3 - x0) * 0.3 + nx * rng.uniform(-spread, spread),
        y0 + (y3 - y0) * 0.3 + ny * rng.uniform(-spread, spread),
    )
    c2 = (
        x0 + (x3 - x0) * 0.7 + nx * rng.uniform(-spread, spread),
        y0 + (y3 - y0) * 0.7 + ny * rng.uniform(-spread, spread),
    )
    steps = max(25, int(math.log2(dist / 24 + 1) * 12 + 20))
    out: Path_ = []
    for i in range(1, steps + 1):
        t = _ease(i / steps)
        x = (
            (1 - t) ** 3 * x0
            + 3 * (1 - t) ** 2 * t * c1[0]
            + 3 * (1 - t) * t * t * c2[0]
            + t**3 * x3
        )
        y = (
            (1 - t) ** 3 * y0
            + 3 * (1 - t) ** 2 * t * c1[1]
            + 3 * (1 - t) * t * t * c2[1]
            + t**3 * y3
        )
        out.append((rng.uniform(8, 20), x, y))
    return out


def windmouse(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """Benjamin Land's WindMouse (gravity 9, wind 3, max step 15, target area 12)."""
    g, w, m, d_target = 9.0, 3.0, 15.0, 12.0
    sqrt3, sqrt5 = math.sqrt(3), math.sqrt(5)
    x, y = start
    vx = vy = wx = wy = 0.0
    out: Path_ = []
    while (dist := math.hypot(end[0] - x, end[1] - y)) >= 1 and len(out) < 2000:
        w_mag = min(w, dist)
        if dist >= d_target:
            wx = wx / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
            wy = wy / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
        else:
            wx /= sqrt3
            wy /= sqrt3
            m = m / 3 if m >= 3 else rng.random() * 3 + 3
        vx += wx + g * (end[0] - x) / dist
        vy += wy + g * (end[1] - y) / dist
        v_mag = math.hypot(vx, vy)
        if v_mag > m:
            clip = m / 2 + rng.random() * m / 2
            vx, vy = vx / v_mag * clip, vy / v_mag * clip
        x, y = x + vx, y + vy
        out.append((rng.uniform(6, 12), x, y))
    out.append((10.0, end[0], end[1]))
    return out


def low_variance(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """Constant speed in short legs with the same 120 ms pause between them."""
    out: Path_ = []
    legs = 4
    px, py = start
    for leg in range(1, legs + 1):
        tx = start[0] + (end[0] - start[0]) * leg / legs
        ty = start[1] + (end[1] - start[1]) * leg / legs
        for i in range(1, 11):
            out.append(
                (
                    120.0 if i == 1 and leg > 1 else 10.0,
                    px + (tx - px) * i / 10,
                    py + (ty - py) * i / 10,
                )
            )
        px, py = tx, ty
    return out


def zigzag(rng: random.Random, start: tuple[float, float], end: tuple[float, float]) -> Path_:
    """Alternating sideways offsets along the chord, 40 steps."""
    n = 40
    (x0, y0), (x1, y1) = start, end
    dist = math.hypot(x1 - x0, y1 - y0) or 1.0
    nx, ny = -(y1 - y0) / dist, (x1 - x0) / dist
    out: Path_ = []
    for i in range(1, n + 1):
        s = i / n
        off = (25 if i % 2 else -25) * (1 - s)
        out.append(
            (rng.uniform(12, 18), x0 + (x1 - x0) * s + nx * off, y0 + (y1 - y0) * s + ny * off)
        )
    return out


@dataclass(frozen=True, slots=True)
class Approach:
    """One recorded approach to a click: moves relative to the press point, and the press."""

    subject: int
    steps: tuple[tuple[float, float, float], ...]  # (dt, dx, dy) relative to the press point
    dwell_ms: float


def _read(path: Path) -> list[tuple[float, str, str, float, float]]:
    rows: list[tuple[float, str, str, float, float]] = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows.append(
                    (
                        float(row["client timestamp"]),
                        row["button"],
                        row["state"],
                        float(row["x"]),
                        float(row["y"]),
                    )
                )
            except (KeyError, ValueError):
                continue
    return rows


def human_approaches(
    subjects: list[int], *, root: Path = SAPIMOUSE, per_subject: int = 40
) -> list[Approach]:
    """Moves from the last pause (>= 300 ms) or release before a left press, up to the press:
    10-150 moves, 0.3-3 s, at least 150 px travelled; the press's hold from its release."""
    found: list[Approach] = []
    for subject in subjects:
        folders = sorted(
            p
            for p in root.iterdir()
            if p.name == f"user{subject}" or p.name.startswith(f"user{subject}.")
        )
        mine: list[Approach] = []
        for folder in folders:
            for csv_path in sorted(folder.glob("*.csv")):
                rows = _read(csv_path)
                start = 0
                for i, (t, button, state, x, y) in enumerate(rows):
                    if state == "Released" or (i and t - rows[i - 1][0] >= 300):
                        start = i + (1 if state == "Released" else 0)
                    if state != "Pressed" or button != "Left":
                        continue
                    moves = [r for r in rows[start:i] if r[2] == "Move"]
                    release = next((r for r in rows[i + 1 : i + 20] if r[2] == "Released"), None)
                    if release is None or not 10 <= len(moves) <= 150:
                        continue
                    span = t - moves[0][0]
                    travel = sum(
                        math.hypot(b[3] - a[3], b[4] - a[4])
                        for a, b in zip(moves, moves[1:], strict=False)
                    )
                    if not 300 <= span <= 3000 or travel < 150:
                        continue
                    prev_t = moves[0][0]
                    steps = []
                    for mt, _b, _s, mx, my in moves:
                        steps.append((mt - prev_t, mx - x, my - y))
                        prev_t = mt
                    steps.append((t - prev_t, 0.0, 0.0))
                    mine.append(Approach(subject, tuple(steps), max(40.0, release[0] - t)))
        random.Random(subject).shuffle(mine)
        found += mine[:per_subject]
    return found


def place(
    approach: Approach, rng: random.Random, target: tuple[float, float], bounds: tuple[float, float]
) -> Path_:
    """A recorded approach moved so that it ends on ``target`` (rotated by up to 20 degrees and
    scaled 0.8-1.2 about the target, so it stays the person's movement), clamped to the window."""
    angle = math.radians(rng.uniform(-20, 20))
    scale = rng.uniform(0.8, 1.2)
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    out: Path_ = []
    for dt, dx, dy in approach.steps:
        x = target[0] + c * dx - s * dy
        y = target[1] + s * dx + c * dy
        out.append((dt, min(max(x, 1.0), bounds[0] - 2), min(max(y, 1.0), bounds[1] - 2)))
    out[-1] = (out[-1][0], target[0], target[1])
    return out


def verbatim(approach: Approach, target: tuple[float, float]) -> Path_:
    """A recorded approach replayed as it was, only translated onto the target."""
    return [(dt, target[0] + dx, target[1] + dy) for dt, dx, dy in approach.steps]


STRATEGIES = {
    "straight": straight,
    "eased": eased,
    "bezier": bezier,
    "windmouse": windmouse,
    "lowvar": low_variance,
    "zigzag": zigzag,
}
