"""Grid tiles: one object from a source picture, composited over a varied background.

What a tile shows must be read from the object's *shape*: colour, background and layout are drawn
independently of the category, so that colour statistics say next to nothing (measured in
``models/grid-tiles.md``). Every tile gets a random background (gradient, blotchy "photo" noise,
stripes or a horizon scene, in random colours), faint fragments of other pictures as clutter, and
an object that is recoloured (four in five colour emoji get a random hue or a random two-colour
shading; glyphs and drawings a random ink), rimmed where it would melt into the background,
scaled, rotated, mirrored, placed off-centre, partly covered, blurred and noised. The
``strength`` knob (0..1) scales the rough parts; the pool keeps it in metadata for difficulty.

``encode`` writes every tile as a lossy WebP of exactly ``TILE_BYTES`` bytes with no metadata.
"""

from __future__ import annotations

import colorsys
import io
import random
import struct
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from haechi.challenges.grid.sources import Source, shape, sources, sources_by_category

TILE: Final = 128  # tiles are TILE x TILE pixels
TILE_BYTES: Final = 6144  # and exactly this many bytes
CONTENT_TYPE: Final = "image/webp"
_QUALITIES: Final = (82, 74, 66, 58, 50, 42, 34, 26, 18, 10)
_KIND_WEIGHT: Final = {"emoji": 0.5, "glyph": 0.3, "drawing": 0.2}


def _colour(rng: random.Random, sat: tuple[float, float] = (0.1, 0.9)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(0.15, 0.98))
    return int(r * 255), int(g * 255), int(b * 255)


def _luma(c: tuple[int, int, int]) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0


# --- backgrounds -------------------------------------------------------------------------------
def _gradient(rng: random.Random) -> np.ndarray:
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32) / TILE
    t = np.clip((np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) + 0.5, 0, 1)
    out: np.ndarray = a * (1 - t[..., None]) + b * t[..., None]
    return out


def _blotches(rng: random.Random) -> np.ndarray:
    n = rng.randint(3, 8)
    palette = [_colour(rng) for _ in range(rng.randint(2, 4))]
    grid = np.array([[palette[rng.randrange(len(palette))] for _ in range(n)] for _ in range(n)])
    small = Image.fromarray(grid.astype(np.uint8), "RGB")
    out: np.ndarray = np.asarray(small.resize((TILE, TILE), Image.Resampling.BICUBIC), np.float32)
    return out


def _stripes(rng: random.Random) -> np.ndarray:
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(8, 40)
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    if rng.random() < 0.3:  # checks
        phase = np.floor(xx / period) + np.floor(yy / period)
        t = (phase % 2)[..., None]
    else:
        t = (0.5 + 0.5 * np.sin(2 * np.pi * phase))[..., None]
    out: np.ndarray = a * (1 - t) + b * t
    return out


def _scene(rng: random.Random) -> np.ndarray:
    sky, sky2, ground = _colour(rng), _colour(rng), _colour(rng)
    horizon = rng.uniform(0.35, 0.8) * TILE
    yy = np.mgrid[0:TILE, 0:TILE][0].astype(np.float32)
    t = np.clip(yy / horizon, 0, 1)[..., None]
    top = np.array(sky, np.float32) * (1 - t) + np.array(sky2, np.float32) * t
    wave = horizon + 6 * np.sin(np.arange(TILE) / rng.uniform(6, 20) + rng.uniform(0, 6))
    below = (yy > wave[None, :])[..., None]
    out: np.ndarray = np.where(below, np.array(ground, np.float32), top)
    return out


_BACKGROUNDS: Final = (_gradient, _blotches, _stripes, _scene)


def background(rng: random.Random, strength: float) -> np.ndarray:
    base = rng.choice(_BACKGROUNDS)(rng)
    grain = rng.uniform(2, 6 + 14 * strength)
    noise = np.random.default_rng(rng.getrandbits(64)).normal(0, grain, (TILE, TILE, 1))
    out: np.ndarray = np.clip(base + noise, 0, 255)
    return out


# --- the object --------------------------------------------------------------------------------
def _hue_shift(img: Image.Image, degrees: float, sat: float) -> Image.Image:
    alpha = img.getchannel("A")
    hsv = np.asarray(img.convert("RGB").convert("HSV"), np.int16).copy()
    hsv[..., 0] = (hsv[..., 0] + int(degrees / 360 * 256)) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
    out = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGBA")
    out.putalpha(alpha)
    return out


