"""Risk scoring: the interface every scorer implements, the serving scorer and a rule-based one.

``risk`` is 0-100, 0 = surely human, 100 = surely bot; policy maps it to friction (the seed
bands: <=10 pass, 11-25 grid, 26-40 abstract, 41-90 handwriting, >=91 block).

``CombinedScorer`` is what serving uses: the behaviour model's judgement of the pointer movement
plus the request signals of ``haechi.risk.signals`` (anomalies, impossible timings, no approach,
too few events, automation hints, IP rate). Its rules, and how the model's failure turns into
more friction rather than less, are in ``docs/risk-model.md`` (Serving).

``HeuristicScorer`` is the provisional rule set that came before the model. It is kept as the
evaluation baseline, and its two script-shape rules (``script_shape``) stand in for the model
when the model cannot answer. It is deterministic and cheap (pure Python over at most 2,000
events: about 170 µs for 500 on the development machine). Its rules; risk starts from a base:

- no telemetry, or telemetry with no events and no keys: ``missing_telemetry_risk`` (default
  30), reason ``no-telemetry``. Never a block on its own: the value must stay <= 90.
- keys or scroll/focus but no pointer event (keyboard-only): the same value, ``no-pointer``.
- pointer events, all of them touch: half that value, ``touch-only`` (a tap carries little).
- otherwise 5.

Then points are added for what a real browser and a person rarely produce:

- ``anomalies``: entries the parser dropped or flagged (see ``docs/telemetry.md``):
  +10 for 1-2, +25 for 3-9, +45 for 10 or more. A conforming recorder sends none.
- ``teleport``: a mouse or pen button goes down with no earlier pointer position, or more
  than 24 px from the last one: +30.
- ``few-moves``: fewer than 3 mouse/pen moves before the first mouse/pen down; or, over a
  pointer span of at least 1 s, fewer than 20 moves at under 2 moves a second: +20.
- ``regular-timing``: at least 20 moves whose intervals have a standard deviation under
  0.3 ms (a browser's frame clock gives 16/17 ms steps, about 0.47 ms; scripts give one
  fixed step): +20. Kept moderate: a 100 Hz display moving without a pause looks the same.
- ``linear-path``: half or more of the movement (by length, over runs of >= 10 moves and
  >= 50 px between pauses of 100 ms or a button change) lies on runs that are straight
  (chord / length >= 0.99) at constant speed (speed CV <= 0.1): +35.
- ``no-languages``: the ``languages`` hint is 0: +15.
- ``ip-rate``: ``ip_rate`` >= 10 requests/s: +15; >= 50: +30.

And two hints set a floor of 95 (a block): ``webdriver`` and ``headless``.
The stage (challenge or solve) is not used by the heuristic; it is there for the model.
The result is clamped to 0-100.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

# The heuristic's approach and sparseness rules share their thresholds with the request signals.
from haechi.risk.signals import (
    HINT_FLOOR,
    MIN_APPROACH_MOVES,
    POINTS,
    SPARSE_MOVES,
    SPARSE_RATE,
    SPARSE_SPAN_MS,
    IpRateRule,
    PointerFacts,
    pointer_facts,
    request_signals,
    task_signals,
)
from haechi.risk.telemetry import Event, Telemetry

log = logging.getLogger("haechi.risk")

# Reasons that say only "too little to judge": a result with no other reason must not block
# (see ``rests_on_missing``), so touch and keyboard-only visitors get friction, not a dead end.
# A behaviour model that could not answer is "too little to judge" as well: its failure raises
# friction for everyone but never blocks anyone by itself.
MODEL_FAILURE_REASONS: Final = frozenset({"model-unavailable", "model-error", "model-timeout"})
# A recorder's telemetry with nothing in it yet at /v1/challenge (a widget that started with the
# page): the plan is only the proof-of-work and the challenge says ``await_input``; the visit is
# judged at /v1/solve, where empty telemetry again is ``no-telemetry`` and a step-up to a task.
AWAITING_INPUT: Final = "awaiting-input"
MISSING_REASONS: Final = frozenset(
    {
        "no-telemetry",
        "no-pointer",
        "touch-only",
        "little-movement",
        AWAITING_INPUT,
        *MODEL_FAILURE_REASONS,
    }
)

HUMAN_BASE: Final = 5
MAX_MISSING_RISK: Final = 90  # the seed bands block from 91

TELEPORT_PX: Final = 24.0
REGULAR_MIN_MOVES: Final = 20
REGULAR_DT_STD_MS: Final = 0.3
PAUSE_MS: Final = 100
RUN_MIN_MOVES: Final = 10
RUN_MIN_PX: Final = 50.0
STRAIGHT: Final = 0.99
CONSTANT_SPEED_CV: Final = 0.1


@dataclass(frozen=True, slots=True)
class RiskInput:
    telemetry: Telemetry
    ip_rate: float | None = None  # requests/s from this IP, when known
    stage: Literal["challenge", "solve"] = "challenge"
    # How the visitor answered a visual task, at /v1/solve (``CheckResult.signals``).
    task_signals: dict[str, float] | None = None
    # Rules the edge found in the request itself (``signals.header_mismatch``), by name.
    request_rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskResult:
    risk: int  # 0-100, 0 = surely human
    reasons: tuple[str, ...]
    model: str

    def __post_init__(self) -> None:
        if type(self.risk) is not int or not 0 <= self.risk <= 100:
            raise ValueError(f"risk must be an int in 0..100, got {self.risk!r}")


def rests_on_missing(result: RiskResult) -> bool:
    """True when the risk comes from missing or thin telemetry alone: never block on it."""
    reasons = result.reasons
    return bool(reasons) and MISSING_REASONS.issuperset(reasons)


class RiskScorer(Protocol):
    def score(self, inp: RiskInput) -> RiskResult: ...


class AsyncRiskScorer(Protocol):
    """What the protocol scores with: ``haechi.risk.engine.RiskEngine``, or a test's double."""

    async def score(self, inp: RiskInput) -> RiskResult: ...


