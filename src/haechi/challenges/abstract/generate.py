"""Procedural abstract images whose emotion is read from what people perceive.

Each image is drawn for one *intended* emotion. The cues are the ones studies of line, shape and
colour expression keep finding (Lundholm 1921 and Poffenberger & Barrows 1924 on lines; Valdez &
Mehrabian 1994 on colour; Lu et al. 2012 on shape): calm is smooth, level and soft; joyful is round,
bouncy, upward and bright; angry is jagged, sharp, diagonal and harsh; sad is drooping, falling,
sparse and dim; anxious is shaky, tangled, crowded and off-balance.

Colour alone must not give the emotion away, or a colour histogram would solve the challenge:
each emotion's ranges of saturation, brightness, contrast and hue spread are wide and overlap the
others', the hue follows the emotion only a quarter of the time (``HUE_LEAN``), and the vivid-
on-pale look of most joyful images is also given to some angry and anxious ones. The shape of
the strokes (``motifs``) carries the emotion; colour only leans the same way. What an emotion's
ranges leave out are its opposites (no dark joyful, no harsh calm, no faint angry), so that a
person is never asked to overrule a loud colour. The measured result (a colour-histogram
regression against the CNN) is in ``models/abstract-emotion.md``.

``render`` is deterministic for a given ``numpy.random.Generator`` state; ``encode`` turns an image
into a WebP of exactly ``WEBP_BYTES`` bytes with no metadata, so that byte size says nothing.
"""

from __future__ import annotations

import colorsys
import io
import math
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from haechi.challenges.abstract.motifs import CANVAS, MOTIFS, RGB, SIZE, SS, Palette, mix

__all__ = ["CONTENT_TYPE", "EMOTIONS", "SIZE", "WEBP_BYTES", "decode", "encode", "render"]

EMOTIONS: Final = ("calm", "joyful", "angry", "sad", "anxious")
CONTENT_TYPE: Final = "image/webp"
WEBP_BYTES: Final = 6144  # every encoded image has exactly this size
HUE_LEAN: Final = 0.25  # how often the hue comes from the emotion's own hues, not any hue
_BG: Final = 64  # backgrounds are smooth: drawn at 64 px and enlarged
_TAU: Final = 2 * math.pi
_GAMMA: Final = 2.2

Range = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ColourPrior:
    """The colours an emotion may get: wide, overlapping ranges that leave out its opposites."""

    hues: tuple[tuple[float, float], ...]  # (centre, sd) in degrees: a lean, used now and then
    sat: Range  # saturation of the inks
    value: Range  # perceived brightness of the background (see ``_colour``)
    contrast: Range  # brightness difference between ink and background
    spread: Range  # hue spread among the inks, degrees
    ink_value: Range | None = None  # inks' own brightness, instead of background ± contrast...
    ink_value_p: float = 0.0  # ...this often
    bg_sat: Range = (0.2, 1.0)  # background saturation, as a share of the inks'


_PRIORS: Final = {
    "calm": ColourPrior(
        ((200, 25), (165, 20), (255, 20)), (0.05, 0.7), (0.45, 0.95), (0.1, 0.5), (0, 90)
    ),
    # Colourful: bright, saturated inks of several hues on a fairly bright ground.
    "joyful": ColourPrior(
        ((48, 12), (28, 10), (330, 15), (95, 20)),
        (0.45, 0.95),
        (0.5, 0.9),
        (0.25, 0.5),
        (60, 180),
        ink_value=(0.55, 1.0),
        ink_value_p=1.0,
    ),
    "angry": ColourPrior(
        ((0, 10), (15, 8), (345, 10)), (0.2, 0.95), (0.15, 0.85), (0.35, 0.85), (0, 120)
    ),
    "sad": ColourPrior(
        ((215, 20), (240, 25), (190, 20)), (0.05, 0.55), (0.15, 0.75), (0.1, 0.5), (0, 90)
    ),
    "anxious": ColourPrior(
        ((70, 15), (285, 20), (35, 15)), (0.1, 0.85), (0.2, 0.9), (0.15, 0.75), (0, 180)
    ),
}


