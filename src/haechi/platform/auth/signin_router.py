"""Sign in with Google (/auth/google/…) and passkeys (/auth/passkeys/…, /me/passkeys);
docs/platform.md, "Sign-in"."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Cookie, Query, Response
from fastapi.responses import RedirectResponse

from haechi.core.db import utcnow
from haechi.core.errors import RateLimited, Unauthorized, Unavailable
from haechi.core.net import ip_bucket
from haechi.core.store import Store
from haechi.platform.accounts import service as accounts
from haechi.platform.accounts.models import User
from haechi.platform.audit import service as audit
from haechi.platform.auth import google, passkeys, service, totp
from haechi.platform.auth import signin_schemas as schemas
from haechi.platform.auth.credential_models import Passkey
from haechi.platform.auth.models import AuthSession
from haechi.platform.auth.schemas import AccessToken
from haechi.platform.deps import (
    ClientInfo,
    CurrentActor,
    CurrentPrincipal,
    CurrentUser,
    DbSession,
    RuntimeDep,
)
from haechi.platform.http import actor, set_refresh_cookie

methods = APIRouter(tags=["auth"])
google_router = APIRouter(tags=["google"])
passkeys_router = APIRouter(tags=["passkeys"])

REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "A redirect (to the provider, or back to the dashboard)"}
}


# Flows begun per client IP (IPv6 by /64) a minute: each one keeps a record in the store.
FLOWS_PER_MINUTE = 30
# Without a password, adding a passkey needs a session this recent (signed in again).
REAUTH_SECONDS = 600


async def _limit_flows(store: Store, ip: str) -> None:
    decision = await store.hit(f"platform:signin-flows:{ip_bucket(ip)}", FLOWS_PER_MINUTE, 60.0)
    if not decision.allowed:
        raise RateLimited("too many sign-in attempts; wait a minute", retry_after=60.0)


def _answer(issued: service.Issued, expires_in: int) -> AccessToken:
    return AccessToken(
        access_token=issued.access_token, expires_in=expires_in, session_id=issued.session.id
    )


async def _signed_in(
    db: Any,
    runtime: Any,
    info: Any,
    response: Response,
    user: User,
    *,
    action: str,
    passkey_id: Any = None,
) -> AccessToken:
    """A session for ``user`` as password sign-in starts one: the access token in the answer,
    the refresh token in its cookie, the store's epoch in both, and an audit record (of the
    passkey used, else of the session)."""
    settings = runtime.settings.platform
    issued = await service.start(
        db,
        user=user,
        keyring=runtime.keyring,
        settings=settings,
        ip=info.ip,
        user_agent=info.user_agent,
        store=runtime.store,
    )
    assert issued.refresh_token is not None
    set_refresh_cookie(response, issued.refresh_token, settings)
    who = actor("user", str(user.id), info.ip, info.user_agent, info.request_id)
    target = ("passkey", passkey_id) if passkey_id is not None else ("session", issued.session.id)
    await audit.record(db, actor=who, action=action, target_type=target[0], target_id=target[1])
    return _answer(issued, settings.access_token_seconds)


@methods.get("/auth/methods", operation_id="auth_methods")
async def sign_in_methods(runtime: RuntimeDep) -> schemas.Methods:
    """The ways to sign in this server offers."""
    return schemas.Methods(google=google.enabled(runtime.settings.platform))


# ---------------------------------------------------------------------------- Google


@google_router.get(
    "/auth/google/start",
    operation_id="google_start",
    status_code=302,
    response_class=RedirectResponse,
    responses=REDIRECT,
)
async def google_start(runtime: RuntimeDep, info: ClientInfo) -> RedirectResponse:
    """Open this in the browser (a navigation, not a fetch): it redirects to Google with state,
    nonce and a PKCE challenge, and binds the flow to this browser with a short-lived cookie.
    404 ``google-disabled`` when Google sign-in is not configured."""
    settings = runtime.settings.platform
    if google.enabled(settings):
        await _limit_flows(runtime.store, info.ip)
    try:
        async with httpx.AsyncClient() as http:
            url, binding = await google.begin(http, runtime.store, settings)
    except google.FlowError as error:
        raise Unavailable(error.message, code=error.code) from None
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        google.BINDING_COOKIE,
        binding,
        max_age=google.FLOW_SECONDS,
        path=google.BINDING_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        # Lax: the provider's redirect back is a cross-site top-level navigation.
        samesite="lax",
    )
    return response


@google_router.get(
    "/auth/google/callback",
    operation_id="google_callback",
    status_code=302,
    response_class=RedirectResponse,
    responses=REDIRECT,
)
async def google_callback(
    db: DbSession,
    runtime: RuntimeDep,
    info: ClientInfo,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    haechi_oidc: str | None = Cookie(default=None, max_length=200),
) -> RedirectResponse:
    """Where the provider sends the browser back. Redirects to the dashboard's
    ``/signin/google#ticket=…`` (trade it at ``/auth/google/complete``) or
    ``/signin/google#error=<code>``."""
    settings = runtime.settings.platform

    def back(fragment: str) -> RedirectResponse:
        response = RedirectResponse(google.dashboard_url(settings, fragment), status_code=302)
        response.delete_cookie(
            google.BINDING_COOKIE,
            path=google.BINDING_PATH,
            secure=settings.secure_cookies,
            httponly=True,
            samesite="lax",
        )
        return response

    if error or not state or not code:
        return back("error=" + ("provider-refused" if error else "bad-state"))
    try:
        async with httpx.AsyncClient() as http:
            claims = await google.finish(
                http, runtime.store, settings, state=state, code=code, binding=haechi_oidc
            )
        outcome = await google.account_for(db, claims)
    except google.FlowError as failure:
        who = actor("anonymous", None, info.ip, info.user_agent, info.request_id)
        await audit.record(
            db, actor=who, action="auth.google-refused", after={"code": failure.code}
        )
        return back("error=" + failure.code)
    who = actor("user", str(outcome.user.id), info.ip, info.user_agent, info.request_id)
    if outcome.created:
        await audit.record(
            db,
            actor=who,
            action="account.create-google",
            target_type="user",
            target_id=outcome.user.id,
        )
    if outcome.linked:
        await audit.record(
            db,
            actor=who,
            action="auth.google-link",
            target_type="user",
            target_id=outcome.user.id,
            after={"issuer": claims.issuer, "email": claims.email},
        )
    ticket = await google.issue_ticket(runtime.store, outcome.user.id)
    return back("ticket=" + ticket)


