"""RFC 9457 problem details: the one error shape of ``/api``.

Services raise ``haechi.core.errors`` exceptions; the handlers here turn them, request validation
errors and anything unexpected into ``application/problem+json``. ``type`` is
``https://haechi.dev/problems/<code>``; the codes are listed in docs/platform.md.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from haechi.core.errors import HaechiError, RateLimited, Unavailable
from haechi.core.logging import request_id_var

log = logging.getLogger("haechi.platform")
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://haechi.dev/problems/"

# Codes Starlette's own 4xx answers carry (unknown path, wrong method).
_HTTP_CODES = {404: "not-found", 405: "method-not-allowed", 400: "bad-request"}


class Problem(BaseModel):
    """An error: ``code`` is stable and machine-readable; ``detail`` is for people."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    request_id: str | None = None


# Declared on every operation, so generated clients know the error shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM: {}}, "description": description}
    for status, description in (
        (400, "Invalid request"),
        (401, "Not signed in"),
        (403, "Not allowed"),
        (404, "Not found (or not yours)"),
        (409, "Conflict"),
        (412, "Precondition failed (If-Match)"),
        (422, "Validation error"),
        (429, "Rate limited"),
    )
}


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": code.replace("-", " "),
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": request_id_var.get(None),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HaechiError)
    async def domain_error(request: Request, error: HaechiError) -> JSONResponse:
        headers = dict(getattr(error, "headers", None) or {})
        if isinstance(error, RateLimited | Unavailable):
            headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
        return problem(error.status, error.code, error.message, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in error.errors()
        ]
        return problem(422, "validation-error", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "http-error")
        return problem(
            error.status_code, code, str(error.detail), headers=dict(error.headers or {}) or None
        )

    # The database (or a connection to it) is down: a dependency failed, not the request. Fail
    # closed with 503 and Retry-After, as the edge does, so clients and balancers back off.
    async def dependency_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("dependency unavailable in %s: %r", request.url.path, error)
        return problem(
            503,
            "unavailable",
            "a dependency is unavailable; retry shortly",
            headers={"retry-after": "1"},
        )

    for kind in (OperationalError, InterfaceError, PoolTimeout, ConnectionError, TimeoutError):
        app.add_exception_handler(kind, dependency_down)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error in %s", request.url.path)
        return problem(500, "internal", "internal error; the request id identifies it in logs")
