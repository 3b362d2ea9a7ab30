"""Handwriting from fonts: a word rendered in a font, thinned to its skeleton, traced as strokes.

A canvas records the centre line of a pen, not a glyph's outline, so synthetic handwriting is the
*skeleton* of a rendered word (Zhang-Suen thinning) traced into polylines — one per path between
ends and junctions. Training augments those polylines (``haechi.ml.train_handwriting``); tests and
the red team turn them into a submission with ``as_submission``. numpy and Pillow only.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from haechi.challenges import fonts

F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

FONT_DIR: Final = fonts.FONT_DIR
# Handwriting fonts (subsets of Nanum fonts shipped in haechi.challenges.fonts), and print
# fonts whose skeletons read like careful block letters. NanumBrush is held out of training:
# the model card's held-out numbers come from it.
TRAIN_FONTS: Final = (
    "NanumPen.ttf",
    "NanumBarunpenR.ttf",
    "NanumGothic.ttf",
    "NanumSquareRoundR.ttf",
    "NanumMyeongjo.ttf",
    "NanumBarunGothic.ttf",
)
HELD_OUT_FONT: Final = "NanumBrush.ttf"
GLYPH_PX: Final = 48

_NEIGHBOURS: Final = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


@lru_cache(maxsize=16)
def font(name: str, size: int = GLYPH_PX) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(fonts.path(name)), size)


def glyph_mask(text: str, font_name: str, size: int = GLYPH_PX) -> Bool:
    """The word rendered white on black and thresholded: cropped left and right to its ink,
    the full line height kept, so syllables rendered one by one share a baseline."""
    face = font(font_name, size)
    left, _, right, _ = (int(v) for v in face.getbbox(text))
    ascent, descent = face.getmetrics()
    img = Image.new("L", (right - left + 8, ascent + descent + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4), text, fill=255, font=face)
    mask: Bool = np.asarray(img, np.uint8) > 127
    return mask


def thin(mask: Bool) -> Bool:
    """Zhang-Suen thinning: a one-pixel-wide skeleton with the mask's topology."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in _NEIGHBOURS]
            p2, _, p4, _, p6, _, p8, _ = p
            count = sum(x.astype(np.int32) for x in p)
            ring = [*p, p[0]]
            transitions = sum(((a == 0) & (b == 1)).astype(np.int32) for a, b in pairwise(ring))
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & side
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            break
    out: Bool = img[1:-1, 1:-1].astype(bool)
    return out


def trace(skeleton: Bool, min_length: int = 3) -> list[F64]:
    """The skeleton as polylines of (x, y) pixel centres: each path between ends and junctions,
    then any loop left over. Paths shorter than ``min_length`` pixels are dropped."""
    ys, xs = np.nonzero(skeleton)
    pixels = set(zip(ys.tolist(), xs.tolist(), strict=True))

    def neighbours(p: tuple[int, int]) -> list[tuple[int, int]]:
        return [
            (p[0] + dy, p[1] + dx) for dy, dx in _NEIGHBOURS if (p[0] + dy, p[1] + dx) in pixels
        ]

    degree = {p: len(neighbours(p)) for p in pixels}
    used: set[frozenset[tuple[int, int]]] = set()
    paths: list[list[tuple[int, int]]] = []

    def walk(start: tuple[int, int], nxt: tuple[int, int]) -> list[tuple[int, int]]:
        path = [start, nxt]
        used.add(frozenset((start, nxt)))
        while degree[path[-1]] == 2:
            here = path[-1]
            step = [n for n in neighbours(here) if frozenset((here, n)) not in used]
            if not step:
                break
            used.add(frozenset((here, step[0])))
            path.append(step[0])
        return path

    nodes = sorted(p for p in pixels if degree[p] != 2)
    for node in nodes:
        for n in neighbours(node):
            if frozenset((node, n)) not in used:
                paths.append(walk(node, n))
    for p in sorted(pixels):
        for n in neighbours(p):
            if frozenset((p, n)) not in used:
                paths.append(walk(p, n))
    isolated = [[p] for p in sorted(pixels) if degree[p] == 0]
    out = [
        np.array([(x, y) for y, x in path], np.float64)
        for path in paths + isolated
        if len(path) >= min_length or len(paths) == 0
    ]
    return _merge_short(out)


def _merge_short(paths: list[F64]) -> list[F64]:
    """Drop steps of one pixel along a path (keep every second point) to smooth the staircase."""
    return [p[::2] if len(p) > 4 else p for p in paths]


def word_strokes(text: str, font_name: str, size: int = GLYPH_PX) -> list[F64]:
    """Polylines (x, y) tracing ``text`` as written in ``font_name``, in glyph pixels."""
    return trace(thin(glyph_mask(text, font_name, size)))


def order_strokes(strokes: Sequence[F64]) -> list[F64]:
    """Roughly the order a person writes: left to right in columns, top to bottom within one."""
    column = GLYPH_PX * 0.6

    def key(s: F64) -> tuple[int, float]:
        return (int(s[:, 0].min() // column), float(s[:, 1].min()))

    return sorted(strokes, key=key)


def as_submission(
    strokes: Sequence[F64],
    canvas: tuple[int, int],
    rng: random.Random,
    *,
    fill: float = 0.7,
) -> dict[str, list[list[list[int]]]]:
    """A draw submission writing ``strokes`` across ``fill`` of the canvas: integer pixels,
    a pen moving at 0.3-0.8 px/ms, 120-500 ms pauses between strokes."""
    ordered = order_strokes(strokes)
    allp = np.concatenate(ordered)
    lo, hi = allp.min(0), allp.max(0)
    span = np.maximum(hi - lo, 1.0)
    width, height = canvas
    scale = min(width * fill / span[0], height * fill / span[1])
    offset = np.array([width, height]) / 2 - (lo + hi) / 2 * scale
    t = float(rng.uniform(600, 1500))
    out: list[list[list[int]]] = []
    for stroke in ordered:
        xy = np.round(stroke * scale + offset)
        xy[:, 0] = np.clip(xy[:, 0], 0, width)
        xy[:, 1] = np.clip(xy[:, 1], 0, height)
        speed = rng.uniform(0.3, 0.8)
        points: list[list[int]] = []
        for i, (x, y) in enumerate(xy):
            if i:
                t += float(np.hypot(*(xy[i] - xy[i - 1]))) / speed
            points.append([int(x), int(y), round(t)])
        out.append(points[:1024])
        t += rng.uniform(120, 500)
    return {"strokes": out[:64]}
