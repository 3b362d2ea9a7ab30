"""The image-grid challenge end to end over HTTP: challenge, cell images, solve, token, siteverify.

The test learns the answer the only way a test may: by opening the sealed challenge with the
edge's own keyring, never through an endpoint.
"""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from haechi.challenges.grid import ImageGrid, categories, render
from haechi.core.settings import PlanBand, PolicySettings, PoolSettings
from haechi.protocol.service import CHALLENGE_PURPOSE
from tests.integration.conftest import Edge, embedded_edge

# Requests without telemetry score 30: this band asks for the grid, and falls back without it.
GRID_POLICY = PolicySettings(
    bands=[
        PlanBand(max_risk=10, pow_bits=6, pow_count=2),
        PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["grid"]),
        PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
    ],
    fallback_extra_bits=2,
)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    pools = PoolSettings(min_items=2, refresh_seconds=3600)
    async for e in embedded_edge(tmp_path, policy=GRID_POLICY, pools=pools):
        yield e


def sealed_answer(edge: Edge, challenge: dict[str, Any]) -> list[str]:
    opened = orjson.loads(edge.runtime.keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
    assert opened["ty"] == "grid"
    answer: list[str] = opened["ans"]
    return answer


async def build_grid_pool(edge: Edge, count: int) -> None:
    pools = edge.runtime.pools
    assert pools is not None
    kind = edge.runtime.registry.get("grid")
    assert isinstance(kind, ImageGrid)
    await pools.build(kind, count, rng=random.Random(8), concurrency=2)


async def test_without_a_pool_the_policy_falls_back_to_heavier_pow(edge: Edge) -> None:
    site = await edge.create_site()
    reply = (await edge.challenge(site.sitekey)).json()
    assert reply["task"] is None and reply["pow"]["bits"] == 6 + 2


async def test_grid_challenge_end_to_end(edge: Edge) -> None:
    await build_grid_pool(edge, 64)
    site = await edge.create_site()

    challenge = (await edge.challenge(site.sitekey, locale="ko-KR")).json()
    task = challenge["task"]
    assert task["type"] == "grid" and task["kind"] == "select" and task["locale"] == "ko"
    assert categories.category_of_prompt(task["prompt"]) is not None
    answer = sealed_answer(edge, challenge)
    assert 2 <= len(answer) <= 5 and set(answer) <= {c["id"] for c in task["cells"]}

    sizes = set()
    for cell in task["cells"]:
        reply = await edge.http.get(cell["image"])
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "image/webp"
        assert reply.headers["x-content-type-options"] == "nosniff"
        sizes.add(len(reply.content))
        with Image.open(io.BytesIO(reply.content)) as img:
            assert img.size == (render.TILE, render.TILE) and not img.getexif()
    assert sizes == {render.TILE_BYTES}

    outcome = (await edge.solve(challenge, answer={"cells": list(reversed(answer))})).json()
    assert outcome["outcome"] == "token", outcome
    verdict = await edge.verify(secret=site.secret, response=outcome["token"])
    assert verdict["success"] is True and verdict["hostname"] == "shop.example.com"


async def test_a_missing_cell_fails_and_the_challenge_is_spent(edge: Edge) -> None:
    await build_grid_pool(edge, 64)
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    answer = sealed_answer(edge, challenge)
    failed = (await edge.solve(challenge, answer={"cells": answer[1:]})).json()
    assert failed == {"v": 1, "outcome": "fail", "code": "wrong-answer"}
    again = (await edge.solve(challenge, answer={"cells": answer})).json()
    assert again["code"] == "already-solved"
