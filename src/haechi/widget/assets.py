"""Serving the built widget: a content-hashed immutable URL and stable URLs.

``/v1/widget.<digest>.js`` never changes (cached for a year, ``immutable``); ``/v1/widget.js``
always serves the current build (cached briefly, revalidated by ETag); ``/v1/widget.json`` names
the hashed URL and its Subresource Integrity value. The compat scripts keep their vendors' paths.
Files are read from disk once and again only when their mtime or size changes, so a rebuild
while the server runs is picked up without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

log = logging.getLogger("haechi.widget")

PACKAGE_DIST = Path(__file__).parent / "dist"  # a wheel built with the bundle inside
CHECKOUT_DIST = Path(__file__).resolve().parents[3] / "widget" / "dist"  # source tree / editable
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
NOT_BUILT = (
    "The Haechi widget is not built. Run `npm ci && npm run build` in widget/ "
    "(see docs/widget.md), then reload.\n"
)
JS_HEADERS = {
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
}
JS_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    digest: str  # first 16 hex digits of SHA-256: the immutable URL's name
    integrity: str  # sha384-..., for <script integrity>
    etag: str


def dist_dir() -> Path | None:
    for candidate in (PACKAGE_DIST, CHECKOUT_DIST):
        if (candidate / "widget.js").is_file():
            return candidate
    return None


class Bundle:
    """The built files, keyed by name relative to dist/ (``widget.js``, ``compat/hcaptcha.js``)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], Asset]] = {}

    def get(self, name: str) -> Asset | None:
        root = dist_dir()
        if root is None:
            return None
        path = root / name
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
        asset = Asset(body=body, digest=digest, integrity=integrity, etag=f'"{digest}"')
        self._cache[path] = (key, asset)
        return asset


bundle = Bundle()


def not_built() -> Response:
    return PlainTextResponse(NOT_BUILT, status_code=503, headers={"cache-control": "no-store"})


def script(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {**JS_HEADERS, "cache-control": cache_control, "etag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=JS_TYPE, headers=headers)


def hashed_url(name: str = "widget.js") -> str | None:
    """``/v1/widget.<digest>.js`` for the current build, or None when it is not built."""
    asset = bundle.get(name)
    if asset is None:
        return None
    stem = name.removesuffix(".js")
    return f"/v1/{stem}.{asset.digest}.js"


async def widget_hashed(request: Request) -> Response:
    digest: str = request.path_params["digest"]
    name = "widget.js"
    if digest.startswith("esm."):
        name, digest = "widget.esm.js", digest.removeprefix("esm.")
    asset = bundle.get(name)
    if asset is None:
        return not_built()
    if digest != asset.digest:
        # A page cached with an older build's URL: send it to the current one, briefly cached.
        current = hashed_url(name)
        return RedirectResponse(
            current or "/v1/widget.js", 302, headers={"cache-control": "no-cache"}
        )
    return script(request, asset, IMMUTABLE)


async def widget_manifest(request: Request) -> Response:
    out: dict[str, dict[str, str]] = {}
    for name in ("widget.js", "widget.esm.js"):
        asset = bundle.get(name)
        url = hashed_url(name)
        if asset is not None and url is not None:
            out[name] = {"url": url, "integrity": asset.integrity}
    if not out:
        return not_built()
    return JSONResponse(out, headers={**JS_HEADERS, "cache-control": "no-cache"})


def serve(name: str, cache_control: str = SHORT) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        asset = bundle.get(name)
        return not_built() if asset is None else script(request, asset, cache_control)

    return endpoint


def routes() -> list[Route]:
    return [
        Route("/v1/widget.js", serve("widget.js"), methods=["GET", "HEAD"]),
        Route("/v1/widget.esm.js", serve("widget.esm.js"), methods=["GET", "HEAD"]),
        Route("/v1/widget.json", widget_manifest, methods=["GET", "HEAD"]),
        Route("/v1/widget.{digest}.js", widget_hashed, methods=["GET", "HEAD"]),
        Route("/recaptcha/api.js", serve("compat/recaptcha.js"), methods=["GET", "HEAD"]),
        Route("/hcaptcha/1/api.js", serve("compat/hcaptcha.js"), methods=["GET", "HEAD"]),
        Route("/turnstile/v0/api.js", serve("compat/turnstile.js"), methods=["GET", "HEAD"]),
    ]
