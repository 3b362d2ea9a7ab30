"""The platform API (``/api``): FastAPI, OpenAPI with stable operation ids, problem+json errors.

Accounts, organisations, sites, usage and billing routers mount here as they land.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from haechi import __version__
from haechi.core.errors import HaechiError
from haechi.core.settings import Settings

PROBLEM = "application/problem+json"


class Meta(BaseModel):
    name: str
    version: str
    role: str


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    body = {
        "type": f"https://haechi.dev/problems/{code}",
        "title": code,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def create_platform_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Haechi platform API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    @app.exception_handler(HaechiError)
    async def domain_error(request: Request, error: HaechiError) -> JSONResponse:
        return problem(error.status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return problem(422, "validation-error", "the request is not valid", errors=errors)

    @app.get("/v1/meta", operation_id="meta_get", response_model=Meta)
    async def meta() -> Meta:
        return Meta(name="haechi", version=__version__, role=settings.role)

    return app
