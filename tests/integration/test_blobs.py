"""One blob suite, two backends: the local folder (URLs served by the edge) and S3 (moto)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from haechi.core.blobs import BlobNotFound, BlobStore, FsBlobStore
from haechi.core.blobs.s3 import S3BlobStore
from tests.integration.conftest import Edge, embedded_edge
from tests.integration.s3_server import S3Server, presigned_ok, s3_server  # noqa: F401

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4


@dataclass
class Backend:
    name: str
    store: BlobStore
    edge: Edge
    fetch: Callable[[str], Awaitable[httpx.Response]]
    # Would the backend accept this URL ``after`` seconds from now? (S3's own check for s3,
    # the edge's route for fs.)
    accepts: Callable[[str, float], Awaitable[bool]]


def fs_backend(edge: Edge) -> Backend:
    store = edge.runtime.blobs
    assert isinstance(store, FsBlobStore)

    async def fetch(url: str) -> httpx.Response:
        return await edge.http.get(url)

    async def accepts(url: str, after: float) -> bool:
        real = store.clock
        store.clock = lambda: real() + after
        try:
            return (await edge.http.get(url)).status_code == 200
        finally:
            store.clock = real

    return Backend("fs", store, edge, fetch, accepts)


def s3_backend(edge: Edge, client: httpx.AsyncClient) -> Backend:
    store = edge.runtime.blobs
    assert isinstance(store, S3BlobStore)

    async def fetch(url: str) -> httpx.Response:
        return await client.get(url)

    async def accepts(url: str, after: float) -> bool:
        if not presigned_ok(url, now=time.time() + after):
            return False
        return (await client.get(url)).status_code == 200

    return Backend("s3", store, edge, fetch, accepts)


@pytest.fixture(params=["fs", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "fs":
        async for edge in embedded_edge(tmp_path):
            yield fs_backend(edge)
        return
    server: S3Server = request.getfixturevalue("s3_server")
    blobs = server.settings(server.new_bucket(), prefix="deploy-a")
    async for edge in embedded_edge(tmp_path, blobs=blobs):
        async with httpx.AsyncClient() as client:
            yield s3_backend(edge, client)


async def test_put_get_list_delete_round_trip(backend: Backend) -> None:
    store = backend.store
    await store.put("pools/audio/g1/items/a1", WAV, "audio/wav")
    await store.put("pools/audio/g1/items/b2", b"two", "application/octet-stream")
    await store.put("pools/audio/g1/manifest.json", b"{}", "application/json")
    await store.put("pools/grid/g9/items/c3", b"three", "image/webp")
    await store.put("top", b"top", "text/plain")

    blob = await store.get("pools/audio/g1/items/a1")
    assert blob.data == WAV and blob.content_type == "audio/wav"
    assert await store.exists("pools/audio/g1/items/a1")
    assert not await store.exists("pools/audio/g1/items/zz")

    assert await store.list("pools/audio/") == [
        "pools/audio/g1/items/a1",
        "pools/audio/g1/items/b2",
        "pools/audio/g1/manifest.json",
    ]
    # A prefix may end inside a segment, as on S3.
    assert await store.list("pools/au") == await store.list("pools/audio/")
    assert await store.list("pools/audio/g1/items/b") == ["pools/audio/g1/items/b2"]
    assert await store.list("nothing/") == []
    assert len(await store.list()) == 5

    await store.put("pools/audio/g1/items/b2", b"replaced", "application/octet-stream")
    assert (await store.get("pools/audio/g1/items/b2")).data == b"replaced"

    await store.delete("pools/audio/g1/items/a1")
    assert not await store.exists("pools/audio/g1/items/a1")
    with pytest.raises(BlobNotFound):
        await store.get("pools/audio/g1/items/a1")
    await store.delete("pools/audio/g1/items/a1")  # deleting what is gone is fine
    assert await store.delete_many(await store.list("pools/")) == 3
    assert await store.list() == ["top"]


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "../x", "a/../b", "a/./b", ".meta/a", "a/.hidden", "a\\b", "a b"]
)
async def test_bad_keys_are_refused_everywhere(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError):
        await backend.store.put(key, b"x", "text/plain")
    with pytest.raises(ValueError):
        await backend.store.url(key, 60)
    with pytest.raises(ValueError):
        await backend.store.get(key)


async def test_bad_content_type_is_refused(backend: Backend) -> None:
    with pytest.raises(ValueError):
        await backend.store.put("k", b"x", "text/html\r\nx-evil: 1")


async def test_signed_url_fetches_the_blob_over_http(backend: Backend) -> None:
    await backend.store.put("clips/x1", WAV, "audio/wav")
    url = await backend.store.url("clips/x1", 120)
    reply = await backend.fetch(url)
    assert reply.status_code == 200
    assert reply.content == WAV
    assert reply.headers["content-type"] == "audio/wav"
    cache = reply.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert 0 < int(cache.rsplit("=", 1)[1]) <= 120
    assert await backend.accepts(url, 0)


async def test_expired_url_is_refused(backend: Backend) -> None:
    await backend.store.put("clips/x2", WAV, "audio/wav")
    url = await backend.store.url("clips/x2", 30)
    assert await backend.accepts(url, 25)
    assert not await backend.accepts(url, 31)


def _tamper(url: str, name: str, change: Callable[[str], str]) -> str:
    parts = urlsplit(url)
    query = [(k, change(v) if k == name else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit((*parts[:3], urlencode(query, quote_via=quote), ""))


async def test_tampered_url_is_refused(backend: Backend) -> None:
    await backend.store.put("clips/x3", WAV, "audio/wav")
    await backend.store.put("clips/x4", b"other", "audio/wav")
    url = await backend.store.url("clips/x3", 60)
    sig, exp = ("sig", "exp") if backend.name == "fs" else ("X-Amz-Signature", "X-Amz-Expires")
    flipped = _tamper(url, sig, lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"))
    longer = _tamper(url, exp, lambda v: str(int(v) + 3600))
    other_key = url.replace("clips/x3", "clips/x4")
    for bad in (flipped, longer, other_key):
        assert not await backend.accepts(bad, 0), bad
