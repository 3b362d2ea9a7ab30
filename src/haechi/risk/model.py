"""The behaviour model at serving time: the shipped ONNX graph, its calibration and its reasons.

Serving imports numpy and onnxruntime only (never torch or ``haechi.ml``). The model file is
loaded once, lazily, under a lock, on one intra-op and one inter-op thread (the process serves
many requests at once; one small graph gains nothing from more). ``assess`` turns a parsed
telemetry object into ``Assessment(risk, reasons, segments)``:

- features (``haechi.risk.features``) of the last 10 s of the payload (``WINDOW_MS``, at most
  ``WINDOW_EVENTS`` events): the usable segments' vectors and the window's;
- one ONNX run (``haechi.ml.net.BehaviourNet``): two heads' logits, for the window as sent and
  with each group of inputs blanked to the human median (the occlusion rows);
- the larger head logit on the common scale (0 = people's median, 1 = their 99.9th percentile
  for the behaviour head and their 99th for the structure head, on held-out subjects) is
  mapped to ``risk`` 0-100 by monotone anchors fitted on held-out people, one set per
  calibration group (``calibration_group``: the judged window's length, 3/6/10 s, and whether
  it holds a click), each placing the edge of the no-task band at the group's worst context;
- reasons: above ``REASON_MIN_RISK``, the groups whose blanking lowers the score most (at most
  three, e.g. ``model:path-shape``, ``model:timing``, ``model:clicks``).

``risk`` is None when there is no mouse/pen movement to judge (keyboard-only, touch-only, a
single tap): the caller decides what missing movement costs. ``assess`` never raises for parsed
telemetry: input the feature code cannot read scores ``BAD_INPUT_RISK``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from haechi.risk.features import (
    AXIS_UNKNOWN,
    FEATURE_NAMES,
    WINDOW_NAMES,
    SegmentFeatures,
    extract,
)
from haechi.risk.telemetry import Telemetry

MODELS: Final = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL: Final = MODELS / "risk-behaviour-v6.onnx"
PIXEL_STEPS: Final = "model:pixel-steps"  # the input group a pen is not judged on
BAD_INPUT_RISK: Final = 80  # what input the feature code cannot read scores
# The model was trained and calibrated on windows of 3-10 s, so it judges the last 10 s of a
# payload (at most 1,500 events: 10 s at 144 Hz and the clicks). That also bounds its cost: a
# payload at the 2,000-event cap is half a minute of movement at 60 Hz.
WINDOW_MS: Final = 10_000.0
WINDOW_EVENTS: Final = 1_500
REASON_MIN_RISK: Final = 11  # reasons are given above the band that 90% of people fall in
MAX_REASONS: Final = 3
REASON_SHARE: Final = 0.25  # a reason's effect is at least this share of the largest one's
# Flags of input no conforming recorder sends (see haechi.risk.features / trajectory.clean).
BAD_FLAGS: Final = frozenset({"malformed", "non-finite", "absurd-values", "error"})
F64 = npt.NDArray[np.float64]
# Calibration groups (since v5): the judged window's length and whether it holds a click. People
# spread differently in each (a 3-s window says less than a 10-s one; a window without a click
# has no click timing), so each group has its own anchors, fitted on its worst context.
GROUP_NAMES: Final = tuple(
    f"{length}-{clicks}" for length in ("3", "6", "10") for clicks in ("clicks", "none")
)
SHORT_MS: Final = 4_500.0  # judged windows shorter than this calibrate as 3 s
LONG_MS: Final = 8_000.0  # and at least this long as 10 s


def calibration_group(features: SegmentFeatures) -> str:
    """The calibration group of a window's features (``GROUP_NAMES``)."""
    span = features.span_ms
    length = "3" if span < SHORT_MS else ("6" if span < LONG_MS else "10")
    return f"{length}-{'clicks' if features.clicks else 'none'}"


@dataclass(frozen=True, slots=True)
class Assessment:
    risk: int | None  # 0-100; None = not enough pointer movement to judge
    reasons: tuple[str, ...]
    segments: int  # usable segments the judgement rests on