# Vivid, bright inks on a light, paler ground: contrast from hue and saturation, not darkness.
# Most joyful images use it, but so do some angry and anxious ones, so it does not single out joy.
_VIVID_ON_PALE: Final = ColourPrior(
    (), (0.5, 0.95), (0.65, 0.95), (0.2, 0.5), (0, 180), (0.6, 1.0), 1.0, (0.1, 0.5)
)
_VIVID_P: Final = {"joyful": 0.65, "angry": 0.25, "anxious": 0.3}


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb((h / 360.0) % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _brightness(h: float, s: float) -> float:
    """Perceived brightness (gamma-encoded luminance) of ``h``, ``s`` at full HSV value."""
    r, g, b = colorsys.hsv_to_rgb((h / 360.0) % 1.0, s, 1.0)
    luminance = 0.2126 * r**_GAMMA + 0.7152 * g**_GAMMA + 0.0722 * b**_GAMMA
    return float(luminance ** (1 / _GAMMA))


def _colour(h: float, s: float, brightness: float) -> RGB:
    """The background colour of hue ``h`` and saturation ``s`` that *looks* ``brightness`` bright.

    HSV value is not what people see: a saturated blue at full value looks darker than a yellow
    at half. Brightness here is luminance, gamma-encoded, so the background ranges in ``_PRIORS``
    mean the same for every hue. Where a hue cannot be that bright at ``s`` it is paled, but to
    no less than half its saturation (it then stays darker than asked). Inks keep HSV value, so
    that saturated inks stay vivid.
    """
    s, target = min(max(s, 0.0), 1.0), min(max(brightness, 0.0), 1.0)
    floor = s / 2
    while s > floor and _brightness(h, s) < target:
        s = max(floor, s - 0.05)
    v = min(1.0, target / max(_brightness(h, s), 1e-6))
    r, g, b = colorsys.hsv_to_rgb((h / 360.0) % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _palette(rng: np.random.Generator, emotion: str) -> Palette:
    own = _PRIORS[emotion]
    prior = _VIVID_ON_PALE if rng.random() < _VIVID_P.get(emotion, 0.0) else own
    if rng.random() < HUE_LEAN:
        centre, sd = own.hues[int(rng.integers(len(own.hues)))]
        hue = float(rng.normal(centre, sd))
    else:
        hue = float(rng.uniform(0, 360))
    sat = float(rng.uniform(*prior.sat))
    value = float(rng.uniform(*prior.value))
    contrast = float(rng.uniform(*prior.contrast))
    spread = float(rng.uniform(*prior.spread))
    ink_value = prior.ink_value if rng.random() < prior.ink_value_p else None
    bg_sat = sat * float(rng.uniform(*prior.bg_sat))
    bg_hue = hue + float(rng.uniform(-15, 15))
    background = (
        _colour(bg_hue, bg_sat, value),
        _colour(
            bg_hue + float(rng.uniform(-30, 30)), bg_sat, value + float(rng.uniform(-0.15, 0.15))
        ),
    )
    inks = []
    for _ in range(4):
        if ink_value is not None:
            v = float(rng.uniform(*ink_value))
        else:
            c = contrast + float(rng.uniform(-0.08, 0.08))
            darker = value - c >= 0.03 and (value >= 0.5 or value + c > 1.0)
            v = value - c if darker else value + c
        h = hue + float(rng.uniform(-spread / 2, spread / 2))
        inks.append(_hsv(h, sat + float(rng.normal(0, 0.08)), v))
    return Palette(background, tuple(inks))


def _background(rng: np.random.Generator, pal: Palette) -> Image.Image:
    """Flat, linear or radial gradient, sometimes with soft blobs; built small, then enlarged."""
    kind = int(rng.integers(3))
    a = np.array(pal.background[0], np.float32)
    b = np.array(pal.background[1], np.float32)
    ys, xs = np.mgrid[0:_BG, 0:_BG].astype(np.float32) / _BG
    if kind == 0:
        t = np.zeros_like(xs)
    elif kind == 1:
        angle = rng.uniform(0, _TAU)
        t = (xs - 0.5) * math.cos(angle) + (ys - 0.5) * math.sin(angle) + 0.5
    else:
        cx, cy = rng.uniform(0.1, 0.9, 2)
        t = np.hypot(xs - cx, ys - cy) / 0.9
    t = np.clip(t, 0.0, 1.0)[..., None]
    img = Image.fromarray(np.clip(a + (b - a) * t + 0.5, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.35:  # soft blobs behind the motif, any emotion: no cue in them
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(0, 1, 2) * _BG
            r = rng.uniform(0.1, 0.3) * _BG
            colour = mix(pal.background[0], pal.pick(rng), float(rng.uniform(0.15, 0.4)))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        img = img.filter(ImageFilter.GaussianBlur(_BG / 20))
    return img.resize((CANVAS, CANVAS), Image.Resampling.BILINEAR)


_BLUR_P: Final = {"calm": 0.5, "joyful": 0.15, "angry": 0.1, "sad": 0.5, "anxious": 0.1}


def render(emotion: str, rng: np.random.Generator) -> Image.Image:
    """A ``SIZE``×``SIZE`` RGB image drawn to read as ``emotion``."""
    if emotion not in MOTIFS:
        raise ValueError(f"unknown emotion {emotion!r}")
    pal = _palette(rng, emotion)
    img = _background(rng, pal)
    draw = ImageDraw.Draw(img)
    motifs = MOTIFS[emotion]
    motifs[int(rng.integers(len(motifs)))](draw, rng, pal, 1.0)
    if rng.random() < 0.35:
        motifs[int(rng.integers(len(motifs)))](draw, rng, pal, 0.5)
    img = img.reduce(SS)
    if rng.random() < _BLUR_P[emotion]:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.2))))
    grain = float(rng.uniform(0.0, 7.0))
    if grain > 0.5:
        noise = rng.normal(0.0, grain, (SIZE, SIZE, 1)).astype(np.float32)
        pixels = np.asarray(img, np.float32) + noise
        img = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "RGB")
    return img


