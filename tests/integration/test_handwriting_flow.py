"""The handwriting challenge end to end over HTTP: pool, challenge, picture, strokes, token.

The test learns the word the only way a test may, by opening the sealed challenge with the
edge's own keyring, and writes it as a person would on the canvas: the skeleton of the word in
a handwriting font the recogniser never saw in training.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.challenges.handwriting import skeleton
from haechi.challenges.handwriting.challenge import Handwriting
from haechi.challenges.handwriting.lexicon import BY_WORD, LEXICON
from haechi.challenges.handwriting.prompt import WEBP_BYTES
from haechi.core.settings import PlanBand, PolicySettings, PoolSettings
from haechi.protocol.service import CHALLENGE_PURPOSE
from tests.integration.conftest import Edge, embedded_edge

# Requests without telemetry score 30: this band asks for handwriting.
POLICY = PolicySettings(
    bands=[
        PlanBand(max_risk=10, pow_bits=6, pow_count=2),
        PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["handwriting"]),
        PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
    ],
    fallback_extra_bits=2,
)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    pools = PoolSettings(min_items=2, refresh_seconds=3600)
    async for e in embedded_edge(tmp_path, policy=POLICY, pools=pools):
        yield e


def sealed_word(edge: Edge, challenge: dict[str, Any]) -> str:
    opened = orjson.loads(edge.runtime.keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
    assert opened["ty"] == "handwriting"
    word: str = opened["ans"]
    return word


def written(word: str, canvas: dict[str, int]) -> dict[str, Any]:
    strokes = skeleton.word_strokes(word, skeleton.HELD_OUT_FONT)
    return skeleton.as_submission(strokes, (canvas["width"], canvas["height"]), random.Random(2))


async def build_pool(edge: Edge, count: int) -> None:
    pools = edge.runtime.pools
    assert pools is not None
    kind = edge.runtime.registry.get("handwriting")
    assert isinstance(kind, Handwriting)
    # The seed fixes the pool's words (벌, 레몬, 케이크, 열쇠): ones the recogniser reads in the
    # held-out font, so the end-to-end test does not depend on which item the server samples.
    # How often words in that font pass overall (81 %) is the model card's business.
    await pools.build(kind, count, rng=random.Random(24), concurrency=2)


async def test_handwriting_challenge_end_to_end(edge: Edge) -> None:
    await build_pool(edge, 4)
    site = await edge.create_site()

    challenge = (await edge.challenge(site.sitekey, locale="ko-KR")).json()
    task = challenge["task"]
    assert task["type"] == "handwriting" and task["kind"] == "draw" and task["locale"] == "ko"
    word = sealed_word(edge, challenge)
    public = orjson.dumps(task).decode()
    assert word not in public and BY_WORD[word].en not in public

    picture = await edge.http.get(task["image"])
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/webp"
    assert len(picture.content) == WEBP_BYTES and word.encode() not in picture.content

    outcome = (await edge.solve(challenge, answer=written(word, task["canvas"]))).json()
    assert outcome["outcome"] == "token", outcome
    verdict = await edge.verify(secret=site.secret, response=outcome["token"])
    assert verdict["success"] is True and verdict["hostname"] == "shop.example.com"


async def test_another_word_fails_and_the_challenge_is_spent(edge: Edge) -> None:
    await build_pool(edge, 2)
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    word = sealed_word(edge, challenge)
    other = next(w.ko for w in LEXICON if w.ko != word and len(w.ko) == 2)
    failed = await edge.solve(challenge, answer=written(other, challenge["task"]["canvas"]))
    assert failed.json() == {"v": 1, "outcome": "fail", "code": "wrong-answer"}
    again = await edge.solve(challenge, answer=written(word, challenge["task"]["canvas"]))
    assert again.json()["code"] == "already-solved"


async def test_malformed_strokes_fail_without_an_error(edge: Edge) -> None:
    await build_pool(edge, 2)
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    bad = {"strokes": [[[10, 10, 500], [20, 20, 100]]]}  # time runs backwards
    reply = await edge.solve(challenge, answer=bad)
    assert reply.status_code == 200
    assert reply.json() == {"v": 1, "outcome": "fail", "code": "wrong-answer"}


async def test_drawing_timing_feeds_the_risk_of_the_token(edge: Edge) -> None:
    """The right word drawn faster than a hand can draw it: the answer is accepted, and the
    token carries the `impossible-drawing` points (the score siteverify reports drops)."""
    await build_pool(edge, 4)
    site = await edge.create_site()
    scores = []
    for speedup in (1, 50):
        challenge = (await edge.challenge(site.sitekey)).json()
        answer = written(sealed_word(edge, challenge), challenge["task"]["canvas"])
        answer["strokes"] = [
            [[x, y, t // speedup] for x, y, t in stroke] for stroke in answer["strokes"]
        ]
        outcome = (await edge.solve(challenge, answer=answer)).json()
        assert outcome["outcome"] == "token", outcome
        verdict = await edge.verify(secret=site.secret, response=outcome["token"])
        scores.append(verdict["score"])
    natural, scripted = scores
    assert round(natural - scripted, 2) == 0.30, scores
