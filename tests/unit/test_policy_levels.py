"""Policy bands with a site's security level and its attack level, and the never-block rule."""

from __future__ import annotations

import pytest

from haechi.challenges import default_registry
from haechi.core.settings import PlanBand, PolicySettings
from haechi.risk.policy import Policy
from haechi.risk.scoring import RiskResult, rests_on_missing

BANDS = [
    PlanBand(max_risk=10, pow_bits=10, pow_count=2),
    PlanBand(max_risk=40, pow_bits=12, pow_count=4),
    PlanBand(max_risk=90, pow_bits=12, pow_count=4, challenges=["glyph"]),
    PlanBand(max_risk=100, pow_bits=14, pow_count=8, block=True),
]


@pytest.fixture
def policy() -> Policy:
    settings = PolicySettings(bands=BANDS, enabled_test_types=["glyph"])
    return Policy(settings, default_registry())


@pytest.mark.parametrize(
    ("risk", "band", "bits", "count", "challenge", "block"),
    [
        (0, 0, 10, 2, None, False),
        (10, 0, 10, 2, None, False),
        (11, 1, 12, 4, None, False),
        (40, 1, 12, 4, None, False),
        (41, 2, 12, 4, "glyph", False),
        (90, 2, 12, 4, "glyph", False),
        (91, 3, 14, 8, None, True),
        (100, 3, 14, 8, None, True),
    ],
)
def test_band_edges(
    policy: Policy,
    risk: int,
    band: int,
    bits: int,
    count: int,
    challenge: str | None,
    block: bool,
) -> None:
    plan = policy.decide(risk)
    assert (plan.band, plan.pow_bits, plan.pow_count, plan.challenge, plan.block) == (
        band,
        bits,
        count,
        challenge,
        block,
    )
    assert plan.effective_risk == risk


@pytest.mark.parametrize(
    ("level", "offset"), [("low", -10), ("medium", 0), ("high", 15), ("strict", 30)]
)
def test_security_level_and_attack_level_add_up(policy: Policy, level: str, offset: int) -> None:
    for attack in (0, 10, 30):
        plan = policy.decide(20, security_level=level, attack_level=attack)
        assert plan.effective_risk == max(0, min(100, 20 + offset + attack))


def test_an_attack_level_moves_a_human_into_a_harder_band(policy: Policy) -> None:
    calm = policy.decide(8)
    attacked = policy.decide(8, attack_level=10)
    assert (calm.band, attacked.band) == (0, 1)
    assert attacked.pow_bits > calm.pow_bits
    assert policy.decide(8, attack_level=40).challenge == "glyph"
    assert policy.decide(60, attack_level=40).block


def test_effective_risk_is_clamped(policy: Policy) -> None:
    assert policy.decide(5, security_level="low").effective_risk == 0
    assert policy.decide(95, security_level="strict", attack_level=30).effective_risk == 100


@pytest.mark.parametrize("reasons", [("no-telemetry",), ("touch-only",), ("model-timeout",)])
def test_missing_alone_never_blocks_whatever_the_levels(
    policy: Policy, reasons: tuple[str, ...]
) -> None:
    result = RiskResult(risk=90, reasons=reasons, model="m")
    assert rests_on_missing(result)
    plan = policy.decide(
        result.risk,
        security_level="strict",
        attack_level=30,
        may_block=not rests_on_missing(result),
    )
    assert not plan.block
    assert plan.challenge == "glyph"  # the most friction short of a block
    assert plan.effective_risk == 90


def test_missing_plus_evidence_may_block(policy: Policy) -> None:
    result = RiskResult(risk=70, reasons=("no-telemetry", "ip-rate"), model="m")
    assert not rests_on_missing(result)
    plan = policy.decide(result.risk, attack_level=30, may_block=not rests_on_missing(result))
    assert plan.block


@pytest.mark.parametrize("risk", [0, 50, 95, 100])
def test_the_test_level_is_the_first_bands_work_alone(policy: Policy, risk: int) -> None:
    plan = policy.test_plan
    assert (plan.pow_bits, plan.pow_count, plan.challenge, plan.block) == (10, 2, None, False)
    # Through decide, "test" is an unknown level: no offset, so production (where the level is
    # not allowed) serves such a site as "medium".
    assert policy.decide(risk, security_level="test") == policy.decide(risk)
