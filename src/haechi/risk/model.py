"""The behaviour model at serving time: the shipped ONNX AutoEncoder and its calibration.

Serving imports numpy and onnxruntime only (never torch or ``haechi.ml``). The model file is
loaded once, lazily, under a lock; ``assess`` turns a parsed telemetry object into a risk 0-100
from the per-segment reconstruction error (``haechi.risk.features`` segments), aggregated per
window and mapped through the monotone anchors fitted on held-out humans. It never raises for
parsed telemetry: input it cannot judge gives ``risk=None`` (too little movement) and input the
feature code rejects scores as suspicious.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from haechi.risk.features import FEATURE_NAMES, extract
from haechi.risk.telemetry import Telemetry

MODELS: Final = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL: Final = MODELS / "risk-ae-v1.onnx"
SUSPICIOUS: Final = 80  # what input the feature code cannot read scores


@dataclass(frozen=True, slots=True)
class Assessment:
    risk: int | None  # 0-100; None = not enough pointer movement to judge
    reasons: tuple[str, ...]
    segments: int


class BehaviourModel:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_MODEL
        self._lock = threading.Lock()
        self._session: Any = None
        self._xp: np.ndarray[Any, Any] | None = None
        self._fp: np.ndarray[Any, Any] | None = None
        self.name = self.path.stem

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]

                meta = json.loads(self.path.with_suffix(".json").read_text())
                if list(meta["features"]) != list(FEATURE_NAMES):
                    raise ValueError(f"{self.path}: trained on other features")
                anchors = np.asarray(meta["anchors"], np.float64)
                self._xp, self._fp = anchors[:, 0], anchors[:, 1]
                self.name = str(meta["model"])
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = 1
                opts.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(self.path), opts, providers=["CPUExecutionProvider"]
                )
            return self._session

    def get(self) -> BehaviourModel:
        """Load now (the risk engine warms the model up before the first visitor)."""
        self._load()
        return self

    def assess(self, telemetry: Telemetry) -> Assessment:
        session = self._load()
        features = extract(telemetry)  # never raises; unreadable input has no segments
        if features.empty:
            return Assessment(None, (), 0)
        matrix = np.ascontiguousarray(features.matrix, dtype=np.float32)
        errors = np.asarray(session.run(["error"], {"features": matrix})[0], np.float64)
        score = float(np.mean(np.log(errors + 1e-6)))
        if not np.isfinite(score):
            return Assessment(SUSPICIOUS, ("model:unreadable",), int(matrix.shape[0]))
        assert self._xp is not None and self._fp is not None
        risk = round(float(np.interp(score, self._xp, self._fp)))
        reasons = ("model:behaviour",) if risk > 25 else ()
        return Assessment(risk, reasons, int(matrix.shape[0]))
