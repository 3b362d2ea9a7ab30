"""The abstract-image generator: deterministic per seed, and its encoded bytes say nothing."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from haechi.challenges.abstract import generate
from haechi.challenges.abstract.generate import EMOTIONS, WEBP_BYTES, decode, encode, render


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The RIFF chunks of a WebP file as (FourCC, payload)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    out, pos = [], 12
    while pos < len(data):
        fourcc, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        out.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    assert pos == len(data)
    return out


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_render_is_deterministic_per_seed(emotion: str) -> None:
    a = render(emotion, np.random.default_rng(42))
    b = render(emotion, np.random.default_rng(42))
    c = render(emotion, np.random.default_rng(43))
    assert a.size == (generate.SIZE, generate.SIZE) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    assert encode(a) == encode(b)


def test_unknown_emotion_is_refused() -> None:
    with pytest.raises(ValueError):
        render("bored", np.random.default_rng(0))


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_encoded_bytes_have_one_size_and_no_metadata(emotion: str) -> None:
    for seed in range(6):
        img = render(emotion, np.random.default_rng([7, seed]))
        data = encode(img)
        assert len(data) == WEBP_BYTES
        found = chunks(data)
        assert [fourcc for fourcc, _ in found] == [b"VP8X", b"VP8 ", b"PAD "]
        vp8x = found[0][1]
        assert vp8x[0] == 0  # no ICC, alpha, EXIF, XMP or animation flag
        assert set(found[2][1]) <= {0}  # the padding is zeros
        for marker in (b"EXIF", b"Exif", b"XMP ", b"ICCP", b"<x:xmpmeta"):
            assert marker not in data
        with Image.open(io.BytesIO(data)) as opened:
            assert opened.format == "WEBP"
            assert not {"exif", "icc_profile", "xmp"} & set(opened.info)
        back = decode(data)
        assert back.size == img.size
        # Lossy, but the picture survives: mean absolute error under 10 levels.
        err = np.abs(np.asarray(back, np.int16) - np.asarray(img, np.int16)).mean()
        assert err < 10


def test_byte_size_does_not_tell_the_emotion() -> None:
    """Busy (angry, anxious) and plain (calm, sad) images compress differently; sizes must not."""
    raw: dict[str, list[int]] = {}
    sizes: set[int] = set()
    for emotion in EMOTIONS:
        for seed in range(8):
            img = render(emotion, np.random.default_rng([11, seed]))
            buf = io.BytesIO()
            img.save(buf, "WEBP", quality=85)
            raw.setdefault(emotion, []).append(len(buf.getvalue()))
            sizes.add(len(encode(img)))
    # Without padding, size alone would separate some emotions (that is what is being hidden)...
    medians = sorted(float(np.median(v)) for v in raw.values())
    assert medians[-1] > 1.3 * medians[0]
    # ...with it, every image has the same size.
    assert sizes == {WEBP_BYTES}


def test_encode_rejects_bad_sizes() -> None:
    img = render("calm", np.random.default_rng(0))
    with pytest.raises(ValueError):
        encode(img, size=5001)
    with pytest.raises(ValueError):
        encode(img, size=512)
