"""Composing abstract challenges, and keeping only images the labeller confirms."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from haechi.challenges.abstract import generate, items
from haechi.challenges.abstract.items import CELLS, AbstractItem, compose, make_items

EMOTIONS = generate.EMOTIONS


def fake_pool(per_label: int = 30, seed: int = 0) -> dict[str, list[AbstractItem]]:
    rng = random.Random(seed)
    return {
        e: [
            AbstractItem(rng.randbytes(16), "image/webp", e, rng.uniform(0.9, 1.0))
            for _ in range(per_label)
        ]
        for e in EMOTIONS
    }


@pytest.mark.parametrize("target", EMOTIONS)
def test_compose_gives_nine_cells_two_to_five_targets(target: str) -> None:
    pool = fake_pool()
    rng = random.Random(1)
    counts = Counter()
    for _ in range(200):
        difficulty = rng.random()
        cells, answer = compose(rng, pool, target, difficulty)
        assert len(cells) == CELLS
        ids = [c.id for c in cells]
        assert len(set(ids)) == CELLS
        assert answer == sorted(answer) and set(answer) <= set(ids)
        assert 2 <= len(answer) <= 5
        assert {c.id for c in cells if c.item.label == target} == set(answer)
        assert len({id(c.item) for c in cells}) == CELLS  # no image twice
        counts[len(answer)] += 1
    assert set(counts) == {2, 3, 4, 5}


def test_ids_are_fresh_random_and_say_nothing() -> None:
    pool = fake_pool()
    seen: set[str] = set()
    first_sorted = 0
    runs = 300
    for seed in range(runs):
        # The same seed twice still gives new ids: they do not come from the seeded rng.
        a, _ = compose(random.Random(seed), pool, "calm", 0.5)
        b, answer = compose(random.Random(seed), pool, "calm", 0.5)
        assert {c.id for c in a}.isdisjoint(c.id for c in b)
        for cell in b:
            assert len(cell.id) >= 12 and cell.id not in seen
            seen.add(cell.id)
        ordered = sorted(c.id for c in b)
        first_sorted += ordered[: len(answer)] == answer
    # If sorting ids revealed the answer it would happen every time; by chance it is rare.
    assert first_sorted < runs * 0.1


def test_answers_are_not_derivable_from_position() -> None:
    pool = fake_pool()
    rng = random.Random(3)
    hits = np.zeros(CELLS)
    total = 0
    runs = 2000
    for _ in range(runs):
        cells, answer = compose(rng, pool, "sad", 0.5)
        chosen = set(answer)
        for k, cell in enumerate(cells):
            hits[k] += cell.id in chosen
        total += len(answer)
    expected = total / CELLS
    # Every position is a target about equally often (within 15% of the mean).
    assert np.all(np.abs(hits - expected) < 0.15 * expected)


def mean_closeness(target: str, difficulty: float) -> float:
    pool = fake_pool()
    rng = random.Random(5)
    values = []
    for _ in range(300):
        cells, _ = compose(rng, pool, target, difficulty)
        values += [items._closeness(target, c.item.label) for c in cells if c.item.label != target]
    return statistics.fmean(values)


@pytest.mark.parametrize("target", EMOTIONS)
def test_harder_challenges_use_closer_emotions(target: str) -> None:
    easy, mid, hard = (mean_closeness(target, d) for d in (0.0, 0.5, 1.0))
    assert easy < mid < hard


def test_harder_challenges_use_less_confident_images() -> None:
    pool = fake_pool(per_label=40)
    rng = random.Random(9)

    def mean_conf(difficulty: float) -> float:
        return statistics.fmean(
            c.item.confidence
            for _ in range(200)
            for c in compose(rng, pool, "joyful", difficulty)[0]
        )

    assert mean_conf(0.0) > mean_conf(1.0) + 0.01


def test_compose_refuses_bad_input() -> None:
    pool = fake_pool()
    with pytest.raises(ValueError):
        compose(random.Random(0), pool, "calm", 1.5)
    with pytest.raises(ValueError):
        compose(random.Random(0), pool, "bored", 0.5)
    thin = dict(pool, calm=pool["calm"][:1])
    with pytest.raises(ValueError):
        compose(random.Random(0), thin, "calm", 0.5)
    mislabelled = {e: pool["calm"] for e in EMOTIONS}
    with pytest.raises(ValueError):
        compose(random.Random(0), mislabelled, "calm", 0.5)


def test_prompts_in_both_locales() -> None:
    assert items.prompt("calm", "en") == "Select every image that feels calm."
    assert items.prompt("calm", "ko") == "차분한 느낌의 그림을 모두 고르세요."
    for e in EMOTIONS:
        assert items.hint(e, "en") and items.hint(e, "ko")


class NeverSure:
    """A labeller that is never confident: nothing may be kept."""

    labels = EMOTIONS

    def predict(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]:
        return np.full((len(images), len(EMOTIONS)), 1 / len(EMOTIONS), np.float32)


def test_make_items_gives_up_when_the_labeller_disagrees() -> None:
    with pytest.raises(RuntimeError):
        make_items(random.Random(0), 5, NeverSure(), max_draws=2, batch=4)


def test_make_items_keeps_confident_agreeing_images() -> None:
    from haechi.challenges.abstract.label import EmotionLabeller

    labeller = EmotionLabeller()
    seen: list[int] = []
    kept = make_items(random.Random(4), 12, labeller, progress=seen.append)
    assert len(kept) == 12
    assert seen == sorted(seen) and seen[-1] == 12
    counts = Counter(i.label for i in kept)
    assert set(counts) == set(EMOTIONS) and max(counts.values()) - min(counts.values()) <= 1
    probs = labeller.predict([generate.decode(i.image) for i in kept])
    for item, p in zip(kept, probs, strict=True):
        assert item.content_type == "image/webp" and len(item.image) == generate.WEBP_BYTES
        assert item.confidence >= items.MIN_CONFIDENCE
        assert labeller.labels[int(p.argmax())] == item.label
        assert float(p.max()) == pytest.approx(item.confidence, abs=1e-6)


def test_sample_sheet_renders(tmp_path: Path) -> None:
    from haechi.challenges.abstract import sheet

    out = tmp_path / "sheet.png"
    args = [str(out), "--targets", "calm,sad", "--difficulties", "0.1,0.9", "--per-emotion", "9"]
    assert sheet.main(args) == 0
    with Image.open(out) as img:
        # Two panels side by side, each a 3×3 grid of 128 px cells plus margins and text.
        assert img.width > 2 * 3 * generate.SIZE and img.height > 3 * generate.SIZE