def _duotone(img: Image.Image, rng: random.Random) -> Image.Image:
    dark, light = _colour(rng), _colour(rng)
    for _ in range(8):
        if abs(_luma(light) - _luma(dark)) >= 0.4:
            break
        dark, light = _colour(rng), _colour(rng)
    if _luma(dark) > _luma(light):
        dark, light = light, dark
    out = ImageOps.colorize(img.convert("L"), black=dark, white=light).convert("RGBA")
    out.putalpha(img.getchannel("A"))
    return out


def _ink(img: Image.Image, rng: random.Random, behind: tuple[int, int, int]) -> Image.Image:
    """A mono shape in a colour that stands out from what lies behind it."""
    for _ in range(8):
        ink = _colour(rng, (0.0, 1.0))
        if abs(_luma(ink) - _luma(behind)) >= 0.3:
            break
    out = Image.new("RGBA", img.size, (*ink, 0))
    out.putalpha(img.getchannel("A"))
    return out


def _mean_colour(img: Image.Image) -> tuple[int, int, int]:
    px = np.asarray(img, np.float32).reshape(-1, 4)
    weight = px[:, 3:] / 255.0
    mean = (px[:, :3] * weight).sum(0) / max(float(weight.sum()), 1.0)
    return int(mean[0]), int(mean[1]), int(mean[2])


def _outline(img: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    pad = Image.new("RGBA", (img.width + 8, img.height + 8), (*colour, 0))
    grown = Image.new("L", pad.size, 0)
    grown.paste(img.getchannel("A"), (4, 4))
    pad.putalpha(grown.filter(ImageFilter.MaxFilter(5)))
    pad.alpha_composite(img, (4, 4))
    return pad


def pick_source(category: str, rng: random.Random) -> Source:
    options = sources_by_category()[category]
    weights = [_KIND_WEIGHT[s.kind] / sum(t.kind == s.kind for t in options) for s in options]
    return rng.choices(options, weights=weights)[0]


def _object(
    source: Source, rng: random.Random, strength: float, behind: tuple[int, int, int]
) -> Image.Image:
    img = shape(source, rng)
    if source.mono:
        img = _ink(img, rng, behind)
    else:
        look = rng.random()
        if look < 0.4:  # two random inks for shadow and light: greys and whites change too
            img = _duotone(img, rng)
        elif look < 0.8:
            img = _hue_shift(img, rng.uniform(0, 360), rng.uniform(0.6, 1.2))
        else:  # close to the emoji's own colours
            img = _hue_shift(img, rng.uniform(-20, 20), rng.uniform(0.7, 1.15))
    # People find the object by its outline: where it would melt into the background, or now
    # and then anyway, it gets a rim in a colour that stands out from both.
    own = _mean_colour(img)
    if abs(_luma(own) - _luma(behind)) < 0.2 or rng.random() < 0.3:
        light = (_luma(own) + _luma(behind)) / 2 < 0.5
        value = rng.uniform(0.85, 1.0) if light else rng.uniform(0.0, 0.15)
        r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.5), value)
        img = _outline(img, (int(r * 255), int(g * 255), int(b * 255)))
    side = TILE * rng.uniform(0.62, 0.9) * (1 - 0.18 * strength * rng.random())
    scale = side / max(img.size)
    img = img.resize(
        (max(8, round(img.width * scale)), max(8, round(img.height * scale))),
        Image.Resampling.LANCZOS,
    )
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    spin = rng.uniform(-1, 1) * (8 + 27 * strength)
    return img.rotate(spin, Image.Resampling.BICUBIC, expand=True)


