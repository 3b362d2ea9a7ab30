"""Audit retention: events older than ``platform.audit_retention_days`` are deleted daily."""

from __future__ import annotations

from haechi.core.jobs import JobContext, registry
from haechi.platform.audit import service


@registry.job("platform.prune_audit", schedule="17 3 * * *", timeout=600)
async def prune_audit(ctx: JobContext) -> int:
    async with ctx.resources["sessions"]() as db:
        removed = await service.prune(db, retention_days=ctx.settings.platform.audit_retention_days)
        await db.commit()
    return removed
