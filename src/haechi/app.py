"""create_app(settings) -> ASGI app, mounting the roles this process serves."""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haechi import __version__
from haechi.core.crypto import constant_time_equal
from haechi.core.logging import request_id_var
from haechi.core.net import client_ip
from haechi.core.settings import Settings
from haechi.core.store import Store
from haechi.runtime import Runtime

access_log = logging.getLogger("haechi.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


class EdgeMiddleware:
    """One pure-ASGI layer: request id, client IP, metrics and the access log.

    Metrics are labelled with the route *template*, never the raw path, so label cardinality
    stays bounded whatever clients send.
    """

    def __init__(self, app: ASGIApp, settings: Settings, routes: list[BaseRoute]) -> None:
        self.app = app
        self.settings = settings
        self.routes = routes
        # Exact route paths seen so far (a finite set: only Route paths are cached).
        self._names: dict[str, str] = {}

    def _route_name(self, scope: Scope) -> str:
        path = scope["path"]
        name = self._names.get(path)
        if name is not None:
            return name
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                if isinstance(route, Route):
                    self._names[path] = route.path
                    return route.path
                return str(getattr(route, "path", "other"))
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = ""
        forwarded: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded = value
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        peer = scope.get("client")
        scope["haechi.client_ip"] = client_ip(
            peer[0] if peer else None,
            forwarded.decode("latin-1") if forwarded else None,
            self.settings.trusted_networks,
        )
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = self._route_name(scope)
            app = scope.get("app")
            runtime: Runtime | None = getattr(app.state, "runtime", None) if app else None
            if runtime is not None:
                runtime.metrics.requests.labels(route, scope["method"], str(status)).inc()
                runtime.metrics.latency.labels(route).observe(elapsed)
            if self.settings.log.access:
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "status": status,
                        "route": route,
                        "ms": round(elapsed * 1000, 2),
                        "ip": scope["haechi.client_ip"],
                    },
                )
            request_id_var.reset(token)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    checks = await runtime.ready()
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


def metrics_allowed(settings: Settings, request: Request) -> bool:
    token = settings.metrics.token
    if token:
        given = request.headers.get("authorization", "")
        if constant_time_equal(given, f"Bearer {token}"):
            return True
    peer = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(c, strict=False) for c in settings.metrics.allow)


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    if not metrics_allowed(runtime.settings, request):
        return JSONResponse({"error": "not found"}, status_code=404)
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    runtime: Runtime | None = None,
) -> Starlette:
    """Build the ASGI app. ``store``/``runtime`` let tests inject their own backends."""
    settings = settings or Settings()
    role = settings.role
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if role in ("all", "edge"):
        from haechi.protocol.router import routes as edge_routes

        routes += edge_routes()
        from haechi.widget import routes as widget_routes

        routes += widget_routes(settings)
    if role in ("all", "platform"):
        from haechi.platform.app import create_platform_app

        routes.append(Mount("/api", app=create_platform_app(settings)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        rt = runtime or Runtime.build(settings, store=store)
        app.state.runtime = rt
        await rt.start()
        if role in ("all", "platform"):
            from haechi.platform.bootstrap import ensure_demo_site

            await ensure_demo_site(rt)
        try:
            yield {}
        finally:
            await rt.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(EdgeMiddleware, settings=settings, routes=routes)
    return app
