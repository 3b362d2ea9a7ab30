"""Token expiry and single-page-app life: expiry re-runs the flow (or waits, when configured),
and a custom element removed and added again starts cleanly. Tokens live 3 s here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import (
    LIGHT_BANDS,
    TOKEN,
    Haechi,
    SitePages,
    Tab,
    start_haechi,
    token_in,
)

browser, site, tab = base.browser, base.site, base.tab

PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>SPA</title>
<script>window.log = []; function note(what) {{ window.log.push(what); }}</script>
<script src="{haechi}/v1/widget.js"></script>
<form id="auto"><div class="haechi" data-sitekey="{sitekey}" data-callback="onAuto"
  data-expired-callback="onAutoExpired"></div></form>
<form id="manual"><div class="haechi" data-sitekey="{sitekey}" data-refresh-expired="manual"
  data-expired-callback="onManualExpired"></div></form>
<div id="spa"></div>
<script>
function onAuto() {{ note("auto"); }}
function onAutoExpired() {{ note("auto-expired"); }}
function onManualExpired() {{ note("manual-expired"); }}
</script></html>
"""


@pytest.fixture(scope="module")
def short_haechi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    yield from start_haechi(
        tmp_path_factory.mktemp("short"),
        HAECHI_POLICY__BANDS=LIGHT_BANDS,
        HAECHI_PROTOCOL__TOKEN_TTL_SECONDS="3",
    )


def test_expiry_refreshes_or_waits_and_spa_remounts(
    short_haechi: Haechi, site: SitePages, tab: Tab
) -> None:
    from playwright.sync_api import expect

    sitekey = short_haechi.demo["sitekey"]
    page: Any = tab.page
    page.goto(site.add("/spa", PAGE.format(haechi=short_haechi.url, sitekey=sitekey)))
    first = token_in(page, '#auto input[name="haechi-response"]')
    manual_field = page.locator('#manual input[name="haechi-response"]')
    expect(manual_field).to_have_value(TOKEN)

    # After 3 s both expire: the auto one fetches a new token by itself, the manual one waits.
    expect(page.locator('#auto input[name="haechi-response"]')).not_to_have_value(
        first, timeout=10_000
    )
    second = token_in(page, '#auto input[name="haechi-response"]')
    assert second != first
    assert short_haechi.siteverify(second)["success"] is True
    expect(manual_field).to_have_value("", timeout=10_000)
    manual = page.locator("#manual").get_by_role("checkbox")
    expect(manual).to_have_attribute("aria-checked", "false")
    log = page.evaluate("window.log")
    assert log.count("auto") >= 2 and "auto-expired" in log and "manual-expired" in log, log
    assert log.index("auto-expired") < len(log) - 1 - log[::-1].index("auto"), log
    manual.click()
    expect(manual_field).to_have_value(TOKEN)

    # A single-page app mounts, unmounts and mounts the element again.
    page.evaluate(
        """(key) => {
            const el = document.createElement("haechi-widget");
            el.setAttribute("sitekey", key);
            document.getElementById("spa").append(el);
        }""",
        sitekey,
    )
    spa_token = token_in(page, '#spa input[name="haechi-response"]')
    page.evaluate("document.querySelector('#spa haechi-widget').remove()")
    page.evaluate(
        """(key) => {
            const el = document.createElement("haechi-widget");
            el.setAttribute("sitekey", key);
            document.getElementById("spa").append(el);
        }""",
        sitekey,
    )
    fresh = token_in(page, '#spa input[name="haechi-response"]')
    assert fresh != spa_token
    assert page.locator("#spa input").count() == 1
    assert short_haechi.siteverify(fresh)["success"] is True
    assert tab.problems == []
