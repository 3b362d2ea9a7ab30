"""HTTP surface of the edge role: lean ASGI handlers (``haechi.core.asgi``), no framework on the
hot path.

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

from haechi.core.asgi import EdgeRequest, EdgeResponse, EdgeRoute, Handler, encode_headers
from haechi.core.errors import (
    HaechiError,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    UnsupportedMediaType,
)
from haechi.core.net import hostname_from_headers, ip_bucket
from haechi.core.store.base import RateDecision, StoreUnavailable
from haechi.protocol import messages
from haechi.protocol.dialects import (
    QUERY_DIALECTS,
    Dialect,
    parse_request,
    render,
)
from haechi.protocol.siteverify import verify
from haechi.protocol.verdict import Failure, Verdict
from haechi.risk.signals import header_mismatch

if TYPE_CHECKING:
    from haechi.runtime import Runtime

log = logging.getLogger("haechi.edge")

# A preflight's answer carries the methods, headers and how long to keep them; an actual
# response needs only the origin (the Fetch standard's CORS check reads nothing else), so
# the hot responses carry one header, not four.
PREFLIGHT_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
}
_JSON_TYPES = ("application/json", "text/plain")
SITEVERIFY_MAX_BYTES = 16 * 1024
HEADER_MISMATCH = ("header-mismatch",)


PREFLIGHT = encode_headers(PREFLIGHT_HEADERS)
CORS = [(b"access-control-allow-origin", b"*")]


def error_response(error: HaechiError) -> EdgeResponse:
    headers = list(CORS)
    if isinstance(error, RateLimited | Unavailable):
        headers.append((b"retry-after", str(max(1, int(error.retry_after + 0.999))).encode()))
    return EdgeResponse.json(
        {"v": messages.PROTOCOL_VERSION, "error": {"code": error.code, "message": error.message}},
        status=error.status,
        headers=headers,
    )


async def _json_body(request: EdgeRequest, limit: int) -> tuple[int, Any]:
    content_type = (request.header(b"content-type") or "").split(";", 1)[0].strip().lower()
    if content_type not in _JSON_TYPES:
        raise UnsupportedMediaType("send the body as application/json")
    body = await request.body(limit)
    try:
        return len(body), orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HaechiError("the body is not valid JSON", code="bad-request") from None


async def _rate_limits(
    runtime: Runtime, limits: list[tuple[str, int]]
) -> list[RateDecision | None]:
    """Count one hit on each limit in order (one store round trip); raise on the first denial."""
    settings = runtime.settings.rate_limit
    if not settings.enabled:
        return [None] * len(limits)
    try:
        decisions = await runtime.store.hit_many(limits, settings.window_seconds)
    except StoreUnavailable as error:
        raise Unavailable("the store is unavailable; try again") from error
    for decision in decisions:
        if not decision.allowed:
            raise RateLimited("too many requests; slow down", retry_after=decision.retry_after)
    return list(decisions)


def rate_key(request: EdgeRequest) -> str:
    """The client's rate-limit bucket: its IPv4 address, or its IPv6 /64 (one subscriber)."""
    return ip_bucket(request.client_ip)


