"""``GET /v1/blob/<key>``: the edge serves the fs backend's signed URLs; ``GET /v1/media/<alias>``
serves per-challenge aliases of pool items from any backend (``haechi.core.blobs.alias``).

Checks run in order — format, signature, expiry, existence — and refusals are RFC 9457
problem+json (403 for a bad or expired signature, 404 for a missing blob, or for every request
when the blobs live on S3 and its presigned URLs go straight to the bucket). Responses may be
cached privately no longer than the URL lives, are never sniffed into another type, are
sandboxed if a browser opens one as a page, and honour single byte ranges (Safari will not play
audio from a server that ignores them). Each client IP may fetch ``rate_limit.blobs_per_ip`` per
window, counted before any other check (429 with ``Retry-After`` beyond it).
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haechi.challenges.variation import pool_of, vary
from haechi.core.blobs.alias import ALIAS_PATH
from haechi.core.blobs.base import BlobNotFound, BlobStore, BlobUnavailable
from haechi.core.blobs.fs import URL_PATH, FsBlobStore
from haechi.core.net import ip_bucket
from haechi.core.store.base import StoreUnavailable

if TYPE_CHECKING:
    from haechi.runtime import Runtime

PROBLEM = "application/problem+json"
_RANGE_RE = re.compile(r"bytes=(\d{0,15})-(\d{0,15})")
_SAFE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "referrer-policy": "no-referrer",
    # The widget runs on customers' pages; the signed URL is the capability, not the origin.
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
}
_DETAILS = {
    "bad-signature": "the URL's signature is not valid",
    "expired": "the URL has expired",
    "not-found": "no such blob",
    "unavailable": "blob storage is unavailable; try again",
    "range-not-satisfiable": "the requested range is outside the blob",
    "rate-limited": "too many requests for media from this address; slow down",
}


def problem(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
    body = {
        "type": f"https://haechi.dev/problems/{code}",
        "title": code,
        "status": status,
        "detail": _DETAILS[code],
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM,
        headers={"cache-control": "no-store", **_SAFE_HEADERS, **(headers or {})},
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(first, last) for one satisfiable range, None to send everything (no header, or one we
    do not serve, such as several ranges), False when the range is unsatisfiable."""
    if not header:
        return None
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # "bytes=-N": the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        return False
    return first, min(last, size - 1)


async def rate_limited(request: Request, runtime: Runtime) -> Response | None:
    """The refusal when the client's address is over its media budget, else None (counted)."""
    limits = runtime.settings.rate_limit
    if not limits.enabled:
        return None
    ip = ip_bucket(str(request.scope.get("haechi.client_ip", "unknown")))
    try:
        decision = await runtime.store.hit(
            f"rl:blob:{ip}", limits.blobs_per_ip, limits.window_seconds
        )
    except StoreUnavailable:
        return problem(503, "unavailable")
    if decision.allowed:
        return None
    retry = str(max(1, math.ceil(decision.retry_after)))
    return problem(429, "rate-limited", {"retry-after": retry})


async def serve_blob(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    limited = await rate_limited(request, runtime)
    if limited is not None:
        return limited
    blobs = runtime.blobs
    if not isinstance(blobs, FsBlobStore):
        return problem(404, "not-found")
    key: str = request.path_params["key"]
    exp = request.query_params.get("exp")
    refused = blobs.check_url(key, exp, request.query_params.get("sig"))
    if refused is not None:
        return problem(403, refused)
    return await _respond(request, blobs, key, blobs.seconds_left(exp))


async def serve_alias(request: Request) -> Response:
    """``GET /v1/media/<alias>``: a per-challenge URL (``haechi.core.blobs.alias``), served
    from whichever backend holds the blob."""
    runtime: Runtime = request.app.state.runtime
    limited = await rate_limited(request, runtime)
    if limited is not None:
        return limited
    aliases = runtime.aliases
    if aliases is None or runtime.blobs is None:
        return problem(404, "not-found")
    resolved = aliases.resolve(request.path_params["alias"])
    if isinstance(resolved, str):
        return problem(403, resolved)
    seed = resolved.seed if runtime.settings.pools.vary_per_serve else 0
    return await _respond(
        request, runtime.blobs, resolved.key, aliases.seconds_left(resolved), seed=seed
    )


async def _respond(
    request: Request, blobs: BlobStore, key: str, seconds_left: int, *, seed: int = 0
) -> Response:
    try:
        blob = await blobs.get(key)
    except (BlobNotFound, ValueError):  # ValueError: a key that resolves out of the folder
        return problem(404, "not-found")
    except BlobUnavailable:
        return problem(503, "unavailable")
    pool = pool_of(key) if seed else None
    if pool is not None:
        # This showing's own rendering (haechi.challenges.variation), off the event loop.
        data = await asyncio.to_thread(vary, pool, blob.data, blob.content_type, seed)
        blob = replace(blob, data=data)
    headers = {
        **_SAFE_HEADERS,
        "cache-control": f"private, max-age={seconds_left}",
        "accept-ranges": "bytes",
    }
    size = len(blob.data)
    span = byte_range(request.headers.get("range"), size)
    if span is False:
        return problem(416, "range-not-satisfiable", {"content-range": f"bytes */{size}"})
    body, status = blob.data, 200
    if isinstance(span, tuple):
        first, last = span
        body, status = blob.data[first : last + 1], 206
        headers["content-range"] = f"bytes {first}-{last}/{size}"
    if request.method == "HEAD":
        headers["content-length"] = str(len(body))
        return Response(status_code=status, media_type=blob.content_type, headers=headers)
    return Response(body, status_code=status, media_type=blob.content_type, headers=headers)


def routes() -> list[Route]:
    return [
        Route(URL_PATH + "{key:path}", serve_blob, methods=["GET", "HEAD"]),
        Route(ALIAS_PATH + "{alias}", serve_alias, methods=["GET", "HEAD"]),
    ]
