"""Strokes as the widget sends them: validation, timing signals, and rendering for the CRNN.

A submission is ``{"strokes": [[[x, y, t], ...], ...]}``: canvas pixels and milliseconds since the
task was shown. ``parse`` turns it into float arrays or says why it cannot (never raises);
``timing`` summarises how it was drawn for the risk engine; ``render`` draws it the one way the
recogniser reads — cropped to the ink, scaled to a fixed height, a fixed pen width — so training
(which renders synthetic strokes through the same function) and serving see the same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

MAX_STROKES: Final = 64
MAX_POINTS: Final = 1024
MAX_TOTAL_POINTS: Final = 8192
# The recogniser's input: ink 255 on 0, this many pixels high and wide.
HEIGHT: Final = 32
WIDTH: Final = 128
# Pen width relative to the input height; training varies it around this.
PEN: Final = 0.085
_MARGIN: Final = 2.0
_SUPERSAMPLE: Final = 2
# A pause is a gap between strokes of at least this long.
PAUSE_MS: Final = 250.0
MAX_TIME_MS: Final = 30 * 60 * 1000


class BadStrokes(ValueError):
    """The submission is not a drawing this type can read; ``args[0]`` is a short reason."""


def parse(submission: Any, canvas: tuple[int, int] | None = None) -> list[F32]:
    """Strokes as float32 arrays [n, 3] (x, y, t), checked against the schema's limits: sizes,
    finite numbers, time never going back within a stroke. A pointer that leaves the canvas
    while drawing keeps reporting positions (the widget captures it), so points outside it are
    clipped to its edge; points more than a canvas width or height away are refused."""
    if not isinstance(submission, dict) or set(submission) != {"strokes"}:
        raise BadStrokes("malformed")
    raw = submission["strokes"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_STROKES:
        raise BadStrokes("stroke-count")
    strokes: list[F32] = []
    total = 0
    for stroke in raw:
        if not isinstance(stroke, list) or not 1 <= len(stroke) <= MAX_POINTS:
            raise BadStrokes("point-count")
        total += len(stroke)
        if total > MAX_TOTAL_POINTS:
            raise BadStrokes("point-count")
        for point in stroke:
            if (
                not isinstance(point, list)
                or len(point) != 3
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
            ):
                raise BadStrokes("malformed")
        arr = np.asarray(stroke, np.float64)
        if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > 1e7):
            raise BadStrokes("not-finite")
        t = arr[:, 2]
        if np.any(t < 0) or np.any(t > MAX_TIME_MS) or np.any(np.diff(t) < 0):
            raise BadStrokes("time")
        if canvas is not None:
            width, height = canvas
            x, y = arr[:, 0], arr[:, 1]
            if (
                np.any(x < -width)
                or np.any(y < -height)
                or np.any(x > 2 * width)
                or np.any(y > 2 * height)
            ):
                raise BadStrokes("out-of-bounds")
            arr[:, 0] = np.clip(x, 0, width)
            arr[:, 1] = np.clip(y, 0, height)
        strokes.append(arr.astype(np.float32))
    return strokes


def timing(strokes: Sequence[F32]) -> dict[str, float]:
    """How the drawing was made, never what it says: total duration (ms), stroke and point
    counts, mean pen speed while drawing (px/ms), and the share of the time spent between
    strokes in pauses of at least ``PAUSE_MS``."""
    if not strokes:
        return {}
    start = min(float(s[0, 2]) for s in strokes)
    end = max(float(s[-1, 2]) for s in strokes)
    duration = max(0.0, end - start)
    drawn_ms = sum(float(s[-1, 2] - s[0, 2]) for s in strokes)
    length = sum(float(np.hypot(*np.diff(s[:, :2], axis=0).T).sum()) for s in strokes)
    ordered = sorted(strokes, key=lambda s: float(s[0, 2]))
    paused = sum(
        gap for a, b in pairwise(ordered) if (gap := float(b[0, 2] - a[-1, 2])) >= PAUSE_MS
    )
    return {
        "draw_duration_ms": duration,
        "draw_strokes": float(len(strokes)),
        "draw_points": float(sum(len(s) for s in strokes)),
        "draw_mean_speed": length / drawn_ms if drawn_ms > 0 else 0.0,
        "draw_pause_share": paused / duration if duration > 0 else 0.0,
    }


def render(
    strokes: Sequence[npt.NDArray[np.floating[Any]]],
    *,
    pen: float = PEN,
    height: int = HEIGHT,
    width: int = WIDTH,
) -> U8:
    """The recogniser's input, uint8 [height, width]: the ink's bounding box scaled to fit the
    height (or the width, for a long word), centred, drawn with a round pen ``pen * height``
    wide, supersampled and box-filtered."""
    points = [np.asarray(s, np.float64)[:, :2] for s in strokes if len(s)]
    out = np.zeros((height, width), np.uint8)
    if not points:
        return out
    allp = np.concatenate(points)
    lo, hi = allp.min(0), allp.max(0)
    span = np.maximum(hi - lo, 1e-3)
    pen_px = max(1.0, pen * height) * _SUPERSAMPLE
    room_h = height * _SUPERSAMPLE - 2 * _MARGIN * _SUPERSAMPLE - pen_px
    room_w = width * _SUPERSAMPLE - 2 * _MARGIN * _SUPERSAMPLE - pen_px
    scale = min(room_h / span[1], room_w / span[0])
    centre = (lo + hi) / 2
    offset = np.array([width, height], np.float64) * _SUPERSAMPLE / 2 - centre * scale
    img = Image.new("L", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(img)
    radius = pen_px / 2
    line_w = max(1, round(pen_px))
    for p in points:
        xy = p * scale + offset
        flat = [(float(x), float(y)) for x, y in xy]
        if len(flat) > 1:
            draw.line(flat, fill=255, width=line_w, joint="curve")
        for x, y in (flat[0], flat[-1]) if len(flat) > 1 else flat:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    small = img.resize((width, height), Image.Resampling.BOX)
    out[:] = np.asarray(small, np.uint8)
    return out


def ink_extent(strokes: Sequence[F32]) -> float:
    """The larger side of the drawing's bounding box, in canvas pixels."""
    allp = np.concatenate([s[:, :2] for s in strokes])
    span = allp.max(0) - allp.min(0)
    return float(max(span[0], span[1]))
