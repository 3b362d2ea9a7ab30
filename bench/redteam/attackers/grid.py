"""Red-team attackers for the image-grid challenge ("Select every square with a bicycle").

Each reads the prompt with the open-source prompt table (``categories.category_of_prompt``),
labels the nine cell images, and selects the cells it labels with the target category (the
single likeliest cell when it labels none):

- ``grid/own-model``: Haechi's shipped tile classifier (``grid-tiles-v1.onnx``). The pool keeps
  only tiles this model labels correctly, so it is the upper bound: it should pass everything.
- ``grid/trained-cnn``: its own CNN, the same small architecture, trained on tiles drawn by the
  open-source renderer under another seed (777) and not filtered by Haechi's model.
- ``grid/color-stats``: a logistic regression on colour histograms, trained on generated tiles
  (seed 778): what colour alone is worth.

Standalone (no server; a local pool under a server seed, challenges composed as the type does)::

    python -m bench.redteam.attackers.grid --pool 800 -n 300 [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench.redteam.attackers.base import Attacker, Challenge
from PIL import Image

from haechi.challenges.grid import categories, label

_SIZE = 64  # the input size both trained attackers use (the classifier's)


def _images(ch: Challenge) -> tuple[list[str], np.ndarray]:
    ids, tiles = [], []
    for cell in ch.task["cells"]:
        with Image.open(io.BytesIO(ch.fetch(cell["image"]))) as img:
            tiles.append(img.convert("RGB"))
        ids.append(cell["id"])
    return ids, label.resize(tiles, _SIZE)


def _select(ids: list[str], probs: np.ndarray, target: int) -> dict[str, Any]:
    chosen = [i for i, p in zip(ids, probs, strict=True) if int(p.argmax()) == target]
    if not chosen:
        chosen = [ids[int(probs[:, target].argmax())]]
    return {"cells": chosen}


def _target(ch: Challenge) -> int | None:
    name = categories.category_of_prompt(str(ch.task.get("prompt", "")))
    return None if name is None else categories.NAMES.index(name)


class _Labelling(Attacker):
    types = ("grid",)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def solve(self, ch: Challenge) -> dict[str, Any]:
        ids, batch = _images(ch)
        target = _target(ch)
        if target is None:  # a prompt this bot cannot read: pick one cell
            return {"cells": [ids[0]]}
        return _select(ids, self.predict(batch), target)


class OwnModel(_Labelling):
    name = "grid/own-model"
    family = "own-model"
    budget = "none: Haechi's shipped grid-tiles-v1.onnx, 0.5 ms a tile"

    def prepare(self, workdir: Path, quick: bool) -> None:
        self.model = label.TileClassifier()
        if self.model.spec.input_size != _SIZE:
            raise RuntimeError("the shipped classifier's input size changed")

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict_arrays(batch)


class TrainedCNN(_Labelling):
    name = "grid/trained-cnn"
    family = "trained"
    budget = "4,000 generated tiles (250 per category, seed 777), 10 epochs, ~2.5 CPU-min"
    per_class, epochs, seed = 250, 10, 777

    def prepare(self, workdir: Path, quick: bool) -> None:
        import torch

        from haechi.ml import train_grid

        torch.set_num_threads(1)
        per_class, epochs = (12, 1) if quick else (self.per_class, self.epochs)
        cache = workdir / f"grid-trained-cnn-{per_class}-{epochs}-{self.seed}.pt"
        n = len(categories.NAMES)
        if cache.exists():
            saved = torch.load(cache, weights_only=False)
            self.spec, state = saved["spec"], saved["state"]
            self.cnn = train_grid.TileCNN(n)
            self.cnn.load_state_dict(state)
            self.cnn.eval()
            return
        x, y, _ = train_grid.dataset(
            "train", per_class, seed=self.seed, size=_SIZE, workers=1 if quick else 2
        )
        self.spec = train_grid.spec_for(x, _SIZE)
        xt = torch.from_numpy(label.normalise(x, self.spec))
        self.cnn = train_grid.train_cnn(
            xt, y, n_classes=n, epochs=epochs, seed=self.seed, log=False
        )
        workdir.mkdir(parents=True, exist_ok=True)
        torch.save({"spec": self.spec, "state": self.cnn.state_dict()}, cache)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(label.normalise(batch, self.spec))
            probs: np.ndarray = torch.softmax(self.cnn(x), 1).numpy()
        return probs


class ColorStats(_Labelling):
    name = "grid/color-stats"
    family = "trained"
    budget = (
        "4,000 generated tiles (200+50 per category, seed 778), colour regression, ~1.5 CPU-min"
    )
    per_class, seed = 200, 778

    def prepare(self, workdir: Path, quick: bool) -> None:
        import torch

        from haechi.ml import grid_metrics, train_grid

        torch.set_num_threads(1)
        per_class = 10 if quick else self.per_class
        x, y, _ = train_grid.dataset("train", per_class, seed=self.seed, size=_SIZE, workers=1)
        xv, yv, _ = train_grid.dataset(
            "validation", max(5, per_class // 4), seed=self.seed, size=_SIZE, workers=1
        )
        self.model = grid_metrics.fit_colour(
            x, y, xv, yv, n_classes=len(categories.NAMES), seed=self.seed
        )

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict(batch)


ATTACKERS: list[type[Attacker]] = [OwnModel, TrainedCNN, ColorStats]


# --- standalone measurement ---------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


async def local_challenges(
    pool_size: int, n: int, difficulty: float, workdir: Path, seed: int = 4242
) -> list[tuple[Challenge, list[str]]]:
    """``n`` challenges from a local pool built under the server seed, with their answers."""
    from haechi.challenges import ChallengeContext
    from haechi.challenges.grid import ImageGrid
    from haechi.challenges.pool import ChallengePools
    from haechi.core.blobs import BlobUrlSigner, FsBlobStore
    from haechi.core.crypto import Keyring, b64d, new_key
    from haechi.core.settings import PoolSettings

    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    store = FsBlobStore(workdir / "blobs", BlobUrlSigner(keyring))
    pools = ChallengePools(store, PoolSettings(min_items=1), url_ttl_seconds=3600)
    kind = ImageGrid(pools)
    await pools.refresh("grid")
    pool = pools.get("grid")
    if pool is None or len(pool.items) != pool_size:
        await pools.build(kind, pool_size, rng=random.Random(seed), concurrency=2)
    blobs = {i.key: (await store.get(i.key)).data for i in pools.get("grid").items}  # type: ignore[union-attr]

    def fetch(url: str) -> bytes:
        return blobs[url.split("?")[0].split("/v1/blob/", 1)[1]]

    rng = random.Random(seed + 1)
    out = []
    for k in range(n):
        ctx = ChallengeContext("hk_x", "shop.example.com", {"pools": pools})
        task, answer = await kind.generate(ctx, rng, difficulty, "en" if k % 2 else "ko")
        out.append((Challenge("grid", task, fetch), answer))
    return out


def _cpu_seconds() -> float:
    """CPU time of this process and its finished workers (tile drawing runs in workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redteam.attackers.grid")
    parser.add_argument("--pool", type=int, default=800)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="grid-redteam-"))
    for attacker_type in ATTACKERS:
        attacker = attacker_type()
        started, wall = _cpu_seconds(), time.perf_counter()
        attacker.prepare(workdir, args.quick)
        prep, prep_wall = _cpu_seconds() - started, time.perf_counter() - wall
        for difficulty in (0.0, 0.222, 1.0):
            challenges = asyncio.run(local_challenges(args.pool, args.n, difficulty, workdir))
            passed = 0
            solve_started = time.perf_counter()
            for ch, answer in challenges:
                chosen = attacker.solve(ch).get("cells", [])
                passed += sorted(chosen) == answer
            per = (time.perf_counter() - solve_started) / len(challenges)
            lo, hi = wilson(passed, len(challenges))
            print(
                f"{attacker.name:18s} d={difficulty:.3f} {passed:4d}/{len(challenges)} "
                f"= {passed / len(challenges):.3f} [{lo:.3f}, {hi:.3f}] "
                f"prepare {prep:.0f} CPU-s ({prep_wall:.0f} s wall), {per * 1000:.0f} ms/solve",
                flush=True,
            )


if __name__ == "__main__":
    main()
