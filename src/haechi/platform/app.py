"""The platform API (``/api``): FastAPI, OpenAPI 3.1 with stable operation ids
(``{tag}_{verb}``), RFC 9457 problem+json errors, routers per domain under ``/api/v1``.

``PlatformASGI`` wraps the FastAPI app: it puts the process's runtime into the ASGI scope (the
outer app's state holds it; under the mount ``request.app`` is the inner app) and refuses bodies
larger than ``MAX_BODY_BYTES`` before FastAPI reads them.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from haechi import __version__
from haechi.core.settings import Settings
from haechi.platform import idempotency, problems
from haechi.platform.accounts import passwords
from haechi.platform.deps import RUNTIME_SCOPE_KEY

MAX_BODY_BYTES = 64 * 1024


class Meta(BaseModel):
    name: str
    version: str
    role: str


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = orjson.dumps(
        {
            "type": problems.PROBLEM_BASE + "payload-too-large",
            "title": "payload too large",
            "status": 413,
            "code": "payload-too-large",
            "detail": f"request bodies are limited to {MAX_BODY_BYTES} bytes",
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", problems.PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class PlatformASGI:
    def __init__(self, app: FastAPI, runtime: Any = None) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if RUNTIME_SCOPE_KEY not in scope:
                outer = scope.get("app")
                runtime = self.runtime or getattr(getattr(outer, "state", None), "runtime", None)
                scope[RUNTIME_SCOPE_KEY] = runtime
            for name, value in scope["headers"]:
                if name == b"content-length" and (
                    not value.isdigit() or int(value) > MAX_BODY_BYTES
                ):
                    await _too_large(send)
                    return
            seen = 0
            started = False

            async def limited() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > MAX_BODY_BYTES:
                        raise _TooLarge
                return message

            async def tracking_send(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            try:
                runtime = scope[RUNTIME_SCOPE_KEY]
                if not await idempotency.handle(self.app, runtime, scope, limited, tracking_send):
                    await self.app(scope, limited, tracking_send)
            except _TooLarge:
                if not started:
                    await _too_large(send)
            return
        await self.app(scope, receive, send)


def build_fastapi(settings: Settings) -> FastAPI:
    from haechi.platform.accounts.router import me
    from haechi.platform.accounts.router import router as accounts
    from haechi.platform.admin.router import router as admin
    from haechi.platform.apikeys.router import router as api_keys
    from haechi.platform.audit.router import router as audit
    from haechi.platform.auth.router import account_links, me_links, sessions, two_factor
    from haechi.platform.auth.router import router as auth
    from haechi.platform.auth.signin_router import google_router, passkeys_router
    from haechi.platform.auth.signin_router import methods as signin_methods
    from haechi.platform.billing.router import router as billing
    from haechi.platform.iprules.router import router as ip_rules
    from haechi.platform.orgs.router import invitations, members
    from haechi.platform.orgs.router import me as me_delete
    from haechi.platform.orgs.router import router as orgs
    from haechi.platform.plans.router import admin_router as plans_admin
    from haechi.platform.plans.router import router as plans
    from haechi.platform.sites.router import router as sites
    from haechi.platform.usage.router import router as usage

    app = FastAPI(
        title="Haechi platform API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        description="Accounts, organisations, sites and keys (docs/platform.md).",
    )
    problems.install(app)
    v1 = APIRouter(prefix="/v1", responses=problems.PROBLEM_RESPONSES)

    @v1.get("/meta", operation_id="meta_get", response_model=Meta, tags=["meta"])
    async def meta() -> Meta:
        return Meta(name="haechi", version=__version__, role=settings.role)

    for router in (signin_methods, google_router, passkeys_router):
        v1.include_router(router)
    routers: tuple[APIRouter, ...] = (
        accounts,
        account_links,
        me,
        me_delete,
        auth,
        sessions,
        orgs,
        members,
        invitations,
    )
    routers = (*routers, plans, plans_admin, me_links)
    for router in (*routers, two_factor, sites, ip_rules, usage, billing, api_keys, audit, admin):
        v1.include_router(router)
    app.include_router(v1)
    return app


def create_platform_app(settings: Settings, runtime: Any = None) -> PlatformASGI:
    p = settings.platform
    passwords.configure(
        time_cost=p.argon2_time_cost,
        memory_kib=p.argon2_memory_kib,
        parallelism=p.argon2_parallelism,
    )
    return PlatformASGI(build_fastapi(settings), runtime)


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI document ``haechi openapi`` prints (the dashboard's client is built from it)."""
    app = build_fastapi(settings or Settings())
    return app.openapi()