class HeuristicScorer:
    """The provisional rule-based scorer; see the module docstring for its rules."""

    model = "heuristic-v1"

    def __init__(self, *, missing_telemetry_risk: int = 30) -> None:
        if not 0 <= missing_telemetry_risk <= MAX_MISSING_RISK:
            raise ValueError("missing_telemetry_risk must be in 0..90: missing is never a block")
        self.missing_telemetry_risk = missing_telemetry_risk

    def score(self, inp: RiskInput) -> RiskResult:
        tele = inp.telemetry
        reasons: list[str] = []
        if not tele.present or tele.empty:
            risk = self.missing_telemetry_risk
            reasons.append("no-telemetry")
        else:
            risk = _behaviour(tele.events, self.missing_telemetry_risk, reasons)

        if tele.anomalies:
            a = tele.anomalies
            risk += 45 if a >= 10 else 25 if a >= 3 else 10
            reasons.append("anomalies")
        hints = tele.hints
        if hints.get("languages") == 0:
            risk += 15
            reasons.append("no-languages")
        rate = inp.ip_rate
        if rate is not None and rate >= 10:  # NaN compares False: ignored
            risk += 30 if rate >= 50 else 15
            reasons.append("ip-rate")
        for hint in ("webdriver", "headless"):
            if hints.get(hint) is True:
                risk = max(risk, HINT_FLOOR)
                reasons.append(hint)
        return RiskResult(risk=min(100, max(0, risk)), reasons=tuple(reasons), model=self.model)


def _behaviour(events: Sequence[Event], missing_risk: int, reasons: list[str]) -> int:
    """Base risk plus points from the pointer events; appends its reasons."""
    hypot = math.hypot
    # Moves as parallel lists, cut into runs (start indices) at pauses and button changes.
    mt: list[int] = []
    mx: list[float] = []
    my: list[float] = []
    starts: list[int] = []
    run_ptype = ""
    last_move_t = -PAUSE_MS - 1
    touch_moves = moves_mp = buttons = touch_buttons = 0
    approach = -1  # mouse/pen moves before the first mouse/pen down
    teleport = False
    first_t = last_t = -1
    has_pos = False
    px = py = 0.0  # last mouse/pen position
    for t, kind, x, y, _button, ptype in events:
        if kind == "m":
            if ptype != run_ptype or t - last_move_t > PAUSE_MS:
                starts.append(len(mt))
                run_ptype = ptype
            mt.append(t)
            mx.append(x)
            my.append(y)
            last_move_t = t
            if ptype == "t":
                touch_moves += 1
            else:
                moves_mp += 1
                has_pos, px, py = True, x, y
        elif kind == "d" or kind == "u":
            buttons += 1
            run_ptype = ""  # the next move starts a new run
            if ptype == "t":
                touch_buttons += 1
            else:
                if kind == "d":
                    if approach < 0:
                        approach = moves_mp
                    if not has_pos or hypot(x - px, y - py) > TELEPORT_PX:
                        teleport = True
                has_pos, px, py = True, x, y
        else:
            continue
        if first_t < 0:
            first_t = t
        last_t = t

    pointer_events = len(mt) + buttons
    if not pointer_events:
        reasons.append("no-pointer")
        return missing_risk
    if touch_moves + touch_buttons == pointer_events:
        risk = missing_risk // 2
        reasons.append("touch-only")
    else:
        risk = HUMAN_BASE
        if teleport:
            risk += 30
            reasons.append("teleport")
        span = last_t - first_t
        sparse = (
            span >= SPARSE_SPAN_MS
            and moves_mp < SPARSE_MOVES
            and moves_mp * 1000 < (SPARSE_RATE * span)
        )
        if 0 <= approach < MIN_APPROACH_MOVES or sparse:
            risk += 20
            reasons.append("few-moves")
    if len(mt) >= REGULAR_MIN_MOVES and _dt_std(mt) < REGULAR_DT_STD_MS:
        risk += 20
        reasons.append("regular-timing")
    if _linear_share(mt, mx, my, starts) >= 0.5:
        risk += 35
        reasons.append("linear-path")
    return risk


