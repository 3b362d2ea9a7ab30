"""The challenge generators draw only with fonts shipped in the package, never the host's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from haechi.challenges import fonts
from haechi.challenges.grid import sources
from haechi.challenges.grid.categories import CATEGORIES
from haechi.challenges.handwriting import prompt, skeleton
from haechi.challenges.handwriting.lexicon import LEXICON, SYLLABLES

SRC = Path(__file__).resolve().parents[2] / "src" / "haechi"
ROOT = SRC.parents[1]


def test_no_module_reads_fonts_from_the_host() -> None:
    """A fresh machine has no /usr/share/fonts: nothing in the package may look there."""
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "/usr/share/fonts" in p.read_text("utf-8") and p.name != "build.py"
    ]
    assert offenders == []


def test_every_font_the_generators_name_is_shipped() -> None:
    used = {sources.EMOJI_FONT, *sources.MONO_FONTS, prompt.EMOJI_FONT}
    used |= {skeleton.FONT_DIR / n for n in (*skeleton.TRAIN_FONTS, skeleton.HELD_OUT_FONT)}
    for path in used:
        assert path.parent == fonts.FONT_DIR, path
        assert path.is_file(), path
        # Subsets: small enough for a wheel (the whole folder is about 2.5 MB).
        assert path.stat().st_size < 1_000_000, path
    with pytest.raises(FileNotFoundError, match=r"NanumPen\.ttf"):
        fonts.path("../fonts/missing.ttf")


def test_every_grid_category_and_lexicon_picture_draws() -> None:
    drawn = {s.category for s in sources.glyph_sources() if s.kind == "emoji"}
    assert drawn == {c.name for c in CATEGORIES}
    for word in LEXICON:
        assert prompt.picture(word.emoji).getbbox() is not None, word


@pytest.mark.parametrize("font_name", [*skeleton.TRAIN_FONTS, skeleton.HELD_OUT_FONT])
def test_every_syllable_draws_in_every_handwriting_font(font_name: str) -> None:
    notdef = skeleton.glyph_mask("\U0010fffd", font_name)
    for char in SYLLABLES:
        mask = skeleton.glyph_mask(char, font_name)
        assert mask.any(), char
        same_shape = mask.shape == notdef.shape and bool(np.array_equal(mask, notdef))
        assert not same_shape, f"{char} draws as the missing-glyph box in {font_name}"


def test_fonts_under_a_reserved_name_are_renamed_and_every_font_has_its_licence() -> None:
    """The SIL OFL forbids a modified font (a subset) the Reserved Font Names (Nanum...)."""
    for path in fonts.FONT_DIR.glob("Nanum*.ttf"):
        family, _ = ImageFont.truetype(str(path), 20).getname()
        assert family is not None and "Nanum" not in family, (path.name, family)
    licences = {p.name for p in (fonts.FONT_DIR / "licenses").iterdir()}
    assert licences == {
        "OFL-1.1-Nanum.txt",
        "OFL-1.1-NotoColorEmoji.txt",
        "DejaVu-Bitstream-Vera.txt",
        "Symbola.txt",
    }
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text("utf-8")
    for path in fonts.FONT_DIR.glob("*.ttf"):
        assert re.search(rf"`{re.escape(path.name)}`", notices), path.name


async def test_the_demo_page_serves_a_font_for_all_its_korean_text(tmp_path: Path) -> None:
    """Without a Korean system font, "한국어" and the widget's Korean strings were empty boxes."""
    import io
    from types import SimpleNamespace

    import httpx
    from PIL import Image, ImageDraw
    from starlette.applications import Starlette

    from haechi.core.settings import Settings
    from haechi.widget import demo, routes

    settings = Settings(data_dir=tmp_path)
    app = Starlette(routes=routes(settings))
    app.state.runtime = SimpleNamespace(settings=settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        reply = await client.get("/demo/hangul.ttf")
        css = (await client.get("/demo/demo.css")).text
    assert reply.status_code == 200 and reply.headers["content-type"] == "font/ttf"
    assert "font-src 'self'" in demo.DEMO_CSP
    assert "url(/demo/hangul.ttf)" in css and '"Haechi Hangul", sans-serif' in css

    face = ImageFont.truetype(io.BytesIO(reply.content), 32)

    def drawn(char: str) -> bytes:
        img = Image.new("L", (48, 48))
        ImageDraw.Draw(img).text((4, 4), char, font=face, fill=255)
        return img.tobytes()

    missing = drawn("\U0010fffd")
    texts = [SRC / "widget" / "templates" / "demo.html", ROOT / "widget" / "src" / "i18n.ts"]
    korean = {c for t in texts for c in t.read_text("utf-8") if "\uac00" <= c <= "\ud7a3"}
    assert "한" in korean and len(korean) > 50
    assert sorted(c for c in korean if drawn(c) == missing) == []


def test_every_wheel_carries_the_notices() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert "THIRD_PARTY_NOTICES.md" in project["license-files"]