# --- encoding: WebP of a fixed size, no metadata -------------------------------------------------
_VP8X_AND_PAD_HEADER: Final = 18 + 8
_QUALITIES: Final = (92, 85, 78, 70, 60, 50, 40, 30, 20, 10, 1)


def _webp(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def encode(image: Image.Image, size: int = WEBP_BYTES) -> bytes:
    """The image as a lossy WebP of exactly ``size`` bytes (even), carrying no metadata.

    The best quality that fits is taken from a short ladder; the file is then written in WebP's
    extended form (a ``VP8X`` header with no flags set) and filled to ``size`` with one
    zero-filled ``PAD `` chunk, which decoders skip as an unknown chunk. Busy images would
    otherwise be larger than smooth ones, and size would hint at the emotion.
    """
    if size % 2 or size < 1024:
        raise ValueError("size must be even and at least 1024 bytes")
    rgb = image.convert("RGB")
    budget = size - _VP8X_AND_PAD_HEADER
    for quality in _QUALITIES:  # best first: most images fit at once
        best = _webp(rgb, quality)
        if len(best) <= budget:
            break
    else:
        raise ValueError(f"image does not fit in {size} bytes")
    if best[:4] != b"RIFF" or best[8:16] != b"WEBPVP8 ":
        raise RuntimeError("expected a simple lossy WebP from the encoder")
    vp8 = best[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + _u24(rgb.width - 1) + _u24(rgb.height - 1)
    pad = size - 12 - len(vp8x) - len(vp8) - 8
    body = b"WEBP" + vp8x + vp8 + b"PAD " + struct.pack("<I", pad) + bytes(pad)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _u24(n: int) -> bytes:
    return struct.pack("<I", n)[:3]


def decode(data: bytes) -> Image.Image:
    """Encoded bytes back to an RGB image (what the visitor, and the labeller, see)."""
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")
