"""create_app(settings) -> ASGI app, mounting the roles this process serves."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Message, Receive, Scope, Send

from haechi import __version__
from haechi.core.asgi import JSON_CONTENT_TYPE, EdgeRequest, EdgeResponse, EdgeRoute, Handler
from haechi.core.crypto import constant_time_equal
from haechi.core.logging import bind_loop, log_access, request_id_var
from haechi.core.net import client_ip
from haechi.core.randomness import request_id as new_request_id
from haechi.core.settings import Settings
from haechi.core.store import Store
from haechi.runtime import Runtime

log = logging.getLogger("haechi.edge")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._\-]{1,64}")


class EdgeApp:
    """The outermost ASGI layer: request id, client IP, metrics, access log, and the hot routes.

    Hot routes (``EdgeRoute``: the protocol endpoints and /healthz) are looked up by exact path
    in a dict and run as plain functions (see ``haechi.core.asgi``); every other request goes to
    the Starlette app behind, which also owns the lifespan. Metrics are labelled with the route
    *template*, never the raw path, so label cardinality stays bounded whatever clients send.
    """

    def __init__(
        self, app: Starlette, settings: Settings, routes: list[BaseRoute], fast: list[EdgeRoute]
    ) -> None:
        self.app = app
        self.settings = settings
        self.routes = routes
        self._fast: dict[tuple[str, str], Handler] = {}
        self._allow: dict[str, bytes] = {}
        for route in fast:
            methods = set(route.methods)
            if "GET" in methods:
                methods.add("HEAD")
            for method in methods:
                self._fast[(method, route.path)] = route.handler
            known = self._allow.get(route.path, b"").decode().split(", ")
            allowed = sorted({m for m in known if m} | methods)
            self._allow[route.path] = ", ".join(allowed).encode()
        # Route names by raw path, for paths that can only ever be one route's: the hot routes
        # and the Starlette routes without path parameters. A path with parameters
        # (/v1/blob/<key>, /v1/widget.<digest>.js) is matched each time, never kept, or every
        # distinct path a client invents would stay in memory.
        self._names: dict[str, str] = {path: path for path in self._allow}
        self._trusted = settings.trusted_networks
        self._access = settings.log.access
        self._metrics: Any = None

    @property
    def state(self) -> Any:
        return self.app.state

    def _route_name(self, scope: Scope) -> str:
        path = scope["path"]
        name = self._names.get(path)
        if name is not None:
            return name
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                if isinstance(route, Route):
                    if not route.param_convertors:
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
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else new_request_id()
        token = request_id_var.set(request_id)
        peer = scope.get("client")
        ip = client_ip(
            peer[0] if peer else None,
            forwarded.decode("latin-1") if forwarded else None,
            self._trusted,
        )
        scope["haechi.client_ip"] = ip
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500
        try:
            handler = self._fast.get((method, path))
            if handler is not None:
                status = await self._serve(handler, scope, receive, send, request_id)
            elif path in self._allow:
                status = 405
                response = EdgeResponse.json(
                    {
                        "v": 1,
                        "error": {
                            "code": "method-not-allowed",
                            "message": "use " + (self._allow[path].decode()),
                        },
                    },
                    status=405,
                    headers=[(b"allow", self._allow[path])],
                )
                await _send(send, response, request_id, head=False)
            else:

                async def send_wrapper(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        message.setdefault("headers", [])
                        message["headers"].append((b"x-request-id", request_id.encode()))
                    await send(message)

                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = self._route_name(scope)
            metrics = self._metrics
            if metrics is None:
                runtime = getattr(self.app.state, "runtime", None)
                metrics = self._metrics = runtime.metrics if runtime is not None else None
            if metrics is not None:
                metrics.observe_request(route, method, status, elapsed)
            if self._access:
                log_access(method, path, status, route, round(elapsed * 1000, 2), ip)
            request_id_var.reset(token)

    async def _serve(
        self, handler: Handler, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> int:
        request = EdgeRequest(scope, receive, self.app.state.runtime)
        try:
            response = await handler(request)
        except Exception:
            log.exception("unhandled error in %s", scope["path"])
            response = EdgeResponse.json(
                {"v": 1, "error": {"code": "internal", "message": "internal error"}}, status=500
            )
        await _send(send, response, request_id, head=scope["method"] == "HEAD")
        return response.status


async def _send(send: Send, response: EdgeResponse, request_id: str, *, head: bool) -> None:
    headers = response.headers
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


_HEALTHZ = orjson.dumps({"status": "ok", "version": __version__})


async def healthz(request: EdgeRequest) -> EdgeResponse:
    return EdgeResponse(200, _HEALTHZ, [JSON_CONTENT_TYPE])


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


def serve_app() -> EdgeApp:
    """The app ``haechi serve`` runs: ``create_app`` from the environment's settings, with the
    garbage collector's startup objects frozen once the app has started."""
    return create_app(freeze_gc=True)


# A request allocates a few dozen containers (scope, headers, dicts, tuples) that die with it;
# at Python's default of 700 the youngest generation was collected every ten or so requests,
# 2-3 µs of every protocol request's CPU (bench/RESULTS.md). Only reference cycles need the
# collector, and a young collection of 10,000 objects takes well under a millisecond.
GC_THRESHOLDS = (10_000, 20, 10)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    runtime: Runtime | None = None,
    freeze_gc: bool = False,
) -> EdgeApp:
    """Build the ASGI app. ``store``/``runtime`` let tests inject their own backends.

    ``freeze_gc`` (for a server process, not for tests that build many apps): after startup,
    move every object alive then (modules, the models, caches: hundreds of thousands) out of
    the collector's sight with ``gc.freeze()``. A full collection otherwise walks all of them,
    several milliseconds each time the request churn triggers one (bench/RESULTS.md). Then
    collect the youngest generation every ``GC_THRESHOLDS[0]`` allocations instead of 700.
    """
    settings = settings or Settings()
    role = settings.role
    fast = [EdgeRoute("/healthz", ("GET",), healthz)]
    routes: list[BaseRoute] = [
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if role in ("all", "edge"):
        from haechi.protocol.router import routes as edge_routes

        fast += edge_routes()
        from haechi.widget import routes as widget_routes

        routes += widget_routes(settings)
        from haechi.core.blobs.routes import routes as blob_routes

        routes += blob_routes()
    if role in ("all", "platform"):
        from haechi.platform.app import create_platform_app

        routes.append(Mount("/api", app=create_platform_app(settings)))
        from haechi.platform.spa import routes as spa_routes

        routes += spa_routes(settings)  # keep last: its fallback serves the app for page paths

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        rt = runtime or Runtime.build(settings, store=store)
        app.state.runtime = rt
        await rt.start()
        if role in ("all", "platform"):
            from haechi.platform.bootstrap import ensure_demo_site

            await ensure_demo_site(rt)
        if freeze_gc:
            gc.collect()
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
        bind_loop(asyncio.get_running_loop())
        try:
            yield {}
        finally:
            await rt.close()
            bind_loop(None)

    starlette = Starlette(routes=routes, lifespan=lifespan)
    edge = EdgeApp(starlette, settings, routes, fast)
    # Routes that call the app in-process (the demo's server-side verification) need the
    # outermost layer: the hot routes are not Starlette routes.
    starlette.state.edge = edge
    return edge
