"""The edge's /v1/blob route for the folder backend: signatures, expiry, traversal, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haechi.core.blobs import FsBlobStore
from haechi.core.blobs.fs import BlobUrlSigner
from haechi.core.crypto import Keyring, b64d, new_key
from tests.integration.conftest import Edge, embedded_edge

CLIP = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async for e in embedded_edge(tmp_path):
        yield e


def blobs(edge: Edge) -> FsBlobStore:
    store = edge.runtime.blobs
    assert isinstance(store, FsBlobStore)
    return store


def assert_problem(reply: object, status: int, code: str) -> None:
    assert reply.status_code == status  # type: ignore[attr-defined]
    assert reply.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert reply.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    body = reply.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["title"] == code
    assert body["type"].endswith("/" + code) and body["detail"]


async def test_serves_with_safe_headers(edge: Edge) -> None:
    store = blobs(edge)
    await store.put("pools/audio/g/items/abc", CLIP, "audio/wav")
    url = await store.url("pools/audio/g/items/abc", 300)
    assert url.startswith("/v1/blob/pools/audio/g/items/abc?exp=")
    reply = await edge.http.get(url)
    assert reply.status_code == 200 and reply.content == CLIP
    headers = reply.headers
    assert headers["content-type"] == "audio/wav"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["accept-ranges"] == "bytes"
    assert headers["access-control-allow-origin"] == "*"
    max_age = int(headers["cache-control"].removeprefix("private, max-age="))
    assert 295 <= max_age <= 300
    head = await edge.http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(CLIP))


async def test_public_url_prefix(tmp_path: Path) -> None:
    async for edge in embedded_edge(tmp_path, blobs={"public_url": "https://captcha.example/"}):
        url = await blobs(edge).url("a/b", 60)
        assert url.startswith("https://captcha.example/v1/blob/a/b?exp=")


async def test_byte_ranges(edge: Edge) -> None:
    store = blobs(edge)
    await store.put("clip", CLIP, "audio/wav")
    url = await store.url("clip", 60)
    first = await edge.http.get(url, headers={"range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == CLIP[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(CLIP)}"
    tail = await edge.http.get(url, headers={"range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == CLIP[-10:]
    rest = await edge.http.get(url, headers={"range": "bytes=10200-"})
    assert rest.content == CLIP[10200:]
    past = await edge.http.get(url, headers={"range": f"bytes={len(CLIP)}-"})
    assert_problem(past, 416, "range-not-satisfiable")
    assert past.headers["content-range"] == f"bytes */{len(CLIP)}"
    # Several ranges are not served piecewise: the whole blob comes back.
    multi = await edge.http.get(url, headers={"range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and multi.content == CLIP


async def test_expired_and_tampered_are_403(edge: Edge) -> None:
    store = blobs(edge)
    await store.put("clip", CLIP, "audio/wav")
    await store.put("other", b"secret", "audio/wav")
    real = store.clock
    store.clock = lambda: real() - 120
    old = await store.url("clip", 60)
    store.clock = real
    assert_problem(await edge.http.get(old), 403, "expired")

    url = await store.url("clip", 60)
    path, _, query = url.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    cases = {
        "other key": url.replace("/clip?", "/other?"),
        "later expiry": url.replace(f"exp={params['exp']}", f"exp={int(params['exp']) + 999}"),
        "no signature": f"{path}?exp={params['exp']}",
        "no expiry": f"{path}?sig={params['sig']}",
        "bad base64": f"{path}?exp={params['exp']}&sig=k1.***",
        "unknown key id": f"{path}?exp={params['exp']}&sig=zz." + params["sig"].split(".", 1)[1],
        "negative expiry": f"{path}?exp=-1&sig={params['sig']}",
        "huge expiry": f"{path}?exp={'9' * 40}&sig={params['sig']}",
    }
    for name, bad in cases.items():
        reply = await edge.http.get(bad)
        assert reply.status_code == 403, name
        assert_problem(reply, 403, "bad-signature")


async def test_signature_from_another_keyring_is_refused(edge: Edge) -> None:
    store = blobs(edge)
    await store.put("clip", CLIP, "audio/wav")
    active = edge.runtime.keyring.active
    foreign = BlobUrlSigner(Keyring({active: b64d(new_key())}, active))
    exp = int(store.clock()) + 60
    reply = await edge.http.get(f"/v1/blob/clip?exp={exp}&sig={foreign.sign('clip', exp)}")
    assert_problem(reply, 403, "bad-signature")


async def test_missing_blob_is_404(edge: Edge) -> None:
    store = blobs(edge)
    url = await store.url("never/written", 60)
    assert_problem(await edge.http.get(url), 404, "not-found")
    await store.put("gone", CLIP, "audio/wav")
    url = await store.url("gone", 60)
    await store.delete("gone")
    assert_problem(await edge.http.get(url), 404, "not-found")


@pytest.mark.parametrize(
    "raw_path",
    [
        "/v1/blob/../keys.json",
        "/v1/blob/%2e%2e/keys.json",
        "/v1/blob/..%2fkeys.json",
        "/v1/blob/.meta/clip",
        "/v1/blob//etc/passwd",
        "/v1/blob/a/%2e%2e/%2e%2e/keys.json",
    ],
)
async def test_traversal_never_leaves_the_folder(edge: Edge, raw_path: str) -> None:
    store = blobs(edge)
    await store.put("clip", CLIP, "audio/wav")
    # Even a valid-looking signature over the decoded path opens nothing outside the folder:
    # the key is refused before any signature is computed or file touched.
    exp = int(store.clock()) + 60
    sig = store.signer.sign("clip", exp)
    reply = await edge.http.request("GET", f"http://edge.test{raw_path}?exp={exp}&sig={sig}")
    assert reply.status_code in (403, 404)
    assert b"secret_pepper" not in reply.content and b"keyring" not in reply.content
    assert (Path(store.root).parent / "keys.json").exists()


async def test_symlink_out_of_the_folder_is_refused(edge: Edge) -> None:
    store = blobs(edge)
    await store.put("clip", CLIP, "audio/wav")
    (store.root / "escape").symlink_to(store.root.parent)
    with pytest.raises(ValueError):
        await store.get("escape/keys.json")
    exp = int(store.clock()) + 60
    sig = store.signer.sign("escape/keys.json", exp)
    reply = await edge.http.get(f"/v1/blob/escape/keys.json?exp={exp}&sig={sig}")
    assert reply.status_code in (403, 404)
    assert b"keyring" not in reply.content
