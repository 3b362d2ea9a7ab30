"""/demo: a sign-up form protected by the widget, verified server side like a real site would.

The handler reads the demo site's sitekey and secret from ``<data dir>/demo-site.json`` (written
by the platform role on first start) and checks the submitted ``haechi-response`` with the
Python SDK against this deployment's own ``/siteverify``, reached in-process: the same HTTP
endpoint, request and answer a site's backend gets, without depending on how this server is
reachable from itself.
"""

from __future__ import annotations

import html
import json
import logging
from functools import cache
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from haechi.challenges import fonts
from haechi.client import averify
from haechi.platform.bootstrap import DEMO_FILE
from haechi.widget import assets

log = logging.getLogger("haechi.widget.demo")
TEMPLATES = Path(__file__).parent / "templates"

# The policy docs/widget.md publishes for a page served from the same origin as Haechi; the
# browser tests run the demo under exactly this header.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; worker-src blob:; "
    "img-src 'self'; media-src 'self'; style-src 'self'; font-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": DEMO_CSP,
    "cache-control": "no-store",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-content-type-options": "nosniff",
}
# Query parameters the demo passes on to the widget's data- attributes.
WIDGET_CHOICES = {
    "mode": {"managed", "invisible", "non-interactive"},
    "theme": {"light", "dark", "auto"},
    "size": {"normal", "compact", "flexible"},
    "language": {"auto", "en", "ko"},
    "appearance": {"always", "execute", "interaction-only"},
}


@cache
def template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def page(name: str, status_code: int = 200, **values: str) -> HTMLResponse:
    body = template(name).substitute(values)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def demo_site(request: Request) -> dict[str, str] | None:
    path = request.app.state.runtime.settings.data_dir / DEMO_FILE
    try:
        data: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if {"sitekey", "secret"} <= data.keys() else None


def widget_options(request: Request) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for name, allowed in WIDGET_CHOICES.items():
        value = request.query_params.get(name)
        if value in allowed:
            chosen[name] = value
    return chosen


def unavailable() -> HTMLResponse:
    return page(
        "unavailable.html",
        503,
        message=(
            "The demo site is created by <code>haechi serve</code> on its first start (role "
            "<code>all</code>); its keys are kept in the data directory. Restart the server "
            "with the default role and open /demo again."
        ),
    )


async def show_form(request: Request) -> Response:
    site = demo_site(request)
    if site is None:
        return unavailable()
    options = widget_options(request)
    script = assets.hashed_url() or "/v1/widget.js"
    notice = ""
    if assets.bundle.get("widget.js") is None:
        notice = (
            '<p class="notice" role="alert">The widget is not built yet: run '
            "<code>npm ci &amp;&amp; npm run build</code> in <code>widget/</code>.</p>"
        )
    attrs = "".join(f' data-{k}="{html.escape(v)}"' for k, v in options.items())
    return page(
        "demo.html",
        lang="ko" if options.get("language") == "ko" else "en",
        script=html.escape(script),
        sitekey=html.escape(site["sitekey"]),
        attrs=attrs,
        query=html.escape("?" + urlencode(options)) if options else "",
        notice=notice,
        origin=html.escape(str(request.base_url).rstrip("/")),
        csp=html.escape(DEMO_CSP),
    )


async def verify_form(request: Request) -> Response:
    site = demo_site(request)
    if site is None:
        return unavailable()
    form = await request.form()
    response = str(form.get("haechi-response") or "")
    name = str(form.get("name") or "")[:80]
    remoteip = request.scope.get("haechi.client_ip")
    app = getattr(request.app.state, "edge", request.app)  # /siteverify lives in EdgeApp
    transport = httpx.ASGITransport(app=app, client=(remoteip or "127.0.0.1", 0))
    answer: dict[str, Any]
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        try:
            result = await averify(
                secret=site["secret"],
                response=response,
                remoteip=remoteip,
                url="http://haechi.internal",
                client=client,
            )
            answer = result.raw
        except httpx.HTTPStatusError as error:
            answer = error.response.json()
    success = bool(answer.get("success"))
    if success:
        title, status = "Verified: welcome aboard", "ok"
        message = (
            f"Thanks, {html.escape(name) or 'friend'}: the token verified, so a real site "
            "would now create the account."
        )
    else:
        title, status = "Not verified", "fail"
        codes = ", ".join(answer.get("error-codes") or []) or "unknown"
        message = f"The token did not verify ({html.escape(codes)}). Go back and try again."
    options = widget_options(request)
    return page(
        "result.html",
        title=title,
        status=status,
        message=message,
        verdict=html.escape(json.dumps(answer, indent=2, ensure_ascii=False)),
        query=html.escape("?" + urlencode(options)) if options else "",
    )


async def stylesheet(request: Request) -> Response:
    return Response(
        (TEMPLATES / "demo.css").read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "public, max-age=300"},
    )


async def hangul_font(request: Request) -> Response:
    """The shipped Hangul subset, so the Korean text shows on hosts without Korean fonts."""
    return Response(
        fonts.HANGUL.read_bytes(),
        media_type="font/ttf",
        headers={"cache-control": "public, max-age=86400"},
    )


def routes() -> list[Route]:
    return [
        Route("/demo", show_form, methods=["GET", "HEAD"]),
        Route("/demo", verify_form, methods=["POST"], name="demo_verify"),
        Route("/demo/demo.css", stylesheet, methods=["GET", "HEAD"]),
        Route("/demo/hangul.ttf", hangul_font, methods=["GET", "HEAD"]),
    ]
