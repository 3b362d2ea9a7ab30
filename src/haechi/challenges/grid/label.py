"""Serving the tile classifier (numpy, onnxruntime and Pillow only).

Trained by ``python -m haechi.ml.train_grid`` and shipped as ``models/grid-tiles-v1.onnx`` with a
JSON sidecar (class names, input size, normalisation, metrics). The pool builder runs it on every
tile it makes and keeps a tile only when the classifier names the tile's own category with
confidence; its confidence and runner-up class go into the pool's private metadata, where the
difficulty knob reads them. The session is created once, lazily, under a lock.
"""

from __future__ import annotations

import threading
from typing import Final

from haechi.challenges.abstract.label import (
    F32,
    MODELS_DIR,
    U8,
    ModelSpec,
    OnnxImageClassifier,
    normalise,
    resize,
)

__all__ = [
    "F32",
    "MODELS_DIR",
    "MODEL_NAME",
    "U8",
    "ModelSpec",
    "TileClassifier",
    "normalise",
    "resize",
    "shared",
]

MODEL_NAME: Final = "grid-tiles-v1"


class TileClassifier(OnnxImageClassifier):
    """``predict(images) -> probabilities`` [N, 16 categories]: the abstract labeller's serving
    code (one lazy session under a lock, batches of 64) over the grid's model."""

    default_model = MODEL_NAME


_shared: TileClassifier | None = None
_shared_lock = threading.Lock()


def shared() -> TileClassifier:
    """One classifier per process (pool builds call it from several threads)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TileClassifier()
        return _shared
