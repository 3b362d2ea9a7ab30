"""The monthly charge run: hourly, charging what is due (docs/operations.md)."""

from __future__ import annotations

from haechi.core.db import utcnow
from haechi.core.jobs import JobContext, registry
from haechi.platform.billing import service
from haechi.platform.billing.providers.toss import TossClient


@registry.job("platform.charge_subscriptions", schedule="7 * * * *", timeout=3000)
async def charge_subscriptions(ctx: JobContext) -> int:
    """Returns the number of periods charged. Billing is off without a Toss secret key."""
    if not ctx.settings.billing.toss_secret_key:
        return 0
    client = TossClient(ctx.settings.billing)
    try:
        runtime = ctx.resources["runtime"]
        run = await service.charge_due(
            sessions=ctx.resources["sessions"],
            ctx=service.Billing(
                client=client,
                keyring=runtime.keyring,
                settings=ctx.settings,
                jobs=getattr(runtime, "jobs", None),
            ),
            now=utcnow(),
        )
    finally:
        await client.close()
    return run.charged