def _dt_std(times: list[int]) -> float:
    """Standard deviation of the intervals between consecutive times."""
    dts = [b - a for a, b in itertools.pairwise(times)]
    mean = sum(dts) / len(dts)
    return math.sqrt(max(0.0, sum(d * d for d in dts) / len(dts) - mean * mean))


def _linear_share(mt: list[int], mx: list[float], my: list[float], starts: list[int]) -> float:
    """The share of movement (by length) on straight, constant-speed runs; 0 when none."""
    if not starts:
        return 0.0
    hypot = math.hypot
    total = linear = 0.0
    ends = [*starts[1:], len(mt)]
    for start, end in zip(starts, ends, strict=True):
        if end - start < RUN_MIN_MOVES:
            continue
        length = sp_sum = sp_sq = 0.0
        sp_n = 0
        lt, lx, ly = mt[start], mx[start], my[start]
        for t, x, y in zip(
            mt[start + 1 : end], mx[start + 1 : end], my[start + 1 : end], strict=True
        ):
            step = hypot(x - lx, y - ly)
            length += step
            if t > lt:
                speed = step / (t - lt)
                sp_n += 1
                sp_sum += speed
                sp_sq += speed * speed
            lt, lx, ly = t, x, y
        if length < RUN_MIN_PX or sp_n < 2:
            continue
        total += length
        mean = sp_sum / sp_n
        std = math.sqrt(max(0.0, sp_sq / sp_n - mean * mean))
        if hypot(lx - mx[start], ly - my[start]) >= STRAIGHT * length and std <= (
            CONSTANT_SPEED_CV * mean
        ):
            linear += length
    return linear / total if total else 0.0


# ---------------------------------------------------------------------------- serving scorer


def script_shape(events: Sequence[Event]) -> list[tuple[str, int]]:
    """The heuristic's two script-shape rules over mouse/pen moves, as (reason, points):
    ``regular-timing`` (+20) and ``linear-path`` (+35). The model's stand-in when it fails."""
    mt: list[int] = []
    mx: list[float] = []
    my: list[float] = []
    starts: list[int] = []
    last_t = -PAUSE_MS - 1
    after_button = True
    for t, kind, x, y, _button, ptype in events:
        if ptype == "t":
            continue
        if kind == "m":
            if after_button or t - last_t > PAUSE_MS:
                starts.append(len(mt))
                after_button = False
            mt.append(t)
            mx.append(x)
            my.append(y)
            last_t = t
        elif kind == "d" or kind == "u":
            after_button = True
    fired: list[tuple[str, int]] = []
    if len(mt) >= REGULAR_MIN_MOVES and _dt_std(mt) < REGULAR_DT_STD_MS:
        fired.append(("regular-timing", 20))
    if _linear_share(mt, mx, my, starts) >= 0.5:
        fired.append(("linear-path", 35))
    return fired


class Assessment(Protocol):
    """What the behaviour model says about one telemetry object (``haechi.risk.model``)."""

    @property
    def risk(self) -> int | None: ...  # None: too little pointer movement to judge

    @property
    def reasons(self) -> tuple[str, ...]: ...


class Behaviour(Protocol):
    def assess(self, telemetry: Telemetry) -> Assessment: ...


class ModelUnavailable(Exception):
    """The behaviour model could not be loaded (a missing or corrupt file)."""


