"""Widget timings in headless Chromium, for bench/RESULTS.md: median time from page load to
token in invisible mode at the default difficulty (the first policy band, 4 x 2^13), and the
proof-of-work hash rate of the worker. Runs only with HAECHI_WIDGET_BENCH=1; prints a table.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import Haechi, SitePages, start_haechi

pytestmark = pytest.mark.skipif(
    os.environ.get("HAECHI_WIDGET_BENCH") != "1", reason="set HAECHI_WIDGET_BENCH=1 to run"
)
browser, site = base.browser, base.site
RUNS = int(os.environ.get("HAECHI_WIDGET_BENCH_RUNS", "15"))
# The default policy's first band; one band so that headless Chromium is not blocked.
DEFAULT_BAND = json.dumps([{"max_risk": 100, "pow_bits": 13, "pow_count": 4}])
HEAVY_BAND = json.dumps([{"max_risk": 100, "pow_bits": 18, "pow_count": 8}])

PAGE = """<!doctype html><html lang="en"><title>bench</title>
<script>
window.bench = {pow: []};
addEventListener("haechi-pow", (e) => window.bench.pow.push(e.detail));
</script>
<script src="{haechi}/v1/widget.js"></script>
<div id="w" class="haechi" data-sitekey="{sitekey}" data-size="invisible"></div>
<script>
haechi.ready(() => haechi.execute("#w").then(() => {{ window.bench.token = performance.now(); }}));
</script></html>
"""


def measure(browser: Any, url: str, runs: int) -> tuple[list[float], list[dict[str, Any]]]:
    times: list[float] = []
    pows: list[dict[str, Any]] = []
    for _ in range(runs):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("window.bench && window.bench.token", timeout=60_000)
        times.append(page.evaluate("window.bench.token"))
        pows += page.evaluate("window.bench.pow")
        context.close()
    return times, pows


@pytest.fixture(scope="module")
def default_haechi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    yield from start_haechi(tmp_path_factory.mktemp("bench"), HAECHI_POLICY__BANDS=DEFAULT_BAND)


@pytest.fixture(scope="module")
def heavy_haechi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Haechi]:
    yield from start_haechi(tmp_path_factory.mktemp("heavy"), HAECHI_POLICY__BANDS=HEAVY_BAND)


def page_for(site: SitePages, server: Haechi, name: str) -> str:
    body = PAGE.replace("{haechi}", server.url).replace("{sitekey}", server.demo["sitekey"])
    return site.add(f"/{name}", body.replace("{{", "{").replace("}}", "}"))


def test_bench(
    browser: Any, site: SitePages, default_haechi: Haechi, heavy_haechi: Haechi, tmp_path: Path
) -> None:
    times, pows = measure(browser, page_for(site, default_haechi, "default"), RUNS)
    assert all(p["mode"] == "worker" for p in pows)
    _, heavy = measure(browser, page_for(site, heavy_haechi, "heavy"), max(3, RUNS // 3))
    rates = [p["hashes"] / p["ms"] / 1000 for p in heavy]  # MH/s
    report = (
        f"invisible, default difficulty (4 x 2^13), {RUNS} page loads: load -> token median "
        f"{statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}); "
        f"PoW alone median {statistics.median(p['ms'] for p in pows):.0f} ms\n"
        f"worker hash rate (8 x 2^18 puzzles): median {statistics.median(rates):.2f} MH/s "
        f"(min {min(rates):.2f}, max {max(rates):.2f})"
    )
    print("\n" + report)
