"""The audio challenge: clip generation (espeak-ng), the type's generate and check, leakage."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from haechi.challenges import ChallengeContext
from haechi.challenges.audio import (
    INPUT_CHARS,
    AudioDigits,
    normalise_digits,
    offer_alternatives,
)
from haechi.challenges.audio_gen import DIGIT_WORDS, SAMPLE_RATE, make_clip
from haechi.challenges.pool import ChallengePools, GeneratedItem
from haechi.core.blobs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.errors import Unavailable
from haechi.core.settings import PoolSettings

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = json.loads((SCHEMAS / "challenge-task.v1.json").read_text())
SUBMISSION = json.loads((SCHEMAS / "challenge-submission.v1.json").read_text())

# CI installs espeak-ng (.ci/run); elsewhere the generator tests skip without it.
pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("CI") != "true",
    reason="espeak-ng is not installed (apt-get install espeak-ng)",
)


def wav_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, offset = [], 12
    while offset < len(data):
        name, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        chunks.append((name, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + (size & 1)
    assert offset == len(data)
    return chunks


@pytest.mark.parametrize("locale", ["en", "ko"])
def test_clip_is_a_bare_16k_wav_of_4_to_6_digits(locale: str) -> None:
    clip = make_clip(random.Random(11), locale)
    assert clip.locale == locale and clip.digits.isdigit() and 4 <= len(clip.digits) <= 6
    chunks = wav_chunks(clip.wav)
    # Exactly fmt and data: no LIST/INFO/id3 chunk that could carry text.
    assert [name for name, _ in chunks] == [b"fmt ", b"data"]
    fmt, pcm = chunks[0][1], chunks[1][1]
    assert struct.unpack("<HHIIHH", fmt) == (1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    assert 2.5 < seconds < 15 and abs(seconds * 1000 - clip.duration_ms) <= 1
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    assert 0.85 < np.max(np.abs(samples)) <= 0.9  # normalised, never clipped
    assert clip.digits.encode() not in clip.wav
    for word in DIGIT_WORDS[locale]:
        assert word.encode() not in clip.wav


def test_clips_are_reproducible_from_a_seed_and_differ_across_seeds() -> None:
    a, b = make_clip(random.Random(5), "en"), make_clip(random.Random(5), "en")
    c = make_clip(random.Random(6), "en")
    assert a.wav == b.wav and a.digits == b.digits
    assert c.wav != a.wav


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("40718", "40718"),
        (" 4 07 18 ", "40718"),
        ("４０７１８", "40718"),  # full-width
        ("4-07-18", "40718"),
        ("٤٠٧١٨", "40718"),  # Arabic-Indic digits
        ("4\u30007", "47"),  # ideographic space
        ("40718a", None),
        ("사오", None),
        ("", ""),
    ],
)
def test_normalise_digits(typed: str, digits: str | None) -> None:
    assert normalise_digits(typed) == digits


class EnglishOnly(AudioDigits):
    """The real type with its generator pinned to English clips."""

    def make_item(self, rng: random.Random) -> GeneratedItem:
        from haechi.challenges.audio_gen import CONTENT_TYPE

        clip = make_clip(rng, "en")
        return GeneratedItem(clip.wav, CONTENT_TYPE, clip.digits, {"locale": "en"})


def pools_in(path: Path, min_items: int = 1) -> ChallengePools:
    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    store = FsBlobStore(path, BlobUrlSigner(keyring))
    return ChallengePools(store, PoolSettings(min_items=min_items), url_ttl_seconds=300)


@pytest.fixture(scope="module")
async def audio(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AudioDigits]:
    pools = pools_in(tmp_path_factory.mktemp("audio-blobs"))
    kind = AudioDigits(pools)
    # Seed 3 gives both languages in four clips.
    await pools.build(kind, 4, rng=random.Random(3), concurrency=2)
    yield kind


async def test_pool_holds_both_languages(audio: AudioDigits) -> None:
    pool = audio.pools.get("audio")
    assert pool is not None and audio.available()
    assert {i.meta["locale"] for i in pool.items} == {"en", "ko"}


@pytest.mark.parametrize("locale", ["en", "ko"])
async def test_generate_then_check(audio: AudioDigits, locale: str) -> None:
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": audio.pools})
    rng = random.Random(1)
    store = audio.pools.blobs
    for _ in range(6):
        task, answer = await audio.generate(ctx, rng, 0.5, locale)
        jsonschema.validate(task, TASK)
        assert task["kind"] == "audio" and task["locale"] == locale
        assert task["input"] == {"format": "digits", "maxLength": INPUT_CHARS}
        assert isinstance(answer, str) and answer.isdigit()
        item = next(i for i in audio.pools.get("audio").items if i.label == answer)  # type: ignore[union-attr]
        assert item.meta["locale"] == locale
        # The answer is nowhere the browser can see: task JSON, URL, blob key, file bytes.
        assert answer not in json.dumps(task, ensure_ascii=False)
        path = task["audio"].split("?")[0]
        assert answer not in path and answer not in item.key
        assert path.endswith(item.key)
        data = (await store.get(item.key)).data
        assert [n for n, _ in wav_chunks(data)] == [b"fmt ", b"data"]
        assert answer.encode() not in data

        right = {"text": answer}
        jsonschema.validate(right, SUBMISSION)
        assert audio.check(answer, right).ok
        full_width = "".join(chr(ord(c) - ord("0") + ord("０")) for c in answer)
        assert audio.check(answer, {"text": full_width}).ok
        assert audio.check(answer, {"text": " ".join(answer)}).ok
        wrong = answer[:-1] + str((int(answer[-1]) + 1) % 10)
        assert audio.check(answer, {"text": wrong}).reason == "wrong"
        assert audio.check(answer, {"text": answer[:-1]}).reason == "wrong"
        assert audio.check(answer, {"text": answer + "0"}).reason == "wrong"


@pytest.mark.parametrize(
    "submission",
    [None, 1, "123", [], {}, {"text": 1234}, {"text": ""}, {"text": "12a4"}, {"text": "1" * 65}],
)
def test_check_never_raises(submission: object) -> None:
    pools = pools_in(Path("/nonexistent"))
    result = AudioDigits(pools).check("1234", submission)
    assert not result.ok and result.reason == "malformed"


async def test_other_language_when_the_pool_has_none_in_the_visitors(tmp_path: Path) -> None:
    pools = pools_in(tmp_path)
    kind = EnglishOnly(pools)
    await pools.build(kind, 1, rng=random.Random(2))
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": pools})
    task, answer = await kind.generate(ctx, random.Random(1), 0.5, "ko")
    assert task["locale"] == "ko" and "영어" in task["prompt"]
    assert kind.check(answer, {"text": answer}).ok


async def test_empty_pool_is_unavailable_not_an_error(tmp_path: Path) -> None:
    pools = pools_in(tmp_path, min_items=2)
    kind = EnglishOnly(pools)
    await pools.refresh()
    assert not kind.available()
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": pools})
    with pytest.raises(Unavailable):
        await kind.generate(ctx, random.Random(1), 0.5, "en")
    # Below min_items it is still not offered; at min_items it is.
    await pools.build(kind, 1, rng=random.Random(2))
    assert not kind.available()
    await pools.build(kind, 2, rng=random.Random(3))
    assert kind.available()


async def test_offer_alternatives_only_when_audio_is_ready(tmp_path: Path) -> None:
    pools = pools_in(tmp_path, min_items=1)
    kind = EnglishOnly(pools)
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": pools})
    assert "alternatives" not in offer_alternatives({"kind": "select"}, ctx)
    assert "alternatives" not in offer_alternatives({"kind": "select"}, ChallengeContext("a", "b"))
    await pools.build(kind, 1, rng=random.Random(2))
    assert offer_alternatives({"kind": "select"}, ctx)["alternatives"] == ["audio"]
