"""Answers computed once: a request without telemetry (its risk depends on its rate alone), and
the plan of a band without visual types."""

from __future__ import annotations

from typing import Final, Literal

from haechi.challenges import default_registry
from haechi.core.settings import PlanBand, PolicySettings
from haechi.risk.engine import RiskEngine
from haechi.risk.policy import Policy
from haechi.risk.scoring import CombinedScorer, RiskInput
from haechi.risk.telemetry import MISSING, parse_telemetry

STAGES: Final[tuple[Literal["challenge", "solve"], ...]] = ("challenge", "solve")


async def test_no_telemetry_is_scored_once_per_rate_points() -> None:
    scorer = CombinedScorer(None)
    engine = RiskEngine(scorer, offload=False)
    for rate in (None, 0.0, 4.0, 6.0, 15.0, 25.0, 90.0, float("nan")):
        for stage in STAGES:
            inp = RiskInput(telemetry=MISSING, ip_rate=rate, stage=stage)
            assert await engine.score(inp) == scorer.score(inp)
    # One entry per distinct points value (0 up to 5/s, then rising to 30 at 25/s).
    assert len(engine._missing) == len({scorer.ip_rate_rule(r) for r in (None, 6.0, 15.0, 25.0)})
    # Telemetry, or a task's signals, are scored every time.
    tele = parse_telemetry({"v": 1, "pointer": "mouse", "events": []})
    assert await engine.score(RiskInput(telemetry=tele, stage="challenge")) == scorer.score(
        RiskInput(telemetry=tele, stage="challenge")
    )
    signals = {"draw_duration_ms": 10.0, "draw_mean_speed": 9.0}
    drawn = RiskInput(telemetry=MISSING, stage="solve", task_signals=signals)
    assert "impossible-drawing" in (await engine.score(drawn)).reasons
    # Another scorer (other settings) is not answered from the first one's entries.
    engine.scorer = CombinedScorer(None, missing_telemetry_risk=60)
    assert (await engine.score(RiskInput(telemetry=MISSING, stage="challenge"))).risk == 60


def test_only_plans_without_visual_types_are_kept() -> None:
    bands = [
        PlanBand(max_risk=40, pow_bits=4, pow_count=1),
        PlanBand(max_risk=100, pow_bits=8, pow_count=2, challenges=["glyph"]),
    ]
    settings = PolicySettings(bands=bands)
    policy = Policy(settings, default_registry())
    light = policy.decide(10)
    assert policy.decide(10) is light and light.effective_risk == 10
    assert policy.decide(70).challenge is None  # glyph not enabled: heavier work instead
    settings.enabled_test_types.append("glyph")  # usable from now on: offered at once
    assert policy.decide(70).challenge == "glyph"
