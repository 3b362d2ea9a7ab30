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
