"""/api/v1/auth: sign-in, refresh, sign-out; /api/v1/me/sessions: a user's own sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import JSONResponse

from haechi.core.errors import Unauthorized
from haechi.platform.accounts import schemas as account_schemas
from haechi.platform.accounts import service as accounts
from haechi.platform.audit import service as audit
from haechi.platform.auth import schemas, service, totp
from haechi.platform.deps import (
    ClientInfo,
    CurrentActor,
    CurrentPrincipal,
    CurrentUser,
    DbSession,
    RuntimeDep,
)
from haechi.platform.http import (
    actor,
    clear_refresh_cookie,
    require_csrf_header,
    set_refresh_cookie,
)
from haechi.platform.problems import problem

router = APIRouter(tags=["auth"])
sessions = APIRouter(tags=["sessions"])
two_factor = APIRouter(tags=["totp"])
# Account endpoints that end sessions (accounts sits below auth; see the import contract).
account_links = APIRouter(tags=["accounts"])
me_links = APIRouter(tags=["me"])


def _answer(issued: service.Issued, expires_in: int) -> schemas.AccessToken:
    return schemas.AccessToken(
        access_token=issued.access_token, expires_in=expires_in, session_id=issued.session.id
    )


@router.post("/auth/login", operation_id="auth_login")
async def login(
    body: schemas.Login, response: Response, db: DbSession, runtime: RuntimeDep, info: ClientInfo
) -> schemas.AccessToken:
    """Sign in with e-mail and password: an access token in the body, the refresh token in an
    HttpOnly cookie. Failures are counted per account and per IP (429 when either is spent)."""
    settings = runtime.settings.platform
    issued = await service.login(
        db,
        email=body.email,
        password=body.password,
        store=runtime.store,
        keyring=runtime.keyring,
        settings=settings,
        ip=info.ip,
        user_agent=info.user_agent,
        otp=body.otp,
    )
    assert issued.refresh_token is not None
    set_refresh_cookie(response, issued.refresh_token, settings)
    who = actor("user", str(issued.session.user_id), info.ip, info.user_agent, info.request_id)
    await audit.record(
        db, actor=who, action="auth.login", target_type="session", target_id=issued.session.id
    )
    return _answer(issued, settings.access_token_seconds)


@router.post("/auth/refresh", operation_id="auth_refresh", response_model=schemas.AccessToken)
async def refresh(
    request: Request,
    response: Response,
    db: DbSession,
    runtime: RuntimeDep,
    info: ClientInfo,
    haechi_refresh: str | None = Cookie(default=None, max_length=200),
) -> schemas.AccessToken | JSONResponse:
    """A new access token (and refresh cookie) for the refresh cookie, which is spent. Needs
    the header ``X-Haechi-CSRF: 1``."""
    require_csrf_header(request)
    if not haechi_refresh:
        raise Unauthorized("no refresh cookie; sign in", code="invalid-refresh-token")
    settings = runtime.settings.platform
    issued = await service.refresh(
        db,
        token=haechi_refresh,
        store=runtime.store,
        keyring=runtime.keyring,
        settings=settings,
        ip=info.ip,
    )
    if issued.reused:
        # Returned, not raised, so that the request still commits the revocation.
        refused = problem(
            401,
            "refresh-token-reused",
            "this refresh token was used before: the session is ended",
            headers={"www-authenticate": "Bearer"},
        )
        clear_refresh_cookie(refused, settings)
        return refused
    if issued.refresh_token is not None:
        set_refresh_cookie(response, issued.refresh_token, settings)
    return _answer(issued, settings.access_token_seconds)


@router.post("/auth/logout", status_code=204, operation_id="auth_logout")
async def logout(
    request: Request, principal: CurrentPrincipal, db: DbSession, runtime: RuntimeDep
) -> Response:
    """End this session: its refresh token stops working and its access tokens are denied."""
    require_csrf_header(request)
    response = Response(status_code=204)
    clear_refresh_cookie(response, runtime.settings.platform)
    if principal.user is not None and principal.session_id is not None:
        session = await service.get(db, user=principal.user, session_id=principal.session_id)
        await service.revoke(
            db, session=session, store=runtime.store, settings=runtime.settings.platform
        )
    return response


@router.post("/auth/logout-all", status_code=204, operation_id="auth_logout_all")
async def logout_all(
    request: Request, user: CurrentUser, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> Response:
    """Sign out everywhere: every session ends and every access token issued so far is denied
    on every replica (store-backed)."""
    require_csrf_header(request)
    await service.end_all(
        db, user_id=user.id, store=runtime.store, settings=runtime.settings.platform
    )
    await audit.record(
        db, actor=who, action="auth.logout-all", target_type="user", target_id=user.id
    )
    response = Response(status_code=204)
    clear_refresh_cookie(response, runtime.settings.platform)
    return response


@sessions.get("/me/sessions", operation_id="sessions_list")
async def list_sessions(
    principal: CurrentPrincipal, user: CurrentUser, db: DbSession
) -> schemas.SessionsPublic:
    rows = await service.get_all(db, user=user)
    return schemas.SessionsPublic(
        data=[
            schemas.SessionPublic.model_validate(s).model_copy(
                update={"current": s.id == principal.session_id}
            )
            for s in rows
        ]
    )


@sessions.delete("/me/sessions/{session_id}", status_code=204, operation_id="sessions_delete")
async def end_session(
    session_id: uuid.UUID, user: CurrentUser, db: DbSession, runtime: RuntimeDep, who: CurrentActor
) -> Response:
    session = await service.get(db, user=user, session_id=session_id)
    await service.revoke(
        db, session=session, store=runtime.store, settings=runtime.settings.platform
    )
    await audit.record(
        db, actor=who, action="auth.session-end", target_type="session", target_id=session_id
    )
    return Response(status_code=204)


@me_links.post("/me/password", status_code=204, operation_id="me_change_password")
async def change_password(
    body: account_schemas.PasswordChange,
    user: CurrentUser,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> Response:
    """Change the password (the current one required). Every other session of the account
    ends at once — its refresh tokens and its access tokens, in every replica (the store's
    denylist); this one stays signed in."""
    await accounts.change_password(
        db, user=user, current=body.current_password, new=body.new_password
    )
    ended = await service.end_others(
        db,
        user_id=user.id,
        keep=principal.session_id,
        store=runtime.store,
        settings=runtime.settings.platform,
    )
    await audit.record(
        db,
        actor=who,
        action="account.password-change",
        target_type="user",
        target_id=user.id,
        after={"sessions_ended": ended},
    )
    return Response(status_code=204)


@account_links.post("/accounts/password-reset/confirm", operation_id="accounts_reset_password")
async def reset_password(
    body: account_schemas.PasswordReset, db: DbSession, runtime: RuntimeDep, info: ClientInfo
) -> account_schemas.UserPublic:
    """Sets the new password and ends every session of the account."""
    user = await accounts.reset_password(db, token=body.token, password=body.password)
    await service.end_all(
        db, user_id=user.id, store=runtime.store, settings=runtime.settings.platform
    )
    who = actor("user", str(user.id), info.ip, info.user_agent, info.request_id)
    await audit.record(
        db, actor=who, action="account.password-reset", target_type="user", target_id=user.id
    )
    return account_schemas.UserPublic.model_validate(user)


@two_factor.post("/me/totp", operation_id="totp_begin")
async def begin_totp(user: CurrentUser, db: DbSession, runtime: RuntimeDep) -> schemas.TotpSetup:
    """Start two-factor set-up: a secret for the authenticator app (not in force yet)."""
    secret, uri = totp.begin(user, runtime.keyring)
    await db.flush()
    return schemas.TotpSetup(secret=secret, uri=uri)


@two_factor.post("/me/totp/confirm", operation_id="totp_confirm")
async def confirm_totp(
    body: schemas.TotpConfirm,
    user: CurrentUser,
    principal: CurrentPrincipal,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> schemas.RecoveryCodes:
    """Turn two-factor sign-in on with a first code and the current password, which a session
    signed in within the last five minutes may leave out (401 ``reauth-required`` or
    ``wrong-password`` otherwise); answers ten recovery codes, once."""
    await service.require_reauth(
        db,
        user=user,
        session_id=principal.session_id,
        password=body.current_password,
        settings=runtime.settings.platform,
    )
    codes = await totp.confirm(user, runtime.keyring, runtime.store, body.code)
    await db.flush()
    await audit.record(
        db, actor=who, action="auth.totp-enable", target_type="user", target_id=user.id
    )
    return schemas.RecoveryCodes(recovery_codes=codes)


@two_factor.post("/me/totp/disable", status_code=204, operation_id="totp_disable")
async def disable_totp(
    body: schemas.TotpDisable,
    user: CurrentUser,
    db: DbSession,
    runtime: RuntimeDep,
    who: CurrentActor,
) -> Response:
    """Turn two-factor sign-in off (the password and a current code or recovery code)."""
    accounts.require_password(user, body.current_password)
    await totp.second_factor(user, runtime.keyring, runtime.store, body.otp)
    totp.disable(user)
    await db.flush()
    await audit.record(
        db, actor=who, action="auth.totp-disable", target_type="user", target_id=user.id
    )
    return Response(status_code=204)
