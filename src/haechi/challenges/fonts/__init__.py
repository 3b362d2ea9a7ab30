"""The fonts the challenge generators draw with, shipped in the package (no system fonts).

Subsets of Debian's fonts, cut to the characters Haechi draws by ``python -m
haechi.challenges.fonts.build`` and renamed where the licence asks (THIRD_PARTY_NOTICES.md);
each keeps its original file name so that model cards and tools name the same font.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

FONT_DIR: Final = Path(__file__).resolve().parent
EMOJI: Final = FONT_DIR / "NotoColorEmoji.ttf"
SYMBOLS: Final = FONT_DIR / "Symbola_hint.ttf"
DEJAVU: Final = FONT_DIR / "DejaVuSans.ttf"
DEJAVU_BOLD: Final = FONT_DIR / "DejaVuSans-Bold.ttf"
HANGUL: Final = FONT_DIR / "NanumGothic.ttf"
HANGUL_BOLD: Final = FONT_DIR / "NanumGothicBold.ttf"


def path(name: str) -> Path:
    """A shipped font by file name (``NanumPen.ttf``); FileNotFoundError names what is shipped."""
    found = FONT_DIR / name
    if found.name != name or not found.is_file():
        shipped = ", ".join(sorted(p.name for p in FONT_DIR.glob("*.ttf")))
        raise FileNotFoundError(f"no shipped font {name!r}; shipped: {shipped}")
    return found
