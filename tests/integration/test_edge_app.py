"""The edge's lean ASGI layer: hot routes, method handling, bodies, headers, metrics, access log."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Iterator

import pytest

from haechi.core import logging as hlog
from haechi.core.asgi import EdgeRequest
from haechi.core.errors import PayloadTooLarge
from haechi.core.metrics import Metrics
from tests.integration.conftest import Edge


async def test_healthz_get_and_head(quick_edge: Edge) -> None:
    got = await quick_edge.http.get("/healthz")
    assert got.status_code == 200
    assert got.json()["status"] == "ok"
    assert got.headers["content-type"] == "application/json"
    assert int(got.headers["content-length"]) == len(got.content)
    assert len(got.headers["x-request-id"]) == 16
    head = await quick_edge.http.head("/healthz")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


async def test_wrong_method_on_a_hot_route_is_405_with_allow(quick_edge: Edge) -> None:
    reply = await quick_edge.http.get("/v1/challenge")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "OPTIONS, POST"
    assert reply.json()["error"]["code"] == "method-not-allowed"
    reply = await quick_edge.http.delete("/siteverify")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "POST"
    # GET is allowed on the reCAPTCHA path (its libraries may use it), and HEAD with it.
    assert (await quick_edge.http.get("/recaptcha/api/siteverify")).status_code == 200


async def test_other_paths_fall_through_to_starlette(quick_edge: Edge) -> None:
    reply = await quick_edge.http.get("/no-such-page")
    assert reply.status_code == 404
    assert "x-request-id" in reply.headers
    assert (await quick_edge.http.get("/readyz")).status_code == 200


async def test_request_id_is_echoed_when_well_formed(quick_edge: Edge) -> None:
    reply = await quick_edge.http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert reply.headers["x-request-id"] == "abc-123"
    reply = await quick_edge.http.get("/healthz", headers={"x-request-id": "bad id!"})
    assert reply.headers["x-request-id"] != "bad id!"


async def test_preflight(quick_edge: Edge) -> None:
    reply = await quick_edge.http.options("/v1/solve")
    assert reply.status_code == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    assert reply.headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert reply.headers["access-control-allow-headers"] == "content-type"
    assert reply.headers["access-control-max-age"] == "86400"
    assert reply.content == b""
    # The actual response needs the origin only; the rest is the preflight's.
    answer = await quick_edge.http.post("/v1/solve", json={})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-max-age" not in answer.headers


async def test_metrics_count_hot_routes_by_template(quick_edge: Edge) -> None:
    await quick_edge.http.get("/healthz")
    await quick_edge.http.request("BREW", "/healthz")
    sample = quick_edge.runtime.metrics.registry.get_sample_value
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    assert sample("haechi_http_requests_total", labels) == 1.0
    other = {"route": "/healthz", "method": "other", "status": "405"}
    assert sample("haechi_http_requests_total", other) == 1.0


def test_unknown_methods_share_one_series() -> None:
    metrics = Metrics()
    for n in range(100):
        metrics.observe_request("/healthz", f"M{n}", 405, 0.001)
    assert list(metrics.requests.values) == [("/healthz", "other", "405")]
    sample = metrics.registry.get_sample_value
    other = {"route": "/healthz", "method": "other", "status": "405"}
    assert sample("haechi_http_requests_total", other) == 100.0


def test_protocol_counters_count_by_label_pair() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.count(metrics.challenges_issued, "site-a", "none")
    metrics.count(metrics.challenges_failed, "site-a", "expired")
    sample = metrics.registry.get_sample_value
    assert sample("haechi_challenges_issued_total", {"site": "site-a", "type": "none"}) == 3.0
    assert sample("haechi_challenges_failed_total", {"site": "site-a", "reason": "expired"}) == 1.0


def test_latency_buckets_are_cumulative_as_prometheus_expects() -> None:
    metrics = Metrics()
    for seconds in (0.0004, 0.0005, 0.0007, 0.02, 9.0):
        metrics.observe_request("/v1/solve", "POST", 200, seconds)
    sample = metrics.registry.get_sample_value
    name = "haechi_http_request_duration_seconds"

    def bucket(le: str) -> float | None:
        return sample(f"{name}_bucket", {"route": "/v1/solve", "le": le})

    assert (bucket("0.0005"), bucket("0.001"), bucket("0.025"), bucket("2.5")) == (2, 3, 4, 4)
    assert bucket("+Inf") == 5 and sample(f"{name}_count", {"route": "/v1/solve"}) == 5
    assert sample(f"{name}_sum", {"route": "/v1/solve"}) == pytest.approx(9.0216)


def _request(chunks: list[bytes], content_length: str | None = None) -> EdgeRequest:
    headers = [(b"content-length", content_length.encode())] if content_length else []
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    return EdgeRequest({"type": "http", "headers": headers}, receive, None)


async def test_body_joins_chunks_and_enforces_the_limit() -> None:
    assert await _request([b"ab", b"", b"cd"]).body(10) == b"abcd"
    assert await _request([b"abcd"]).body(4) == b"abcd"
    with pytest.raises(PayloadTooLarge):
        await _request([b"abc", b"de"]).body(4)
    with pytest.raises(PayloadTooLarge):  # refused from the header, before reading
        await _request([b""], content_length="5").body(4)
    with pytest.raises(PayloadTooLarge):
        await _request([b""], content_length="x").body(4)


@contextlib.contextmanager
def json_logging() -> Iterator[io.StringIO]:
    """Haechi's JSON logging set up as ``haechi serve`` does, into a string; restored after.
    (Inside the test: pytest adds its own capture handler to the root logger for each phase.)"""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    hlog.configure("INFO", json_format=True)
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        hlog.bind_loop(None)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def test_access_log_fast_path_writes_the_formatter_shape() -> None:
    token = hlog.request_id_var.set("rid-1")
    with json_logging() as json_log:
        try:
            hlog.log_access("POST", "/v1/solve", 200, "/v1/solve", 1.25, "203.0.113.9")
            logging.getLogger("haechi.access").info(
                "%s %s %s",
                "POST",
                "/v1/solve",
                200,
                extra={"status": 200, "route": "/v1/solve", "ms": 1.25, "ip": "203.0.113.9"},
            )
        finally:
            hlog.request_id_var.reset(token)
    fast, slow = (json.loads(line) for line in json_log.getvalue().splitlines())
    assert fast.pop("ts")[:2] == slow.pop("ts")[:2]
    assert fast == slow
    assert fast["request_id"] == "rid-1"


async def test_access_lines_leave_together_soon_after() -> None:
    with json_logging() as json_log:
        hlog.bind_loop(asyncio.get_running_loop())
        for i in range(3):
            hlog.log_access("GET", f"/healthz?{i}", 200, "/healthz", 0.1, "203.0.113.9")
        assert json_log.getvalue() == ""
        await asyncio.sleep(hlog.ACCESS_FLUSH_SECONDS * 3)
        lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
        assert [line["msg"] for line in lines] == [f"GET /healthz?{i} 200" for i in range(3)]
        # Outside the event loop a line is written at once.
        await asyncio.to_thread(hlog.log_access, "GET", "/x", 200, "/x", 0.1, "203.0.113.9")
        assert json_log.getvalue().count("\n") == 4
