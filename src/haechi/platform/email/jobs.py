"""The mail job: one outbox row per run, retried by the job runner until it is sent or dead."""

from __future__ import annotations

import uuid

from haechi.core.jobs import JobContext, registry
from haechi.platform.email import service
from haechi.platform.email.mailer import create_mailer

SEND_MAIL = service.SEND_MAIL_JOB


@registry.job(SEND_MAIL, timeout=60, retries=49, retry_delay=10.0)
async def send_mail(ctx: JobContext, mail_id: str) -> str:
    settings = ctx.settings
    mailer = ctx.resources.get("mailer") or create_mailer(settings)
    async with ctx.resources["sessions"]() as db:
        return await service.send(
            db,
            mail_id=uuid.UUID(mail_id),
            mailer=mailer,
            sender=settings.email.from_address,
            max_attempts=settings.email.max_attempts,
        )


@registry.job("platform.resend_pending_mail", every=300.0, timeout=120)
async def resend_pending_mail(ctx: JobContext) -> int:
    """Pending mail whose job was lost (a process stopped mid-way) is queued again."""
    runner = ctx.resources.get("runtime")
    jobs = getattr(runner, "jobs", None)
    if jobs is None:
        return 0
    async with ctx.resources["sessions"]() as db:
        stale = await service.get_stale_pending(db, older_than_seconds=120.0)
    for mail_id in stale:
        await jobs.enqueue(SEND_MAIL, mail_id=str(mail_id))
    return len(stale)
