"""The dashboard app as the platform role serves it: hashed immutable assets, index.html for
page paths under a strict CSP, 404s for the API's and the edge's unknown paths, 503 unbuilt."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haechi.platform import spa
from tests.integration.conftest import Edge, embedded_edge

HTML = {"accept": "text/html,application/xhtml+xml"}
INDEX = b'<!doctype html><html><head><script type="module" src="/assets/index-Ab12.js"></script></head><body><div id="root"></div></body></html>'


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / ".vite").mkdir()
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-Ab12.js").write_text("console.log('app');" * 50)
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / ".vite" / "manifest.json").write_text("{}")
    monkeypatch.setattr(spa, "PACKAGE_DIST", root)
    monkeypatch.setattr(spa, "CHECKOUT_DIST", tmp_path / "nowhere")
    return root


@pytest.fixture
async def site(tmp_path: Path, dist: Path) -> AsyncIterator[Edge]:
    async for e in embedded_edge(tmp_path):
        yield e


async def test_pages_get_index_html_under_a_strict_csp(site: Edge) -> None:
    for path in ("/", "/docs/widget", "/orgs/acme/sites", "/signin?next=%2Fdocs"):
        reply = await site.http.get(path, headers=HTML)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"].startswith("text/html")
        assert b'<div id="root">' in reply.content
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert reply.headers["cache-control"] == "no-cache"


async def test_assets_are_immutable_and_gzipped(site: Edge) -> None:
    reply = await site.http.get("/assets/index-Ab12.js", headers={"accept-encoding": "gzip"})
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert reply.headers["content-encoding"] == "gzip"
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert reply.text.startswith("console.log('app');")  # httpx decoded the gzip
    plain = await site.http.get("/assets/index-Ab12.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content)) < len(plain.content)
    assert (await site.http.get("/favicon.svg")).headers["content-type"].startswith("image/svg")


async def test_unknown_files_and_traversal_are_404(site: Edge) -> None:
    for path in (
        "/assets/missing.js",
        "/assets/../index.html",
        "/assets/%2e%2e/%2e%2e/pyproject.toml",
        "/.vite/manifest.json",
        "/assets/.hidden",
    ):
        reply = await site.http.get(path)
        assert reply.status_code == 404, path


async def test_api_and_edge_paths_never_get_the_app(site: Edge) -> None:
    for path in ("/api/no-such", "/v1/no-such", "/siteverify/x", "/metricsx"):
        reply = await site.http.get(path, headers=HTML)
        assert reply.status_code == 404, path
        assert b"root" not in reply.content
    # Not asking for HTML (an API client, curl): a plain 404, as before the app existed.
    assert (await site.http.get("/no-such-page")).status_code == 404
    assert (await site.http.post("/no-such-page", headers=HTML)).status_code == 404
    # The routes mounted before the app keep working.
    assert (await site.http.get("/api/v1/meta")).json()["name"] == "haechi"
    assert (await site.http.get("/readyz")).status_code == 200


async def test_the_demo_sitekey_reaches_the_page_but_never_the_secret(
    site: Edge, tmp_path: Path
) -> None:
    demo = {"sitekey": "hk_demo123", "secret": "hs_secret456"}
    data_dir = site.runtime.settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "demo-site.json").write_text(json.dumps(demo))
    reply = await site.http.get("/", headers=HTML)
    assert b'<meta name="haechi-demo-sitekey" content="hk_demo123">' in reply.content
    assert b"hs_secret456" not in reply.content


async def test_unbuilt_app_says_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(spa, "PACKAGE_DIST", tmp_path / "none")
    monkeypatch.setattr(spa, "CHECKOUT_DIST", tmp_path / "none")
    async for edge in embedded_edge(tmp_path):
        reply = await edge.http.get("/", headers=HTML)
        assert reply.status_code == 503
        assert "make dashboard" in reply.text
        assert (await edge.http.get("/assets/index.js")).status_code == 404
    assert any("make dashboard" in r.getMessage() for r in caplog.records)


async def test_odd_asset_names_are_404_not_500(site: Edge) -> None:
    for path in ("/assets/a%00b.js", "/assets/" + "a" * 300 + ".js", "/favicon%00.svg"):
        reply = await site.http.get(path)
        assert reply.status_code == 404, path
