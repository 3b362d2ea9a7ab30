"""The grid challenge's categories: everyday objects a person names at a glance, and their prompts.

Each category has several *source pictures*: colour emoji (Noto Color Emoji), the same and other
code points drawn as black-and-white glyphs by Symbola and DejaVu (which the tile renderer inks
in a random colour), and procedural line drawings (``sources.DRAWINGS``). One object thus comes
in many looks, so that no single picture, colour or style stands for its category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    en: str  # the noun in the English prompt
    ko: str  # the noun in the Korean prompt
    # Code points (sequences allowed) drawn by the fonts that have them.
    emoji: tuple[str, ...]


CATEGORIES: Final = (
    Category("bicycle", "bicycle", "자전거", ("\U0001f6b2", "\U0001f6b4", "\U0001f6b5")),
    Category(
        "car",
        "car",
        "자동차",
        ("\U0001f697", "\U0001f699", "\U0001f695", "\U0001f693", "\U0001f3ce", "\U0001f698"),
    ),
    Category(
        "cat",
        "cat",
        "고양이",
        ("\U0001f408", "\U0001f431", "\U0001f408\u200d\u2b1b", "\U0001f63a", "\U0001f638"),
    ),
    Category("dog", "dog", "개", ("\U0001f415", "\U0001f436", "\U0001f429", "\U0001f9ae")),
    Category("tree", "tree", "나무", ("\U0001f333", "\U0001f332", "\U0001f334", "\U0001f384")),
    Category(
        "flower",
        "flower",
        "꽃",
        ("\U0001f338", "\U0001f33a", "\U0001f33b", "\U0001f337", "\U0001f339", "\U0001f33c"),
    ),
    Category("fish", "fish", "물고기", ("\U0001f41f", "\U0001f420", "\U0001f421")),
    Category(
        "bird",
        "bird",
        "새",
        ("\U0001f426", "\U0001f424", "\U0001f99c", "\U0001f54a", "\U0001f985", "\U0001f989"),
    ),
    Category("house", "house", "집", ("\U0001f3e0", "\U0001f3e1", "\U0001f6d6")),
    Category(
        "boat",
        "boat",
        "배",
        ("\u26f5", "\U0001f6a4", "\U0001f6e5", "\U0001f6a2", "\U0001f6f6", "\u26f4"),
    ),
    Category("apple", "apple", "사과", ("\U0001f34e", "\U0001f34f")),
    Category(
        "clock",
        "clock",
        "시계",
        ("\u23f0", "\U0001f570", "\U0001f552", "\U0001f555", "\U0001f558", "\U0001f55a"),
    ),
    Category(
        "airplane", "airplane", "비행기", ("\u2708", "\U0001f6e9", "\U0001f6eb", "\U0001f6ec")
    ),
    Category("umbrella", "umbrella", "우산", ("\u2602", "\u2614", "\U0001f302", "\u26f1")),
    Category("horse", "horse", "말", ("\U0001f40e", "\U0001f434", "\U0001f3a0")),
    Category("key", "key", "열쇠", ("\U0001f511", "\U0001f5dd")),
)
NAMES: Final = tuple(c.name for c in CATEGORIES)
BY_NAME: Final = {c.name: c for c in CATEGORIES}

_PROMPT_EN: Final = "Select every square with {article} {noun}."
_PROMPT_KO: Final = "{noun}{particle} 있는 칸을 모두 고르세요."


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def _ko_subject(noun: str) -> str:
    """The subject particle: 가 after a vowel-final syllable, 이 after a final consonant."""
    last = ord(noun[-1]) - 0xAC00
    return "이" if 0 <= last < 11172 and last % 28 else "가"


def prompt(category: str, locale: str) -> str:
    """ "Select every square with a bicycle." / "자전거가 있는 칸을 모두 고르세요"."""
    cat = BY_NAME[category]
    if locale == "ko":
        return _PROMPT_KO.format(noun=cat.ko, particle=_ko_subject(cat.ko))
    return _PROMPT_EN.format(article=_article(cat.en), noun=cat.en)


def category_of_prompt(text: str) -> str | None:
    """The category a prompt names (the open-source inverse; attackers have it too)."""
    for cat in CATEGORIES:
        if text in (prompt(cat.name, "en"), prompt(cat.name, "ko")):
            return cat.name
    return None
