"""Pool items for the grid challenge, and 3x3 challenges composed from them.

An item is one encoded tile. ``make_tile`` keeps a tile only when the tile classifier names its
own category with confidence at least ``MIN_CONFIDENCE`` (so people get tiles whose object came
through the augmentation), and records the classifier's confidence, its runner-up category and
the augmentation strength in the item's private metadata. ``compose`` reads them for difficulty:
easy challenges use clear tiles, hard ones heavily augmented, less certain tiles and distractors
the classifier confuses with the target.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from haechi.challenges.base import JSON
from haechi.challenges.grid import render
from haechi.challenges.grid.categories import NAMES

MIN_CONFIDENCE: Final = 0.8
MAX_DRAWS: Final = 12  # tiles drawn per kept tile before the build gives up
CELLS: Final = 9
TARGETS: Final = (2, 5)  # how many cells show the target, inclusive
_CANDIDATES: Final = 160  # distractors are weighed among this many random items


class Classifier(Protocol):
    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class Tile:
    data: bytes
    category: str
    confidence: float
    near: str  # the classifier's runner-up category
    strength: float

    def meta(self) -> dict[str, JSON]:
        return {
            "category": self.category,
            "confidence": round(self.confidence, 4),
            "near": self.near,
            "strength": round(self.strength, 3),
        }


def make_tile(rng: random.Random, classifier: Classifier, category: str | None = None) -> Tile:
    """A tile of ``category`` (random when None) the classifier recognises; deterministic in rng.

    A rejected tile is redrawn with gentler augmentation. Raises ``RuntimeError`` after
    ``MAX_DRAWS`` rejections: a classifier that no longer matches the renderer must not ship a
    pool.
    """
    category = category or rng.choice(NAMES)
    labels = classifier.labels
    column = labels.index(category)
    strength = rng.random()
    for _ in range(MAX_DRAWS):
        data = render.encode(render.render_tile(category, rng, strength))
        probs = classifier.predict([render.decode(data)])[0]
        order = np.argsort(-probs)
        if int(order[0]) == column and float(probs[column]) >= MIN_CONFIDENCE:
            return Tile(data, category, float(probs[column]), labels[int(order[1])], strength)
        strength *= 0.6
    raise RuntimeError(f"the tile classifier rejected {MAX_DRAWS} {category} tiles in a row")


# --- composing challenges -----------------------------------------------------------------------
class Entry(Protocol):
    """What ``compose`` needs of a pool item (``pool.PoolItem`` fits)."""

    @property
    def label(self) -> JSON: ...

    @property
    def meta(self) -> dict[str, JSON]: ...


@dataclass(frozen=True, slots=True)
class Cell:
    id: str
    item: Entry


def hardness(item: Entry) -> float:
    """0 for a clear tile the classifier is sure of, 1 for a rough one it barely kept."""
    doubt = (1.0 - float(item.meta.get("confidence", 1.0))) / (1.0 - MIN_CONFIDENCE)
    return 0.5 * min(1.0, max(0.0, doubt)) + 0.5 * float(item.meta.get("strength", 0.5))


def _weighted(
    rng: random.Random, items: Sequence[Entry], k: int, weights: Sequence[float]
) -> list[Entry]:
    """k distinct items with probability by weight (Efraimidis-Spirakis keys)."""
    keys = [rng.random() ** (1.0 / w) for w in weights]
    order = sorted(range(len(items)), key=keys.__getitem__, reverse=True)
    return [items[i] for i in order[:k]]


def compose(
    rng: random.Random,
    by_category: Mapping[str, Sequence[Entry]],
    target: str,
    difficulty: float,
) -> tuple[list[Cell], list[str]]:
    """Nine cells in random order with fresh random ids, and the sorted ids of the target cells.

    ``difficulty`` 0..1 leans the choice of tiles from clear to rough (weights e^±3 apart at
    the ends) and makes distractors the classifier confuses with the target up to five times
    likelier.
    """
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError("difficulty must be in [0, 1]")
    pool_target = by_category.get(target, ())
    n_target = rng.randint(*TARGETS)
    if len(pool_target) < n_target:
        raise ValueError(f"need {n_target} {target} tiles, have {len(pool_target)}")
    lean = 6.0 * (difficulty - 0.5)

    def weight(item: Entry, confusable: bool) -> float:
        w = math.exp(lean * (hardness(item) - 0.5))
        return w * (1.0 + 4.0 * difficulty) if confusable else w

    targets = _weighted(rng, pool_target, n_target, [weight(i, False) for i in pool_target])
    others = [c for c in by_category if c != target and by_category[c]]
    total = sum(len(by_category[c]) for c in others)
    if total < CELLS - n_target:
        raise ValueError("not enough distractor tiles")
    # A random handful of candidates first: weighing the whole pool per challenge costs too much.
    candidates: list[Entry] = []
    for _ in range(min(_CANDIDATES, total)):
        cat = others[rng.randrange(len(others))]
        items = by_category[cat]
        candidates.append(items[rng.randrange(len(items))])
    unique = list({id(i): i for i in candidates}.values())
    if len(unique) < CELLS - n_target:
        unique = [i for c in others for i in by_category[c]]
    weights = [weight(i, i.meta.get("near") == target) for i in unique]
    distractors = _weighted(rng, unique, CELLS - n_target, weights)
    chosen = [(True, i) for i in targets] + [(False, i) for i in distractors]
    if any((item.label == target) != is_target for is_target, item in chosen):
        raise ValueError("by_category holds a tile under the wrong category")
    rng.shuffle(chosen)
    # Ids from ``secrets``, never from rng: a seeded rng must not make them predictable.
    cells = [Cell(secrets.token_urlsafe(9), item) for _, item in chosen]
    answer = sorted(c.id for c, (is_target, _) in zip(cells, chosen, strict=True) if is_target)
    return cells, answer
