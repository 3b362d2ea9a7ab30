"""Per-serve variation of pool items (haechi.challenges.variation): each showing differs, in a
way a hash or perceptual-hash lookup does not see through, and still reads as the same item."""

from __future__ import annotations

import io
import random
import wave

import numpy as np
from PIL import Image, ImageDraw

from haechi.challenges.grid import render
from haechi.challenges.variation import pool_of, vary

_DCT = np.array(
    [[np.cos(np.pi * (2 * x + 1) * u / 64) for x in range(32)] for u in range(32)], np.float64
)


def phash(img: Image.Image) -> int:
    """The red team's memoriser hash (bench/redteam/attackers/common.py)."""
    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = (_DCT @ grey @ _DCT.T)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def tile(seed: int) -> bytes:
    """A tile like the grid's: shapes on a background, encoded to the pool's fixed size."""
    rng = random.Random(seed)
    image = Image.new("RGB", (128, 128), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(100), rng.randrange(100)
        fill = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x, y, x + rng.randrange(10, 60), y + rng.randrange(10, 60)), fill=fill)
    return render.encode(image)


def clip(seconds: float = 1.0) -> bytes:
    rate = 16_000
    t = np.arange(int(rate * seconds)) / rate
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buf.getvalue()


def test_pool_of_reads_only_pool_item_keys() -> None:
    assert pool_of("pools/grid/20261207T215646Z-0f5fb968/items/0e4a") == "grid"
    assert pool_of("pools/grid/index.json") is None
    assert pool_of("exports/x/items/y/z") is None


def test_an_image_varies_per_seed_and_not_per_fetch() -> None:
    data = tile(1)
    a, again, b = (vary("grid", data, "image/webp", s) for s in (11, 11, 12))
    assert a == again  # one URL, one rendering: range requests and reloads agree
    assert a != b and a != data
    assert len(a) == len(b) == len(data) == render.TILE_BYTES  # sizes still say nothing
    assert Image.open(io.BytesIO(a)).size == (128, 128)


def test_showings_are_out_of_a_perceptual_hash_memorisers_reach() -> None:
    """The red team's memoriser matches within 6 bits; showings of one item land far apart."""
    near = total = 0
    for item in range(20):
        data = tile(item)
        original = phash(Image.open(io.BytesIO(data)))
        for seed in range(1, 6):
            varied = phash(Image.open(io.BytesIO(vary("grid", data, "image/webp", seed))))
            near += bin(original ^ varied).count("1") <= 6
            total += 1
    assert near / total < 0.05, (near, total)


def test_a_clip_varies_and_stays_a_playable_wav() -> None:
    data = clip()
    a, again, b = (vary("audio", data, "audio/wav", s) for s in (3, 3, 4))
    assert a == again and a != b and a != data
    with wave.open(io.BytesIO(a)) as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getframerate()) == (1, 2, 16_000)
        # The clip is all there, after a lead-in of at most 300 ms.
        assert 16_000 <= read.getnframes() <= 16_000 + 4_800


def test_unknown_formats_and_broken_bytes_pass_through() -> None:
    assert vary("grid", b"not an image", "image/webp", 5) == b"not an image"
    assert vary("grid", b"%PDF", "application/pdf", 5) == b"%PDF"
