"""The handwriting red-team attackers on their own: they name pictures, write words, and their
submissions are well-formed (the runner measures how often they pass)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import pytest
from bench.redteam.attackers.base import Challenge
from bench.redteam.attackers.handwriting import ATTACKERS, OwnModel, RandomWord

from haechi.challenges.handwriting import prompt
from haechi.challenges.handwriting.challenge import CANVAS
from haechi.challenges.handwriting.lexicon import LEXICON

SUBMISSION = json.loads(
    (Path(__file__).resolve().parents[2] / "docs/schemas/challenge-submission.v1.json").read_text()
)


def challenges(n: int, seed: int) -> list[tuple[Challenge, str]]:
    """Challenges as the server would make them (a different seed from the attacker's)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        word = rng.choice(LEXICON)
        data = prompt.make(word, rng)
        task = {
            "type": "handwriting",
            "kind": "draw",
            "locale": "ko",
            "prompt": "그림의 이름을 한글로 쓰세요.",
            "image": f"/v1/blob/{i}",
            "canvas": {"width": CANVAS[0], "height": CANVAS[1]},
        }
        out.append((Challenge("handwriting", task, lambda url, d=data: d), word.ko))
    return out


def test_attackers_are_listed_with_their_budget() -> None:
    assert [OwnModel, RandomWord] == ATTACKERS[:2]
    for cls in ATTACKERS:
        assert cls.name.startswith("handwriting/") and cls.types == ("handwriting",)
        assert cls.family in {"random", "own-model", "off-the-shelf"} and cls.budget


def test_own_model_names_most_pictures_and_writes_well_formed_strokes(tmp_path: Path) -> None:
    attacker = OwnModel()
    attacker.prepare(tmp_path, quick=True)
    items = challenges(30, seed=4242)
    named = [attacker.name_picture(ch.fetch(ch.task["image"])) == word for ch, word in items]
    assert sum(named) / len(named) >= 0.7
    for ch, _ in items[:5]:
        sub = attacker.solve(ch)
        jsonschema.validate(sub, SUBMISSION)
        assert all(
            0 <= p[0] <= CANVAS[0] and 0 <= p[1] <= CANVAS[1] for s in sub["strokes"] for p in s
        )


def test_random_word_writes_some_lexicon_word(tmp_path: Path) -> None:
    attacker = RandomWord()
    attacker.prepare(tmp_path, quick=True)
    ch, _ = challenges(1, seed=1)[0]
    subs = [attacker.solve(ch) for _ in range(3)]
    for sub in subs:
        jsonschema.validate(sub, SUBMISSION)
    assert len({json.dumps(s) for s in subs}) > 1


@pytest.mark.parametrize("cls", [OwnModel, RandomWord])
def test_attackers_never_see_the_word(cls: type, tmp_path: Path) -> None:
    # The task they get has no word in it: only the picture URL and the canvas.
    ch, word = challenges(1, seed=9)[0]
    assert word not in json.dumps(ch.task, ensure_ascii=False)
    attacker = cls()
    attacker.prepare(tmp_path, quick=True)
    jsonschema.validate(attacker.solve(ch), SUBMISSION)
