"""The image-grid challenge: sources, tiles, the pool, generate and check, and what leaks."""

from __future__ import annotations

import io
import json
import random
import re
import struct
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import mean

import jsonschema
import pytest
from PIL import Image

from haechi.challenges import ChallengeContext, default_registry
from haechi.challenges.grid import ImageGrid, categories, items, label, render, sources
from haechi.challenges.pool import ChallengePools
from haechi.core.blobs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.errors import Unavailable
from haechi.core.settings import PoolSettings

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = json.loads((SCHEMAS / "challenge-task.v1.json").read_text())
SUBMISSION = json.loads((SCHEMAS / "challenge-submission.v1.json").read_text())
CTX = ChallengeContext("hk_x", "shop.example.com")


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
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


def pools_in(path: Path, min_items: int = 1) -> ChallengePools:
    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    store = FsBlobStore(path, BlobUrlSigner(keyring))
    return ChallengePools(store, PoolSettings(min_items=min_items), url_ttl_seconds=300)


def key_of(url: str) -> str:
    return url.split("?")[0].split("/v1/blob/", 1)[1]


# --- categories, sources, tiles -----------------------------------------------------------------
def test_prompts_name_the_object_in_both_languages() -> None:
    assert categories.prompt("bicycle", "en") == "Select every square with a bicycle."
    assert categories.prompt("bicycle", "ko") == "자전거가 있는 칸을 모두 고르세요."
    assert categories.prompt("airplane", "en") == "Select every square with an airplane."
    # The Korean subject particle follows the noun's last syllable.
    assert categories.prompt("horse", "ko") == "말이 있는 칸을 모두 고르세요."
    assert categories.prompt("dog", "ko") == "개가 있는 칸을 모두 고르세요."
    assert 12 <= len(categories.NAMES) <= 20
    for name in categories.NAMES:
        for locale in ("en", "ko"):
            assert categories.category_of_prompt(categories.prompt(name, locale)) == name


def test_every_category_has_several_looks() -> None:
    by_category = sources.sources_by_category()
    assert set(by_category) == set(categories.NAMES)
    for name, options in by_category.items():
        assert len(options) >= 4, name
        assert {"emoji", "glyph"} <= {s.kind for s in options}, name


def test_tiles_are_reproducible_and_vary() -> None:
    a = render.encode(render.render_tile("cat", random.Random(4), 0.5))
    b = render.encode(render.render_tile("cat", random.Random(4), 0.5))
    c = render.encode(render.render_tile("cat", random.Random(5), 0.5))
    assert a == b and a != c


@pytest.mark.parametrize("strength", [0.0, 1.0])
def test_every_tile_is_a_bare_webp_of_one_size(strength: float) -> None:
    rng = random.Random(7)
    for name in categories.NAMES:
        data = render.encode(render.render_tile(name, rng, strength))
        assert len(data) == render.TILE_BYTES
        chunks = webp_chunks(data)
        # VP8X with no flags (no EXIF, XMP, ICC or alpha), the picture, and zero padding.
        assert [n for n, _ in chunks] == [b"VP8X", b"VP8 ", b"PAD "]
        assert chunks[0][1][:4] == bytes(4) and set(chunks[2][1]) <= {0}
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "WEBP" and img.size == (render.TILE, render.TILE)
            assert not img.getexif() and "exif" not in img.info and "xmp" not in img.info


def test_kept_tiles_are_recognised_as_their_own_category() -> None:
    classifier = label.TileClassifier()
    assert classifier.labels == categories.NAMES
    rng = random.Random(9)
    for name in ("bicycle", "clock", "fish"):
        tile = items.make_tile(rng, classifier, name)
        probs = classifier.predict([render.decode(tile.data)])[0]
        assert tile.category == name and probs.argmax() == categories.NAMES.index(name)
        assert tile.confidence >= items.MIN_CONFIDENCE and tile.near != name
        assert tile.meta()["category"] == name


# --- the type -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def grid(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ImageGrid]:
    pools = pools_in(tmp_path_factory.mktemp("grid-blobs"))
    kind = ImageGrid(pools)
    await pools.build(kind, 96, rng=random.Random(3), concurrency=2)
    yield kind


def test_registered_with_pools_only(tmp_path: Path) -> None:
    assert default_registry().get("grid") is None
    assert isinstance(default_registry(pools_in(tmp_path)).get("grid"), ImageGrid)


async def test_pool_items_are_labelled_in_the_manifest_only(grid: ImageGrid) -> None:
    pool = grid.pools.get("grid")
    assert pool is not None and grid.available() and len(pool.items) == 96
    for item in pool.items:
        assert item.label in categories.NAMES and item.meta["category"] == item.label
        assert float(item.meta["confidence"]) >= items.MIN_CONFIDENCE
        assert item.label not in item.key


