"""The serving scorer: the model's base plus each request signal, and failure as friction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from haechi.risk.scoring import (
    MISSING_REASONS,
    CombinedScorer,
    ModelUnavailable,
    RiskInput,
    RiskResult,
    rests_on_missing,
)
from haechi.risk.signals import IpRateRule
from haechi.risk.telemetry import Telemetry, parse_telemetry

BLOCK = 91


@dataclass(frozen=True, slots=True)
class FakeAssessment:
    risk: int | None
    reasons: tuple[str, ...] = ()
    segments: int = 0


class FixedModel:
    """A behaviour model that answers one risk and remembers what it was asked."""

    name = "fake-v1"

    def __init__(self, risk: int | None, reasons: tuple[str, ...] = ()) -> None:
        self.risk = risk
        self.reasons = reasons
        self.asked = 0

    def assess(self, telemetry: Telemetry) -> FakeAssessment:
        self.asked += 1
        return FakeAssessment(self.risk, self.reasons, 3)


class BrokenModel:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def assess(self, telemetry: Telemetry) -> FakeAssessment:
        raise self.error


def telemetry(events: list[Any], /, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": events, **extra}


def approach(
    t0: int = 100, n: int = 40, x0: float = 100.0, y0: float = 100.0, dwell: int = 90
) -> list[list[Any]]:
    """A human-ish approach at 60 Hz (16/17 ms): curved, slow-fast-slow, then a click held
    ``dwell`` ms."""
    x1, y1 = x0 + 360.0, y0 + 160.0
    cx, cy = x0 + 60.0, y0 + 200.0  # off the chord: a curved path
    events: list[list[Any]] = []
    t = t0
    for i in range(n):
        s = i / (n - 1)
        s = s * s * s * (10 - 15 * s + 6 * s * s)  # minimum jerk
        x = (1 - s) ** 2 * x0 + 2 * (1 - s) * s * cx + s * s * x1
        y = (1 - s) ** 2 * y0 + 2 * (1 - s) * s * cy + s * s * y1
        events.append([t, "m", round(x, 1), round(y, 1), -1])
        t += 16 if i % 3 else 17
    events += [[t, "d", x1, y1, 0], [t + dwell, "u", x1, y1, 0]]
    return events


def score(obj: object, model: Any = None, *, ip_rate: float | None = None, **kw: Any) -> RiskResult:
    scorer = CombinedScorer(FixedModel(5) if model is None else model, **kw)
    return scorer.score(RiskInput(telemetry=parse_telemetry(obj), ip_rate=ip_rate))


# ---------------------------------------------------------------------------- base


def test_a_clean_human_gets_the_models_risk_and_nothing_else() -> None:
    result = score(telemetry(approach()), FixedModel(7, ("model:typical",)))
    assert (result.risk, result.model) == (7, "fake-v1+signals-v1")
    assert result.reasons == ("model:typical",)


def test_the_models_risk_and_reasons_are_the_base() -> None:
    result = score(telemetry(approach()), FixedModel(80, ("model:path-shape", "model:timing")))
    assert result.risk == 80
    assert result.reasons == ("model:path-shape", "model:timing")
    assert not rests_on_missing(result)


@pytest.mark.parametrize(
    ("obj", "reason", "risk"),
    [
        (None, "no-telemetry", 30),
        (telemetry([], keys=[[10, "d", 0], [95, "u", 0]]), "no-pointer", 30),
        (telemetry([[10, "s", 0, 400, -1]]), "no-pointer", 30),
        (
            telemetry([[900, "d", 200, 300, 0], [990, "u", 200, 300, 0]], pointer="touch"),
            "touch-only",
            15,
        ),
    ],
)
def test_missing_keyboard_and_touch_are_friction_without_asking_the_model(
    obj: object, reason: str, risk: int
) -> None:
    model = FixedModel(99)
    result = score(obj, model)
    assert (result.risk, result.reasons) == (risk, (reason,))
    assert rests_on_missing(result)
    assert model.asked == 0


def test_too_little_movement_to_judge_is_missing_not_a_pass() -> None:
    result = score(telemetry(approach(n=6)), FixedModel(None))
    assert (result.risk, result.reasons) == (30, ("little-movement",))
    assert rests_on_missing(result)


def test_missing_risk_follows_the_setting_and_stays_below_a_block() -> None:
    assert score(None, missing_telemetry_risk=12).risk == 12
    with pytest.raises(ValueError, match="never a block"):
        CombinedScorer(None, missing_telemetry_risk=91)
    with pytest.raises(ValueError, match="never a block"):
        CombinedScorer(None, model_failure_risk=95)


# ---------------------------------------------------------------------------- model failure


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (BrokenModel(RuntimeError("onnxruntime exploded")), "model-error"),
        (BrokenModel(ModelUnavailable("no file")), "model-unavailable"),
        (FixedModel(250), "model-error"),  # an answer outside 0..100 is a failure
        (None, "model-unavailable"),
    ],
)
def test_a_failing_model_raises_friction_but_never_blocks_alone(model: Any, reason: str) -> None:
    scorer = CombinedScorer(model, model_failure_risk=45)
    human = scorer.score(RiskInput(telemetry=parse_telemetry(telemetry(approach()))))
    ok = CombinedScorer(FixedModel(5)).score(
        RiskInput(telemetry=parse_telemetry(telemetry(approach())))
    )
    assert human.risk == 45 > ok.risk
    assert human.reasons == (reason,)
    assert human.model == "fallback+signals-v1"
    assert reason in MISSING_REASONS and rests_on_missing(human)


def test_without_the_model_the_script_shape_rules_still_catch_a_plain_script() -> None:
    line = [[i * 10, "m", 100 + i * 12.0, 200 + i * 5.0, -1] for i in range(50)]
    line += [[500, "d", 688.0, 445.0, 0], [590, "u", 688.0, 445.0, 0]]
    result = score(telemetry(line), BrokenModel(RuntimeError("down")))
    assert "linear-path" in result.reasons and "regular-timing" in result.reasons
    assert result.risk >= 45 + 35 + 20 - 1
    assert not rests_on_missing(result)  # real evidence: it may block


# ---------------------------------------------------------------------------- request signals


def test_parser_anomalies_add_points_by_count() -> None:
    events = approach()
    clean = score(telemetry(events)).risk
    assert score(telemetry([*events, "junk"])).risk == clean + 10
    assert score(telemetry([*events, *(["junk"] * 4)])).risk == clean + 25
    many = score(telemetry([*events, *(["junk"] * 12)]))
    assert many.risk == clean + 45 and many.reasons[0] == "anomalies"


def test_moves_closer_than_the_recorders_8_ms_are_impossible() -> None:
    burst = [[200 + i * 3, "m", 100.0 + i * 5, 100.0 + i, -1] for i in range(30)]
    result = score(telemetry([*burst, [300, "d", 245.0, 129.0, 0], [380, "u", 245.0, 129.0, 0]]))
    assert "impossible-timing" in result.reasons
    assert result.risk == 5 + 30


def test_a_flushed_pending_move_before_a_click_is_allowed() -> None:
    events = approach()
    down = events[-2]
    # The recorder writes its pending move right before a down, sooner than 8 ms.
    events.insert(-2, [down[0] - 3, "m", down[2], down[3], -1])
    assert "impossible-timing" not in score(telemetry(events)).reasons


def test_clicks_without_dwell_are_impossible() -> None:
    def clicks(dwell: int) -> list[list[Any]]:
        return [
            *approach(100, dwell=dwell),
            *approach(2000, x0=600, dwell=dwell),
            *approach(4000, x0=200, y0=400, dwell=dwell),
        ]

    assert "impossible-timing" in score(telemetry(clicks(0))).reasons
    assert "impossible-timing" not in score(telemetry(clicks(70))).reasons


def test_keys_without_dwell_are_impossible_even_without_a_pointer() -> None:
    keys = [[100 * i, k, i] for i in range(4) for k in ("d", "u")]
    result = score(telemetry([], keys=keys))
    assert "impossible-timing" in result.reasons
    assert result.risk == 30 + 30
    assert not rests_on_missing(result)
    human_keys = [[100 * i + d, k, i] for i in range(4) for k, d in (("d", 0), ("u", 85))]
    assert score(telemetry([], keys=human_keys)).reasons == ("no-pointer",)


def test_a_click_with_no_approach_adds_points_unless_the_recording_was_capped() -> None:
    jump = [[800, "m", 400.0, 300.0, -1], [900, "d", 400.0, 300.0, 0], [980, "u", 400.0, 300.0, 0]]
    result = score(telemetry(jump), FixedModel(None))
    assert result.reasons == ("little-movement", "no-approach")
    assert result.risk == 30 + 20
    assert not rests_on_missing(result)
    capped = score(telemetry(jump, dropped=1500), FixedModel(None))
    assert capped.reasons == ("little-movement",)


def test_a_judged_window_that_starts_at_a_clicks_last_correction_is_not_held_against_it() -> None:
    # A click after one or two moves and then real movement: people's windows cut at a
    # movement onset look like this; the model judges the movement. A down with no move at all
    # before it is never a person's, judged or not.
    def first_click(moves: int) -> list[list[Any]]:
        lead = [[100 + 16 * i, "m", 400.0 + i, 300.0, -1] for i in range(moves)]
        click = [[200, "d", 402.0, 300.0, 0], [290, "u", 402.0, 300.0, 0]]
        return [*lead, *click, *approach(600)]

    for moves in (1, 2):
        assert "no-approach" not in score(telemetry(first_click(moves))).reasons
        assert "no-approach" in score(telemetry(first_click(moves)), FixedModel(None)).reasons
    assert "no-approach" not in score(telemetry(first_click(3)), FixedModel(None)).reasons
    result = score(telemetry(first_click(0)))
    assert (result.risk, result.reasons) == (5 + 20, ("no-approach",))


def test_few_moves_spread_over_a_long_time_add_points() -> None:
    sparse = [[i * 700, "m", 100.0 + 30 * i, 200.0, -1] for i in range(12)]
    result = score(telemetry(sparse), FixedModel(None))
    assert "few-events" in result.reasons
    assert result.risk == 30 + 15


def test_no_languages_hint_adds_points() -> None:
    result = score(telemetry(approach(), hints={"languages": 0}))
    assert (result.risk, result.reasons) == (5 + 15, ("no-languages",))
    assert score(telemetry(approach(), hints={"languages": 3})).reasons == ()


@pytest.mark.parametrize("hint", ["webdriver", "headless"])
def test_automation_hints_set_a_blocking_floor(hint: str) -> None:
    result = score(telemetry(approach(), hints={hint: True}))
    assert result.risk >= BLOCK and result.reasons[0] == hint
    assert not rests_on_missing(result)
    # Even with nothing else to go on.
    assert score(telemetry([], hints={hint: True})).risk >= BLOCK
    assert score(telemetry(approach(), hints={hint: False})).risk == 5


@pytest.mark.parametrize(
    ("rate", "points"),
    [(None, 0), (float("nan"), 0), (1.0, 0), (5.0, 0), (15.0, 15), (25.0, 30), (400.0, 30)],
)
def test_ip_rate_ramps_between_low_and_high(rate: float | None, points: int) -> None:
    result = score(telemetry(approach()), ip_rate=rate)
    assert result.risk == 5 + points
    assert ("ip-rate" in result.reasons) == bool(points)


def test_ip_rate_rule_is_validated_and_configurable() -> None:
    with pytest.raises(ValueError):
        IpRateRule(low=10, high=5)
    rule = IpRateRule(low=1.0, high=2.0, points=10)
    assert (rule(1.0), rule(1.5), rule(3.0)) == (0, 5, 10)
    result = score(telemetry(approach()), ip_rate=3.0, ip_rate_rule=rule)
    assert result.risk == 15


def test_ip_rate_and_missing_telemetry_can_add_up_but_stay_below_a_block() -> None:
    result = score(None, ip_rate=1000.0)
    assert result.risk == 30 + 30 < BLOCK
    assert not rests_on_missing(result)  # a flood is evidence, not just "too little to judge"


def test_reasons_list_the_main_contributors_first() -> None:
    events = [*approach(), *(["junk"] * 12)]
    result = score(
        telemetry(events, hints={"languages": 0}), FixedModel(20, ("model:timing",)), ip_rate=15
    )
    assert result.reasons == ("anomalies", "model:timing", "no-languages", "ip-rate")
    assert result.risk == 20 + 45 + 15 + 15


def test_risk_is_clamped_to_100() -> None:
    result = score(telemetry([*approach(), *(["junk"] * 20)]), FixedModel(90), ip_rate=99)
    assert result.risk == 100


def test_task_signals_flag_a_drawing_no_hand_makes() -> None:
    from haechi.risk.signals import task_signals

    person = {"draw_duration_ms": 2400.0, "draw_mean_speed": 0.6, "draw_strokes": 4.0}
    assert task_signals(person) == []
    assert task_signals(None) == [] and task_signals({}) == []
    assert task_signals({**person, "draw_duration_ms": 120.0}) == [("impossible-drawing", 30)]
    assert task_signals({**person, "draw_mean_speed": 9.0}) == [("impossible-drawing", 30)]
