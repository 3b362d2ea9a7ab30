"""Hatch build hook: ship the built widget and dashboard inside wheels when they have been built."""

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WidgetBundle(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        dist = Path(self.root) / "widget" / "dist"
        if (dist / "widget.js").is_file():
            build_data["force_include"][str(dist)] = "haechi/widget/dist"
        dashboard = Path(self.root) / "dashboard" / "dist"
        if (dashboard / "index.html").is_file():
            build_data["force_include"][str(dashboard)] = "haechi/dashboard_dist"
