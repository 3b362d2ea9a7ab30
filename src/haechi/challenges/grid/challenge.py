"""The image-grid challenge: "Select every square with a bicycle", 2-5 of 9 tiles.

Tiles are pre-generated into a pool (``haechi challenges build-pool --type grid``): one pool item
is one tile, a 128x128 WebP of exactly 6,144 bytes, labelled with its category in the private
manifest. Serving picks a target category, composes nine tiles (``items.compose``), and hands the
browser nine signed URLs under fresh random cell ids; the answer (the target cells' ids) is sealed
into the challenge. The task says nothing else: no alt text, no sizes, no order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from haechi.challenges.audio import offer_alternatives
from haechi.challenges.base import JSON, ChallengeContext, CheckResult
from haechi.challenges.grid import categories, items
from haechi.challenges.pool import ChallengePools, GeneratedItem, LoadedPool, PoolItem
from haechi.core.errors import Unavailable

NAME = "grid"


class ImageGrid:
    """A 3x3 select task over tiles of everyday objects, served from a pre-built pool."""

    name = NAME
    test_only = False
    uses_pool = True
    default_pool_size = 2000

    def __init__(self, pools: ChallengePools) -> None:
        self.pools = pools
        pools.track(self.name)
        self._grouped: tuple[str, dict[str, Sequence[PoolItem]]] | None = None

    def available(self) -> bool:
        return self.pools.ready(self.name)

    def make_item(self, rng: random.Random) -> GeneratedItem:
        # Imported here: only pool builds render tiles and run the classifier.
        from haechi.challenges.grid import label, render

        tile = items.make_tile(rng, label.shared())
        return GeneratedItem(tile.data, render.CONTENT_TYPE, tile.category, tile.meta())

    def _by_category(self, pool: LoadedPool) -> dict[str, Sequence[PoolItem]]:
        """The loaded generation's items grouped by category, once per generation."""
        cached = self._grouped
        if cached is not None and cached[0] == pool.generation:
            return cached[1]
        grouped: dict[str, list[PoolItem]] = {}
        for item in pool.items:
            if isinstance(item.label, str) and item.label in categories.BY_NAME:
                grouped.setdefault(item.label, []).append(item)
        frozen: dict[str, Sequence[PoolItem]] = {k: tuple(v) for k, v in grouped.items()}
        self._grouped = (pool.generation, frozen)
        return frozen

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        pool = self.pools.get(self.name)
        by_category = self._by_category(pool) if pool is not None else {}
        total = sum(len(v) for v in by_category.values())
        targets = sorted(
            c
            for c, tiles in by_category.items()
            if len(tiles) >= items.TARGETS[1] and total - len(tiles) >= items.CELLS
        )
        if not targets:
            raise Unavailable("no image challenges are available; try again")
        target = rng.choice(targets)
        cells, answer = items.compose(rng, by_category, target, min(1.0, max(0.0, difficulty)))
        task: dict[str, JSON] = {
            "type": self.name,
            "kind": "select",
            "locale": locale,
            "prompt": categories.prompt(target, locale),
            "grid": {"rows": 3, "cols": 3},
            "cells": [
                {"id": cell.id, "image": await self.pools.url(cell.item)}  # type: ignore[arg-type]
                for cell in cells
            ],
            "select": {"min": 1, "max": items.CELLS},
        }
        return offer_alternatives(task, ctx), answer

    def check(self, answer: JSON, submission: JSON) -> CheckResult:
        if not isinstance(submission, dict):
            return CheckResult(False, "malformed")
        chosen = submission.get("cells")
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return CheckResult(False, "malformed")
        if not 1 <= len(chosen) <= items.CELLS or len(set(chosen)) != len(chosen):
            return CheckResult(False, "malformed")
        if not isinstance(answer, list) or sorted(chosen) != answer:
            return CheckResult(False, "wrong")
        return CheckResult(True)
