"""/api/v1/accounts and /api/v1/me: sign-up, verification, reset, the signed-in account."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter

from haechi.core.errors import Conflict
from haechi.platform.accounts import schemas, service
from haechi.platform.accounts.jobs import REQUEST_RESET
from haechi.platform.audit import service as audit
from haechi.platform.deps import ClientInfo, CurrentUser, DbSession, RuntimeDep
from haechi.platform.http import actor
from haechi.platform.txn import after_commit

router = APIRouter(tags=["accounts"])
me = APIRouter(tags=["me"])


def _public(user: object) -> schemas.UserPublic:
    return schemas.UserPublic.model_validate(user)


@router.post("/accounts", status_code=201, operation_id="accounts_create")
async def create_account(
    body: schemas.UserCreate, db: DbSession, runtime: RuntimeDep, info: ClientInfo
) -> schemas.UserPublic:
    """Sign up. A verification link is mailed to the address."""
    user = await service.create(db, data=body, settings=runtime.settings, jobs=runtime.jobs)
    who = actor("user", str(user.id), info.ip, info.user_agent, info.request_id)
    await audit.record(
        db, actor=who, action="account.create", target_type="user", target_id=user.id
    )
    return _public(user)


@router.post("/accounts/verify-email", operation_id="accounts_verify_email")
async def verify_email(body: schemas.TokenBody, db: DbSession) -> schemas.UserPublic:
    return _public(await service.verify_email(db, token=body.token))


@router.post(
    "/accounts/password-reset", status_code=202, operation_id="accounts_request_password_reset"
)
async def request_password_reset(
    body: schemas.EmailBody, db: DbSession, runtime: RuntimeDep
) -> schemas.Accepted:
    """Mails a single-use link when the account exists; the answer is the same either way
    (and when the address had ``RESET_MAILS_PER_HOUR`` links in the last hour already), and
    takes the same time: the request only enqueues the job that looks the address up
    (``haechi.platform.accounts.jobs``), for every address."""
    budget = f"platform:reset-mail:{hashlib.sha256(body.email.encode()).hexdigest()}"
    if (await runtime.store.hit(budget, service.RESET_MAILS_PER_HOUR, 3600.0)).allowed:
        jobs, email = runtime.jobs, body.email
        if jobs is not None:
            after_commit(db, lambda: jobs.enqueue(REQUEST_RESET, email=email))
        else:  # no job runner in this process (tests' in-process app): do it here
            await service.request_reset(db, email=email, settings=runtime.settings, jobs=None)
    return schemas.Accepted()


@router.post("/accounts/confirm-email", operation_id="accounts_confirm_email")
async def confirm_email(body: schemas.TokenBody, db: DbSession) -> schemas.UserPublic:
    return _public(await service.confirm_email_change(db, token=body.token))


@me.get("/me", operation_id="me_get")
async def get_me(user: CurrentUser) -> schemas.UserPublic:
    return _public(user)


@me.patch("/me", operation_id="me_update")
async def update_me(
    body: schemas.UserUpdate, user: CurrentUser, db: DbSession
) -> schemas.UserPublic:
    if body.locale is not None:
        user.locale = body.locale
        await db.flush()
    return _public(user)


@me.post("/me/verification", status_code=202, operation_id="me_resend_verification")
async def resend_verification(
    user: CurrentUser, db: DbSession, runtime: RuntimeDep
) -> schemas.Accepted:
    if user.email_verified_at is not None:
        raise Conflict("this address is verified already", code="already-verified")
    await service.send_verification(db, user=user, settings=runtime.settings, jobs=runtime.jobs)
    return schemas.Accepted()


# POST /me/password (me_change_password) is in haechi.platform.auth.router: it ends the
# account's other sessions.


@me.post("/me/email", status_code=202, operation_id="me_change_email")
async def change_email(
    body: schemas.EmailChange, user: CurrentUser, db: DbSession, runtime: RuntimeDep
) -> schemas.Accepted:
    """Mails a confirmation link to the new address; the address changes when it is opened."""
    await service.request_email_change(
        db,
        user=user,
        new_email=body.new_email,
        password=body.current_password,
        settings=runtime.settings,
        jobs=runtime.jobs,
    )
    return schemas.Accepted()
