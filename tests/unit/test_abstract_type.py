"""The abstract challenge type over a real pool: composition, privacy of the answer, the check."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema
import pytest

from haechi.challenges import ChallengeContext, default_registry
from haechi.challenges.abstract import generate
from haechi.challenges.abstract.challenge import AbstractEmotion
from haechi.challenges.abstract.items import CIRCUMPLEX, MIN_CONFIDENCE
from haechi.challenges.abstract.label import EmotionLabeller
from haechi.challenges.pool import ChallengePools
from haechi.core.blobs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.errors import Unavailable
from haechi.core.settings import PoolSettings

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = json.loads((SCHEMAS / "challenge-task.v1.json").read_text())
SUBMISSION = json.loads((SCHEMAS / "challenge-submission.v1.json").read_text())


def pools_in(path: Path, min_items: int = 1) -> ChallengePools:
    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    store = FsBlobStore(path, BlobUrlSigner(keyring))
    return ChallengePools(store, PoolSettings(min_items=min_items), url_ttl_seconds=300)


@pytest.fixture(scope="module")
async def abstract(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AbstractEmotion]:
    pools = pools_in(tmp_path_factory.mktemp("abstract-blobs"))
    kind = AbstractEmotion(pools)
    await pools.build(kind, 40, rng=random.Random(5), concurrency=2)
    yield kind


async def test_pool_items_are_confirmed_images_with_a_private_label(
    abstract: AbstractEmotion,
) -> None:
    pool = abstract.pools.get("abstract")
    assert pool is not None and len(pool.items) == 40 and abstract.available()
    assert set(Counter(i.label for i in pool.items)) == set(generate.EMOTIONS)
    labeller = EmotionLabeller()
    for item in pool.items[:8]:
        assert item.meta["emotion"] == item.label
        assert float(item.meta["confidence"]) >= MIN_CONFIDENCE
        assert str(item.label) not in item.key
        data = (await abstract.pools.blobs.get(item.key)).data
        assert len(data) == generate.WEBP_BYTES
        probs = labeller.predict([generate.decode(data)])[0]
        assert labeller.labels[int(probs.argmax())] == item.label


@pytest.mark.parametrize("locale", ["en", "ko"])
async def test_generate_then_check(abstract: AbstractEmotion, locale: str) -> None:
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": abstract.pools})
    pool = abstract.pools.get("abstract")
    assert pool is not None
    by_key = {i.key: i for i in pool.items}
    rng = random.Random(2)
    seen_ids: set[str] = set()
    for difficulty in (0.0, 0.5, 1.0, 0.3, 0.8):
        task, answer = await abstract.generate(ctx, rng, difficulty, locale)
        jsonschema.validate(task, TASK)
        assert task["kind"] == "select" and task["locale"] == locale
        assert task["select"] == {"min": 1, "max": 9} and task["grid"] == {"rows": 3, "cols": 3}
        ids = [c["id"] for c in task["cells"]]
        assert len(ids) == len(set(ids)) == 9 and not seen_ids & set(ids)
        seen_ids |= set(ids)
        assert isinstance(answer, list) and 2 <= len(answer) <= 5 and answer == sorted(answer)
        assert set(answer) <= set(ids)
        # The target cells are exactly the ones whose pool item has the prompt's emotion.
        keys = {c["id"]: next(k for k in by_key if k in c["image"]) for c in task["cells"]}
        labels = {cid: str(by_key[k].label) for cid, k in keys.items()}
        targets = {labels[cid] for cid in answer}
        assert len(targets) == 1
        assert {cid for cid, lab in labels.items() if lab in targets} == set(answer)
        for word in CIRCUMPLEX:
            assert word not in json.dumps(task["cells"])
        right = {"cells": list(reversed(answer))}
        jsonschema.validate(right, SUBMISSION)
        assert abstract.check(answer, right).ok
        assert abstract.check(answer, {"cells": answer[:-1]}).reason == "wrong"
        extra = next(i for i in ids if i not in answer)
        assert abstract.check(answer, {"cells": [*answer, extra]}).reason == "wrong"


@pytest.mark.parametrize(
    "submission",
    [
        None,
        1,
        "abc",
        [],
        {},
        {"cells": "a"},
        {"cells": []},
        {"cells": [1]},
        {"cells": ["a", "a"]},
        {"cells": [f"c{i}" for i in range(10)]},
    ],
)
def test_check_never_raises(submission: object) -> None:
    kind = AbstractEmotion(pools_in(Path("/nonexistent")))
    result = kind.check(["aaaa", "bbbb"], submission)
    assert not result.ok and result.reason == "malformed"


async def test_empty_pool_is_unavailable_not_an_error(tmp_path: Path) -> None:
    pools = pools_in(tmp_path, min_items=1)
    kind = AbstractEmotion(pools)
    await pools.refresh()
    assert not kind.available()
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": pools})
    with pytest.raises(Unavailable):
        await kind.generate(ctx, random.Random(1), 0.5, "en")
    # Two images are a pool but not a grid: still not offered.
    await pools.build(kind, 2, rng=random.Random(3))
    assert not kind.available()


async def test_registered_with_pools_and_offers_audio_when_ready(
    abstract: AbstractEmotion,
) -> None:
    assert "abstract" in default_registry(pools_in(Path("/nonexistent"))).names()
    assert "abstract" not in default_registry().names()
    ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": abstract.pools})
    task, _ = await abstract.generate(ctx, random.Random(1), 0.5, "en")
    assert "alternatives" not in task  # no audio pool here
