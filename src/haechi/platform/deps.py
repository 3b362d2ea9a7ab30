"""The dependency chain of ``/api``, as ``Annotated`` aliases built on each other:

runtime (from the ASGI scope) -> ``DbSession`` (one commit per request) -> ``CurrentPrincipal``
(a user's access token or an API key) -> ``OrgAccess`` (the org in the path and the caller's
role in it) -> ``require(permission)`` guards -> ``SiteInOrg``.

Handlers never read ``request.app.state``: under the mounted app that is the inner app. The
runtime travels in ``scope["haechi.runtime"]`` (set by ``haechi.platform.app``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow, write_session
from haechi.core.errors import Forbidden, NotFound, RateLimited, Unauthorized, Unavailable
from haechi.core.logging import request_id_var
from haechi.platform import roles, txn
from haechi.platform.accounts.models import User
from haechi.platform.apikeys import service as apikeys
from haechi.platform.apikeys.models import ApiKey
from haechi.platform.audit.service import Actor
from haechi.platform.auth import tokens
from haechi.platform.orgs.models import Membership
from haechi.platform.sites.models import Organisation, Site
from haechi.runtime import Runtime

RUNTIME_SCOPE_KEY = "haechi.runtime"


def get_runtime(request: Request) -> Runtime:
    runtime = request.scope.get(RUNTIME_SCOPE_KEY)
    if runtime is None:
        raise Unavailable("the platform is starting")
    assert isinstance(runtime, Runtime)
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_db(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One session per request, committed once after the handler returns and before the
    response is sent (``scope="function"``): a failed commit is a 5xx, never a 2xx. Work that
    must follow the commit (mail jobs, cache invalidation) is queued with ``after_commit``."""
    async with runtime.sessions() as session:
        await write_session(session)
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await txn.commit(session)


DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


# ---------------------------------------------------------------------------- the caller


@dataclass
class RequestInfo:
    ip: str
    user_agent: str
    request_id: str | None


def get_request_info(request: Request) -> RequestInfo:
    ip = request.scope.get("haechi.client_ip") or (request.client.host if request.client else "")
    return RequestInfo(
        ip=str(ip)[:45],
        user_agent=request.headers.get("user-agent", "")[:255],
        request_id=request_id_var.get(None),
    )


ClientInfo = Annotated[RequestInfo, Depends(get_request_info)]


@dataclass
class Principal:
    """Who is calling: a signed-in user (with the session) or an organisation's API key."""

    user: User | None = None
    session_id: uuid.UUID | None = None
    api_key: ApiKey | None = None

    @property
    def actor(self) -> tuple[str, str]:
        if self.api_key is not None:
            return "api-key", str(self.api_key.id)
        assert self.user is not None
        return ("operator" if self.user.is_operator else "user"), str(self.user.id)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("sign in first: send Authorization: Bearer <token>")
    return value.strip()


async def get_principal(
    request: Request, runtime: RuntimeDep, db: DbSession, info: ClientInfo
) -> Principal:
    token = _bearer(request)
    if token.startswith(apikeys.KEY_PREFIX):
        key = await apikeys.authenticate(db, token=token, pepper=runtime.pepper, now=utcnow())
        limit = runtime.settings.platform.api_key_per_minute
        decision = await runtime.store.hit(f"platform:api-key-rate:{key.id}", limit, 60.0)
        if not decision.allowed:
            raise RateLimited("this API key's rate limit is used up", retry_after=60.0)
        await apikeys.touch(db, key=key, ip=info.ip, now=utcnow())
        return Principal(api_key=key)
    claims = tokens.read_access(runtime.keyring, token)
    await tokens.check_not_denied(runtime.store, claims)
    user = await db.get(User, claims.user_id)
    if user is None:
        raise Unauthorized("this account no longer exists")
    return Principal(user=user, session_id=claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_current_user(principal: CurrentPrincipal) -> User:
    if principal.user is None:
        raise Forbidden("API keys cannot use account endpoints", code="user-only")
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_operator(user: CurrentUser) -> User:
    if not user.is_operator:
        raise Forbidden("operators only", code="operator-only")
    return user


CurrentOperator = Annotated[User, Depends(get_operator)]


# ---------------------------------------------------------------------------- org and role


@dataclass
class OrgAccess:
    org: Organisation
    principal: Principal
    # The member's role; None for an API key (its scopes decide).
    role: str | None
    permissions: frozenset[str]


async def get_org_access(
    org_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> OrgAccess:
    """The organisation in the path, if the caller belongs to it; 404 otherwise (whether it
    exists is none of a stranger's business)."""
    if principal.api_key is not None:
        if principal.api_key.org_id != org_id:
            raise NotFound("no such organisation")
        org = await db.get(Organisation, org_id)
        if org is None:
            raise NotFound("no such organisation")
        perms = roles.scope_permissions(principal.api_key.scopes)
        return OrgAccess(org=org, principal=principal, role=None, permissions=perms)
    assert principal.user is not None
    role = await db.scalar(
        sa.select(Membership.role).where(
            Membership.org_id == org_id, Membership.user_id == principal.user.id
        )
    )
    org = await db.get(Organisation, org_id) if role is not None else None
    if role is None or org is None:
        raise NotFound("no such organisation")
    return OrgAccess(org=org, principal=principal, role=role, permissions=roles.permissions(role))


CurrentOrg = Annotated[OrgAccess, Depends(get_org_access)]


def require(permission: str) -> Any:
    """A guard: the org access when the caller's role (or key's scopes) grants ``permission``;
    403 otherwise. Writes to a suspended organisation are refused too."""
    if permission not in roles.ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def guard(access: CurrentOrg) -> OrgAccess:
        if permission not in access.permissions:
            raise Forbidden(f"your role does not allow {permission}", code="insufficient-role")
        if access.org.suspended_at is not None and not permission.endswith(":read"):
            raise Forbidden("this organisation is suspended", code="org-suspended")
        return access

    guard.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(guard)


async def get_site_in_org(site_id: uuid.UUID, access: CurrentOrg, db: DbSession) -> Site:
    site = await db.get(Site, site_id)
    if site is None or site.org_id != access.org.id:
        raise NotFound("no such site")
    return site


SiteInOrg = Annotated[Site, Depends(get_site_in_org)]


def get_actor(principal: CurrentPrincipal, info: ClientInfo) -> Actor:
    kind, actor_id = principal.actor
    return Actor(
        type=kind, id=actor_id, ip=info.ip, user_agent=info.user_agent, request_id=info.request_id
    )


CurrentActor = Annotated[Actor, Depends(get_actor)]
