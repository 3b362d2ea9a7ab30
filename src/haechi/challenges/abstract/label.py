"""Serving the emotion CNN that labels abstract images (numpy, onnxruntime and Pillow only).

The model is trained by ``python -m haechi.ml.train_abstract`` and shipped as
``models/abstract-emotion-v1.onnx`` with a JSON sidecar naming its labels, input size and
normalisation. It is the *labeller*: the pool keeps an image only when the CNN agrees with the
emotion the generator intended, and is confident (see ``items.make_items``). The session is
created once, lazily, under a lock, so importing this module costs nothing and concurrent first
calls load it once.
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
from PIL import Image

MODEL_NAME: Final = "abstract-emotion-v1"
MODELS_DIR: Final = Path(__file__).resolve().parents[2] / "models"
_BATCH: Final = 64

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the sidecar says about the model's input and output."""

    labels: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_name: str = "image"
    output_name: str = "probs"

    @classmethod
    def read(cls, path: Path) -> ModelSpec:
        meta = json.loads(path.read_text())
        norm = meta["normalisation"]
        return cls(
            labels=tuple(meta["labels"]),
            input_size=int(meta["input"]["size"]),
            mean=(float(norm["mean"][0]), float(norm["mean"][1]), float(norm["mean"][2])),
            std=(float(norm["std"][0]), float(norm["std"][1]), float(norm["std"][2])),
            input_name=str(meta["input"]["name"]),
            output_name=str(meta["output"]["name"]),
        )


def resize(images: Sequence[Image.Image], size: int) -> U8:
    """Images as uint8 [N, size, size, 3]; training uses the same function, so inputs match."""
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        rgb = img.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BOX)
        out[i] = np.asarray(rgb, np.uint8)
    return out


def normalise(batch: U8, spec: ModelSpec) -> F32:
    """uint8 NHWC -> float32 NCHW, standardised per channel as in training."""
    mean = np.asarray(spec.mean, np.float32) * np.float32(255.0)
    scale = np.float32(1.0) / (np.asarray(spec.std, np.float32) * np.float32(255.0))
    x: F32 = (batch.astype(np.float32) - mean) * scale
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class OnnxImageClassifier:
    """``predict(images) -> probabilities`` [N, len(labels)] from a shipped image CNN and its
    JSON sidecar (``ModelSpec``); the grid's tile classifier is one too."""

    default_model: str = MODEL_NAME

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path or MODELS_DIR / f"{self.default_model}.onnx"
        self._lock = threading.Lock()
        self._session: Any = None
        self._spec: ModelSpec | None = None

    def _load(self) -> tuple[Any, ModelSpec]:
        with self._lock:
            if self._session is None or self._spec is None:
                import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

                spec = ModelSpec.read(self.model_path.with_suffix(".json"))
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
                self._spec = spec
            return self._session, self._spec

    @property
    def spec(self) -> ModelSpec:
        return self._load()[1]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def predict_arrays(self, batch: U8) -> F32:
        """Probabilities for images already resized to the input size (uint8 NHWC)."""
        session, spec = self._load()
        out = np.empty((batch.shape[0], len(spec.labels)), np.float32)
        for i in range(0, batch.shape[0], _BATCH):
            x = normalise(batch[i : i + _BATCH], spec)
            out[i : i + x.shape[0]] = session.run([spec.output_name], {spec.input_name: x})[0]
        return out

    def predict(self, images: Sequence[Image.Image]) -> F32:
        if not images:
            return np.empty((0, len(self.labels)), np.float32)
        return self.predict_arrays(resize(images, self.spec.input_size))


class EmotionLabeller(OnnxImageClassifier):
    """The abstract type's labeller: probabilities per emotion, rows summing to 1."""

    default_model = MODEL_NAME