@google_router.post("/auth/google/complete", operation_id="google_complete")
async def google_complete(
    body: schemas.GoogleComplete,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    info: ClientInfo,
) -> AccessToken:
    """Trade the callback's ticket for an access token and the refresh cookie, as password
    sign-in answers. With two-factor sign-in on, 401 ``otp-required`` until ``otp`` is sent
    (the ticket stays usable); a wrong code spends the ticket."""
    store = runtime.store
    user_id = await google.peek_ticket(store, body.ticket)
    user = await db.get(User, user_id)
    if user is None:
        raise Unauthorized("this sign-in has expired; start again", code="invalid-ticket")
    if user.two_factor and not body.otp:
        await totp.second_factor(user, runtime.keyring, store, None)  # raises otp-required
    await google.spend_ticket(store, body.ticket)
    await totp.second_factor(user, runtime.keyring, store, body.otp)
    return await _signed_in(db, runtime, info, response, user, action="auth.google-login")


@google_router.get("/me/google", operation_id="google_list")
async def google_list(user: CurrentUser, db: DbSession) -> schemas.GoogleIdentities:
    """The Google accounts linked to this account."""
    rows = await google.get_all(db, user_id=user.id)
    return schemas.GoogleIdentities(data=[schemas.GoogleIdentity.model_validate(r) for r in rows])


@google_router.delete("/me/google/{identity_id}", status_code=204, operation_id="google_delete")
async def google_unlink(
    identity_id: uuid.UUID, user: CurrentUser, db: DbSession, who: CurrentActor
) -> Response:
    """Unlink a Google account (409 ``last-sign-in-method`` when nothing else signs in)."""
    identity = await google.unlink(db, user=user, identity_id=identity_id)
    await audit.record(
        db,
        actor=who,
        action="auth.google-unlink",
        target_type="user",
        target_id=user.id,
        before={"issuer": identity.issuer, "email": identity.email},
    )
    return Response(status_code=204)


# ---------------------------------------------------------------------------- passkeys


def _passkey(passkey: Passkey) -> schemas.PasskeyPublic:
    return schemas.PasskeyPublic(
        id=passkey.id,
        name=passkey.name,
        device_type=passkeys.device_type(passkey),
        backed_up=passkey.backed_up,
        aaguid=passkey.aaguid,
        transports=passkey.transports,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
    )


