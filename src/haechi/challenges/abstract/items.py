"""Items for the abstract challenge, and 3×3 challenges composed from them.

An *item* is one encoded image with its emotion label and the labeller's confidence in it.
``make_items`` keeps an image only when the emotion CNN agrees with the emotion the generator
drew it for, with high confidence: a person sees the cues the generator put in, and the CNN
confirms they came through (that is what "labels come from the emotion classifier" means here).
The pool builder calls it offline; ``compose`` runs per challenge.

Difficulty moves two things: distractors come from emotions ever closer to the target on
Russell's circumplex of affect (valence × arousal: calm is nearer to sad and joyful than to
angry), and images are drawn ever less from the most confident ones.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from haechi.challenges.abstract import generate

MIN_CONFIDENCE: Final = 0.9
CELLS: Final = 9
TARGETS: Final = (2, 5)  # how many cells show the target emotion, inclusive

# (valence, arousal), after Russell (1980) and its later placements of these words.
CIRCUMPLEX: Final = {
    "calm": (0.6, -0.6),
    "joyful": (0.8, 0.5),
    "angry": (-0.6, 0.8),
    "sad": (-0.7, -0.5),
    "anxious": (-0.5, 0.6),
}
WORDS: Final = {
    "calm": {"en": "calm", "ko": "차분한"},
    "joyful": {"en": "joyful", "ko": "즐거운"},
    "angry": {"en": "angry", "ko": "화난"},
    "sad": {"en": "sad", "ko": "슬픈"},
    "anxious": {"en": "anxious", "ko": "불안한"},
}
# What the generator puts in each emotion, said in everyday words: shown under the prompt.
HINTS: Final = {
    "calm": {"en": "smooth, level, gentle", "ko": "매끄럽고 잔잔한"},
    "joyful": {"en": "bright, round, bouncy", "ko": "밝고 둥글고 통통 튀는"},
    "angry": {"en": "sharp, jagged, harsh", "ko": "날카롭고 뾰족한"},
    "sad": {"en": "drooping, falling, dim", "ko": "처지고 떨어지는, 어두운"},
    "anxious": {"en": "shaky, tangled, restless", "ko": "떨리고 엉킨, 어수선한"},
}
_PROMPT: Final = {
    "en": "Select every image that feels {word}.",
    "ko": "{word} 느낌의 그림을 모두 고르세요.",
}


@dataclass(frozen=True, slots=True)
class AbstractItem:
    image: bytes
    content_type: str
    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Cell:
    id: str
    item: AbstractItem


class Labeller(Protocol):
    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]: ...


def prompt(target: str, locale: str) -> str:
    return _PROMPT[locale].format(word=WORDS[target][locale])


def hint(target: str, locale: str) -> str:
    return HINTS[target][locale]


def make_items(
    rng: random.Random,
    count: int,
    labeller: Labeller,
    *,
    min_confidence: float = MIN_CONFIDENCE,
    batch: int = 32,
    max_draws: int = 8,
    progress: Callable[[int], None] | None = None,
) -> list[AbstractItem]:
    """``count`` items, as even across the emotions as ``count`` allows, in random order.

    Draws at most ``max_draws`` × ``count`` images; raises ``RuntimeError`` when that does not
    fill the quota (a model that no longer matches the generator must not ship a pool).
    ``progress`` is called with the number of items kept so far after each batch (for a bar).
    """
    emotions = generate.EMOTIONS
    if set(labeller.labels) != set(emotions):
        raise ValueError("the labeller's labels do not match the generator's emotions")
    column = {e: labeller.labels.index(e) for e in emotions}
    quota = {
        e: count // len(emotions) + (i < count % len(emotions)) for i, e in enumerate(emotions)
    }
    kept: list[AbstractItem] = []
    draws = 0
    while any(quota.values()):
        if draws >= max_draws * count:
            raise RuntimeError(f"kept {len(kept)} of {count} items after {draws} draws")
        emotion = max(quota, key=lambda e: quota[e])
        n = min(batch, 2 * quota[emotion])
        blobs = [
            generate.encode(generate.render(emotion, np.random.default_rng(rng.getrandbits(128))))
            for _ in range(n)
        ]
        draws += n
        probs = labeller.predict([generate.decode(b) for b in blobs])
        for blob, p in zip(blobs, probs, strict=True):
            confidence = float(p[column[emotion]])
            if (
                quota[emotion]
                and int(p.argmax()) == column[emotion]
                and confidence >= min_confidence
            ):
                kept.append(AbstractItem(blob, generate.CONTENT_TYPE, emotion, confidence))
                quota[emotion] -= 1
        if progress is not None:
            progress(len(kept))
    rng.shuffle(kept)
    return kept


def _closeness(target: str, other: str) -> float:
    """1 for the nearest possible emotion, 0 for the farthest, on the circumplex."""
    (v1, a1), (v2, a2) = CIRCUMPLEX[target], CIRCUMPLEX[other]
    return 1.0 - math.hypot(v1 - v2, a1 - a2) / (2 * math.sqrt(2))


def _weighted_sample(
    rng: random.Random, items: Sequence[AbstractItem], k: int, weights: Sequence[float]
) -> list[AbstractItem]:
    """k distinct items, with probability by weight (Efraimidis-Spirakis keys)."""
    keys = [rng.random() ** (1.0 / w) for w in weights]
    order = sorted(range(len(items)), key=keys.__getitem__, reverse=True)
    return [items[i] for i in order[:k]]


def _by_confidence(
    rng: random.Random, items: Sequence[AbstractItem], k: int, difficulty: float
) -> list[AbstractItem]:
    """Easy: the most confident images first; hard: the least confident of those kept."""
    if len(items) < k:
        raise ValueError(f"need {k} items, have {len(items)}")
    lo = min(i.confidence for i in items)
    span = max(max(i.confidence for i in items) - lo, 1e-6)
    lean = 6.0 * (0.5 - difficulty)
    return _weighted_sample(
        rng, items, k, [math.exp(lean * ((i.confidence - lo) / span - 0.5)) for i in items]
    )


def compose(
    rng: random.Random,
    items_by_label: Mapping[str, Sequence[AbstractItem]],
    target: str,
    difficulty: float,
) -> tuple[list[Cell], list[str]]:
    """Nine cells in random order with fresh random ids, and the sorted ids of the target cells.

    2-5 cells show ``target``; the rest show other emotions, chosen nearer to the target on the
    circumplex as ``difficulty`` (0.0-1.0) rises.
    """
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError("difficulty must be in [0, 1]")
    if target not in CIRCUMPLEX:
        raise ValueError(f"unknown emotion {target!r}")
    n_target = rng.randint(*TARGETS)
    chosen = [
        (True, item)
        for item in _by_confidence(rng, items_by_label.get(target, ()), n_target, difficulty)
    ]
    others = [e for e in CIRCUMPLEX if e != target and items_by_label.get(e)]
    # Closeness rescaled over the emotions at hand: at difficulty 1 the nearest is e³ ≈ 20 times
    # likelier than the farthest, at 0 the other way round, at 0.5 all are equally likely.
    near = {e: _closeness(target, e) for e in others}
    lo = min(near.values(), default=0.0)
    span = max(max(near.values(), default=0.0) - lo, 1e-9)
    lean = 6.0 * (difficulty - 0.5)
    label_weight = {e: math.exp(lean * ((near[e] - lo) / span - 0.5)) for e in others}
    need: dict[str, int] = dict.fromkeys(others, 0)
    for _ in range(CELLS - n_target):
        open_labels = [e for e in others if need[e] < len(items_by_label[e])]
        if not open_labels:
            raise ValueError("not enough distractor items")
        pick = rng.choices(open_labels, weights=[label_weight[e] for e in open_labels])[0]
        need[pick] += 1
    for emotion, k in need.items():
        if k:
            chosen += [
                (False, item)
                for item in _by_confidence(rng, items_by_label[emotion], k, difficulty)
            ]
    if any((item.label == target) != is_target for is_target, item in chosen):
        raise ValueError("items_by_label holds an item under the wrong label")
    rng.shuffle(chosen)
    cells = [Cell(secrets.token_urlsafe(9), item) for _, item in chosen]
    answer = sorted(
        cell.id for cell, (is_target, _) in zip(cells, chosen, strict=True) if is_target
    )
    return cells, answer
