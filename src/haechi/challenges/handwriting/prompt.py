"""Picture prompts: one lexicon word's emoji on a varied background, re-encoded to a fixed size.

The picture is drawn from Noto Color Emoji (``haechi.challenges.fonts``; Pillow renders its
bitmaps at 109 px with ``embedded_color``), scaled, turned and placed at random on a soft
gradient with faint shapes, and encoded by ``abstract.generate.encode``: a metadata-free WebP of
exactly ``WEBP_BYTES`` bytes, so neither the file's size nor its bytes name the word.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from haechi.challenges import fonts
from haechi.challenges.abstract.generate import encode
from haechi.challenges.handwriting.lexicon import Word

EMOJI_FONT: Final = fonts.EMOJI
SIZE: Final = 192
WEBP_BYTES: Final = 8192
CONTENT_TYPE: Final = "image/webp"


@lru_cache(maxsize=128)
def picture(emoji: str) -> Image.Image:
    """The emoji alone, RGBA, cropped to its pixels (cached: the pool reuses each often)."""
    face = ImageFont.truetype(str(EMOJI_FONT), 109)
    img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((8, 8), emoji, font=face, embedded_color=True)
    box = img.getbbox()
    if box is None:
        raise ValueError(f"the emoji font has no picture for {emoji!r}")
    return img.crop(box)


def _pastel(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(170, 255), rng.randint(170, 255), rng.randint(170, 255))


def background(rng: random.Random, size: int = SIZE) -> Image.Image:
    """A two-colour gradient in a random direction, faint circles and lines, light noise."""
    a, b = np.array(_pastel(rng), float), np.array(_pastel(rng), float)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    ramp = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) * 1.2 + 0.5
    ramp = np.clip(ramp, 0, 1)[..., None]
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 6, (size, size, 1))
    rgb = np.clip(a * (1 - ramp) + b * ramp + noise, 0, 255).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(rng.randint(2, 6)):
        r = rng.uniform(10, size / 3)
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        colour = (*_pastel(rng), rng.randint(40, 110))
        if rng.random() < 0.6:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            end = (rng.uniform(0, size), rng.uniform(0, size))
            draw.line((x, y, *end), fill=colour, width=rng.randint(2, 8))
    img.paste(layer, (0, 0), layer)
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))


def render(word: Word, rng: random.Random, size: int = SIZE) -> Image.Image:
    """The prompt for ``word`` as the visitor sees it, before encoding."""
    img = background(rng, size)
    pic = picture(word.emoji)
    scale = rng.uniform(0.55, 0.75) * size / max(pic.size)
    pic = pic.resize(
        (max(1, round(pic.width * scale)), max(1, round(pic.height * scale))),
        Image.Resampling.LANCZOS,
    )
    pic = pic.rotate(rng.uniform(-18, 18), Image.Resampling.BICUBIC, expand=True)
    if rng.random() < 0.5:
        pic = pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    x = round((size - pic.width) / 2 + rng.uniform(-0.1, 0.1) * size)
    y = round((size - pic.height) / 2 + rng.uniform(-0.1, 0.1) * size)
    img.paste(pic, (x, y), pic)
    return img


def make(word: Word, rng: random.Random) -> bytes:
    """The encoded prompt: a WebP of exactly ``WEBP_BYTES`` bytes with no metadata."""
    return encode(render(word, rng), WEBP_BYTES)