@dataclass(frozen=True, slots=True)
class Scores:
    """The model's raw view of one window, for evaluation and explanations."""

    combined: float  # on the common scale; ``risk`` is this through the anchors
    autoencoder: float  # the window's mean log reconstruction error
    heads: tuple[float, ...]  # each head's logit


@dataclass(frozen=True, slots=True)
class _Loaded:
    session: Any
    outputs: list[str]
    mask: npt.NDArray[np.float32]
    # The same rows with the pixel-step features blanked throughout: for a pen (see assess).
    pen_mask: npt.NDArray[np.float32]
    norm: F64  # (heads, 2): people's median and the head's quantile (0 and 1 on the scale)
    scale: F64  # (heads,): 1 / (quantile - median), so a call multiplies instead of divides
    xp: F64
    fp: F64
    by_group: dict[str, tuple[F64, F64]]  # per calibration group: (xp, fp)
    ae_xp: F64
    ae_fp: F64
    groups: tuple[str, ...]
    name: str
    # The model's window features as columns of ``WINDOW_NAMES`` (an older model reads fewer).
    window_cols: npt.NDArray[np.intp]
    # Since v6: a window whose pixel steps are not counts (``features.pixels_unknown``) has them
    # blanked to the people's median, as a pen's are, instead of reading ``AXIS_UNKNOWN``.
    blank_unknown_pixels: bool
    axis_col: int  # where ``axis_steps`` is in the window vector as extracted


class BehaviourModel:
    """The shipped behaviour model (or the one at ``path``), loaded on first use."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or DEFAULT_MODEL
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    @property
    def name(self) -> str:
        return self._loaded.name if self._loaded is not None else self.path.stem

    def get(self) -> BehaviourModel:
        """Load now (the risk engine warms the model up before the first visitor)."""
        self._load()
        return self

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = _read(self.path)
            return self._loaded

    def assess(self, telemetry: Telemetry) -> Assessment:
        """Risk 0-100 (None: nothing to judge), up to three reasons, and the segment count."""
        model = self._load()
        try:
            features = extract(telemetry, last_ms=WINDOW_MS, max_events=WINDOW_EVENTS)
            if features.flags & BAD_FLAGS:
                return Assessment(BAD_INPUT_RISK, ("model:bad-input",), len(features.matrix))
            if features.empty:
                return Assessment(None, (_nothing_to_judge(features),), 0)
            # Pixel steps describe a mouse's counts; a pen (absolute positions, a digitiser's
            # own sampling) was never measured (SapiMouse is mice only), so it is not judged
            # on them: they read as the people's median.
            rows = _run(model, features, pen=_blank_pixels(model, features, telemetry))
            scores = _combined(rows, model)
            xp, fp = model.by_group.get(calibration_group(features), (model.xp, model.fp))
            risk = float(np.interp(scores[0], xp, fp))
            if not np.isfinite(risk):
                return Assessment(BAD_INPUT_RISK, ("model:bad-input",), len(features.matrix))
            risk_int = round(risk)
            reasons = _reasons(scores, model.groups) if risk_int >= REASON_MIN_RISK else ()
            return Assessment(risk_int, reasons, int(features.matrix.shape[0]))
        except Exception:  # a safety net: a failure raises friction, it never lets a bot pass
            return Assessment(BAD_INPUT_RISK, ("model:error",), 0)

    def scores(self, telemetry: Telemetry) -> Scores | None:
        """The raw scores of a window with usable movement (None without)."""
        model = self._load()
        features = extract(telemetry, last_ms=WINDOW_MS, max_events=WINDOW_EVENTS)
        if features.empty or features.flags & BAD_FLAGS:
            return None
        rows = _run(model, features, occlusion=False, pen=_blank_pixels(model, features, telemetry))
        return Scores(
            combined=float(_combined(rows, model)[0]),
            autoencoder=float(rows[1][0]),
            heads=tuple(float(v) for v in rows[0][0]),
        )

    def autoencoder_risk(self, score: float) -> int:
        """The AutoEncoder's own calibration: its window score as risk 0-100."""
        model = self._load()
        return round(float(np.interp(score, model.ae_xp, model.ae_fp)))