class IpGate:
    """The per-IP limit of a request, counted exactly once: on its own, or in the same store
    round trip as a later limit (``/v1/challenge`` counts the site's limit with it once the site
    and page are known) or as the request's spend (``/v1/solve``, ``/siteverify``). A request
    that fails before it is counted is counted then, so malformed floods pay too; an IP over its
    limit gets 429 whatever else was wrong.
    """

    __slots__ = ("counted", "key", "limit", "runtime")

    def __init__(self, runtime: Runtime, key: str, limit: int) -> None:
        self.runtime = runtime
        self.key = key
        self.limit = limit
        self.counted = False

    @classmethod
    def v1(cls, runtime: Runtime, request: EdgeRequest) -> IpGate:
        return cls(runtime, f"rl:ip:{rate_key(request)}", runtime.settings.rate_limit.per_ip)

    async def check(self, *more: tuple[str, int]) -> float | None:
        """Count the IP (and ``more``); the caller's requests/s over the window, when known."""
        self.counted = True
        decisions = await _rate_limits(self.runtime, [(self.key, self.limit), *more])
        ip = decisions[0]
        if ip is None:
            return None
        # The client's request rate feeds the risk engine (requests/s over the window).
        return ip.count / self.runtime.settings.rate_limit.window_seconds

    async def spend(
        self, key: str, ttl_seconds: float, value: bytes = b"1", epoch: str | None = None
    ) -> tuple[bytes | None, float | None]:
        """Count the IP and, when it is within its limit, ``Store.spend`` the key under
        ``epoch`` (one round trip); raises RateLimited when it is not. Returns the spend's result
        and the rate."""
        self.counted = True
        runtime = self.runtime
        settings = runtime.settings.rate_limit
        if not settings.enabled:
            return await runtime.store.spend(key, ttl_seconds, value, epoch), None
        decisions, first = await runtime.store.hit_many_then_spend(
            [(self.key, self.limit)], settings.window_seconds, key, ttl_seconds, value, epoch
        )
        ip = decisions[0]
        if not ip.allowed:
            raise RateLimited("too many requests; slow down", retry_after=ip.retry_after)
        return first, ip.count / settings.window_seconds


def edge_endpoint(
    handler: Callable[[EdgeRequest, Runtime, IpGate], Awaitable[dict[str, Any]]],
) -> Handler:
    """A /v1 endpoint: ``handler`` with the per-IP gate; errors in the /v1 shape."""

    async def endpoint(request: EdgeRequest) -> EdgeResponse:
        runtime: Runtime = request.runtime
        gate = IpGate.v1(runtime, request)
        try:
            body = await handler(request, runtime, gate)
        except HaechiError as error:
            # An address the site blocks costs no store round trip either.
            if not gate.counted and error.code != "ip-blocked":
                try:
                    await gate.check()
                except HaechiError as limited:
                    return error_response(limited)
            return error_response(error)
        return EdgeResponse.json(body, headers=CORS)

    return endpoint


def _telemetry_size(runtime: Runtime, raw_size: int, telemetry: Any) -> int | None:
    """Encoded size of the telemetry, measured only when the body could hold too much of it."""
    if telemetry is None or raw_size <= runtime.settings.protocol.max_telemetry_bytes:
        return None
    return len(orjson.dumps(telemetry))


def _hostname(request: EdgeRequest) -> str | None:
    return hostname_from_headers(request.header(b"origin"), request.header(b"referer"))


async def _challenge(request: EdgeRequest, runtime: Runtime, gate: IpGate) -> dict[str, Any]:
    raw_size, body = await _json_body(request, runtime.settings.protocol.max_body_bytes)
    parsed = messages.parse_challenge(body)
    hostname = _hostname(request)
    ip = request.client_ip
    site = await runtime.protocol.authorize(parsed.sitekey, hostname, ip)
    # The site's limit counts only requests the site would serve, so nobody can spend a site's
    # budget from a page that is not the site's; it shares the IP's round trip.
    ip_rate = await gate.check((f"rl:sk:{site.sitekey}", runtime.settings.rate_limit.per_sitekey))
    size = _telemetry_size(runtime, raw_size, parsed.telemetry)
    header = request.header
    rules = (
        HEADER_MISMATCH
        if header_mismatch(
            header(b"user-agent"),
            header(b"sec-ch-ua"),
            header(b"sec-ch-ua-platform"),
            header(b"sec-fetch-mode"),
            header(b"origin"),
            header(b"host"),
        )
        else ()
    )
    return await runtime.protocol.issue(
        parsed,
        hostname=hostname,
        site=site,
        telemetry_size=size,
        ip_rate=ip_rate,
        ip=ip,
        request_rules=rules,
    )


