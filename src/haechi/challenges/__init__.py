"""Challenge types: the interface, the registry and the built-in types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from haechi.challenges.base import (
    ChallengeContext,
    ChallengeRegistry,
    ChallengeType,
    CheckResult,
    pick_locale,
)

if TYPE_CHECKING:
    from haechi.challenges.pool import ChallengePools

__all__ = [
    "ChallengeContext",
    "ChallengeRegistry",
    "ChallengeType",
    "CheckResult",
    "default_registry",
    "pick_locale",
]


def default_registry(pools: ChallengePools | None = None) -> ChallengeRegistry:
    """Every type shipped with Haechi. Visual types register here as they land; types that
    serve from a pool (audio) are registered when ``pools`` is given."""
    from haechi.challenges.glyph import GlyphGrid

    registry = ChallengeRegistry()
    registry.register(GlyphGrid())
    if pools is not None:
        from haechi.challenges.audio import AudioDigits

        registry.register(AudioDigits(pools))
    return registry