@passkeys_router.post("/me/passkeys/options", operation_id="passkeys_register_options")
async def passkey_register_options(
    body: schemas.PasskeyBegin,
    principal: CurrentPrincipal,
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
) -> schemas.PasskeyOptions:
    """Options for ``navigator.credentials.create`` (a discoverable credential, user
    verification required); the challenge works once, for five minutes. A stolen access token
    alone cannot add a passkey: an account with a password sends it (401 ``wrong-password``);
    one without must have signed in within ten minutes (401 ``reauth-required``)."""
    if user.password_hash is not None:
        accounts.require_password(user, body.current_password or "")
    else:
        sid = principal.session_id
        session = await db.get(AuthSession, sid) if sid is not None else None
        age = (utcnow() - session.created_at).total_seconds() if session is not None else None
        if age is None or age > REAUTH_SECONDS:
            raise Unauthorized(
                "sign in again (with Google or a passkey) to add a passkey",
                code="reauth-required",
            )
    options = await passkeys.registration_options(
        db, store=runtime.store, settings=runtime.settings.platform, user=user
    )
    return schemas.PasskeyOptions(options=options)


@passkeys_router.post("/me/passkeys", status_code=201, operation_id="passkeys_create")
async def passkey_create(
    body: schemas.PasskeyCreate,
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.PasskeyPublic:
    """Register the new credential (its attestation is verified; ``none`` is accepted)."""
    passkey = await passkeys.register(
        db,
        store=runtime.store,
        settings=runtime.settings.platform,
        user=user,
        credential=body.credential,
        name=body.name,
    )
    await audit.record(
        db,
        actor=who,
        action="auth.passkey-add",
        target_type="passkey",
        target_id=passkey.id,
        after={"name": passkey.name},
    )
    return _passkey(passkey)


@passkeys_router.get("/me/passkeys", operation_id="passkeys_list")
async def passkey_list(user: CurrentUser, db: DbSession) -> schemas.PasskeysPublic:
    rows = await passkeys.get_all(db, user_id=user.id)
    return schemas.PasskeysPublic(data=[_passkey(p) for p in rows])


@passkeys_router.patch("/me/passkeys/{passkey_id}", operation_id="passkeys_update")
async def passkey_rename(
    passkey_id: uuid.UUID,
    body: schemas.PasskeyUpdate,
    user: CurrentUser,
    db: DbSession,
    who: CurrentActor,
) -> schemas.PasskeyPublic:
    passkey = await passkeys.get(db, user=user, passkey_id=passkey_id)
    before = passkey.name
    await passkeys.rename(db, passkey=passkey, name=body.name)
    await audit.record(
        db,
        actor=who,
        action="auth.passkey-rename",
        target_type="passkey",
        target_id=passkey.id,
        before={"name": before},
        after={"name": passkey.name},
    )
    return _passkey(passkey)


@passkeys_router.delete(
    "/me/passkeys/{passkey_id}", status_code=204, operation_id="passkeys_delete"
)
async def passkey_delete(
    passkey_id: uuid.UUID, user: CurrentUser, db: DbSession, who: CurrentActor
) -> Response:
    passkey = await passkeys.get(db, user=user, passkey_id=passkey_id)
    await passkeys.delete(db, user=user, passkey=passkey)
    await audit.record(
        db,
        actor=who,
        action="auth.passkey-delete",
        target_type="passkey",
        target_id=passkey_id,
        before={"name": passkey.name},
    )
    return Response(status_code=204)


@passkeys_router.post("/auth/passkeys/options", operation_id="passkeys_login_options")
async def passkey_login_options(
    body: schemas.PasskeyLoginOptions, db: DbSession, runtime: RuntimeDep, info: ClientInfo
) -> schemas.PasskeyOptions:
    """Options for ``navigator.credentials.get``: usernameless without ``email``. At most 30
    a minute per client IP (429)."""
    await _limit_flows(runtime.store, info.ip)
    options = await passkeys.login_options(
        db, store=runtime.store, settings=runtime.settings.platform, email=body.email
    )
    return schemas.PasskeyOptions(options=options)


@passkeys_router.post("/auth/passkeys/login", operation_id="passkeys_login")
async def passkey_login(
    body: schemas.PasskeyLogin,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    info: ClientInfo,
) -> AccessToken:
    """Sign in with a passkey: the access token in the body, the refresh token in its cookie
    (as password sign-in). User verification was required, so TOTP is not asked."""
    settings = runtime.settings.platform
    user, passkey = await passkeys.authenticate(
        db, store=runtime.store, settings=settings, credential=body.credential
    )
    return await _signed_in(
        db, runtime, info, response, user, action="auth.passkey-login", passkey_id=passkey.id
    )
