"""The words of the handwriting challenge: short Korean nouns a person can draw from one picture.

Each entry is one picture (an emoji from Noto Color Emoji) and the Korean word for it, with the
other words a person may reasonably write for the same picture (``강아지`` for the dog). The
recogniser scores every form of every entry; a drawing passes when the best-scoring form belongs
to the challenge's entry. ``SYLLABLES`` is the recogniser's alphabet: every syllable of the
lexicon plus common syllables outside it, so the model reads syllables, not 60 whole words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Word:
    ko: str
    en: str
    emoji: str
    # Other Korean words accepted for the same picture.
    also: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.ko, *self.also)


LEXICON: Final[tuple[Word, ...]] = (
    Word("사과", "apple", "🍎"),
    Word("고양이", "cat", "🐱"),
    Word("나무", "tree", "🌳"),
    Word("집", "house", "🏠"),
    Word("별", "star", "⭐"),
    Word("개", "dog", "🐶", ("강아지",)),
    Word("달", "moon", "🌙"),
    Word("꽃", "flower", "🌷"),
    Word("물고기", "fish", "🐟", ("생선",)),
    Word("새", "bird", "🐦"),
    Word("말", "horse", "🐴"),
    Word("소", "cow", "🐮"),
    Word("돼지", "pig", "🐷"),
    Word("토끼", "rabbit", "🐰"),
    Word("곰", "bear", "🐻"),
    Word("쥐", "mouse", "🐭"),
    Word("호랑이", "tiger", "🐯"),
    Word("원숭이", "monkey", "🐵"),
    Word("닭", "chicken", "🐔"),
    Word("오리", "duck", "🦆"),
    Word("뱀", "snake", "🐍"),
    Word("거북", "turtle", "🐢", ("거북이",)),
    Word("포도", "grapes", "🍇"),
    Word("바나나", "banana", "🍌"),
    Word("수박", "watermelon", "🍉"),
    Word("딸기", "strawberry", "🍓"),
    Word("복숭아", "peach", "🍑"),
    Word("레몬", "lemon", "🍋"),
    Word("당근", "carrot", "🥕"),
    Word("옥수수", "corn", "🌽"),
    Word("버섯", "mushroom", "🍄"),
    Word("빵", "bread", "🍞"),
    Word("우유", "milk", "🥛"),
    Word("케이크", "cake", "🍰"),
    Word("피자", "pizza", "🍕"),
    Word("시계", "clock", "⏰"),
    Word("우산", "umbrella", "🌂"),
    Word("열쇠", "key", "🔑"),
    Word("책", "book", "📖"),
    Word("공", "ball", "⚽", ("축구공",)),
    Word("모자", "hat", "🎩"),
    Word("신발", "shoe", "👟", ("운동화",)),
    Word("안경", "glasses", "👓"),
    Word("전화", "telephone", "📞", ("전화기",)),
    Word("자동차", "car", "🚗", ("차",)),
    Word("버스", "bus", "🚌"),
    Word("기차", "train", "🚆"),
    Word("배", "ship", "🚢"),
    Word("자전거", "bicycle", "🚲"),
    Word("눈사람", "snowman", "⛄"),
    Word("불", "fire", "🔥"),
    Word("가방", "bag", "👜"),
    Word("로켓", "rocket", "🚀"),
    Word("선물", "gift", "🎁"),
    Word("풍선", "balloon", "🎈"),
    Word("나비", "butterfly", "🦋"),
    Word("벌", "bee", "🐝"),
    Word("문어", "octopus", "🐙"),
    Word("고래", "whale", "🐳"),
    Word("개구리", "frog", "🐸"),
    Word("사자", "lion", "🦁"),
    Word("코끼리", "elephant", "🐘"),
    Word("기린", "giraffe", "🦒"),
    Word("달걀", "egg", "🥚", ("계란",)),
    Word("양말", "socks", "🧦"),
    Word("종", "bell", "🔔"),
    Word("무지개", "rainbow", "🌈"),
)

BY_WORD: Final[dict[str, Word]] = {w.ko: w for w in LEXICON}
# Every accepted form, and the entry it belongs to.
FORMS: Final[dict[str, Word]] = {form: w for w in LEXICON for form in w.forms}

# Common syllables outside the lexicon, so the recogniser learns to read syllables it will see
# written by people who write the wrong word, and cannot pass a scribble as a 60-way guess.
_EXTRA = (
    "가각간갈감갑강같개거건걸검것게겨격견결경계고곡곤골공과관광괴교구국군굴궁권귀규균그극근글금"
    "급기긴길김까깨꼬꾸끄끝나낙난날남납낭내너널넣네녀년념노녹논놀농뇌누눈뉴느는늘능니님다단담답"
    "당대더덕도독돌동두둘뒤드득든들등디따때떡또뚜뜻라락란람랑래략량러런럼레려력련렬령례로록론료"
    "루류률르른를름리린림립마막만많맛망매머먹멀메며면명모목몸못무문물미민밀바박반받발밤방백번범"
    "법변병보복본봄봉부북분비빛사산살삼상색생서석선설섬성세소속손송수숙순술숲스슬습승시식신실심"
    "십싸쓰씨아악안알앞애야약양어억언얼엄업없여역연열염영예오옥온올옷와완왕외요용우운울움웃원월"
    "위유육윤은을음응의이익인일임입잎자작잔잠장재저적전절점정제조족존종좋주죽준중즐지직진질집짓"
    "짜쪽차착참창채책처천철청체초촌총최추축춘출충취측층치친칠침카커코쿠크키타탄탈탑태터토통투특"
    "파판팔패퍼편평포표푸품풍프피필하학한할함합항해핵행향허험현혈형혜호혹혼화확환활황회효후훈휴흐흑흔흘흙흥희흰힘"
)


def _alphabet() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for word in LEXICON:
        for form in word.forms:
            for char in form:
                seen[char] = None
    for char in _EXTRA:
        seen[char] = None
    return tuple(sorted(seen))


SYLLABLES: Final[tuple[str, ...]] = _alphabet()
