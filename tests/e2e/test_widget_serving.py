"""Serving the widget bundle and the demo page, without a browser: where the files come from,
caching by content hash, and the explicit 503s when something is missing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette

from haechi.core.settings import Settings
from haechi.widget import assets, routes


def client_for(data_dir: Path, role: str = "all") -> httpx.AsyncClient:
    settings = Settings(data_dir=data_dir, role=role)  # type: ignore[arg-type]
    app = Starlette(routes=routes(settings))
    app.state.runtime = SimpleNamespace(settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty dist folder in place of the package's and the checkout's."""
    folder = tmp_path / "dist"
    monkeypatch.setattr(assets, "PACKAGE_DIST", folder)
    monkeypatch.setattr(assets, "CHECKOUT_DIST", tmp_path / "missing")
    monkeypatch.setattr(assets, "bundle", assets.Bundle())
    return folder


def build(folder: Path, body: bytes = b"console.log(1)") -> str:
    (folder / "compat").mkdir(parents=True, exist_ok=True)
    for name in ("widget.js", "widget.esm.js", "compat/recaptcha.js", "compat/hcaptcha.js"):
        (folder / name).write_bytes(body + name.encode())
    (folder / "compat/turnstile.js").write_bytes(b"turnstile")
    return hashlib.sha256(body + b"widget.js").hexdigest()[:16]


async def test_not_built_answers_503_with_instructions(dist: Path, tmp_path: Path) -> None:
    client = client_for(tmp_path)
    for path in ("/v1/widget.js", "/v1/widget.0123456789abcdef.js", "/turnstile/v0/api.js"):
        reply = await client.get(path)
        assert reply.status_code == 503
        assert "npm ci && npm run build" in reply.text
        assert reply.headers["cache-control"] == "no-store"


async def test_hashed_and_stable_urls(dist: Path, tmp_path: Path) -> None:
    digest = build(dist)
    client = client_for(tmp_path)
    manifest = (await client.get("/v1/widget.json")).json()
    assert manifest["widget.js"]["url"] == f"/v1/widget.{digest}.js"
    assert manifest["widget.js"]["integrity"].startswith("sha384-")
    hashed = await client.get(f"/v1/widget.{digest}.js")
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert hashed.headers["content-type"] == "text/javascript; charset=utf-8"
    assert hashed.headers["access-control-allow-origin"] == "*"
    esm = await client.get(manifest["widget.esm.js"]["url"])
    assert esm.status_code == 200 and esm.content.endswith(b"widget.esm.js")
    stable = await client.get("/v1/widget.js")
    assert stable.content == hashed.content
    assert stable.headers["cache-control"] == "public, max-age=300"
    again = await client.get("/v1/widget.js", headers={"if-none-match": stable.headers["etag"]})
    assert again.status_code == 304
    stale = await client.get("/v1/widget.ffffffffffffffff.js")
    assert stale.status_code == 302 and stale.headers["location"] == f"/v1/widget.{digest}.js"
    assert (await client.get("/turnstile/v0/api.js")).content == b"turnstile"
    assert (await client.get("/recaptcha/api.js")).status_code == 200
    assert (await client.get("/hcaptcha/1/api.js")).status_code == 200

    # A rebuild is served without a restart.
    new_digest = build(dist, b"console.log(2)")
    manifest = (await client.get("/v1/widget.json")).json()
    assert manifest["widget.js"]["url"] == f"/v1/widget.{new_digest}.js"


async def test_demo_needs_its_site(dist: Path, tmp_path: Path) -> None:
    build(dist)
    client = client_for(tmp_path)
    reply = await client.get("/demo")
    assert reply.status_code == 503 and "haechi serve" in reply.text
    (tmp_path / "demo-site.json").write_text(json.dumps({"sitekey": "hk_demo", "secret": "hs_x"}))
    page = await client.get("/demo?mode=invisible&theme=<b>")
    assert page.status_code == 200
    assert 'data-sitekey="hk_demo"' in page.text and 'data-mode="invisible"' in page.text
    assert "<b>" not in page.text.split("<main>")[1].split("</form>")[0]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "hs_x" not in page.text
    assert (await client.get("/demo/demo.css")).headers["content-type"].startswith("text/css")


async def test_demo_only_where_the_demo_site_lives(dist: Path, tmp_path: Path) -> None:
    edge = client_for(tmp_path, role="edge")
    assert (await edge.get("/demo")).status_code == 404
    assert (await edge.get("/v1/widget.js")).status_code == 503
