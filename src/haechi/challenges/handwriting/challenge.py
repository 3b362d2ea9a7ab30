"""The ``handwriting`` challenge type: see a picture, write its Korean name on a canvas.

Prompts are pre-built into a pool (``haechi challenges build-pool --type handwriting``): each item
is one picture, labelled with its word. The word is sealed into the challenge; the task carries
only the picture's signed URL and the canvas size. ``check`` validates the strokes, renders them
the way the recogniser was trained to read them, and runs the CRNN off the event loop: the
drawing passes when the answer is the best-scoring lexicon word, clears the model's absolute
floor and out-scores a blank reading. The strokes' timing goes back to the risk engine as
signals.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Sequence
from typing import Final

from haechi.challenges.audio import offer_alternatives
from haechi.challenges.base import JSON, ChallengeContext, CheckResult
from haechi.challenges.handwriting import ink
from haechi.challenges.handwriting.lexicon import BY_WORD, LEXICON
from haechi.challenges.handwriting.recognise import Reading, Recogniser
from haechi.challenges.pool import ChallengePools, GeneratedItem, PoolEmpty
from haechi.core.errors import Unavailable

log = logging.getLogger("haechi.challenges.handwriting")

NAME: Final = "handwriting"
CANVAS: Final = (400, 160)
# A drawing whose ink spans fewer canvas pixels than this is a tap, not a word.
MIN_EXTENT: Final = 12.0
_PROMPT: Final = {
    "en": "Write the name of this picture in Korean.",
    "ko": "그림의 이름을 한글로 쓰세요.",
}


class Handwriting:
    """Write the Korean word for a picture; checked by a CRNN constrained to the lexicon."""

    name = NAME
    test_only = False
    uses_pool = True
    default_pool_size = 1000

    def __init__(self, pools: ChallengePools, recogniser: Recogniser | None = None) -> None:
        self.pools = pools
        self.recogniser = recogniser or Recogniser()
        pools.track(self.name)

    def available(self) -> bool:
        return self.pools.ready(self.name)

    def make_item(self, rng: random.Random) -> GeneratedItem:
        from haechi.challenges.handwriting import prompt

        word = rng.choice(LEXICON)
        data = prompt.make(word, rng)
        return GeneratedItem(data, prompt.CONTENT_TYPE, word.ko, {"locale": "ko"})

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        try:
            item = self.pools.sample(self.name, rng, locale="ko")
        except PoolEmpty:
            raise Unavailable("no handwriting challenges are available; try again") from None
        task: dict[str, JSON] = {
            "type": self.name,
            "kind": "draw",
            "locale": locale,
            "prompt": _PROMPT.get(locale, _PROMPT["en"]),
            "image": await self.pools.url(item),
            "canvas": {"width": CANVAS[0], "height": CANVAS[1]},
        }
        return offer_alternatives(task, ctx), item.label

    def check(self, answer: JSON, submission: JSON) -> CheckResult | Awaitable[CheckResult]:
        try:
            strokes = ink.parse(submission, CANVAS)
        except ink.BadStrokes as error:
            return CheckResult(False, str(error.args[0]))
        signals = ink.timing(strokes)
        if not isinstance(answer, str) or answer not in BY_WORD:
            return CheckResult(False, "wrong", signals)
        if ink.ink_extent(strokes) < MIN_EXTENT:
            return CheckResult(False, "too-small", signals)
        return self._read(answer, strokes, signals)

    async def _read(
        self, answer: str, strokes: Sequence[ink.F32], signals: dict[str, float]
    ) -> CheckResult:
        try:
            reading = await asyncio.to_thread(self._recognise, strokes)
        except Exception:
            # A broken model fails closed; the visitor gets another challenge.
            log.exception("the handwriting model failed")
            return CheckResult(False, "model-error", signals)
        if reading.best != answer:
            return CheckResult(False, "wrong", signals)
        if not reading.legible(answer):
            return CheckResult(False, "illegible", signals)
        return CheckResult(True, None, signals)

    def _recognise(self, strokes: Sequence[ink.F32]) -> Reading:
        spec = self.recogniser.spec
        image = ink.render(strokes, pen=spec.pen, height=spec.height, width=spec.width)
        return self.recogniser.read(image)
