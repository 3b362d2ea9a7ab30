"""Rebuild the shipped font subsets from Debian's: ``python -m haechi.challenges.fonts.build``.

Needs fontTools (the ``dev`` extra) and the Debian packages fonts-noto-color-emoji,
fonts-symbola, fonts-dejavu-core, fonts-nanum and fonts-nanum-extra. Each font keeps the glyphs
of the characters Haechi draws with it (the grid categories, the handwriting lexicon and its
syllables, the Korean text of the challenge modules, printable Latin-1), outlines and hinting
unchanged, so rendering is the same as with the full font. Fonts under a Reserved Font Name (the
Nanum family) are renamed, as the SIL OFL 1.1 asks of a modified version.
``--check`` only compares the shipped subsets' renderings with the system fonts'.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from haechi.challenges import fonts

SYSTEM: Final = Path("/usr/share/fonts/truetype")
# shipped name -> (system path, what it draws, renamed family or None)
NANUM: Final = (
    "NanumPen.ttf",
    "NanumBarunpenR.ttf",
    "NanumGothic.ttf",
    "NanumGothicBold.ttf",
    "NanumSquareRoundR.ttf",
    "NanumMyeongjo.ttf",
    "NanumBarunGothic.ttf",
    "NanumBrush.ttf",
)
PACKAGE_ROOT: Final = Path(__file__).resolve().parents[2]  # haechi
# Korean text drawn by the challenges, the demo page and the widget (its strings table).
TEXT_SOURCES: Final = (
    *PACKAGE_ROOT.joinpath("challenges").rglob("*.py"),
    *PACKAGE_ROOT.joinpath("widget", "templates").glob("*.html"),
    *PACKAGE_ROOT.parents[1].joinpath("widget", "src").glob("*.ts"),
)


def _emoji() -> set[str]:
    from haechi.challenges.grid.categories import CATEGORIES
    from haechi.challenges.handwriting.lexicon import LEXICON

    texts = {t for c in CATEGORIES for t in c.emoji} | {w.emoji for w in LEXICON}
    return texts


def _hangul() -> set[str]:
    """Every Hangul syllable the handwriting recogniser knows and Haechi's pages write."""
    from haechi.challenges.handwriting.lexicon import SYLLABLES

    chars = set(SYLLABLES)
    for source in TEXT_SOURCES:
        chars.update(c for c in source.read_text("utf-8") if "\uac00" <= c <= "\ud7a3")
    return chars


LATIN: Final = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x100)}
PUNCTUATION: Final = set("·–—‘’“”…→×")


def plan() -> dict[str, tuple[Path, set[str], str | None]]:
    emoji = _emoji()
    plain = {t for t in emoji if "\u200d" not in t}
    hangul = _hangul()
    # Latin text is drawn only by the sample sheets, in NanumGothic (Bold) and DejaVu Sans.
    text_fonts = {"NanumGothic.ttf", "NanumGothicBold.ttf"}
    out: dict[str, tuple[Path, set[str], str | None]] = {
        "NotoColorEmoji.ttf": (SYSTEM / "noto" / "NotoColorEmoji.ttf", emoji, None),
        "Symbola_hint.ttf": (SYSTEM / "ancient-scripts" / "Symbola_hint.ttf", plain, None),
        "DejaVuSans.ttf": (SYSTEM / "dejavu" / "DejaVuSans.ttf", plain | LATIN | PUNCTUATION, None),
    }
    for name in NANUM:
        renamed = "Haechi " + name.removesuffix(".ttf").removeprefix("Nanum") + " Subset"
        chars = hangul | LATIN | PUNCTUATION if name in text_fonts else hangul | {" "}
        out[name] = (SYSTEM / "nanum" / name, chars, renamed)
    return out


def _codepoints(texts: Iterable[str]) -> list[int]:
    return sorted({ord(c) for t in texts for c in t} | {0x200D, 0xFE0F, 0x20})


def _rename(font: object, family: str) -> None:
    """Replace every name record that carries the family name (OFL: Reserved Font Names)."""
    name = font["name"]  # type: ignore[index]
    style = name.getDebugName(2) or "Regular"
    postscript = family.replace(" ", "") + "-" + style.replace(" ", "")
    for record in list(name.names):
        if record.nameID in (1, 16, 21):
            record.string = family
        elif record.nameID in (3, 4):
            record.string = f"{family} {style}" if style != "Regular" else family
        elif record.nameID == 6:
            record.string = postscript
        elif record.nameID in (17, 22):
            record.string = style
    name.names = [r for r in name.names if r.nameID <= 25]


def build(out_dir: Path) -> None:
    from fontTools import subset  # type: ignore[import-untyped, unused-ignore]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped, unused-ignore]

    for shipped, (source, texts, renamed) in plan().items():
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.name_languages = ["*"]
        options.notdef_outline = True
        options.glyph_names = False
        options.hinting = True
        font = TTFont(str(source))
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=_codepoints(texts))
        subsetter.subset(font)
        if renamed is not None:
            _rename(font, renamed)
        target = out_dir / shipped
        font.save(str(target))
        print(f"{shipped}: {source.stat().st_size:,} -> {target.stat().st_size:,} bytes")


def check(out_dir: Path) -> int:
    """Render every planned text with the shipped subset and the system font; count differences."""
    from PIL import Image, ImageDraw, ImageFont

    differences = 0
    for shipped, (source, texts, _) in plan().items():
        colour = shipped == "NotoColorEmoji.ttf"
        size = 109 if colour else 48
        ours = ImageFont.truetype(str(out_dir / shipped), size)
        theirs = ImageFont.truetype(str(source), size)
        for text in sorted(texts):
            images = []
            for face in (ours, theirs):
                img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
                ImageDraw.Draw(img).text((12, 12), text, font=face, embedded_color=colour)
                images.append(img.tobytes())
            if images[0] != images[1]:
                differences += 1
                print(f"{shipped}: {text!r} renders differently", file=sys.stderr)
    print(f"{differences} differences")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the system fonts")
    parser.add_argument("--out", type=Path, default=fonts.FONT_DIR)
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)
    build(args.out)
    return check(args.out)


if __name__ == "__main__":
    sys.exit(main())