@dataclass(frozen=True, slots=True)
class ModelFailure:
    """The model gave no answer; ``reason`` is one of ``MODEL_FAILURE_REASONS``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Deferred:
    """The model is asked later in the visit (at /v1/solve): no behaviour points yet."""


DEFERRED: Final = Deferred()
ModelOutcome = Assessment | ModelFailure | Deferred | None  # None: the model was not asked
SIGNALS_VERSION: Final = "signals-v1"


class CombinedScorer:
    """The behaviour model plus the request signals; the scorer serving uses.

    The base is the model's risk for mouse or pen movement (missing, keyboard-only, touch-only
    and too-little-movement telemetry get ``missing_telemetry_risk`` or half of it, as in the
    heuristic); request signals add points; ``webdriver``/``headless`` set a floor of 95.
    When the model fails, the base is ``model_failure_risk`` plus the script-shape rules: more
    friction for everyone, never a pass, and never a block on the failure alone.

    ``score`` runs everything in the calling thread (CLI, evaluation); ``RiskEngine`` runs the
    model on a worker thread through ``facts``, ``assess`` and ``combine``.
    """

    def __init__(
        self,
        behaviour: Behaviour | None,
        *,
        missing_telemetry_risk: int = 30,
        model_failure_risk: int = 45,
        ip_rate_rule: IpRateRule | None = None,
        model_name: str | None = None,
    ) -> None:
        for name, value in (
            ("missing_telemetry_risk", missing_telemetry_risk),
            ("model_failure_risk", model_failure_risk),
        ):
            if not 0 <= value <= MAX_MISSING_RISK:
                raise ValueError(f"{name} must be in 0..90: it is never a block on its own")
        self.behaviour = behaviour
        self.missing_telemetry_risk = missing_telemetry_risk
        self.model_failure_risk = model_failure_risk
        self.ip_rate_rule = ip_rate_rule or IpRateRule()
        self._model_name = model_name

    @property
    def model(self) -> str:
        """The behaviour model's name (known once it has loaded) and the signals' version."""
        name = self._model_name or getattr(self.behaviour, "name", None) or "behaviour"
        return f"{name}+{SIGNALS_VERSION}"

    def facts(self, telemetry: Telemetry) -> PointerFacts:
        return pointer_facts(telemetry)

    def assess(self, telemetry: Telemetry) -> Assessment | ModelFailure:
        """The model's answer, or why there is none; never raises."""
        if self.behaviour is None:
            return ModelFailure("model-unavailable")
        try:
            assessment = self.behaviour.assess(telemetry)
            risk = assessment.risk
            if risk is not None and (type(risk) is not int or not 0 <= risk <= 100):
                raise ValueError(f"the model answered risk {risk!r}")
        except ModelUnavailable:
            return ModelFailure("model-unavailable")
        except Exception:
            log.exception("the behaviour model failed; scoring with more friction")
            return ModelFailure("model-error")
        return assessment

    def score(self, inp: RiskInput) -> RiskResult:
        facts = self.facts(inp.telemetry)
        outcome = self.assess(inp.telemetry) if facts.mouse_or_pen else None
        return self.combine(inp, facts, outcome)

    def combine(self, inp: RiskInput, facts: PointerFacts, outcome: ModelOutcome) -> RiskResult:
        tele = inp.telemetry
        missing = self.missing_telemetry_risk
        model = self.model
        extra: list[tuple[str, int]] = []
        base_reasons: tuple[str, ...]
        judged = False
        if tele.present and tele.empty and inp.stage == "challenge":
            base, base_reasons = 0, (AWAITING_INPUT,)
        elif not tele.present or tele.empty:
            base, base_reasons = missing, ("no-telemetry",)
        elif not facts.pointer_events:
            base, base_reasons = missing, ("no-pointer",)
        elif not facts.mouse_or_pen:
            base, base_reasons = missing // 2, ("touch-only",)
        elif isinstance(outcome, Deferred):
            base, base_reasons = 0, ("behaviour-at-solve",)
        elif outcome is None or isinstance(outcome, ModelFailure):
            reason = outcome.reason if outcome is not None else "model-unavailable"
            base, base_reasons = self.model_failure_risk, (reason,)
            extra = script_shape(tele.events)
            model = f"fallback+{SIGNALS_VERSION}"
        elif outcome.risk is None:
            base, base_reasons = missing, ("little-movement",)
        else:
            base, base_reasons = outcome.risk, tuple(outcome.reasons)
            judged = True
        fired, floor, automation = request_signals(
            tele, facts, inp.ip_rate, self.ip_rate_rule, judged=judged
        )
        fired += extra
        fired += task_signals(inp.task_signals)
        for rule in inp.request_rules:
            fired.append((rule, POINTS[rule]))
        total = base + sum(points for _, points in fired)
        # Main contributors first: the base (the model's reasons) and each rule by its weight.
        parts = [(base, base_reasons), *((points, (reason,)) for reason, points in fired)]
        parts.sort(key=lambda part: -part[0])
        reasons = [reason for _, group in parts for reason in group]
        if floor > total:
            reasons = [*automation, *reasons]
        else:
            reasons += automation
        risk = min(100, max(0, total, floor))
        return RiskResult(risk=risk, reasons=tuple(reasons), model=model)
