"""Background jobs: plain async functions in one registry, run in-process or on SAQ (Redis).

``SaqRunner`` lives in ``haechi.core.jobs.saq_runner`` and is imported only when the redis
backend is chosen, so the embedded mode runs without the ``redis`` extra installed.
"""

from __future__ import annotations

from typing import Any

from haechi.core.jobs.registry import (
    Cron,
    JobContext,
    JobFunction,
    JobRegistry,
    JobSpec,
    UnknownJob,
    registry,
)
from haechi.core.jobs.runner import InProcessRunner, JobRunner, run_job
from haechi.core.settings import Settings

__all__ = [
    "Cron",
    "InProcessRunner",
    "JobContext",
    "JobFunction",
    "JobRegistry",
    "JobRunner",
    "JobSpec",
    "UnknownJob",
    "create_runner",
    "registry",
    "run_job",
]


def create_runner(
    settings: Settings,
    registry: JobRegistry,
    resources: dict[str, Any] | None = None,
    *,
    start_worker: bool = True,
) -> JobRunner:
    """The runner that ``settings.jobs.backend`` asks for.

    On the redis backend the queue lives at ``jobs.url``, else at the store's Redis.
    ``start_worker=False`` gives a runner that only enqueues, for processes whose jobs are
    worked off by a separate ``haechi worker``.
    """
    context = JobContext(settings=settings, resources=resources if resources is not None else {})
    if settings.jobs.backend == "inprocess":
        return InProcessRunner(registry, context)
    url = settings.jobs.url or ("" if settings.store.is_memory else settings.store.url)
    if not url:
        raise ValueError(
            "the redis job backend needs HAECHI_JOBS__URL or a redis:// HAECHI_STORE__URL"
        )
    from haechi.core.jobs.saq_runner import SaqRunner

    return SaqRunner(
        registry, context, url=url, queue_name=settings.jobs.queue, start_worker=start_worker
    )
