"""What a client can make the edge keep: nothing per distinct path, and a budget per address for
the media routes."""

from __future__ import annotations

from pathlib import Path

import httpx

from haechi.app import EdgeApp
from haechi.core.settings import RateLimitSettings
from tests.integration.conftest import Edge, embedded_edge


def edge_app(edge: Edge) -> EdgeApp:
    transport = edge.http._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, EdgeApp)
    return app


async def test_distinct_paths_leave_nothing_behind(quick_edge: Edge) -> None:
    app = edge_app(quick_edge)
    for path in ("/healthz", "/v1/widget.json", "/demo"):  # routes without parameters: cached
        await quick_edge.http.get(path)
    names = len(app._names)
    for i in range(300):
        for path in (f"/v1/blob/k{i}", f"/v1/media/m{i}", f"/v1/widget.{i:08x}.js", f"/x/{i}"):
            reply = await quick_edge.http.get(path)
            # 302/404 for an unknown widget digest, or 503 where the widget is not built
            assert reply.status_code != 500
    assert len(app._names) == names
    # The metrics still name the route template, never the raw path.
    sample = quick_edge.runtime.metrics.registry.get_sample_value
    labels = {"route": "/v1/media/{alias}", "method": "GET", "status": "403"}
    assert sample("haechi_http_requests_total", labels) == 300.0


async def test_media_routes_are_rate_limited_per_address(tmp_path: Path) -> None:
    limits = RateLimitSettings(per_ip=10_000, per_sitekey=10_000, blobs_per_ip=5)
    async for edge in embedded_edge(tmp_path, rate_limit=limits):
        paths = [f"/v1/blob/k{i}" if i % 2 else f"/v1/media/m{i}" for i in range(5)]
        for path in paths:
            assert (await edge.http.get(path)).status_code in (403, 404)
        for path in ("/v1/blob/next", "/v1/media/next"):
            reply = await edge.http.get(path)
            assert reply.status_code == 429
            assert reply.headers["content-type"] == "application/problem+json"
            assert int(reply.headers["retry-after"]) >= 1
            assert reply.json()["title"] == "rate-limited"
        # Another address has its own budget; the protocol routes are not charged.
        other = httpx.ASGITransport(app=edge_app(edge), client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=other, base_url="http://edge.test") as http:
            assert (await http.get("/v1/media/x")).status_code == 403
        assert (await edge.http.get("/healthz")).status_code == 200
