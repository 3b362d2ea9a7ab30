"""The motifs the abstract images are drawn from: stroke, shape and layout per emotion.

Each motif draws on a canvas ``CANVAS`` pixels wide (twice the output size, for anti-aliased
strokes) in unit coordinates, with the image's palette, and ``weight`` (1 for the main motif,
0.5 for a second one) scaling how many elements it adds. Every parameter is drawn from a wide
range, so no two images of an emotion look alike, but the cue a person reads stays: calm lines
are smooth, level and evenly spaced; joyful shapes are round, bouncy and rising; angry ones are
jagged, sharp and diagonal; sad ones droop, fall and sit low; anxious ones shake, tangle and crowd
one side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import ImageDraw

SIZE: Final = 128  # output pixels
SS: Final = 2  # supersampling factor
CANVAS: Final = SIZE * SS
_TAU: Final = 2 * math.pi

RGB = tuple[int, int, int]
Motif = Callable[[ImageDraw.ImageDraw, np.random.Generator, "Palette", float], None]


@dataclass(frozen=True, slots=True)
class Palette:
    background: tuple[RGB, RGB]
    ink: tuple[RGB, ...]

    def pick(self, rng: np.random.Generator) -> RGB:
        return self.ink[int(rng.integers(len(self.ink)))]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _px(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x) * CANVAS, float(y) * CANVAS) for x, y in points]


def _stroke(
    draw: ImageDraw.ImageDraw, points: np.ndarray, fill: RGB, width: float, smooth: bool = True
) -> None:
    """A polyline in unit coordinates; ``width`` in output pixels."""
    w = max(1, round(width * SS))
    xy = _px(points)
    draw.line(xy, fill=fill, width=w, joint="curve" if smooth else None)
    if smooth and w > 2:
        for x, y in (xy[0], xy[-1]):
            draw.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=fill)


def _circle(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    r: float,
    fill: RGB | None,
    outline: RGB | None = None,
    width: float = 1.0,
) -> None:
    box = [(cx - r) * CANVAS, (cy - r) * CANVAS, (cx + r) * CANVAS, (cy + r) * CANVAS]
    draw.ellipse(box, fill=fill, outline=outline, width=max(1, round(width * SS)))


def _count(rng: np.random.Generator, lo: int, hi: int, weight: float) -> int:
    return max(1, round(int(rng.integers(lo, hi + 1)) * weight))


def _rotate(
    points: np.ndarray, angle: float, centre: tuple[float, float] = (0.5, 0.5)
) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    p = points - centre
    out: np.ndarray = np.c_[p[:, 0] * c - p[:, 1] * s, p[:, 0] * s + p[:, 1] * c] + centre
    return out


# --- calm: smooth, level, evenly spaced, soft ---------------------------------------------------
def _calm_waves(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    n = max(2, _count(rng, 3, 7, weight))
    ys = np.linspace(rng.uniform(0.1, 0.35), rng.uniform(0.65, 0.9), n) + rng.normal(0, 0.01, n)
    amp, wavelength = rng.uniform(0.005, 0.05), rng.uniform(0.6, 1.8)
    phase, drift, tilt = rng.uniform(0, _TAU), rng.uniform(-0.4, 0.4), rng.normal(0, 0.03)
    width = rng.uniform(1.5, 6.0)
    x = np.linspace(-0.05, 1.05, 90)
    for i, y0 in enumerate(ys):
        y = y0 + tilt * (x - 0.5) + amp * np.sin(_TAU * x / wavelength + phase + i * drift)
        _stroke(draw, np.c_[x, y], pal.ink[i % len(pal.ink)], width)


def _calm_bands(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    n = max(2, _count(rng, 3, 6, weight))
    tops = np.sort(rng.uniform(0.25, 0.92, n))
    x = np.linspace(-0.05, 1.05, 60)
    amp, wavelength, phase = rng.uniform(0.0, 0.03), rng.uniform(0.8, 2.0), rng.uniform(0, _TAU)
    for i, top in enumerate(tops):
        y = top + amp * np.sin(_TAU * x / wavelength + phase + i)
        outline = np.r_[np.c_[x, y], [[1.05, 1.05], [-0.05, 1.05]]]
        colour = mix(pal.background[0], pal.ink[i % len(pal.ink)], (i + 1) / (n + 1))
        draw.polygon(_px(outline), fill=colour)


def _calm_ripples(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.35, 0.7)
    aspect, r0, step = rng.uniform(1.2, 3.0), rng.uniform(0.02, 0.08), rng.uniform(0.035, 0.07)
    width, colour = rng.uniform(1.2, 3.0), pal.pick(rng)
    for j in range(max(3, _count(rng, 4, 9, weight))):
        r = r0 + j * step
        box = [
            (cx - r * aspect) * CANVAS,
            (cy - r) * CANVAS,
            (cx + r * aspect) * CANVAS,
            (cy + r) * CANVAS,
        ]
        draw.ellipse(box, outline=colour, width=max(1, round(width * SS)))


def _calm_horizon(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    cx, cy, r = rng.uniform(0.25, 0.75), rng.uniform(0.3, 0.5), rng.uniform(0.1, 0.22)
    _circle(draw, cx, cy, r, mix(pal.background[0], pal.pick(rng), rng.uniform(0.4, 0.8)))
    x = np.linspace(-0.05, 1.05, 2)
    for y in np.linspace(cy + r + 0.06, 0.92, max(2, _count(rng, 2, 4, weight))):
        _stroke(draw, np.c_[x, [y, y + rng.normal(0, 0.005)]], pal.pick(rng), rng.uniform(1.5, 4))


# --- joyful: round, bouncy, rising, bright, many hues -------------------------------------------
def _joy_bubbles(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 8, 24, weight)):
        r = 0.015 + 0.1 * rng.random() ** 2
        cx, cy = rng.uniform(0, 1), rng.random() ** 1.4  # more of them high up
        if rng.random() < 0.6:
            _circle(draw, cx, cy, r, pal.pick(rng))
        else:
            _circle(draw, cx, cy, r, None, pal.pick(rng), rng.uniform(1.5, 4))


def _joy_bounce(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 1, 3, weight)):
        x0, x1 = rng.uniform(-0.05, 0.2), rng.uniform(0.8, 1.05)
        x = np.linspace(x0, x1, 120)
        bounces, amp = int(rng.integers(2, 6)), rng.uniform(0.1, 0.28)
        base = np.linspace(rng.uniform(0.7, 0.92), rng.uniform(0.35, 0.6), x.size)  # rising
        y = base - amp * np.abs(np.sin(math.pi * bounces * (x - x0) / (x1 - x0)))
        colour = pal.pick(rng)
        _stroke(draw, np.c_[x, y], colour, rng.uniform(2, 6))
        if rng.random() < 0.6:
            peaks = (np.arange(bounces) + 0.5) / bounces
            for p in peaks:
                i = min(x.size - 1, int(p * x.size))
                _circle(draw, x[i], y[i] - 0.05, rng.uniform(0.015, 0.03), pal.pick(rng))


def _joy_sunburst(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    cx, cy = rng.uniform(0.25, 0.75), rng.uniform(0.2, 0.6)
    n, r0, r1 = _count(rng, 10, 22, weight) + 4, rng.uniform(0.07, 0.15), rng.uniform(0.3, 0.7)
    width, turn = rng.uniform(2, 6), rng.uniform(0, _TAU)
    for k in range(n):
        a = turn + _TAU * k / n
        ray = np.array(
            [
                [cx + r0 * math.cos(a), cy + r0 * math.sin(a)],
                [cx + r1 * math.cos(a), cy + r1 * math.sin(a)],
            ]
        )
        _stroke(draw, ray, pal.ink[k % len(pal.ink)], width)
    _circle(draw, cx, cy, r0 * 0.8, pal.pick(rng))


def _joy_confetti(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 25, 50, weight)):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.015, 0.04)
        if rng.random() < 0.5:
            _circle(draw, cx, cy, r, pal.pick(rng))
        else:
            start = float(rng.uniform(0, 360))
            box = [(cx - r) * CANVAS, (cy - r) * CANVAS, (cx + r) * CANVAS, (cy + r) * CANVAS]
            draw.arc(
                box, start, start + float(rng.uniform(120, 250)), fill=pal.pick(rng), width=3 * SS
            )


# --- angry: jagged, sharp, diagonal, heavy, explosive -------------------------------------------
def _angry_zigzag(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 2, 5, weight)):
        m = int(rng.integers(6, 16))
        x = np.linspace(-0.1, 1.1, m) + rng.normal(0, 0.015, m)
        sign = np.where(np.arange(m) % 2 == 0, 1.0, -1.0)
        y = rng.uniform(0.15, 0.85) + sign * rng.uniform(0.04, 0.15, m)
        points = _rotate(np.c_[x, y], rng.uniform(-0.8, 0.8))
        _stroke(draw, points, pal.pick(rng), rng.uniform(2.5, 9), smooth=False)


def _angry_shards(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    cx, cy = rng.uniform(0.25, 0.75, 2)
    for _ in range(_count(rng, 8, 20, weight)):
        a, length = rng.uniform(0, _TAU), rng.uniform(0.2, 0.6)
        half, r = rng.uniform(0.02, 0.06), rng.uniform(0.0, 0.08)
        bx, by = cx + r * math.cos(a), cy + r * math.sin(a)
        px, py = -math.sin(a) * half, math.cos(a) * half
        tip = (cx + length * math.cos(a), cy + length * math.sin(a))
        draw.polygon(
            _px(np.array([[bx + px, by + py], tip, [bx - px, by - py]])), fill=pal.pick(rng)
        )


def _angry_slashes(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 3, 8, weight)):
        cx, cy, length = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.5, 1.2)
        a = rng.choice([-1, 1]) * rng.uniform(0.45, 1.15)
        half, at = rng.uniform(0.015, 0.06), rng.uniform(0.3, 0.7)
        d = np.array([math.cos(a), math.sin(a)])
        n = np.array([-d[1], d[0]])
        start, end = (
            np.array([cx, cy]) - d * length * at,
            np.array([cx, cy]) + d * length * (1 - at),
        )
        draw.polygon(
            _px(np.array([start, [cx, cy] + n * half, end, [cx, cy] - n * half])),
            fill=pal.pick(rng),
        )
    for _ in range(_count(rng, 4, 12, weight)):  # splatter
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.015, 0.05)
        k = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, _TAU, k))
        rad = r * rng.uniform(0.3, 1.4, k)
        draw.polygon(_px(np.c_[cx + rad * np.cos(ang), cy + rad * np.sin(ang)]), fill=pal.pick(rng))


# --- sad: drooping, falling, sparse, dim, weight at the bottom ----------------------------------
def _sad_drips(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    top = rng.uniform(-0.05, 0.15)
    colour = pal.pick(rng)
    if rng.random() < 0.6:
        draw.rectangle([0, 0, CANVAS, max(0.0, top + 0.04) * CANVAS], fill=colour)
    for x in np.sort(rng.uniform(0.05, 0.95, _count(rng, 4, 12, weight))):
        end, width = top + rng.uniform(0.3, 0.85), rng.uniform(1.2, 4.5)
        y = np.linspace(top, end, 30)
        xs = x + rng.normal(0, 0.002) * np.arange(30)
        _stroke(draw, np.c_[xs, y], colour, width)
        _circle(draw, xs[-1], end + 0.01, width * rng.uniform(0.8, 1.6) / SIZE, colour)


def _sad_droop(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    """Lines that sag under their own weight, lower towards one side."""
    x = np.linspace(-0.05, 1.05, 70)
    fall = rng.uniform(0.0, 0.25) * rng.choice([-1, 1])
    for y0 in np.sort(rng.uniform(0.08, 0.5, _count(rng, 3, 6, weight))):
        sag, low = rng.uniform(0.15, 0.45), rng.uniform(0.35, 0.65)
        y = y0 + fall * (x - 0.5) + sag * (1 - ((x - low) / max(low, 1 - low)) ** 2)
        _stroke(draw, np.c_[x, y], pal.pick(rng), rng.uniform(1.5, 5))


def _sad_rain(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    slant = rng.uniform(-0.2, 0.2)
    for _ in range(_count(rng, 15, 40, weight)):
        x, y, length = rng.uniform(-0.05, 1.05), rng.uniform(-0.1, 0.85), rng.uniform(0.04, 0.15)
        a = math.pi / 2 + slant + rng.normal(0, 0.03)
        seg = np.array([[x, y], [x + length * math.cos(a), y + length * math.sin(a)]])
        colour = mix(pal.background[0], pal.pick(rng), rng.uniform(0.6, 1.0))
        _stroke(draw, seg, colour, rng.uniform(0.8, 2.0))
    if rng.random() < 0.6:
        for y in np.linspace(0.88, 0.97, int(rng.integers(2, 4))):
            x0 = rng.uniform(0.0, 0.4)
            _stroke(draw, np.array([[x0, y], [x0 + rng.uniform(0.3, 0.6), y]]), pal.pick(rng), 1.5)


def _sad_sink(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.45)
    _circle(draw, cx, 1 + r * rng.uniform(0.2, 0.6), r, pal.pick(rng))
    _circle(
        draw,
        rng.uniform(0.15, 0.85),
        rng.uniform(0.6, 0.78),
        rng.uniform(0.02, 0.05),
        pal.pick(rng),
    )
    for _ in range(_count(rng, 0, 4, weight)):
        x = rng.uniform(0.05, 0.95)
        _stroke(
            draw,
            np.array([[x, rng.uniform(0.05, 0.3)], [x, rng.uniform(0.5, 0.8)]]),
            pal.pick(rng),
            1.2,
        )


# --- anxious: shaky, tangled, crowded, off-balance, irregular -----------------------------------
def _anx_scribble(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 1, 3, weight)):
        steps, step, wobble = (
            int(rng.integers(150, 400)),
            rng.uniform(0.006, 0.012),
            rng.uniform(0.3, 0.9),
        )
        cx, cy = rng.uniform(0.3, 0.7, 2)
        half = rng.uniform(0.25, 0.45)
        heading = np.cumsum(rng.normal(0, wobble, steps)) + rng.uniform(0, _TAU)
        p = np.array([cx, cy]) + np.cumsum(np.c_[np.cos(heading), np.sin(heading)] * step, axis=0)
        lo, hi = np.array([cx, cy]) - half, np.array([cx, cy]) + half
        p = lo + _fold(p, lo, hi)
        p += rng.normal(0, 0.003, p.shape)
        _stroke(draw, p, pal.pick(rng), rng.uniform(0.8, 2.2))


def _fold(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reflect a path into the box [lo, hi] (offsets from lo): a walk that bounces off walls."""
    span = hi - lo
    q = (p - lo) % (2 * span)
    out: np.ndarray = np.where(q > span, 2 * span - q, q)
    return out


