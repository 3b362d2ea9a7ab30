"""The website and dashboard (the React app in ``dashboard/``) as the platform role serves it.

``/assets/<name>.<hash>.js|css|...`` are immutable (cached a year, gzipped once in memory);
every other GET that asks for HTML gets ``index.html`` (the app routes in the browser) under a
strict CSP with no inline script. The build is ``make dashboard``; the server builds nothing.
"""

from __future__ import annotations

import gzip
import json
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from haechi.core.settings import Settings
from haechi.platform.bootstrap import DEMO_FILE

log = logging.getLogger("haechi.dashboard")

PACKAGE_DIST = Path(__file__).resolve().parents[1] / "dashboard_dist"  # inside a wheel
CHECKOUT_DIST = Path(__file__).resolve().parents[3] / "dashboard" / "dist"  # source tree
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "The Haechi dashboard is not built. Run `make dashboard` "
    "(or `npm ci && npm run build` in dashboard/), then reload.\n"
)
# The widget's demo runs inside the app, so its policy (docs/widget.md) plus what the app needs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; worker-src blob:; media-src 'self'; "
    "manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "cache-control": "no-cache",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
# Paths that belong to the API and the edge: an unknown one is a 404, never the app.
RESERVED = ("api/", "v1/", "siteverify", "recaptcha/", "hcaptcha/", "turnstile/", "metrics")
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".html", ".txt", ".map"}


@dataclass(frozen=True, slots=True)
class File:
    body: bytes
    gzipped: bytes | None
    media_type: str


def dist_dir() -> Path | None:
    for candidate in (PACKAGE_DIST, CHECKOUT_DIST):
        if (candidate / "index.html").is_file():
            return candidate
    return None


class Files:
    """Built files read once per (mtime, size), so a rebuild is served without a restart."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int], File]] = {}

    def get(self, root: Path, name: str) -> File | None:
        if not name or name.startswith(".") or "/." in name or "\\" in name:
            return None
        try:
            path = (root / name).resolve()
            if not path.is_relative_to(root.resolve()):
                return None
            stat = path.stat()
        except (OSError, ValueError):  # missing, a NUL byte, a name too long: not found
            return None
        if not path.is_file():
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        body = path.read_bytes()
        packed = gzip.compress(body, 9) if path.suffix in COMPRESSIBLE else None
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
            media = ("text/javascript" if path.suffix == ".js" else media) + "; charset=utf-8"
        found = File(
            body=body,
            gzipped=packed if packed and len(packed) < len(body) else None,
            media_type=media,
        )
        self._cache[path] = (key, found)
        return found


files = Files()


def _send(request: Request, found: File, headers: dict[str, str]) -> Response:
    headers = {**headers, "vary": "accept-encoding", "x-content-type-options": "nosniff"}
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


def _not_found() -> Response:
    return PlainTextResponse("not found\n", status_code=404)


def _not_built() -> Response:
    return PlainTextResponse(NOT_BUILT, status_code=503, headers={"cache-control": "no-store"})


def demo_sitekey(settings: Settings) -> str | None:
    """The embedded demo site's sitekey (never its secret), for the landing page's live widget."""
    if settings.role != "all":
        return None
    try:
        data = json.loads((settings.data_dir / DEMO_FILE).read_text())
    except (OSError, ValueError):
        return None
    sitekey = data.get("sitekey") if isinstance(data, dict) else None
    return sitekey if isinstance(sitekey, str) and sitekey.isascii() else None


def page(settings: Settings, request: Request, root: Path) -> Response:
    found = files.get(root, "index.html")
    if found is None:
        return _not_built()
    sitekey = demo_sitekey(settings)
    if sitekey:
        meta = f'<meta name="haechi-demo-sitekey" content="{sitekey}">'.encode()
        body = found.body.replace(b"</head>", meta + b"</head>", 1)
        found = File(body=body, gzipped=gzip.compress(body, 6), media_type=found.media_type)
    return _send(request, found, PAGE_HEADERS)


def routes(settings: Settings) -> list[BaseRoute]:
    """The app's routes; mount them last: the fallback answers any page path the others do not."""
    if dist_dir() is None:
        log.warning(NOT_BUILT.strip())

    async def asset(request: Request) -> Response:
        root = dist_dir()
        found = files.get(root / "assets", request.path_params["name"]) if root else None
        if found is None:
            return _not_found()
        return _send(request, found, {"cache-control": IMMUTABLE})

    async def fallback(request: Request) -> Response:
        path: str = request.path_params["path"]
        if request.method not in ("GET", "HEAD") or path.startswith(RESERVED):
            return _not_found()
        root = dist_dir()
        if root is not None and "/" not in path and path != "index.html":
            found = files.get(root, path)  # favicon.svg and the like, from dashboard/public
            if found is not None:
                return _send(request, found, {"cache-control": "public, max-age=3600"})
        if "text/html" not in request.headers.get("accept", ""):
            return _not_found()
        if root is None:
            return _not_built()
        return page(settings, request, root)

    return [
        Route("/assets/{name:path}", asset, methods=["GET", "HEAD"]),
        # Every method, so a POST to an unknown path stays a 404 rather than becoming a 405.
        Route("/{path:path}", fallback, methods=EVERY_METHOD),
    ]


__all__ = ["CSP", "dist_dir", "routes"]
