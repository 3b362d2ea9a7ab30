"""Challenge types: the interface, the registry and the built-in types."""

from __future__ import annotations

from haechi.challenges.base import (
    ChallengeContext,
    ChallengeRegistry,
    ChallengeType,
    CheckResult,
    pick_locale,
)

__all__ = [
    "ChallengeContext",
    "ChallengeRegistry",
    "ChallengeType",
    "CheckResult",
    "default_registry",
    "pick_locale",
]


def default_registry() -> ChallengeRegistry:
    """Every type shipped with Haechi. Visual types register here as they land."""
    from haechi.challenges.glyph import GlyphGrid

    registry = ChallengeRegistry()
    registry.register(GlyphGrid())
    return registry
