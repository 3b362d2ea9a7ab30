"""A trivial built-in challenge type for tests: "select every cell showing ★".

It has the shape of the image-grid types (a 3x3 ``select`` task, a set of cells as the answer) so
the protocol and the widget's panel can be exercised end to end before the real visual types
exist. It offers no security — the glyphs are in the task in clear — so it is ``test_only`` and
only offered when ``policy.enabled_test_types`` lists "glyph".
"""

from __future__ import annotations

import random
import secrets

from haechi.challenges.base import JSON, ChallengeContext, CheckResult

_TARGETS = {"★": {"en": "star", "ko": "별"}, "●": {"en": "circle", "ko": "원"}}
_OTHERS = ["■", "▲", "◆", "♥", "♣", "✚"]
_PROMPT = {
    "en": "Select every square showing a {name} ({glyph}).",
    "ko": "{name}({glyph}) 모양이 있는 칸을 모두 고르세요.",
}


class GlyphGrid:
    name = "glyph"
    test_only = True

    async def generate(
        self, ctx: ChallengeContext, rng: random.Random, difficulty: float, locale: str
    ) -> tuple[dict[str, JSON], JSON]:
        glyph = rng.choice(sorted(_TARGETS))
        n_correct = rng.randint(2, 5)
        labels = [glyph] * n_correct + [rng.choice(_OTHERS) for _ in range(9 - n_correct)]
        rng.shuffle(labels)
        # Fresh random ids per challenge: neither order nor ids say anything.
        cells = [{"id": secrets.token_urlsafe(6), "label": label} for label in labels]
        answer = sorted(c["id"] for c in cells if c["label"] == glyph)
        task = {
            "type": self.name,
            "kind": "select",
            "locale": locale,
            "prompt": _PROMPT[locale].format(name=_TARGETS[glyph][locale], glyph=glyph),
            "grid": {"rows": 3, "cols": 3},
            "cells": cells,
            "select": {"min": 1, "max": 9},
        }
        return task, answer

    def check(self, answer: JSON, submission: JSON) -> CheckResult:
        if not isinstance(submission, dict):
            return CheckResult(False, "malformed")
        chosen = submission.get("cells")
        if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            return CheckResult(False, "malformed")
        if len(chosen) > 9 or len(set(chosen)) != len(chosen):
            return CheckResult(False, "malformed")
        if sorted(chosen) != answer:
            return CheckResult(False, "wrong")
        return CheckResult(True)
