"""HTTP surface of the edge role: plain Starlette routes, no dependency injection on the hot path.

/v1/* answers ``{"v": 1, "error": {"code", "message"}}`` for request errors (4xx) and CORS-allows
every origin (the widget runs on customers' pages; no credentials are involved). /siteverify and
its vendor aliases answer in their dialects' shapes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from haechi.core.errors import (
    HaechiError,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    UnsupportedMediaType,
)
from haechi.core.net import hostname_from_headers, ip_bucket
from haechi.core.store.base import StoreUnavailable
from haechi.protocol import messages
from haechi.protocol.dialects import Dialect, VerifyRequest, parse_request, render
from haechi.protocol.siteverify import verify
from haechi.protocol.verdict import Failure, Verdict

if TYPE_CHECKING:
    from haechi.runtime import Runtime

log = logging.getLogger("haechi.edge")

CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}
_JSON_TYPES = ("application/json", "text/plain")
SITEVERIFY_MAX_BYTES = 16 * 1024


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        except ValueError:
            raise PayloadTooLarge("bad Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(error: HaechiError) -> JSONResponse:
    headers = dict(CORS_HEADERS)
    if isinstance(error, RateLimited):
        headers["retry-after"] = str(max(1, int(error.retry_after + 0.999)))
    return JSONResponse(
        {"v": messages.PROTOCOL_VERSION, "error": {"code": error.code, "message": error.message}},
        status_code=error.status,
        headers=headers,
    )


async def _json_body(request: Request, limit: int) -> tuple[int, Any]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType("send the body as application/json")
    body = await read_body(request, limit)
    try:
        return len(body), orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HaechiError("the body is not valid JSON", code="bad-request") from None


async def _rate_limit(runtime: Runtime, key: str, limit: int) -> None:
    settings = runtime.settings.rate_limit
    if not settings.enabled:
        return
    try:
        decision = await runtime.store.hit(key, limit, settings.window_seconds)
    except StoreUnavailable as error:
        raise Unavailable("the store is unavailable; try again") from error
    if not decision.allowed:
        raise RateLimited("too many requests; slow down", retry_after=decision.retry_after)


def rate_key(request: Request) -> str:
    """The client's rate-limit bucket: its IPv4 address, or its IPv6 /64 (one subscriber)."""
    ip: str = request.scope.get("haechi.client_ip", "unknown")
    return ip_bucket(ip)


def edge_endpoint(
    handler: Callable[[Request, Runtime], Awaitable[dict[str, Any]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime = runtime_of(request)
        try:
            await _rate_limit(
                runtime, f"rl:ip:{rate_key(request)}", runtime.settings.rate_limit.per_ip
            )
            body = await handler(request, runtime)
        except HaechiError as error:
            return error_response(error)
        return JSONResponse(body, headers=CORS_HEADERS)

    return endpoint


def _telemetry_size(runtime: Runtime, raw_size: int, telemetry: Any) -> int | None:
    """Encoded size of the telemetry, measured only when the body could hold too much of it."""
    if telemetry is None or raw_size <= runtime.settings.protocol.max_telemetry_bytes:
        return None
    return len(orjson.dumps(telemetry))


async def _challenge(request: Request, runtime: Runtime) -> dict[str, Any]:
    raw_size, body = await _json_body(request, runtime.settings.protocol.max_body_bytes)
    parsed = messages.parse_challenge(body)
    hostname = hostname_from_headers(request.headers.get("origin"), request.headers.get("referer"))
    site = await runtime.protocol.authorize(parsed.sitekey, hostname)
    # Counted only for requests the site would serve, so nobody can spend a site's budget
    # from a page that is not the site's.
    await _rate_limit(runtime, f"rl:sk:{site.sitekey}", runtime.settings.rate_limit.per_sitekey)
    size = _telemetry_size(runtime, raw_size, parsed.telemetry)
    return await runtime.protocol.issue(parsed, hostname=hostname, site=site, telemetry_size=size)


async def _solve(request: Request, runtime: Runtime) -> dict[str, Any]:
    raw_size, body = await _json_body(request, runtime.settings.protocol.max_body_bytes)
    parsed = messages.parse_solve(body)
    hostname = hostname_from_headers(request.headers.get("origin"), request.headers.get("referer"))
    size = _telemetry_size(runtime, raw_size, parsed.telemetry)
    outcome = await runtime.protocol.solve(parsed, hostname=hostname, telemetry_size=size)
    return outcome.body


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


def siteverify_endpoint(dialect: Dialect) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        runtime = runtime_of(request)
        limit = runtime.settings.rate_limit.siteverify_per_ip
        try:
            await _rate_limit(runtime, f"rl:sv:{rate_key(request)}", limit)
        except RateLimited as error:
            status, payload = render(dialect, Verdict.fail(Failure.RATE_LIMITED))
            headers = {"retry-after": str(max(1, math.ceil(error.retry_after)))}
            return JSONResponse(payload, status_code=status, headers=headers)
        except Unavailable:
            status, payload = render(dialect, Verdict.fail(Failure.INTERNAL))
            return JSONResponse(payload, status_code=status)
        try:
            raw = await read_body(request, SITEVERIFY_MAX_BYTES)
        except PayloadTooLarge:
            parsed: VerifyRequest | Failure = Failure.BAD_REQUEST
        else:
            parsed = parse_request(
                dialect, request.headers.get("content-type"), raw, request.query_params
            )
        if isinstance(parsed, Failure):
            verdict = Verdict.fail(parsed)
        else:
            verdict = await verify(
                runtime.protocol, parsed, strict_remoteip=dialect is Dialect.HAECHI
            )
        site = verdict.sitekey or "unknown"
        result = "success" if verdict.success else str(verdict.failure)
        runtime.metrics.tokens_verified.labels(site, dialect.value, result).inc()
        status, payload = render(dialect, verdict)
        return JSONResponse(payload, status_code=status)

    return endpoint


def routes() -> list[Route]:
    return [
        Route("/v1/challenge", edge_endpoint(_challenge), methods=["POST"]),
        Route("/v1/solve", edge_endpoint(_solve), methods=["POST"]),
        Route("/v1/challenge", preflight, methods=["OPTIONS"], name="challenge_preflight"),
        Route("/v1/solve", preflight, methods=["OPTIONS"], name="solve_preflight"),
        Route("/siteverify", siteverify_endpoint(Dialect.HAECHI), methods=["POST"]),
        Route(
            "/recaptcha/api/siteverify",
            siteverify_endpoint(Dialect.RECAPTCHA),
            methods=["GET", "POST"],
        ),
        Route("/hcaptcha/siteverify", siteverify_endpoint(Dialect.HCAPTCHA), methods=["POST"]),
        Route("/turnstile/v0/siteverify", siteverify_endpoint(Dialect.TURNSTILE), methods=["POST"]),
    ]