def _clutter(canvas: Image.Image, rng: random.Random, strength: float) -> None:
    """Faint fragments of random pictures (any category): colour and texture, not objects."""
    every = sources()
    for _ in range(rng.randint(0, 1 + round(4 * strength))):
        source = every[rng.randrange(len(every))]
        frag = shape(source, rng)
        if source.mono:
            frag = _ink(frag, rng, (128, 128, 128))
        w, h = frag.size
        box = (rng.randrange(w // 2), rng.randrange(h // 2))
        frag = frag.crop((*box, box[0] + w // 2, box[1] + h // 2))
        size = max(8, round(TILE * rng.uniform(0.2, 0.4)))
        frag = frag.resize((size, size), Image.Resampling.BILINEAR).filter(
            ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0))
        )
        fade = np.asarray(frag.getchannel("A"), np.float32) * rng.uniform(0.2, 0.45)
        frag.putalpha(Image.fromarray(fade.astype(np.uint8), "L"))
        canvas.alpha_composite(
            frag,
            (
                rng.randrange(-size // 3, TILE - size // 2),
                rng.randrange(-size // 3, TILE - size // 2),
            ),
        )


def _occlude(canvas: Image.Image, box: tuple[int, int, int, int], rng: random.Random) -> None:
    """One patch over a part of the object (up to about a fifth of its box)."""
    x0, y0, x1, y1 = box
    w, h = max(1, x1 - x0), max(1, y1 - y0)
    pw, ph = rng.uniform(0.2, 0.45) * w, rng.uniform(0.2, 0.45) * h
    px, py = rng.uniform(x0 - pw / 3, x1 - 2 * pw / 3), rng.uniform(y0 - ph / 3, y1 - 2 * ph / 3)
    draw = ImageDraw.Draw(canvas)
    fill = (*_colour(rng), 255)
    if rng.random() < 0.5:
        draw.rectangle((px, py, px + pw, py + ph), fill=fill)
    else:
        draw.ellipse((px, py, px + pw, py + ph), fill=fill)


def render_tile(category: str, rng: random.Random, strength: float) -> Image.Image:
    """One TILE x TILE RGB tile showing ``category``; deterministic in ``rng``."""
    bg = background(rng, strength)
    canvas = Image.fromarray(bg.astype(np.uint8), "RGB").convert("RGBA")
    _clutter(canvas, rng, strength)
    behind = tuple(int(v) for v in bg.reshape(-1, 3).mean(0))
    obj = _object(pick_source(category, rng), rng, strength, (behind[0], behind[1], behind[2]))
    slack_x, slack_y = TILE - obj.width, TILE - obj.height
    x = round(rng.uniform(min(0, slack_x), max(0, slack_x)))
    y = round(rng.uniform(min(0, slack_y), max(0, slack_y)))
    canvas.alpha_composite(obj, (max(-obj.width // 8, x), max(-obj.height // 8, y)))
    if rng.random() < 0.15 + 0.5 * strength:
        inner = obj.getchannel("A").getbbox() or (0, 0, obj.width, obj.height)
        _occlude(canvas, (x + inner[0], y + inner[1], x + inner[2], y + inner[3]), rng)
    tile = canvas.convert("RGB")
    blur = rng.uniform(0, 0.3 + 1.0 * strength)
    if blur > 0.25:
        tile = tile.filter(ImageFilter.GaussianBlur(blur))
    return tile


# --- encoding ----------------------------------------------------------------------------------
def _u24(v: int) -> bytes:
    return struct.pack("<I", v)[:3]


def encode(image: Image.Image, size: int = TILE_BYTES) -> bytes:
    """A lossy WebP of exactly ``size`` bytes with no metadata chunk.

    The best quality that fits is used; the simple-format VP8 stream is then wrapped in an
    extended header (``VP8X``, no flags) and padded with one ``PAD `` chunk, which decoders skip
    as unknown, so every tile has the same byte size whatever it shows.
    """
    rgb = image.convert("RGB")
    budget = size - 12 - 18 - 8  # RIFF header, VP8X chunk, PAD chunk header
    for quality in _QUALITIES:
        buf = io.BytesIO()
        rgb.save(buf, "WEBP", quality=quality, method=4)
        data = buf.getvalue()
        if len(data) - 12 <= budget:
            break
    else:
        raise ValueError(f"tile does not fit in {size} bytes")
    if data[8:16] != b"WEBPVP8 ":
        raise RuntimeError("expected a simple lossy WebP from the encoder")
    vp8 = data[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + _u24(rgb.width - 1) + _u24(rgb.height - 1)
    pad = size - 12 - len(vp8x) - len(vp8) - 8
    body = b"WEBP" + vp8x + vp8 + b"PAD " + struct.pack("<I", pad) + bytes(pad)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")
