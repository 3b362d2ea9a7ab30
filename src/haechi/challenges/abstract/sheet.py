"""A sample sheet of abstract challenges, for people to judge whether they can solve them.

    python -m haechi.challenges.abstract.sheet docs/images/abstract-sample.png

Draws a small pool with the shipped labeller (``make_items``), composes one challenge per
target emotion at rising difficulty (``compose``), and lays them out with their English and
Korean prompts, cells numbered 1-9 row by row, and the answer key under each grid, in the
fonts shipped in ``haechi.challenges.fonts``.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from haechi.challenges import fonts
from haechi.challenges.abstract import generate
from haechi.challenges.abstract.items import AbstractItem, compose, hint, make_items, prompt
from haechi.challenges.abstract.label import EmotionLabeller

CELL: Final = generate.SIZE
GAP: Final = 6
MARGIN: Final = 18
HEADER: Final = 84
FOOTER: Final = 30
HANGUL_FONTS: Final = (str(fonts.HANGUL),)
LATIN_FONT: Final = str(fonts.DEJAVU)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> tuple[Font, bool]:
    """A font and whether it has Hangul."""
    for path in HANGUL_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size), True
    if Path(LATIN_FONT).exists():
        return ImageFont.truetype(LATIN_FONT, size), False
    return ImageFont.load_default(size), False


def _panel(
    cells: Sequence[AbstractItem], answer_cells: Sequence[int], target: str, difficulty: float
) -> Image.Image:
    grid = 3 * CELL + 2 * GAP
    panel = Image.new("RGB", (grid + 2 * MARGIN, HEADER + grid + FOOTER + MARGIN), "white")
    draw = ImageDraw.Draw(panel)
    big, hangul = _font(17)
    small, _ = _font(13)
    draw.text((MARGIN, 8), prompt(target, "en"), fill="black", font=big)
    draw.text((MARGIN, 32), hint(target, "en"), fill=(70, 70, 70), font=small)
    if hangul:
        korean = f"{prompt(target, 'ko')}  ({hint(target, 'ko')})"
        draw.text((MARGIN, 52), korean, fill="black", font=small)
    for k, item in enumerate(cells):
        x = MARGIN + (k % 3) * (CELL + GAP)
        y = HEADER + (k // 3) * (CELL + GAP)
        panel.paste(generate.decode(item.image), (x, y))
        draw.rectangle([x, y, x + 17, y + 15], fill="white")
        draw.text((x + 3, y), str(k + 1), fill="black", font=small)
    key = ", ".join(str(k + 1) for k in answer_cells)
    footer = f"answer: {key}   ·   difficulty {difficulty:.1f}"
    draw.text((MARGIN, HEADER + grid + 8), footer, fill=(90, 90, 90), font=small)
    return panel


def render_sheet(
    labeller: EmotionLabeller,
    *,
    seed: int,
    targets: Sequence[str],
    difficulties: Sequence[float],
    per_emotion: int = 30,
) -> Image.Image:
    rng = random.Random(seed)
    items = make_items(rng, per_emotion * len(generate.EMOTIONS), labeller)
    by_label = {e: [i for i in items if i.label == e] for e in generate.EMOTIONS}
    panels = []
    for target, difficulty in zip(targets, difficulties, strict=True):
        cells, answer = compose(rng, by_label, target, difficulty)
        answer_cells = [k for k, c in enumerate(cells) if c.id in answer]
        panels.append(_panel([c.item for c in cells], answer_cells, target, difficulty))
    w, h = panels[0].size
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * w, rows * h), "white")
    for k, panel in enumerate(panels):
        sheet.paste(panel, ((k % cols) * w, (k // cols) * h))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.challenges.abstract.sheet")
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--targets", default="calm,joyful,sad,anxious")
    parser.add_argument("--difficulties", default="0.2,0.4,0.6,0.8")
    parser.add_argument("--per-emotion", type=int, default=30, help="pool size per emotion")
    args = parser.parse_args(argv)
    targets = args.targets.split(",")
    difficulties = [float(d) for d in args.difficulties.split(",")]
    if len(targets) != len(difficulties):
        parser.error("give as many difficulties as targets")
    sheet = render_sheet(
        EmotionLabeller(),
        seed=args.seed,
        targets=targets,
        difficulties=difficulties,
        per_emotion=args.per_emotion,
    )
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
