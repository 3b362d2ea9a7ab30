"""Source pictures for grid tiles: emoji and symbol glyphs from shipped fonts, and line drawings.

The fonts are subsets of Noto Color Emoji, Symbola and DejaVu Sans shipped in
``haechi.challenges.fonts`` (nothing from the host). A glyph a font lacks is skipped. Glyphs are
rendered once per process and cached; drawings are made fresh per tile from the tile's random
stream.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from haechi.challenges import fonts
from haechi.challenges.grid.categories import CATEGORIES

EMOJI_FONT: Final = fonts.EMOJI
MONO_FONTS: Final = (fonts.SYMBOLS, fonts.DEJAVU)
_CANVAS: Final = 160
_DRAW: Final = 112  # drawings are made on a square canvas of this size

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Source:
    """One way a category can look. ``mono`` sources are a shape only (alpha), inked per tile."""

    category: str
    kind: str  # "emoji", "glyph" or "drawing"
    key: str  # the code point or drawing name, for sample sheets and tests
    image: Image.Image | None  # RGBA, cropped; None for drawings (made per tile)
    mono: bool


def _glyph(font: ImageFont.FreeTypeFont, text: str, colour: bool) -> Image.Image:
    img = Image.new("RGBA", (_CANVAS, _CANVAS), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((12, 12), text, font=font, fill=(0, 0, 0, 255), embedded_color=colour)
    return img


def _crop(img: Image.Image) -> Image.Image | None:
    box = img.getchannel("A").getbbox()
    if box is None or min(box[2] - box[0], box[3] - box[1]) < 12:
        return None
    return img.crop(box)


@functools.cache
def glyph_sources() -> tuple[Source, ...]:
    """Every (category, font, code point) the shipped fonts can draw, rendered once."""
    out: list[Source] = []
    emoji = ImageFont.truetype(str(EMOJI_FONT), 109)
    for cat in CATEGORIES:
        for text in cat.emoji:
            img = _crop(_glyph(emoji, text, True))
            if img is not None:
                out.append(Source(cat.name, "emoji", text, img, False))
    for path in MONO_FONTS:
        font = ImageFont.truetype(str(path), 100)
        missing = _glyph(font, "\U0010fffd", False).tobytes()
        for cat in CATEGORIES:
            for text in cat.emoji:
                if "\u200d" in text:
                    continue  # a ZWJ sequence draws as two glyphs in a plain font
                raw = _glyph(font, text, False)
                img = _crop(raw) if raw.tobytes() != missing else None
                if img is not None:
                    out.append(Source(cat.name, "glyph", f"{path.stem}:{text}", img, True))
    return tuple(out)


def sources() -> tuple[Source, ...]:
    drawings = tuple(Source(name, "drawing", name, None, True) for name in DRAWINGS)
    return glyph_sources() + drawings


@functools.cache
def sources_by_category() -> dict[str, tuple[Source, ...]]:
    every = sources()
    return {c.name: tuple(s for s in every if s.category == c.name) for c in CATEGORIES}


# --- drawings: a plain shape language people read as the object -------------------------------
Pen = tuple[ImageDraw.ImageDraw, random.Random, int]


def _j(rng: random.Random, v: float, spread: float = 6.0) -> float:
    return v + rng.uniform(-spread, spread)


def _house(p: Pen) -> None:
    d, r, w = p
    left, right, top, base = _j(r, 22), _j(r, 90), _j(r, 52, 5), _j(r, 100, 3)
    d.rectangle((left, top, right, base), outline=255, width=w)
    d.polygon([(left - 10, top), ((left + right) / 2, _j(r, 12, 4)), (right + 10, top)], fill=255)
    door = _j(r, (left + right) / 2, 10)
    d.rectangle((door - 8, base - 28, door + 8, base), fill=255)
    win = left + 10 if door > (left + right) / 2 else right - 28
    d.rectangle((win, top + 10, win + 16, top + 26), outline=255, width=max(2, w // 2))


def _tree(p: Pen) -> None:
    d, r, _w = p
    d.rectangle((_j(r, 50, 3), 70, _j(r, 62, 3), 106), fill=255)
    if r.random() < 0.5:  # leafy: a cluster of discs
        for _ in range(r.randint(4, 7)):
            x, y, rad = _j(r, 56, 18), _j(r, 44, 14), r.uniform(14, 24)
            d.ellipse((x - rad, y - rad, x + rad, y + rad), fill=255)
    else:  # conifer: stacked triangles
        for i in range(3):
            y, half = 10 + 20 * i, 16 + 10 * i
            d.polygon([(56, y), (56 - half, y + 34), (56 + half, y + 34)], fill=255)


def _apple(p: Pen) -> None:
    d, r, w = p
    rad = r.uniform(30, 38)
    d.ellipse((56 - rad - 6, 60 - rad, 56 + 4, 60 + rad), fill=255)
    d.ellipse((56 - 4, 60 - rad, 56 + rad + 6, 60 + rad), fill=255)
    d.line((56, 60 - rad + 4, _j(r, 60, 4), 60 - rad - 14), fill=0, width=max(3, w))
    d.line((56, 60 - rad + 2, _j(r, 60, 4), 60 - rad - 14), fill=255, width=max(3, w - 2))
    d.ellipse((60, 60 - rad - 16, 84, 60 - rad - 4), fill=255)


def _clock(p: Pen) -> None:
    d, r, w = p
    d.ellipse((10, 10, 102, 102), outline=255, width=w)
    for k in range(12):
        a = k * math.pi / 6
        d.line(
            (
                56 + 38 * math.cos(a),
                56 + 38 * math.sin(a),
                56 + 44 * math.cos(a),
                56 + 44 * math.sin(a),
            ),
            fill=255,
            width=max(2, w // 2),
        )
    for length, angle in ((24, r.uniform(0, 2 * math.pi)), (36, r.uniform(0, 2 * math.pi))):
        d.line(
            (56, 56, 56 + length * math.cos(angle), 56 + length * math.sin(angle)),
            fill=255,
            width=w,
        )


def _fish(p: Pen) -> None:
    d, r, _w = p
    d.ellipse((14, _j(r, 34, 4), 82, _j(r, 80, 4)), fill=255)
    d.polygon([(76, 57), (104, _j(r, 32, 5)), (104, _j(r, 82, 5))], fill=255)
    d.ellipse((28, 48, 38, 58), fill=0)
    d.polygon([(40, 40), (60, _j(r, 24, 4)), (62, 40)], fill=255)


def _boat(p: Pen) -> None:
    d, r, w = p
    d.polygon([(8, 78), (104, 78), (_j(r, 86), 100), (_j(r, 26), 100)], fill=255)
    d.line((58, 76, 58, 10), fill=255, width=w)
    d.polygon([(62, 12), (62, 70), (_j(r, 98, 5), 70)], fill=255)
    if r.random() < 0.5:
        d.polygon([(54, 18), (54, 70), (_j(r, 22, 5), 70)], fill=255)


def _bicycle(p: Pen) -> None:
    d, r, w = p
    rad = r.uniform(18, 23)
    back, front, y = (30.0, 60.0 + 2 * rad - 6, 76.0)
    for x in (back, front):
        d.ellipse((x - rad, y - rad, x + rad, y + rad), outline=255, width=w)
    pedal, seat, head = (back + front) / 2 - 6, (back + 16, 40.0), (front - 10, 36.0)
    d.line([(back, y), (pedal, y), seat, (back, y)], fill=255, width=w)
    d.line([(pedal, y), head, (front, y)], fill=255, width=w)
    d.line([seat, (seat[0] + 30, 40)], fill=255, width=w)
    d.line([(seat[0] - 8, 36), (seat[0] + 6, 36)], fill=255, width=w + 2)
    d.line([head, (head[0] + 8, 26)], fill=255, width=w)


def _umbrella(p: Pen) -> None:
    d, _r, w = p
    d.pieslice((8, 14, 104, 96), 180, 360, fill=255)
    for x in (28, 52, 76):
        d.ellipse((x - 10, 48, x + 10, 62), fill=0)
    d.line((56, 50, 56, 96), fill=255, width=w)
    d.arc((40, 86, 56, 104), 0, 180, fill=255, width=w)


def _key(p: Pen) -> None:
    d, r, w = p
    rad = r.uniform(14, 20)
    d.ellipse((10, 56 - rad, 10 + 2 * rad, 56 + rad), outline=255, width=w + 2)
    d.line((10 + 2 * rad, 56, 104, 56), fill=255, width=w + 2)
    for x in (80, 94):
        d.line((x, 56, x, 56 + r.uniform(10, 18)), fill=255, width=w + 1)


def _car(p: Pen) -> None:
    d, r, _w = p
    d.rounded_rectangle((6, 54, 106, 84), radius=10, fill=255)
    d.polygon([(26, 56), (_j(r, 38, 4), 30), (_j(r, 76, 4), 30), (90, 56)], fill=255)
    d.rectangle((42, 36, 54, 52), fill=0)
    d.rectangle((60, 36, 72, 52), fill=0)
    for x in (30, 82):
        d.ellipse((x - 13, 72, x + 13, 98), fill=0)
        d.ellipse((x - 10, 75, x + 10, 95), fill=255)


DRAWINGS: Final[dict[str, Callable[[Pen], None]]] = {
    "house": _house,
    "tree": _tree,
    "apple": _apple,
    "clock": _clock,
    "fish": _fish,
    "boat": _boat,
    "bicycle": _bicycle,
    "umbrella": _umbrella,
    "key": _key,
    "car": _car,
}


def draw(name: str, rng: random.Random) -> Image.Image:
    """A drawing as an alpha mask ("L"), cropped to what was drawn, slightly wobbled."""
    mask = Image.new("L", (_DRAW, _DRAW), 0)
    DRAWINGS[name]((ImageDraw.Draw(mask), rng, rng.randint(4, 8)))
    if rng.random() < 0.5:
        mask = mask.rotate(rng.uniform(-8, 8), Image.Resampling.BILINEAR)
    box = mask.getbbox() or (0, 0, _DRAW, _DRAW)
    return mask.crop(box)


def shape(source: Source, rng: random.Random) -> Image.Image:
    """The source's picture as RGBA; mono sources come back as an alpha-only white shape."""
    if source.image is not None:
        return source.image
    alpha = draw(source.key, rng)
    white = Image.new("RGBA", alpha.size, (255, 255, 255, 0))
    white.putalpha(alpha)
    return white


def alpha_of(img: Image.Image) -> np.ndarray:
    return np.asarray(img.getchannel("A"), np.float32) / 255.0
