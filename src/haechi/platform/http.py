"""HTTP helpers shared by the routers: the refresh cookie, ETags and If-Match, audit actors."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from fastapi import Request, Response

from haechi.core.errors import Forbidden, PreconditionFailed
from haechi.core.settings import PlatformSettings
from haechi.platform.audit.service import Actor

REFRESH_COOKIE = "haechi_refresh"
# Both cookie-reading endpoints live under this path, and the cookie is sent nowhere else.
REFRESH_PATH = "/api/v1/auth"
CSRF_HEADER = "x-haechi-csrf"


def set_refresh_cookie(response: Response, token: str, settings: PlatformSettings) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_token_days * 86400,
        path=REFRESH_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, settings: PlatformSettings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def require_csrf_header(request: Request) -> None:
    """Cookie-authenticated endpoints want a header no cross-site form can send (docs)."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise Forbidden(f"send the header {CSRF_HEADER}: 1", code="csrf")


def etag(*parts: Any) -> str:
    text = "|".join(p.isoformat() if isinstance(p, datetime) else str(p) for p in parts)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def check_if_match(request: Request, current: str) -> None:
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    tags = [t.strip().removeprefix("W/") for t in wanted.split(",")]
    if current not in tags:
        raise PreconditionFailed("the resource changed since you read it; read it again")


def actor(
    kind: str, actor_id: str | None, ip: str, user_agent: str, request_id: str | None
) -> Actor:
    return Actor(type=kind, id=actor_id, ip=ip, user_agent=user_agent, request_id=request_id)
