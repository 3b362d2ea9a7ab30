"""The audio challenge end to end over HTTP: challenge, clip, solve, token, siteverify.

The test learns the answer the only way a test may: by opening the sealed challenge with the
edge's own keyring, never through an endpoint.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from haechi.challenges.audio import AudioDigits
from haechi.core.settings import PlanBand, PolicySettings, PoolSettings
from haechi.protocol.service import CHALLENGE_PURPOSE
from tests.integration.conftest import Edge, embedded_edge

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("CI") != "true",
    reason="espeak-ng is not installed (apt-get install espeak-ng)",
)

# Requests without telemetry score 30: this band asks for audio, and falls back without it.
AUDIO_POLICY = PolicySettings(
    bands=[
        PlanBand(max_risk=10, pow_bits=6, pow_count=2),
        PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["audio"]),
        PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
    ],
    fallback_extra_bits=2,
)


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    pools = PoolSettings(min_items=2, refresh_seconds=3600)
    async for e in embedded_edge(tmp_path, policy=AUDIO_POLICY, pools=pools):
        yield e


def sealed_answer(edge: Edge, challenge: dict[str, Any]) -> str:
    opened = orjson.loads(edge.runtime.keyring.open(CHALLENGE_PURPOSE, challenge["challenge"]))
    assert opened["ty"] == "audio"
    answer: str = opened["ans"]
    return answer


async def build_audio_pool(edge: Edge, count: int) -> None:
    pools = edge.runtime.pools
    assert pools is not None
    kind = edge.runtime.registry.get("audio")
    assert isinstance(kind, AudioDigits)
    await pools.build(kind, count, rng=random.Random(8), concurrency=2)


async def test_without_a_pool_the_policy_falls_back_to_heavier_pow(edge: Edge) -> None:
    site = await edge.create_site()
    reply = (await edge.challenge(site.sitekey)).json()
    assert reply["task"] is None
    assert reply["pow"]["bits"] == 6 + 2
    ok = (await edge.solve(reply)).json()
    assert ok["outcome"] == "token"


async def test_audio_challenge_end_to_end(edge: Edge) -> None:
    await build_audio_pool(edge, 3)
    site = await edge.create_site()

    challenge = (await edge.challenge(site.sitekey, locale="ko-KR")).json()
    task = challenge["task"]
    assert task["type"] == "audio" and task["kind"] == "audio" and task["locale"] == "ko"
    answer = sealed_answer(edge, challenge)
    assert answer not in orjson.dumps(challenge["task"]).decode()

    clip = await edge.http.get(task["audio"])
    assert clip.status_code == 200
    assert clip.headers["content-type"] == "audio/wav"
    assert clip.headers["x-content-type-options"] == "nosniff"
    assert clip.content[:4] == b"RIFF" and answer.encode() not in clip.content

    # Typed the way a phone keyboard might: full-width digits with spaces.
    typed = " ".join(chr(ord(c) - ord("0") + ord("０")) for c in answer)
    outcome = (await edge.solve(challenge, answer={"text": typed})).json()
    assert outcome["outcome"] == "token", outcome
    verdict = await edge.verify(secret=site.secret, response=outcome["token"])
    assert verdict["success"] is True and verdict["hostname"] == "shop.example.com"


async def test_wrong_digits_fail_and_the_challenge_is_spent(edge: Edge) -> None:
    await build_audio_pool(edge, 2)
    site = await edge.create_site()
    challenge = (await edge.challenge(site.sitekey)).json()
    answer = sealed_answer(edge, challenge)
    wrong = answer[:-1] + str((int(answer[-1]) + 1) % 10)
    failed = (await edge.solve(challenge, answer={"text": wrong})).json()
    assert failed == {"v": 1, "outcome": "fail", "code": "wrong-answer"}
    again = (await edge.solve(challenge, answer={"text": answer})).json()
    assert again["code"] == "already-solved"


async def test_expired_clip_url_is_refused(edge: Edge) -> None:
    await build_audio_pool(edge, 2)
    site = await edge.create_site()
    task = (await edge.challenge(site.sitekey)).json()["task"]
    aliases = edge.runtime.aliases
    assert aliases is not None and task["audio"].startswith("/v1/media/")
    real = aliases.clock
    aliases.clock = lambda: real() + edge.runtime.settings.blobs.url_ttl_seconds + 1
    try:
        reply = await edge.http.get(task["audio"])
    finally:
        aliases.clock = real
    assert reply.status_code == 403 and reply.json()["title"] == "expired"


async def test_each_showing_of_a_clip_has_its_own_url(edge: Edge) -> None:
    """One clip in the pool, two challenges: the URLs share nothing a bot could memorise, and
    a tampered or foreign alias is refused."""
    await build_audio_pool(edge, 2)
    pools = edge.runtime.pools
    assert pools is not None and pools.settings.alias_urls
    site = await edge.create_site()
    urls = [(await edge.challenge(site.sitekey)).json()["task"]["audio"] for _ in range(6)]
    assert len(set(urls)) == 6 and len({len(u) for u in urls}) == 1
    key = pools.get("audio").items[0].key  # type: ignore[union-attr]
    assert not any(key in u or key.rsplit("/", 1)[1] in u for u in urls)
    first = await edge.http.get(urls[0])
    assert first.status_code == 200 and first.content[:4] == b"RIFF"
    token = urls[0].rsplit("/", 1)[1]
    tampered = urls[0][:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (tampered, "/v1/media/v2.k1.AAAA", "/v1/media/" + "x" * 600):
        refused = await edge.http.get(bad)
        assert refused.status_code == 403, bad
        assert refused.headers["content-type"] == "application/problem+json"


async def test_pool_jobs_build_and_prune_through_the_registry(edge: Edge) -> None:
    from haechi.core.jobs import JobContext, registry
    from haechi.runtime import load_jobs

    load_jobs()
    ctx = JobContext(edge.runtime.settings, edge.runtime.resources())
    build = registry.get("pool.build")
    assert not build.scheduled
    first = await build.fn(ctx, kind="audio", count=2)
    second = await build.fn(ctx, kind="audio", count=2)
    assert first["state"] == second["state"] == "current" and first["id"] != second["id"]
    pools = edge.runtime.pools
    assert pools is not None and pools.get("audio").generation == second["id"]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="does not use a pool"):
        await build.fn(ctx, kind="glyph", count=1)

    prune = registry.get("pool.prune")
    assert prune.every == 3600
    # Within the grace period nothing goes; past it, the first generation does.
    assert await prune.fn(ctx) == 0
    real = pools.clock
    pools.clock = lambda: real() + edge.runtime.settings.pools.grace_seconds + 1
    try:
        assert await prune.fn(ctx) == 3  # two clips and the manifest
    finally:
        pools.clock = real
    blobs = edge.runtime.blobs
    assert blobs is not None and await blobs.list(f"pools/audio/{first['id']}/") == []


# A visual band (the test glyph type) whose visitors may ask for the audio alternative.
VISUAL_POLICY = PolicySettings(
    bands=[
        PlanBand(max_risk=10, pow_bits=6, pow_count=2),
        PlanBand(max_risk=90, pow_bits=6, pow_count=2, challenges=["glyph"]),
        PlanBand(max_risk=100, pow_bits=6, pow_count=2, block=True),
    ],
    enabled_test_types=["glyph"],
)


async def test_a_visitor_may_ask_for_audio_instead_of_a_visual_task(tmp_path: Path) -> None:
    pools = PoolSettings(min_items=2, refresh_seconds=3600)
    async for edge in embedded_edge(tmp_path, policy=VISUAL_POLICY, pools=pools):
        site = await edge.create_site()
        # No audio pool yet: the visual task stays, and says no alternative is offered.
        plain = (await edge.challenge(site.sitekey, prefer="audio")).json()
        assert plain["task"]["type"] == "glyph"

        await build_audio_pool(edge, 2)
        visual = (await edge.challenge(site.sitekey)).json()
        assert visual["task"]["type"] == "glyph"
        audio = (await edge.challenge(site.sitekey, prefer="audio")).json()
        assert audio["task"]["type"] == "audio"
        outcome = (await edge.solve(audio, answer={"text": sealed_answer(edge, audio)})).json()
        assert outcome["outcome"] == "token", outcome

        refused = await edge.challenge(site.sitekey, prefer="video")
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "bad-request"