@pytest.mark.parametrize("locale", ["en", "ko"])
async def test_task_carries_no_answer_and_uniform_tiles(grid: ImageGrid, locale: str) -> None:
    store = grid.pools.blobs
    by_key = {i.key: i for i in grid.pools.get("grid").items}  # type: ignore[union-attr]
    rng = random.Random(1)
    for _ in range(5):
        task, answer = await grid.generate(CTX, rng, 0.5, locale)
        jsonschema.validate(task, TASK)
        assert task["kind"] == "select" and task["type"] == "grid" and task["locale"] == locale
        assert task["grid"] == {"rows": 3, "cols": 3} and task["select"] == {"min": 1, "max": 9}
        assert "alternatives" not in task  # no audio pool here
        target = categories.category_of_prompt(task["prompt"])
        assert target is not None
        assert 2 <= len(answer) <= 5 and answer == sorted(answer)
        # Beyond the prompt, the task holds only opaque ids and signed URLs: each part is
        # checked on its own, since random bytes may spell "cat" by chance.
        assert all(set(c) == {"id", "image"} for c in task["cells"])
        for cell in task["cells"]:
            assert re.fullmatch(r"[A-Za-z0-9_-]{12}", cell["id"])
            path, _, query = cell["image"].partition("?")
            assert not any(name in path for name in categories.NAMES)
            assert {k for k, _ in urllib.parse.parse_qsl(query)} <= {"exp", "sig"}
        for cell in task["cells"]:
            item = by_key[key_of(cell["image"])]
            assert (cell["id"] in answer) == (item.label == target)
            data = (await store.get(item.key)).data
            assert len(data) == render.TILE_BYTES
            assert [n for n, _ in webp_chunks(data)] == [b"VP8X", b"VP8 ", b"PAD "]
        assert grid.check(answer, {"cells": list(reversed(answer))}).ok


async def test_generation_is_seeded_but_ids_are_fresh(grid: ImageGrid) -> None:
    a, _ = await grid.generate(CTX, random.Random(42), 0.3, "en")
    b, _ = await grid.generate(CTX, random.Random(42), 0.3, "en")
    assert a["prompt"] == b["prompt"]
    assert [key_of(c["image"]) for c in a["cells"]] == [key_of(c["image"]) for c in b["cells"]]
    ids_a, ids_b = {c["id"] for c in a["cells"]}, {c["id"] for c in b["cells"]}
    assert len(ids_a) == 9 and not ids_a & ids_b


async def test_difficulty_moves_to_rougher_and_more_confusable_tiles(grid: ImageGrid) -> None:
    pool = grid.pools.get("grid")
    assert pool is not None
    by_category = grid._by_category(pool)
    rng = random.Random(5)
    hard_by_level, near_by_level = {}, {}
    for level in (0.0, 1.0):
        hard, near = [], []
        for _ in range(300):
            target = rng.choice(sorted(c for c, v in by_category.items() if len(v) >= 5))
            cells, _ = items.compose(rng, by_category, target, level)
            hard += [items.hardness(c.item) for c in cells]
            near += [c.item.meta["near"] == target for c in cells if c.item.label != target]
        hard_by_level[level], near_by_level[level] = mean(hard), mean(near)
    assert hard_by_level[1.0] > hard_by_level[0.0] + 0.05
    assert near_by_level[1.0] > near_by_level[0.0]


async def test_check_wants_the_exact_set(grid: ImageGrid) -> None:
    task, answer = await grid.generate(CTX, random.Random(2), 0.5, "en")
    ids = [c["id"] for c in task["cells"]]
    others = [i for i in ids if i not in answer]
    right = {"cells": answer}
    jsonschema.validate(right, SUBMISSION)
    assert grid.check(answer, right).ok
    assert grid.check(answer, {"cells": answer[:-1]}).reason == "wrong"
    assert grid.check(answer, {"cells": [*answer, others[0]]}).reason == "wrong"
    assert grid.check(answer, {"cells": [*answer[:-1], others[0]]}).reason == "wrong"
    assert grid.check(answer, {"cells": ids}).reason == "wrong"


@pytest.mark.parametrize(
    "submission",
    [
        None,
        1,
        "abc",
        [],
        {},
        {"cells": "abcd"},
        {"cells": [1, 2]},
        {"cells": []},
        {"cells": ["abcd", "abcd"]},
        {"cells": [f"id{i:02d}" for i in range(10)]},
        {"cells": [None]},
    ],
)
def test_check_never_raises(submission: object, tmp_path: Path) -> None:
    result = ImageGrid(pools_in(tmp_path)).check(["abcd", "efgh"], submission)
    assert not result.ok and result.reason == "malformed"


def test_check_with_a_bad_answer_fails_closed(tmp_path: Path) -> None:
    kind = ImageGrid(pools_in(tmp_path))
    assert kind.check(None, {"cells": ["abcd"]}).reason == "wrong"
    assert kind.check("abcd", {"cells": ["abcd"]}).reason == "wrong"


async def test_empty_pool_is_unavailable_not_an_error(tmp_path: Path) -> None:
    pools = pools_in(tmp_path, min_items=2)
    kind = ImageGrid(pools)
    await pools.refresh()
    assert not kind.available()
    with pytest.raises(Unavailable):
        await kind.generate(CTX, random.Random(1), 0.5, "en")
