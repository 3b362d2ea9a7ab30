"""A sample sheet of grid challenges for the docs: ``python -m haechi.challenges.grid.sheet OUT``.

Tiles are made and kept exactly as a pool build does (``items.make_tile`` with the shipped
classifier); challenges are composed as serving does, at difficulties 0, 0.5 and 1, in both
languages. The target cells are outlined in green (the real widget shows no such thing).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from haechi.challenges import fonts
from haechi.challenges.base import JSON
from haechi.challenges.grid import categories, items, label, render

_FONTS = (str(fonts.HANGUL_BOLD), str(fonts.DEJAVU))
_CELL, _GAP, _HEAD = 128, 4, 56


@dataclass(frozen=True, slots=True)
class _Entry:
    tile: items.Tile

    @property
    def label(self) -> JSON:
        return self.tile.category

    @property
    def meta(self) -> dict[str, JSON]:
        return self.tile.meta()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def sheet(seed: int = 7, per_category: int = 6) -> Image.Image:
    rng = random.Random(seed)
    classifier = label.TileClassifier()
    by_category = {
        name: [_Entry(items.make_tile(rng, classifier, name)) for _ in range(per_category)]
        for name in categories.NAMES
    }
    plans = [(0.0, "en"), (0.0, "ko"), (0.5, "en"), (0.5, "ko"), (1.0, "en"), (1.0, "ko")]
    side = 3 * _CELL + 2 * _GAP
    out = Image.new("RGB", (3 * (side + 24) + 24, 2 * (side + _HEAD + 24) + 24), "white")
    draw = ImageDraw.Draw(out)
    font, small = _font(17), _font(13)
    for k, (difficulty, locale) in enumerate(plans):
        target = rng.choice(categories.NAMES)
        cells, answer = items.compose(rng, by_category, target, difficulty)
        x0 = 24 + (k // 2) * (side + 24)
        y0 = 24 + (k % 2) * (side + _HEAD + 24)
        draw.text((x0, y0), categories.prompt(target, locale), fill="black", font=font)
        draw.text((x0, y0 + 26), f"difficulty {difficulty}", fill="#666", font=small)
        for i, cell in enumerate(cells):
            x = x0 + (i % 3) * (_CELL + _GAP)
            y = y0 + _HEAD + (i // 3) * (_CELL + _GAP)
            assert isinstance(cell.item, _Entry)
            out.paste(render.decode(cell.item.tile.data), (x, y))
            if cell.id in answer:
                draw.rectangle((x, y, x + _CELL - 1, y + _CELL - 1), outline="#1db954", width=5)
    return out


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "docs/images/grid-sample.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A 256-colour palette keeps the sheet small enough for the repository.
    sheet().quantize(256, Image.Quantize.MEDIANCUT).save(target, optimize=True)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
