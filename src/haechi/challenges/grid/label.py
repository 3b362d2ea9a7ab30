"""Serving the tile classifier (numpy, onnxruntime and Pillow only).

Trained by ``python -m haechi.ml.train_grid`` and shipped as ``models/grid-tiles-v1.onnx`` with a
JSON sidecar (class names, input size, normalisation, metrics). The pool builder runs it on every
tile it makes and keeps a tile only when the classifier names the tile's own category with
confidence; its confidence and runner-up class go into the pool's private metadata, where the
difficulty knob reads them. The session is created once, lazily, under a lock.
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

MODEL_NAME: Final = "grid-tiles-v1"
MODELS_DIR: Final = Path(__file__).resolve().parents[2] / "models"
_BATCH: Final = 64

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    labels: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_name: str = "image"
    output_name: str = "probs"

    @classmethod
    def read(cls, path: Path) -> ModelSpec:
        meta = json.loads(path.read_text())
        m, s = meta["normalisation"]["mean"], meta["normalisation"]["std"]
        return cls(
            labels=tuple(meta["labels"]),
            input_size=int(meta["input"]["size"]),
            mean=(float(m[0]), float(m[1]), float(m[2])),
            std=(float(s[0]), float(s[1]), float(s[2])),
            input_name=str(meta["input"]["name"]),
            output_name=str(meta["output"]["name"]),
        )


def resize(images: Sequence[Image.Image], size: int) -> U8:
    """uint8 [N, size, size, 3] with Pillow's BOX filter; training uses the same function."""
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        rgb = img.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BOX)
        out[i] = np.asarray(rgb, np.uint8)
    return out


def normalise(batch: U8, spec: ModelSpec) -> F32:
    mean = np.asarray(spec.mean, np.float32) * np.float32(255.0)
    scale = np.float32(1.0) / (np.asarray(spec.std, np.float32) * np.float32(255.0))
    x: F32 = (batch.astype(np.float32) - mean) * scale
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class TileClassifier:
    """``predict(images) -> probabilities`` [N, len(labels)]."""

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path or MODELS_DIR / f"{MODEL_NAME}.onnx"
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


_shared: TileClassifier | None = None
_shared_lock = threading.Lock()


def shared() -> TileClassifier:
    """One classifier per process (pool builds call it from several threads)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TileClassifier()
        return _shared
