"""Automated accessibility scan (axe-core, from widget/node_modules) of the widget in light and
dark themes, with and without the task panel: no serious or critical violations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import ROOT, Haechi, missing, token_in

# The browser module's fixtures, shared (a tests/e2e/conftest.py could hold them instead).
browser, haechi, glyph_haechi = base.browser, base.haechi, base.glyph_haechi

AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def scan_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    if not AXE.is_file():
        missing("axe-core (npm ci in widget/)")
    scheme = getattr(request, "param", "light")
    # Injecting axe needs an inline script, which the demo's policy (rightly) refuses.
    context = browser.new_context(bypass_csp=True, color_scheme=scheme, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scan_page", ["light", "dark"], indirect=True)
@pytest.mark.parametrize("query", ["", "?theme=light", "?theme=dark", "?size=compact"])
def test_widget_checkbox_states(haechi: Haechi, scan_page: Any, query: str) -> None:
    page = scan_page
    page.goto(haechi.url.replace("127.0.0.1", "localhost") + "/demo" + query)
    token_in(page)
    assert serious_violations(page) == []


@pytest.mark.parametrize("scan_page", ["light", "dark"], indirect=True)
def test_task_panel(glyph_haechi: Haechi, scan_page: Any) -> None:
    from playwright.sync_api import expect

    page = scan_page
    page.goto(glyph_haechi.url.replace("127.0.0.1", "localhost") + "/demo")
    dialog = page.get_by_role("dialog")
    # The task waits for the visitor's request, announced in the status line; then it opens.
    expect(page.get_by_role("status")).to_have_text(re.compile("select the checkbox"))
    assert serious_violations(page) == []
    page.get_by_role("checkbox", name="I am human").click()
    expect(dialog).to_be_visible()
    dialog.locator(".grid button").first.click()
    assert serious_violations(page) == []
    # And in the error state after closing the panel.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text(re.compile("try again"))
    assert serious_violations(page) == []
