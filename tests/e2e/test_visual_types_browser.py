"""Each visual challenge type solved in real Chromium through the widget's panel.

The pools are built with the CLI (`haechi challenges build-pool`) into one data directory; each
type then gets its own `haechi serve` on that directory, with a policy whose only band asks for
it. The test learns an answer the only way a test may: it catches the challenge the widget
fetched and opens the seal with the server's own keyring (from the data directory), never
through an endpoint. Then it answers the way a visitor does: clicking cells, typing digits,
drawing on the canvas.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.core.settings import Settings
from haechi.protocol.service import CHALLENGE_PURPOSE
from haechi.runtime import resolve_keys
from tests.e2e import test_widget_browser as base
from tests.e2e.test_widget_browser import Haechi, Tab, missing, token_in

browser, tab = base.browser, base.tab

# Small pools: enough for a few challenges each. The handwriting pool's seed fixes its words to
# ones the recogniser reads in the held-out font (as in tests/integration/test_handwriting_flow).
POOL_SIZES = {"grid": 80, "abstract": 60, "handwriting": 4, "audio": 4}
POOL_SEEDS = {"handwriting": 24}
MIN_ITEMS = 4


def band(kind: str) -> str:
    return json.dumps([{"max_risk": 100, "pow_bits": 8, "pow_count": 2, "challenges": [kind]}])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory with a pool of every pool-backed type."""
    if shutil.which("espeak-ng") is None:
        missing("espeak-ng (apt-get install espeak-ng) for the audio pool")
    folder = tmp_path_factory.mktemp("visual") / "data"
    builder = Haechi(folder, {"HAECHI_POOLS__MIN_ITEMS": str(MIN_ITEMS)})
    folder.mkdir(parents=True)
    listed = builder.cli("challenges", "list-pools", "--json")
    assert listed.returncode == 0, listed.stderr
    for kind, count in POOL_SIZES.items():
        seed = ["--seed", str(POOL_SEEDS[kind])] if kind in POOL_SEEDS else []
        built = builder.cli(
            "challenges", "build-pool", "--type", kind, "--count", str(count), *seed
        )
        assert built.returncode == 0, f"build-pool --type {kind}: {built.stderr}"
    return folder


def serve(data_dir: Path, kind: str) -> Iterator[Haechi]:
    server = Haechi(
        data_dir,
        {"HAECHI_POLICY__BANDS": band(kind), "HAECHI_POOLS__MIN_ITEMS": str(MIN_ITEMS)},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served(data_dir: Path, request: pytest.FixtureRequest) -> Iterator[Haechi]:
    yield from serve(data_dir, request.param)


def opened(server: Haechi, challenge: dict[str, Any]) -> dict[str, Any]:
    """The sealed half of a challenge, opened with the server's keyring (tests only)."""
    settings = Settings(data_dir=server.data_dir)
    keyring, _ = resolve_keys(settings)
    data: dict[str, Any] = orjson.loads(keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
    return data


def open_demo(server: Haechi, page: Any) -> dict[str, Any]:
    """Load the demo page and ask for the task (it opens only on the visitor's request: the
    checkbox); the challenge the widget fetched."""
    with page.expect_response(lambda r: r.url.endswith("/v1/challenge")) as caught:
        page.goto(server.url.replace("127.0.0.1", "localhost") + "/demo")
    challenge: dict[str, Any] = caught.value.json()
    page.get_by_role("checkbox", name="I am human").click()
    return challenge


def finish(server: Haechi, page: Any, dialog: Any) -> None:
    from playwright.sync_api import expect

    expect(dialog).to_be_hidden()
    token = token_in(page)
    verdict = server.siteverify(token)
    assert verdict["success"] is True, verdict


@pytest.mark.parametrize("served", ["grid", "abstract"], indirect=True)
def test_select_types_are_solved_by_clicking_the_right_cells(served: Haechi, tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.page
    challenge = open_demo(served, page)
    task = challenge["task"]
    sealed = opened(served, challenge)
    assert task["kind"] == "select" and sealed["ty"] == task["type"]
    # The answer is in the seal only.
    assert not any(cell_id in json.dumps(task["prompt"]) for cell_id in sealed["ans"])
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    cells = dialog.locator(".grid button")
    expect(cells).to_have_count(len(task["cells"]))
    # Every picture loads (signed blob URLs resolved against the widget's endpoint).
    for i in range(len(task["cells"])):
        expect(cells.nth(i).locator("img")).to_have_js_property("complete", True)
        assert cells.nth(i).locator("img").evaluate("img => img.naturalWidth") > 0
    answer = set(sealed["ans"])
    for i, cell in enumerate(task["cells"]):
        if cell["id"] in answer:
            cells.nth(i).click()
            expect(cells.nth(i)).to_have_attribute("aria-pressed", "true")
    dialog.get_by_role("button", name="Verify").click()
    finish(served, page, dialog)
    assert tab.problems == []


@pytest.mark.parametrize("served", ["grid"], indirect=True)
def test_audio_alternative_is_offered_and_solved_by_typing_the_digits(
    served: Haechi, tab: Tab
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    challenge = open_demo(served, page)
    assert challenge["task"]["alternatives"] == ["audio"]
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/v1/challenge")) as caught:
        dialog.get_by_role("button", name="Audio challenge instead").click()
    audio = caught.value.json()
    assert audio["task"]["kind"] == "audio"
    digits = opened(served, audio)["ans"]
    player = dialog.locator("audio")
    expect(player).to_be_visible()
    # The clip is reachable from the page (a signed URL on the endpoint).
    status = page.evaluate("(url) => fetch(url).then(r => r.status)", player.get_attribute("src"))
    assert status == 200
    # Typed the way many people do, a space after each digit.
    dialog.get_by_label("Your answer").fill(" ".join(digits))
    dialog.get_by_role("button", name="Verify").click()
    finish(served, page, dialog)
    assert tab.problems == []


@pytest.mark.parametrize("served", ["handwriting"], indirect=True)
def test_handwriting_is_solved_by_drawing_the_word_on_the_canvas(served: Haechi, tab: Tab) -> None:
    import random

    from playwright.sync_api import expect

    from haechi.challenges.handwriting import skeleton

    page = tab.page
    challenge = open_demo(served, page)
    task = challenge["task"]
    assert task["kind"] == "draw"
    word = opened(served, challenge)["ans"]
    dialog = page.get_by_role("dialog")
    canvas = dialog.locator("canvas")
    expect(canvas).to_be_visible()
    expect(dialog.locator("img.prompt")).to_have_js_property("complete", True)
    size = (task["canvas"]["width"], task["canvas"]["height"])
    strokes = skeleton.word_strokes(word, skeleton.HELD_OUT_FONT)
    drawn = skeleton.as_submission(strokes, size, random.Random(2))["strokes"]
    box = canvas.bounding_box()
    assert box is not None
    sx, sy = box["width"] / size[0], box["height"] / size[1]
    mouse = page.mouse
    for stroke in drawn:
        x0, y0 = stroke[0][0], stroke[0][1]
        mouse.move(box["x"] + x0 * sx, box["y"] + y0 * sy)
        mouse.down()
        for x, y, _t in stroke[1:]:
            mouse.move(box["x"] + x * sx, box["y"] + y * sy)
        mouse.up()
    dialog.get_by_role("button", name="Verify").click()
    finish(served, page, dialog)
    assert tab.problems == []
