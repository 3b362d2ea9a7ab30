"""Attackers on the handwriting type (a picture; write its Korean name on a canvas).

A bot has to do two things: name the picture, and *produce* handwriting of that name.

``handwriting/own-model``: names the picture by nearest neighbour over colour features of
pictures it generated itself with the open-source prompt generator and lexicon (its own seed),
then writes the word the way the recogniser's training data is made: the skeleton of the word
rendered in a handwriting font (Nanum Pen, shipped in Debian), traced into strokes with
plausible timing. It is what anyone with the source can build in minutes.

``handwriting/random-word``: a random lexicon word, written the same way — the floor of what a
bot that cannot read the picture gets.

No off-the-shelf attacker: an ImageNet classifier would have to be mapped onto the lexicon by
hand, and the own-model picture matcher already names the pictures.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
from bench.redteam.attackers.base import Attacker, Challenge
from PIL import Image

from haechi.challenges.handwriting import prompt, skeleton
from haechi.challenges.handwriting.lexicon import LEXICON

FONT = "NanumPen.ttf"
_SEED = 777


def features(img: Image.Image) -> np.ndarray:
    """A hue x saturation x value histogram of the picture's pixels (the pastel background is
    mostly left out by its low saturation), plus a coarse histogram of the dark pixels."""
    hsv = np.asarray(img.convert("RGB").convert("HSV"), np.float64) / 255.0
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    fg = (s > 0.4) | (v < 0.35)
    hist, _ = np.histogramdd(
        np.stack([h[fg], s[fg], v[fg]], axis=1),
        bins=(18, 3, 4),
        range=((0, 1), (0.0, 1.0), (0, 1)),
    )
    flat = hist.ravel()
    return flat / max(flat.sum(), 1.0)


def write(word: str, task: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    canvas = task.get("canvas") or {"width": 400, "height": 160}
    strokes = skeleton.word_strokes(word, FONT)
    return skeleton.as_submission(
        strokes, (int(canvas["width"]), int(canvas["height"])), rng, fill=rng.uniform(0.55, 0.8)
    )


class OwnModel(Attacker):
    name = "handwriting/own-model"
    family = "own-model"
    types = ("handwriting",)
    budget = "16 generated prompts per word (seed 777), nearest neighbour; Nanum Pen skeletons"

    def prepare(self, workdir: Path, quick: bool) -> None:
        per_word = 3 if quick else 16
        rng = random.Random(_SEED)
        feats, labels = [], []
        for word in LEXICON:
            for _ in range(per_word):
                feats.append(features(prompt.render(word, rng)))
                labels.append(word.ko)
        self.feats = np.stack(feats)
        self.labels = labels
        self.rng = random.Random(_SEED + 1)

    def name_picture(self, data: bytes) -> str:
        with Image.open(io.BytesIO(data)) as img:
            f = features(img)
        # Chi-squared distance between histograms.
        d = ((self.feats - f) ** 2 / (self.feats + f + 1e-9)).sum(1)
        return self.labels[int(d.argmin())]

    def solve(self, ch: Challenge) -> dict[str, Any]:
        word = self.name_picture(ch.fetch(ch.task["image"]))
        return write(word, ch.task, self.rng)


class RandomWord(Attacker):
    name = "handwriting/random-word"
    family = "random"
    types = ("handwriting",)
    budget = "none (a random lexicon word in Nanum Pen)"

    def prepare(self, workdir: Path, quick: bool) -> None:
        self.rng = random.Random(_SEED + 2)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        return write(self.rng.choice(LEXICON).ko, ch.task, self.rng)


ATTACKERS: list[type[Attacker]] = [OwnModel, RandomWord]
