"""Abstract-challenge images (fixed-size WebP with a padding chunk) decode in real Chromium.

The padding is an unknown RIFF chunk, which the WebP container spec tells readers to skip; this
checks that the browser does, and shows the same pixels Pillow decodes. Needs Debian's Chromium
at /usr/bin/chromium and the playwright package; skips without them unless
HAECHI_TEST_REQUIRE_BROWSER=1 or HAECHI_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np
import pytest

from haechi.challenges.abstract.generate import EMOTIONS, SIZE, decode, encode, render

CHROMIUM = os.environ.get("HAECHI_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE = "1" in (
    os.environ.get("HAECHI_TEST_REQUIRE_BROWSER"),
    os.environ.get("HAECHI_TEST_REQUIRE_SERVICES"),
)

DRAW = """async (src) => {
  const img = new Image();
  img.src = src;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  return {w: img.naturalWidth, h: img.naturalHeight, rgba: Array.from(data)};
}"""


def test_padded_webp_decodes_in_chromium() -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if REQUIRE:
            pytest.fail("the playwright package is missing")
        pytest.skip("the playwright package is missing")
    if not Path(CHROMIUM).exists():
        if REQUIRE:
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    blobs = [encode(render(e, np.random.default_rng([21, i]))) for i, e in enumerate(EMOTIONS)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.set_content("<!doctype html><title>webp</title>")
            for blob in blobs:
                src = "data:image/webp;base64," + base64.b64encode(blob).decode()
                got = page.evaluate(DRAW, src)
                assert (got["w"], got["h"]) == (SIZE, SIZE)
                rgb = np.array(got["rgba"], np.int16).reshape(SIZE, SIZE, 4)[..., :3]
                want = np.asarray(decode(blob), np.int16)
                # Same decoder family (libwebp); allow for colour-conversion rounding.
                assert np.abs(rgb - want).mean() < 2.0
        finally:
            browser.close()