async def _solve(request: EdgeRequest, runtime: Runtime, gate: IpGate) -> dict[str, Any]:
    raw_size, body = await _json_body(request, runtime.settings.protocol.max_body_bytes)
    parsed = messages.parse_solve(body)
    size = _telemetry_size(runtime, raw_size, parsed.telemetry)
    # The IP is counted with the challenge's spend; a solve that fails before it is counted
    # alone (and answers 429 when the IP is over its limit).
    outcome = await runtime.protocol.solve(
        parsed,
        hostname=_hostname(request),
        telemetry_size=size,
        spend=gate.spend,
        ip=request.client_ip,
    )
    if not gate.counted:
        await gate.check()
    return outcome.body


async def preflight(request: EdgeRequest) -> EdgeResponse:
    return EdgeResponse(204, b"", list(PREFLIGHT))


def siteverify_endpoint(dialect: Dialect) -> Handler:
    async def endpoint(request: EdgeRequest) -> EdgeResponse:
        runtime: Runtime = request.runtime
        limit = runtime.settings.rate_limit.siteverify_per_ip
        # The caller's limit is counted with the token's spend (one store round trip); a request
        # that ends before the spend is counted alone, and an IP over its limit is answered
        # rate-limited whatever else was wrong.
        gate = IpGate(runtime, f"rl:sv:{rate_key(request)}", limit)
        try:
            verdict = await _verify_request(request, runtime, dialect, gate)
            if not gate.counted:
                await gate.check()
        except RateLimited as error:
            status, payload = render(dialect, Verdict.fail(Failure.RATE_LIMITED))
            retry = str(max(1, math.ceil(error.retry_after))).encode()
            return EdgeResponse.json(payload, status=status, headers=[(b"retry-after", retry)])
        except Unavailable as error:
            status, payload = render(dialect, Verdict.fail(Failure.INTERNAL))
            retry = str(max(1, math.ceil(error.retry_after))).encode()
            return EdgeResponse.json(payload, status=status, headers=[(b"retry-after", retry)])
        runtime.metrics.count_verified(verdict.sitekey or "unknown", dialect.value, verdict)
        status, payload = render(dialect, verdict)
        if verdict.failure is Failure.INTERNAL:  # the store failed: nothing spent, retry soon
            retry = str(max(1, math.ceil(Unavailable.retry_after))).encode()
            return EdgeResponse.json(payload, status=status, headers=[(b"retry-after", retry)])
        return EdgeResponse.json(payload, status=status)

    return endpoint


async def _verify_request(
    request: EdgeRequest, runtime: Runtime, dialect: Dialect, gate: IpGate
) -> Verdict:
    try:
        raw = await request.body(SITEVERIFY_MAX_BYTES)
    except PayloadTooLarge:
        return Verdict.fail(Failure.BAD_REQUEST)
    query = request.query() if dialect in QUERY_DIALECTS else {}
    parsed = parse_request(dialect, request.header(b"content-type"), raw, query)
    if isinstance(parsed, Failure):
        return Verdict.fail(parsed)
    return await verify(
        runtime.protocol, parsed, strict_remoteip=dialect is Dialect.HAECHI, spend=gate.spend
    )


def routes() -> list[EdgeRoute]:
    return [
        EdgeRoute("/v1/challenge", ("POST",), edge_endpoint(_challenge)),
        EdgeRoute("/v1/solve", ("POST",), edge_endpoint(_solve)),
        EdgeRoute("/v1/challenge", ("OPTIONS",), preflight),
        EdgeRoute("/v1/solve", ("OPTIONS",), preflight),
        EdgeRoute("/siteverify", ("POST",), siteverify_endpoint(Dialect.HAECHI)),
        EdgeRoute(
            "/recaptcha/api/siteverify", ("GET", "POST"), siteverify_endpoint(Dialect.RECAPTCHA)
        ),
        EdgeRoute("/hcaptcha/siteverify", ("POST",), siteverify_endpoint(Dialect.HCAPTCHA)),
        EdgeRoute("/turnstile/v0/siteverify", ("POST",), siteverify_endpoint(Dialect.TURNSTILE)),
    ]
