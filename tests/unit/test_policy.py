from __future__ import annotations

from haechi.challenges import default_registry
from haechi.core.settings import PlanBand, PolicySettings
from haechi.risk.policy import Policy


def test_seed_bands_and_fallback_without_visual_types() -> None:
    policy = Policy(PolicySettings(), default_registry())
    low = policy.decide(5)
    assert (low.challenge, low.block, low.pow_bits) == (None, False, 13)
    # grid is not installed yet: heavier PoW instead of no friction
    mid = policy.decide(20)
    assert mid.challenge is None and mid.pow_bits == 14 + 2
    assert policy.decide(95).block


def test_security_level_shifts_risk() -> None:
    policy = Policy(PolicySettings(), default_registry())
    assert policy.decide(5, security_level="strict").band > policy.decide(5).band
    assert policy.decide(15, security_level="low").band == 0


def test_missing_telemetry_alone_never_blocks() -> None:
    policy = Policy(PolicySettings(), default_registry())
    assert not policy.decide(100, may_block=False).block
    assert policy.decide(100).block


def test_test_types_only_when_enabled() -> None:
    bands = [
        PlanBand(max_risk=50, pow_bits=8, challenges=["glyph"]),
        PlanBand(max_risk=100, pow_bits=8, block=True),
    ]
    off = Policy(PolicySettings(bands=bands), default_registry())
    on = Policy(PolicySettings(bands=bands, enabled_test_types=["glyph"]), default_registry())
    assert off.decide(10).challenge is None
    assert on.decide(10).challenge == "glyph"


def test_no_telemetry_never_gets_the_cheapest_plan_on_the_defaults() -> None:
    """docs/risk-model.md, Policy: missing telemetry (30) lands above the first band at every
    security level and attack level, so it always costs a visual task (or heavier PoW)."""
    settings = PolicySettings()
    policy = Policy(settings, default_registry())
    for level in settings.security_offsets:
        plan = policy.decide(settings.missing_telemetry_risk, security_level=level, may_block=False)
        assert plan.band >= 1 and not plan.block, level
