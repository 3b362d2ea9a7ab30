"""The audio challenge: spoken digits in noise, the accessible alternative to visual tasks.

WCAG 2.2 asks for an alternative wherever a task tests a skill such as seeing, drawing or judging
emotion; this is Haechi's. Clips are pre-generated into a pool (``haechi challenges build-pool
--type audio``; see ``haechi.challenges.audio_gen``), so serving one is a dictionary lookup and a
signed URL, never a subprocess. The answer (the digits) is sealed into the challenge; the task
carries only the clip's URL, whose key is random, and ``input.maxLength`` is always the same
(room for the largest digit count with a separator after each digit, as people often type them),
so the task does not even say how many digits there are.

Visual types call ``offer_alternatives(task, ctx)`` so the widget offers audio wherever an audio
pool is ready.
"""

from __future__ import annotations

import random
import unicodedata

from haechi.challenges.base import JSON, LOCALES, ChallengeContext, CheckResult
from haechi.challenges.pool import ChallengePools, GeneratedItem, PoolEmpty
from haechi.core.errors import Unavailable

NAME = "audio"
MAX_DIGITS = 6
# What the answer box takes: "1 2 3 4 5 6" fits.
INPUT_CHARS = 2 * MAX_DIGITS
# Longest submission looked at: anything longer is malformed, not normalised.
MAX_SUBMISSION_CHARS = 64
_SEPARATORS = frozenset(" \t\r\n\u00a0\u3000-.,_/")
_PROMPT = {
    "en": "Play the recording and type the digits you hear.",
    "ko": "녹음을 재생하고 들리는 숫자를 입력하세요.",
}
# When the pool has no clip in the visitor's language, the prompt says which one it is in.
_PROMPT_OTHER = {
    ("en", "ko"): "Play the recording and type the digits you hear (spoken in Korean).",
    ("ko", "en"): "녹음을 재생하고 들리는 숫자를 입력하세요(영어로 읽어 줍니다).",
}


def normalise_digits(text: str) -> str | None:
    """ASCII digits from what a visitor typed: full-width and other scripts' decimal digits
    count, spaces and common separators are dropped; None if anything else is left."""
    out: list[str] = []
    for char in unicodedata.normalize("NFKC", text):
        if char in _SEPARATORS or char.isspace():
            continue
        value = unicodedata.decimal(char, None)
        if value is None:
            return None
        out.append(str(value))
    return "".join(out)


def offer_alternatives(task: dict[str, JSON], ctx: ChallengeContext) -> dict[str, JSON]:
    """Add ``alternatives: ["audio"]`` to a visual task when an audio pool is ready to serve.

    Every visual type calls this on the task it returns: the widget then offers the audio
    challenge to visitors who cannot do the visual one.
    """
    pools = ctx.resources.get("pools")
    if isinstance(pools, ChallengePools) and pools.ready(NAME):
        task["alternatives"] = [NAME]
    return task


class AudioDigits:
    """Spoken digits (4-6), English or Korean, served from a pre-built pool."""

    name = NAME
    test_only = False
    uses_pool = True
    default_pool_size = 2000

    def __init__(self, pools: ChallengePools) -> None:
        self.pools = pools
        pools.track(self.name)

    def available(self) -> bool:
        """Offered only while a big enough pool is loaded; otherwise the policy falls back."""
        return self.pools.ready(self.name)

    def make_item(self, rng: random.Random) -> GeneratedItem:
        # Imported here: only pool builds synthesise speech.
        from haechi.challenges.audio_gen import CONTENT_TYPE, make_clip

        locale = rng.choice(LOCALES)
        clip = make_clip(rng, locale)
        meta: dict[str, JSON] = {"locale": locale, "duration_ms": clip.duration_ms}
        return GeneratedItem(clip.wav, CONTENT_TYPE, clip.digits, meta)

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        # Difficulty is not used: this is the accessible path, and its noise is already set
        # to what a listener manages. Harder visual types stay harder.
        try:
            item = self.pools.sample(self.name, rng, locale=locale)
        except PoolEmpty:
            raise Unavailable("no audio challenges are available; try again") from None
        spoken = item.meta.get("locale", locale)
        prompt = _PROMPT_OTHER.get((locale, str(spoken)), _PROMPT[locale])
        task: dict[str, JSON] = {
            "type": self.name,
            "kind": "audio",
            "locale": locale,
            "prompt": prompt,
            "audio": await self.pools.url(item),
            "input": {"format": "digits", "maxLength": INPUT_CHARS},
        }
        return task, item.label

    def check(self, answer: JSON, submission: JSON) -> CheckResult:
        if not isinstance(submission, dict):
            return CheckResult(False, "malformed")
        text = submission.get("text")
        if not isinstance(text, str) or len(text) > MAX_SUBMISSION_CHARS:
            return CheckResult(False, "malformed")
        digits = normalise_digits(text)
        if digits is None or not digits:
            return CheckResult(False, "malformed")
        if not isinstance(answer, str) or digits != answer:
            return CheckResult(False, "wrong")
        return CheckResult(True)
