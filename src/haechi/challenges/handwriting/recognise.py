"""Serving the handwriting CRNN and scoring lexicon words against it (numpy, onnxruntime, Pillow).

The model (``python -m haechi.ml.train_handwriting``) reads one rendered drawing
(``ink.render``) and gives per-column log-probabilities over blank + syllables. Decoding is
constrained to the lexicon: every accepted form of every word is scored by its CTC
log-likelihood (the forward algorithm, all forms at once), and a drawing passes for a word when
that word's best form scores highest, clears an absolute floor, and out-scores the reading
"nothing written" (every column blank) by a margin, so a scribble that happens to lean towards
the answer still fails. Floor and margin are calibrated in training and read from the sidecar.
The session is created once, lazily, under a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from haechi.challenges.handwriting.lexicon import LEXICON

MODEL_NAME: Final = "handwriting-crnn-v1"
MODELS_DIR: Final = Path(__file__).resolve().parents[2] / "models"
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
_NEG: Final = -1e30


@dataclass(frozen=True, slots=True)
class ModelSpec:
    charset: tuple[str, ...]  # index 0 is the CTC blank, then one syllable per index
    height: int
    width: int
    pen: float
    floor: float  # the absolute log-likelihood floor a passing word must clear
    blank_margin: float  # how far a passing word must out-score "nothing written"

    @classmethod
    def read(cls, path: Path) -> ModelSpec:
        meta = json.loads(path.read_text())
        return cls(
            charset=tuple(meta["charset"]),
            height=int(meta["input"]["height"]),
            width=int(meta["input"]["width"]),
            pen=float(meta["input"]["pen"]),
            floor=float(meta["decoding"]["floor"]),
            blank_margin=float(meta["decoding"]["blank_margin"]),
        )


def encode(word: str, charset: Sequence[str]) -> list[int] | None:
    index = {c: i for i, c in enumerate(charset)}
    out = [index.get(c) for c in word]
    return None if any(i is None for i in out) or not out else [i for i in out if i is not None]


def ctc_scores(log_probs: F32, targets: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
    """log P(target | drawing) for each target, by the CTC forward algorithm with blank 0.

    ``log_probs`` is [T, C] (log-softmax over classes per column). All targets run at once,
    padded to the longest; a target longer than the columns allow scores ``-inf``.
    """
    lp = log_probs.astype(np.float64)
    t_len = lp.shape[0]
    n = len(targets)
    s_max = 2 * max(len(t) for t in targets) + 1
    ext = np.zeros((n, s_max), np.int64)  # blank-interleaved labels
    valid = np.zeros((n, s_max), bool)
    skip = np.zeros((n, s_max), bool)  # may jump from s-2 (a label differing from s-2's)
    ends = np.zeros(n, np.int64)
    for k, target in enumerate(targets):
        s_len = 2 * len(target) + 1
        ext[k, 1:s_len:2] = target
        valid[k, :s_len] = True
        for s in range(3, s_len, 2):
            skip[k, s] = target[(s - 1) // 2] != target[(s - 3) // 2]
        ends[k] = s_len - 1
    alpha = np.full((n, s_max), _NEG)
    alpha[:, 0] = lp[0, 0]
    alpha[:, 1] = np.where(valid[:, 1], lp[0, ext[:, 1]], _NEG)
    for t in range(1, t_len):
        prev1 = np.concatenate([np.full((n, 1), _NEG), alpha[:, :-1]], axis=1)
        prev2 = np.concatenate([np.full((n, 2), _NEG), alpha[:, :-2]], axis=1)
        prev2 = np.where(skip, prev2, _NEG)
        stacked = np.stack([alpha, prev1, prev2])
        top = stacked.max(0)
        summed = top + np.log(np.exp(stacked - top).sum(0))
        alpha = np.where(valid, summed + lp[t, ext], _NEG)
    rows = np.arange(n)
    last = alpha[rows, ends]
    before = np.where(ends > 0, alpha[rows, np.maximum(ends - 1, 0)], _NEG)
    top = np.maximum(last, before)
    total = top + np.log(np.exp(last - top) + np.exp(before - top))
    total[total < -1e29] = -np.inf
    scores: npt.NDArray[np.float64] = total
    return scores


def greedy(log_probs: F32, charset: Sequence[str]) -> str:
    """Best path decoding: what the model reads with no lexicon (for metrics and the red team)."""
    best = log_probs.argmax(-1)
    out, prev = [], 0
    for k in best.tolist():
        if k != prev and k != 0:
            out.append(charset[k])
        prev = k
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Reading:
    """The lexicon scores of one drawing: the best word and every word's best form score."""

    best: str
    scores: dict[str, float]
    blank: float  # log P(nothing written)
    floor: float
    blank_margin: float

    def legible(self, word: str) -> bool:
        """``word`` clears the floor and out-scores a blank reading by the margin."""
        score = self.scores[word]
        return score >= self.floor and score - self.blank >= self.blank_margin

    def passes(self, answer: str) -> bool:
        return self.best == answer and self.legible(answer)


class Recogniser:
    """``read(image) -> Reading`` for images from ``ink.render``."""

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path or MODELS_DIR / f"{MODEL_NAME}.onnx"
        self._lock = threading.Lock()
        self._session: Any = None
        self._spec: ModelSpec | None = None
        self._targets: list[list[int]] = []
        self._owners: list[str] = []

    def _load(self) -> tuple[Any, ModelSpec]:
        with self._lock:
            if self._session is None or self._spec is None:
                import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

                spec = ModelSpec.read(self.model_path.with_suffix(".json"))
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
                for word in LEXICON:
                    for form in word.forms:
                        code = encode(form, spec.charset)
                        if code is None:
                            raise ValueError(f"the model cannot write {form!r}")
                        self._targets.append(code)
                        self._owners.append(word.ko)
                self._session, self._spec = session, spec
            return self._session, self._spec

    @property
    def spec(self) -> ModelSpec:
        return self._load()[1]

    def log_probs(self, images: U8) -> F32:
        """[N, T, C] log-probabilities for uint8 images [N, H, W] (ink 255 on 0)."""
        session, _ = self._load()
        x = (images.astype(np.float32) / np.float32(255.0))[:, None]
        out: F32 = session.run(["log_probs"], {"image": x})[0]
        return out

    def score(self, log_probs: F32) -> Reading:
        _, spec = self._load()
        raw = ctc_scores(log_probs, self._targets)
        scores: dict[str, float] = {}
        for owner, value in zip(self._owners, raw.tolist(), strict=True):
            scores[owner] = max(scores.get(owner, -np.inf), float(value))
        best = max(scores, key=lambda w: scores[w])
        blank = float(log_probs[:, 0].sum())
        return Reading(best, scores, blank, spec.floor, spec.blank_margin)

    def read(self, image: U8) -> Reading:
        return self.score(self.log_probs(image[None])[0])
