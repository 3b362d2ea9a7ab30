"""The quota job (docs/operations.md): recounts each organisation's month while plans are on."""

from __future__ import annotations

from haechi.core.jobs import JobContext, registry
from haechi.platform.plans import quota

CHECK_QUOTAS = "platform.check_quotas"


@registry.job(CHECK_QUOTAS, every=60.0, timeout=300)
async def check_quotas(ctx: JobContext) -> int:
    """Returns the number of organisations checked (0 while plans are off)."""
    settings = ctx.settings
    runtime = ctx.resources.get("runtime")
    run = await quota.check_quotas(
        sessions=ctx.resources["sessions"],
        store=ctx.resources.get("store"),
        settings=settings.plans,
        public_url=settings.platform.public_url,
        jobs=getattr(runtime, "jobs", None),
    )
    if run.changed and runtime is not None:
        # Every process's site cache forgets its sites, so the new state applies at once.
        await runtime.invalidate_site(None)
    return run.checked
