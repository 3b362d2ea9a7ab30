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
    serve from a pool (audio, abstract, grid) are registered when ``pools`` is given."""
    from haechi.challenges.glyph import GlyphGrid

    registry = ChallengeRegistry()
    registry.register(GlyphGrid())
    if pools is not None:
        from haechi.challenges.abstract.challenge import AbstractEmotion
        from haechi.challenges.audio import AudioDigits
        from haechi.challenges.grid import ImageGrid
        from haechi.challenges.handwriting.challenge import Handwriting

        registry.register(AudioDigits(pools))
        registry.register(ImageGrid(pools))
        registry.register(AbstractEmotion(pools))
        registry.register(Handwriting(pools))
    return registry
