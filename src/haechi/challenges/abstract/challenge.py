"""The abstract challenge type: "select every image that feels calm", served from a pool.

A pool item is one image: its label is the emotion it was drawn for, its metadata the emotion
and the labeller's confidence (the pool builder keeps an image only when the emotion CNN agrees
with the generator, see ``items``). The manifest is private, so neither is ever public: the
task carries nine signed URLs under random keys and nine fresh random cell ids.

``generate`` composes a 3×3 grid from the loaded pool with ``items.compose``: 2-5 cells of the
target emotion, distractors nearer on the circumplex and images less confident as difficulty
rises. The answer is the sorted set of target cell ids; ``check`` wants exactly that set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from haechi.challenges.abstract import items as abstract_items
from haechi.challenges.abstract.label import EmotionLabeller
from haechi.challenges.audio import offer_alternatives
from haechi.challenges.base import JSON, ChallengeContext, CheckResult
from haechi.challenges.pool import ChallengePools, GeneratedItem, LoadedPool, PoolItem
from haechi.core.errors import Unavailable

NAME = "abstract"
# Draws per pool item before giving up: the CNN keeps about 9 in 10 renders at 0.9.
MAX_DRAWS = 40


@dataclass(frozen=True, slots=True)
class _Composable:
    """A pool generation arranged for ``items.compose``, built once per generation."""

    generation: str
    by_label: dict[str, list[abstract_items.AbstractItem]]
    keys: dict[bytes, PoolItem]


def _arrange(pool: LoadedPool) -> _Composable:
    # ``compose`` reads only an item's label and confidence; the pool key stands in for the
    # image bytes, which serving never loads, and maps each chosen cell back to its pool item.
    by_label: dict[str, list[abstract_items.AbstractItem]] = {}
    keys: dict[bytes, PoolItem] = {}
    for item in pool.items:
        emotion, confidence = item.meta.get("emotion"), item.meta.get("confidence")
        if not isinstance(emotion, str) or emotion not in abstract_items.CIRCUMPLEX:
            continue
        key = item.key.encode()
        conf = float(confidence) if isinstance(confidence, int | float) else 1.0
        entry = abstract_items.AbstractItem(key, "", emotion, conf)
        by_label.setdefault(emotion, []).append(entry)
        keys[key] = item
    return _Composable(pool.generation, by_label, keys)


def _composable_targets(arranged: _Composable) -> list[str]:
    """Emotions a grid can be made for: enough target images and enough distractors."""
    low, high = abstract_items.TARGETS
    out = []
    for emotion, entries in arranged.by_label.items():
        others = sum(len(v) for k, v in arranged.by_label.items() if k != emotion)
        if len(entries) >= high and others >= abstract_items.CELLS - low:
            out.append(emotion)
    return sorted(out)


class AbstractEmotion:
    """Nine procedural abstract images and an emotion word, from a pre-built pool."""

    name = NAME
    test_only = False
    uses_pool = True
    default_pool_size = 2000

    def __init__(self, pools: ChallengePools, labeller: EmotionLabeller | None = None) -> None:
        self.pools = pools
        # Loads its model lazily, on the first pool build: serving never runs it.
        self.labeller = labeller or EmotionLabeller()
        self._arranged: _Composable | None = None
        pools.track(self.name)

    def available(self) -> bool:
        if not self.pools.ready(self.name):
            return False
        arranged = self._arrangement()
        return arranged is not None and bool(_composable_targets(arranged))

    def _arrangement(self) -> _Composable | None:
        pool = self.pools.get(self.name)
        if pool is None:
            return None
        arranged = self._arranged
        if arranged is None or arranged.generation != pool.generation:
            arranged = self._arranged = _arrange(pool)
        return arranged

    def make_item(self, rng: random.Random) -> GeneratedItem:
        """One image of a random emotion that the emotion CNN confirms with confidence."""
        # Imported here: only pool builds render images and run the labeller.
        import numpy as np

        from haechi.challenges.abstract import generate

        labeller = self.labeller
        emotion = rng.choice(generate.EMOTIONS)
        column = labeller.labels.index(emotion)
        for _ in range(MAX_DRAWS):
            blob = generate.encode(
                generate.render(emotion, np.random.default_rng(rng.getrandbits(128)))
            )
            probs = labeller.predict([generate.decode(blob)])[0]
            confidence = float(probs[column])
            if int(probs.argmax()) == column and confidence >= abstract_items.MIN_CONFIDENCE:
                meta: dict[str, JSON] = {"emotion": emotion, "confidence": round(confidence, 4)}
                return GeneratedItem(blob, generate.CONTENT_TYPE, emotion, meta)
        raise RuntimeError(f"the labeller confirmed no {emotion} image in {MAX_DRAWS} draws")

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        arranged = self._arrangement()
        targets = _composable_targets(arranged) if arranged is not None else []
        if arranged is None or not targets:
            raise Unavailable("no abstract challenges are available; try again")
        target = rng.choice(targets)
        difficulty = min(max(difficulty, 0.0), 1.0)
        cells, answer = abstract_items.compose(rng, arranged.by_label, target, difficulty)
        public: list[JSON] = []
        for cell in cells:
            url = await self.pools.url(arranged.keys[cell.item.image])
            public.append({"id": cell.id, "image": url})
        prompt = abstract_items.prompt(target, locale)
        hint = abstract_items.hint(target, locale)
        task: dict[str, JSON] = {
            "type": self.name,
            "kind": "select",
            "locale": locale,
            "prompt": f"{prompt} ({hint})",
            "grid": {"rows": 3, "cols": 3},
            "cells": public,
            "select": {"min": 1, "max": abstract_items.CELLS},
        }
        return offer_alternatives(task, ctx), answer

    def check(self, answer: JSON, submission: JSON) -> CheckResult:
        if not isinstance(submission, dict):
            return CheckResult(False, "malformed")
        chosen = submission.get("cells")
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return CheckResult(False, "malformed")
        if not 1 <= len(chosen) <= abstract_items.CELLS or len(set(chosen)) != len(chosen):
            return CheckResult(False, "malformed")
        if not isinstance(answer, list) or sorted(chosen) != sorted(answer):
            return CheckResult(False, "wrong")
        return CheckResult(True)
