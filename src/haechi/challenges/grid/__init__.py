"""The image-grid challenge type: pick every tile showing an everyday object.

``challenge`` is the type; ``categories`` the objects and prompts; ``sources`` and ``render`` draw
tiles (pool builds only); ``label`` serves the tile classifier; ``items`` keeps and composes tiles.
"""

from __future__ import annotations

from haechi.challenges.grid.challenge import NAME, ImageGrid

__all__ = ["NAME", "ImageGrid"]
