"""The browser widget as the edge serves it, and the /demo page.

The bundle is built by ``npm ci && npm run build`` in ``widget/`` (git-ignored ``widget/dist``);
the server builds nothing at run time and answers 503 with a clear message when it is missing.
Mount with ``routes(settings)``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from haechi.core.settings import Settings


def routes(settings: Settings) -> list[BaseRoute]:
    """Widget scripts (edge), plus the demo page where the embedded demo site exists (role all)."""
    from haechi.widget import assets, demo

    found: list[BaseRoute] = list(assets.routes())
    if settings.role == "all":
        found += demo.routes()
    return found


__all__ = ["routes"]