def _anx_tremor(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    base, shake = rng.uniform(-0.35, 0.35), rng.uniform(0.004, 0.012)
    for y0 in np.sort(rng.uniform(0.08, 0.92, _count(rng, 4, 10, weight))):
        x = np.linspace(-0.05, 1.05, 110)
        y = y0 + np.cumsum(rng.normal(0, 0.004, x.size)) + rng.normal(0, shake, x.size)
        points = _rotate(np.c_[x, y], base + rng.normal(0, 0.12))
        cut = int(rng.integers(20, 90)) if rng.random() < 0.5 else x.size
        colour, width = pal.pick(rng), rng.uniform(0.8, 2.5)
        _stroke(draw, points[:cut], colour, width)
        if cut + 6 < x.size:
            _stroke(draw, points[cut + 6 :], colour, width)


def _anx_spiral(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    for _ in range(_count(rng, 1, 3, weight)):
        cx, cy = rng.uniform(0.2, 0.8, 2)
        turns, r_max, squash = rng.uniform(3, 7), rng.uniform(0.1, 0.35), rng.uniform(0.6, 1.0)
        theta = np.linspace(0, _TAU * turns, int(turns * 40))
        r = r_max * theta / theta[-1] * (1 + rng.normal(0, 0.06, theta.size))
        p = np.c_[cx + r * np.cos(theta), cy + squash * r * np.sin(theta)]
        _stroke(draw, p + rng.normal(0, 0.004, p.shape), pal.pick(rng), rng.uniform(0.8, 2.0))


def _anx_clutter(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, pal: Palette, weight: float
) -> None:
    side = rng.uniform(0, _TAU)  # crowded towards one side
    cx, cy = 0.5 + 0.25 * math.cos(side), 0.5 + 0.25 * math.sin(side)
    spread = rng.uniform(0.1, 0.22)
    for _ in range(_count(rng, 20, 50, weight)):
        x, y = rng.normal(cx, spread), rng.normal(cy, spread)
        k, r = int(rng.integers(3, 7)), rng.uniform(0.015, 0.06)
        ang = np.sort(rng.uniform(0, _TAU, k))
        rad = r * rng.uniform(0.5, 1.3, k)
        outline = _px(np.c_[x + rad * np.cos(ang), y + rad * np.sin(ang)])
        fill = pal.pick(rng) if rng.random() < 0.3 else None
        draw.polygon(
            outline, fill=fill, outline=pal.pick(rng), width=max(1, round(rng.uniform(1, 2) * SS))
        )
    for _ in range(_count(rng, 2, 6, weight)):
        _stroke(draw, rng.uniform(-0.1, 1.1, (2, 2)), pal.pick(rng), rng.uniform(0.8, 1.6))


MOTIFS: Final[dict[str, tuple[Motif, ...]]] = {
    "calm": (_calm_waves, _calm_bands, _calm_ripples, _calm_horizon),
    "joyful": (_joy_bubbles, _joy_bounce, _joy_sunburst, _joy_confetti),
    "angry": (_angry_zigzag, _angry_shards, _angry_slashes),
    "sad": (_sad_drips, _sad_droop, _sad_rain, _sad_sink),
    "anxious": (_anx_scribble, _anx_tremor, _anx_spiral, _anx_clutter),
}
