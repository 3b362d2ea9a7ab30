"""The password-reset request as a job. ``POST /accounts/password-reset`` only enqueues it —
for every address, known or not — so the answer's time cannot tell whether an account exists;
the lookup, the link and the mail happen here, off the request."""

from __future__ import annotations

from haechi.core.db import write_session
from haechi.core.jobs import JobContext, registry
from haechi.platform import txn
from haechi.platform.accounts import service

REQUEST_RESET = "platform.request_password_reset"


@registry.job(REQUEST_RESET, timeout=60, retries=4, retry_delay=10.0)
async def request_password_reset(ctx: JobContext, email: str) -> str:
    runtime = ctx.resources.get("runtime")
    async with ctx.resources["sessions"]() as db:
        await write_session(db)
        await service.request_reset(
            db, email=email, settings=ctx.settings, jobs=getattr(runtime, "jobs", None)
        )
        await txn.commit(db)  # then the mail job, when there is a mail
    # The same result either way: job logs do not tell who has an account either.
    return "done"
