"""Per-serve variation of pool items: one pool item, shown twice, never has the same bytes.

A pool item lives for its generation and is shown in many challenges, so a bot that harvests
solved challenges can learn "this picture (its hash, or its perceptual hash) is a bicycle" and
pass later challenges without looking (``bench/redteam``'s memorisers passed 39-59 % against a
2,000-item pool). Each showing therefore gets its own rendering, made when the browser fetches
the per-challenge URL (``GET /v1/media/<alias>``; the alias carries a random seed, so the same
URL always gives the same bytes and range requests stay consistent):

- images (grid, abstract, handwriting): a random crop of 82-92 % of the side at a random place,
  a rotation of up to 10 degrees, mirrored half the time where a mirror keeps the answer (grid
  and abstract; not handwriting's prompt), a small brightness/contrast change and pixel noise,
  re-encoded to the item's byte size (sizes still say nothing);
- audio clips: a random gain, a random lead-in of quiet noise (0-300 ms) and dither, so the
  words move in time and no two files share a hash.

The answer never depends on the variation. What it defeats is a lookup by exact or perceptual
hash; an attacker with a model that recognises the content is the red team's other families.
Costs about 2-4 ms of CPU per image and 3 ms per clip on the development machine, on a worker
thread, only for visitors who were given a visual task.
"""

from __future__ import annotations

import io
import random
import struct
import wave
from typing import Final

import numpy as np

MIRRORABLE: Final = frozenset({"grid", "abstract"})
MAX_DEGREES: Final = 10.0
CROP: Final = (0.82, 0.92)
LEAD_IN_MS: Final = (0, 300)


def pool_of(key: str) -> str | None:
    """``pools/<name>/<generation>/items/<hex>`` -> ``name``; None for any other key."""
    parts = key.split("/")
    if len(parts) == 5 and parts[0] == "pools" and parts[3] == "items":
        return parts[1]
    return None


def vary(pool: str, data: bytes, content_type: str, seed: int) -> bytes:
    """This showing's rendering of one pool item (deterministic in ``seed``); the original
    bytes when the format is not one this module varies or cannot be read."""
    rng = random.Random(seed)
    try:
        if content_type == "image/webp":
            return _vary_image(data, rng, mirror=pool in MIRRORABLE)
        if content_type == "audio/wav":
            return _vary_wav(data, rng)
    except (OSError, ValueError, wave.Error, struct.error):
        return data
    return data


def _vary_image(data: bytes, rng: random.Random, *, mirror: bool) -> bytes:
    from PIL import Image, ImageEnhance

    from haechi.challenges.grid import render

    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    if mirror and rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    angle = rng.uniform(-MAX_DEGREES, MAX_DEGREES)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=_edge(image))
    side = rng.uniform(*CROP)
    w, h = round(width * side), round(height * side)
    left, top = rng.randint(0, width - w), rng.randint(0, height - h)
    image = image.crop((left, top, left + w, top + h)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.92, 1.08))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.92, 1.08))
    pixels = np.asarray(image, np.int16)
    noise = np.random.default_rng(rng.getrandbits(63)).integers(-4, 5, pixels.shape)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")
    return render.encode(image, size=len(data))


def _edge(image: object) -> tuple[int, int, int]:
    """The mean colour of the image's border: what the rotation's corners are filled with."""
    arr = np.asarray(image, np.float64)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    r, g, b = (int(v) for v in border.mean(axis=0))
    return r, g, b


def _vary_wav(data: bytes, rng: random.Random) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as clip:
        params = clip.getparams()
        frames = clip.readframes(params.nframes)
    if params.sampwidth != 2 or params.nchannels != 1:
        return data
    gen = np.random.default_rng(rng.getrandbits(63))
    samples = np.frombuffer(frames, "<i2").astype(np.float64)
    samples *= rng.uniform(0.8, 1.1)
    lead = int(params.framerate * rng.uniform(*LEAD_IN_MS) / 1000)
    quiet = gen.normal(0.0, 40.0, lead)
    out = np.concatenate([quiet, samples]) + gen.normal(0.0, 8.0, lead + samples.shape[0])
    pcm = np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(params.framerate)
        target.writeframes(pcm)
    return buf.getvalue()
