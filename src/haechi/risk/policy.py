"""From a risk score to a plan: how much proof-of-work, which visual task, or a block.

The policy table lives in settings (``policy.bands``). A site's security level and the site's
current attack level shift the risk before a band is chosen. A band that asks for visual types
uses the first one installed; when none is, the proof-of-work gets heavier instead, so a missing
type raises friction rather than lowering it. A score that rests on missing telemetry alone never
reaches a blocking band: touch and keyboard-only visitors get more friction, not a dead end.
The ``test`` level (staging, integration tests) always gets the first band's proof-of-work alone
(``test_plan``), and only where ``allows_test_level``: in production it counts as ``medium``.
"""

from __future__ import annotations

from dataclasses import dataclass

from haechi.challenges.base import ChallengeRegistry
from haechi.core.settings import PolicySettings, Settings

TEST_LEVEL = "test"


def allows_test_level(settings: Settings) -> bool:
    """Whether sites may use the ``test`` level: outside production, or where the operator
    allows it there explicitly (``policy.allow_test_level``)."""
    return settings.env != "production" or settings.policy.allow_test_level


@dataclass(frozen=True, slots=True)
class Plan:
    band: int
    effective_risk: int
    pow_bits: int
    pow_count: int
    challenge: str | None
    block: bool


class Policy:
    def __init__(
        self,
        settings: PolicySettings,
        registry: ChallengeRegistry,
        *,
        max_pow_bits: int = 26,
        max_pow_count: int = 64,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._max_bits = max_pow_bits
        self._max_count = max_pow_count
        # Plans of bands without visual types, by effective risk: they never change at run time.
        self._plans: dict[int, Plan] = {}
        first_block = next((b.max_risk for b in settings.bands if b.block), None)
        # Highest effective risk that does not block (for the "never block alone" rule).
        previous = [b.max_risk for b in settings.bands if not b.block]
        self._last_non_blocking = max(previous) if previous and first_block is not None else 100
        # The ``test`` level: the first band's proof-of-work, never a task, never a block.
        first = settings.bands[0]
        self.test_plan = Plan(
            band=0,
            effective_risk=0,
            pow_bits=min(first.pow_bits, max_pow_bits),
            pow_count=min(max(first.pow_count, 1), max_pow_count),
            challenge=None,
            block=False,
        )

    def _band_plan(self, index: int) -> Plan:
        band = self._settings.bands[index]
        challenge = next(
            (
                name
                for name in band.challenges
                if self._registry.usable(name, self._settings.enabled_test_types)
            ),
            None,
        )
        bits = band.pow_bits
        if band.challenges and challenge is None:
            bits += self._settings.fallback_extra_bits
        return Plan(
            band=index,
            effective_risk=band.max_risk,
            pow_bits=min(bits, self._max_bits),
            pow_count=min(band.pow_count, self._max_count),
            challenge=challenge,
            block=band.block,
        )

    def decide(
        self,
        risk: int,
        *,
        security_level: str = "medium",
        attack_level: int = 0,
        may_block: bool = True,
    ) -> Plan:
        offset = self._settings.security_offsets.get(security_level, 0)
        effective = max(0, min(100, risk + offset + attack_level))
        if not may_block:
            effective = min(effective, self._last_non_blocking)
        cached = self._plans.get(effective)
        if cached is not None:
            return cached
        for index, band in enumerate(self._settings.bands):
            if effective <= band.max_risk:
                # Per call, not cached: a pool-backed type becomes usable or not at run time.
                plan = self._band_plan(index)
                plan = Plan(
                    band=plan.band,
                    effective_risk=effective,
                    pow_bits=plan.pow_bits,
                    pow_count=plan.pow_count,
                    challenge=plan.challenge,
                    block=plan.block,
                )
                if not band.challenges:
                    self._plans[effective] = plan
                return plan
        raise AssertionError("the last band ends at 100")  # pragma: no cover
