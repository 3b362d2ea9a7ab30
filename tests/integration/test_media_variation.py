"""``GET /v1/media/<alias>`` serves each showing of a pool item as its own rendering
(``pools.vary_per_serve``), the same bytes for the same URL, and the stored bytes when off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haechi.core.settings import PoolSettings
from tests.integration.conftest import Edge, embedded_edge
from tests.unit.test_variation import tile

KEY = "pools/grid/20261207T215646Z-0f5fb968/items/0e4a29c4c2ca82350dc69e49a1abbd7d"


@pytest.fixture(params=[True, False], ids=["vary", "stored"])
async def edge(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Edge]:
    pools = PoolSettings(vary_per_serve=request.param)
    async for e in embedded_edge(tmp_path, pools=pools):
        yield e


async def test_each_showing_is_rendered_afresh(edge: Edge) -> None:
    runtime = edge.runtime
    assert runtime.blobs is not None and runtime.aliases is not None
    stored = tile(7)
    await runtime.blobs.put(KEY, stored, "image/webp")
    first, second = runtime.aliases.url(KEY, 60), runtime.aliases.url(KEY, 60)
    a = await edge.http.get(first)
    again = await edge.http.get(first)
    b = await edge.http.get(second)
    for reply in (a, again, b):
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "image/webp"
        assert len(reply.content) == len(stored)
    assert a.content == again.content
    if runtime.settings.pools.vary_per_serve:
        assert a.content != stored and b.content != stored and a.content != b.content
    else:
        assert a.content == b.content == stored
    # A byte range of a showing is a range of that showing's rendering.
    part = await edge.http.get(first, headers={"range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == a.content[:100]
