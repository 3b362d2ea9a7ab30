"""Hatch build hook: ship the built widget inside wheels when it has been built."""

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WidgetBundle(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        dist = Path(self.root) / "widget" / "dist"
        if (dist / "widget.js").is_file():
            build_data["force_include"][str(dist)] = "haechi/widget/dist"
