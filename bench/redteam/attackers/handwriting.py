"""Attackers on the handwriting type (a picture; write its Korean name on a canvas).

A bot has to do two things: name the picture, and *produce* handwriting of that name.

``handwriting/own-model``: names the picture by nearest neighbour over colour features of
pictures it generated itself with the open-source prompt generator and lexicon (its own seed),
then writes the word the way the recogniser's training data is made: the skeleton of the word
rendered in a handwriting font (Nanum Pen, shipped in Debian), traced into strokes with
plausible timing. It is what anyone with the source can build in minutes.

``handwriting/random-word``: a random lexicon word, written the same way — the floor of what a
bot that cannot read the picture gets.

``handwriting/ocr-ddddocr``, ``ocr-rapidocr``, ``ocr-tesseract``: off-the-shelf OCR on the
picture (ddddocr and rapidocr-onnxruntime wheels; Debian's tesseract with Korean data); a
lexicon word the OCR reads (Korean form or English name) is written, else a random lexicon
word. An engine that is not installed is skipped. No ImageNet attacker: a classifier would have
to be mapped onto the lexicon by hand, and the own-model picture matcher already names them.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
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


# ------------------------------------------------------------------ off-the-shelf OCR


def lexicon_match(text: str) -> str | None:
    """The lexicon word the OCR text is or contains (Korean forms, or the English name), if any;
    the longest match wins."""
    flat = "".join(text.split()).lower()
    hits = [(len(form), word.ko) for word in LEXICON for form in word.forms if form in flat]
    hits += [(len(word.en), word.ko) for word in LEXICON if word.en.lower() in flat]
    return max(hits)[1] if hits else None


def _png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        img.convert("RGB").save(out, "PNG")
        return out.getvalue()


class _OCR(Attacker):
    """Reads the picture with an OCR engine; writes the lexicon word it finds, else a random
    one. The pictures carry no text, so this measures whether anything readable leaks."""

    family = "off-the-shelf"
    types = ("handwriting",)
    offset = 10

    def prepare(self, workdir: Path, quick: bool) -> None:
        self.rng = random.Random(_SEED + self.offset)
        self.read_hits = 0

    def read(self, png: bytes) -> str:
        raise NotImplementedError

    def solve(self, ch: Challenge) -> dict[str, Any]:
        word = lexicon_match(self.read(_png(ch.fetch(ch.task["image"]))))
        if word is not None:
            self.read_hits += 1
        else:
            word = self.rng.choice(LEXICON).ko
        return write(word, ch.task, self.rng)


class OcrDdddocr(_OCR):
    name = "handwriting/ocr-ddddocr"
    budget = "none (ddddocr wheel's captcha OCR model)"
    offset = 11

    def prepare(self, workdir: Path, quick: bool) -> None:
        import ddddocr

        super().prepare(workdir, quick)
        self.engine = ddddocr.DdddOcr(show_ad=False)

    def read(self, png: bytes) -> str:
        return str(self.engine.classification(png))


class OcrRapid(_OCR):
    name = "handwriting/ocr-rapidocr"
    budget = "none (rapidocr-onnxruntime wheel's PP-OCR detection + recognition models)"
    offset = 12

    def prepare(self, workdir: Path, quick: bool) -> None:
        from rapidocr_onnxruntime import RapidOCR

        super().prepare(workdir, quick)
        self.engine = RapidOCR()

    def read(self, png: bytes) -> str:
        result, _ = self.engine(png)
        return " ".join(str(line[1]) for line in result or [])


class OcrTesseract(_OCR):
    name = "handwriting/ocr-tesseract"
    budget = "none (Debian tesseract-ocr 5, kor+eng traineddata)"
    offset = 13

    def prepare(self, workdir: Path, quick: bool) -> None:
        binary = shutil.which("tesseract")
        if binary is None:
            raise ImportError("tesseract is not installed (apt-get install tesseract-ocr-kor)")
        langs = subprocess.run(  # noqa: S603
            [binary, "--list-langs"], capture_output=True, text=True, check=False
        ).stdout.split()
        if "kor" not in langs:
            raise ImportError("tesseract has no Korean data (apt-get install tesseract-ocr-kor)")
        super().prepare(workdir, quick)
        self.binary = binary

    def read(self, png: bytes) -> str:
        done = subprocess.run(  # noqa: S603
            [self.binary, "stdin", "stdout", "-l", "kor+eng", "--psm", "11"],
            input=png,
            capture_output=True,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
            timeout=30,
        )
        return done.stdout.decode("utf-8", "replace")


ATTACKERS: list[type[Attacker]] = [OwnModel, RandomWord, OcrDdddocr, OcrRapid, OcrTesseract]