def _read(path: Path) -> _Loaded:
    import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

    meta = json.loads(path.with_suffix(".json").read_text())
    window = [str(n) for n in meta["window_features"]]
    if list(meta["features"]) != list(FEATURE_NAMES) or not set(window) <= set(WINDOW_NAMES):
        raise ValueError(f"{path}: trained on other features than haechi.risk.features")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    groups = tuple(str(g) for g in meta["groups"])
    g = len(groups)
    anchors = np.asarray(meta["anchors"], np.float64)
    norm = np.asarray(meta["head_norm"], np.float64)
    ae_anchors = np.asarray(meta["ae_anchors"], np.float64)
    mask = np.concatenate([np.zeros((1, g)), np.eye(g)]).astype(np.float32)
    by_group = {
        str(g): (np.asarray(a, np.float64)[:, 0], np.asarray(a, np.float64)[:, 1])
        for g, a in meta.get("anchors_by_group", {}).items()
    }
    pen_mask = mask.copy()
    if PIXEL_STEPS in groups:
        pen_mask[:, groups.index(PIXEL_STEPS)] = 1.0
    return _Loaded(
        session=session,
        outputs=["logits", "ae"],
        mask=mask,
        pen_mask=pen_mask,
        norm=norm,
        scale=1.0 / (norm[:, 1] - norm[:, 0]),
        xp=anchors[:, 0],
        fp=anchors[:, 1],
        by_group=by_group,
        ae_xp=ae_anchors[:, 0],
        ae_fp=ae_anchors[:, 1],
        groups=groups,
        name=str(meta["model"]),
        window_cols=np.asarray([WINDOW_NAMES.index(n) for n in window], np.intp),
        blank_unknown_pixels=meta.get("pixels_unknown") == "median",
        axis_col=WINDOW_NAMES.index("axis_steps"),
    )


def _blank_pixels(model: _Loaded, features: SegmentFeatures, telemetry: Telemetry) -> bool:
    """Whether the pixel-step inputs are blanked to the people's median: always for a pen,
    and (models since v6) for a window whose pixels are not a mouse's counts."""
    if telemetry.pointer == "pen":
        return True
    return model.blank_unknown_pixels and bool(features.window[model.axis_col] == AXIS_UNKNOWN)


def _run(
    model: _Loaded, features: SegmentFeatures, *, occlusion: bool = True, pen: bool = False
) -> list[Any]:
    mask = model.pen_mask if pen else model.mask
    feeds = {
        "segments": features.matrix,
        "window": features.window[model.window_cols].reshape(1, -1),
        "mask": mask if occlusion else mask[:1],
    }
    out: list[Any] = model.session.run(model.outputs, feeds)
    return out


def _combined(rows: list[Any], model: _Loaded) -> F64:
    """Per row: the larger head logit on the common scale."""
    lg = np.asarray(rows[0], np.float64)
    out: F64 = ((lg - model.norm[:, 0]) * model.scale).max(axis=1)
    return out


def _reasons(scores: F64, groups: tuple[str, ...]) -> tuple[str, ...]:
    """The groups whose blanking lowers the score most (at most MAX_REASONS)."""
    effect = scores[0] - scores[1:]
    order = np.argsort(-effect, kind="stable")
    top = float(effect[order[0]])
    if not top > 0:
        return ("model:behaviour",)
    return tuple(
        groups[i] for i in order[:MAX_REASONS] if effect[i] > 0 and effect[i] >= REASON_SHARE * top
    )


def _nothing_to_judge(features: SegmentFeatures) -> str:
    if "touch-only" in features.flags:
        return "model:touch-only"
    if "no-pointer" in features.flags:
        return "model:no-pointer"
    return "model:too-little-movement"
