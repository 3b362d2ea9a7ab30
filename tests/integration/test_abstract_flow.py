"""The abstract challenge end to end over HTTP: challenge, cell image, solve, token, siteverify.

The test learns the answer the only way a test may: by opening the sealed challenge with the
edge's own keyring, never through an endpoint.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.challenges.abstract import generate
from haechi.challenges.abstract.challenge import AbstractEmotion
from haechi.core.settings import PlanBand, PolicySettings, PoolSettings
from haechi.protocol.service import CHALLENGE_PURPOSE
from tests.integration.conftest import Edge, embedded_edge

# Requests without telemetry score 30: this band asks for abstract, and falls back without it.
ABSTRACT_POLICY = PolicySettings(
    bands=[
        PlanBand(max_risk=10, pow_bits=6, pow_count=2),
        PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["abstract"]),
        PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
    ],
    fallback_extra_bits=2,
)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    pools = PoolSettings(min_items=2, refresh_seconds=3600)
    async for e in embedded_edge(tmp_path, policy=ABSTRACT_POLICY, pools=pools):
        yield e


def sealed_answer(edge: Edge, challenge: dict[str, Any]) -> list[str]:
    opened = orjson.loads(edge.runtime.keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
    assert opened["ty"] == "abstract"
    answer: list[str] = opened["ans"]
    return answer


async def build_abstract_pool(edge: Edge, count: int) -> None:
    pools = edge.runtime.pools
    assert pools is not None
    kind = edge.runtime.registry.get("abstract")
    assert isinstance(kind, AbstractEmotion)
    await pools.build(kind, count, rng=random.Random(8), concurrency=2)


async def test_without_a_pool_the_policy_falls_back_to_heavier_pow(edge: Edge) -> None:
    site = await edge.create_site()
    reply = (await edge.challenge(site.sitekey)).json()
    assert reply["task"] is None
    assert reply["pow"]["bits"] == 6 + 2


async def test_abstract_challenge_end_to_end(edge: Edge) -> None:
    await build_abstract_pool(edge, 30)
    site = await edge.create_site()

    challenge = (await edge.challenge(site.sitekey, locale="ko-KR")).json()
    task = challenge["task"]
    assert task["type"] == "abstract" and task["kind"] == "select" and task["locale"] == "ko"
    answer = sealed_answer(edge, challenge)
    assert 2 <= len(answer) <= 5
    assert set(answer) <= {c["id"] for c in task["cells"]}

    image = await edge.http.get(task["cells"][0]["image"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/webp"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert len(image.content) == generate.WEBP_BYTES
    assert generate.decode(image.content).size == (generate.SIZE, generate.SIZE)

    outcome = (await edge.solve(challenge, answer={"cells": answer[::-1]})).json()
    assert outcome["outcome"] == "token", outcome
    verdict = await edge.verify(secret=site.secret, response=outcome["token"])
    assert verdict["success"] is True and verdict["hostname"] == "shop.example.com"


async def test_a_wrong_selection_fails_and_the_challenge_is_spent(edge: Edge) -> None:
    await build_abstract_pool(edge, 30)
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    answer = sealed_answer(edge, challenge)
    failed = (await edge.solve(challenge, answer={"cells": answer[:1]})).json()
    assert failed == {"v": 1, "outcome": "fail", "code": "wrong-answer"}
    again = (await edge.solve(challenge, answer={"cells": answer})).json()
    assert again["code"] == "already-solved"
