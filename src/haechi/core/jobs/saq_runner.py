"""Jobs on SAQ over Redis: durable queue, many workers, cron across replicas.

Each registered job becomes a SAQ function under the job's name. Its policy is stamped onto
every SAQ ``Job`` at enqueue time (a ``before_enqueue`` hook), so runs queued by ``enqueue``,
by SAQ's cron scheduler or by any other process sharing this registry all carry it. SAQ's
``retries`` counts tries, ours counts tries after the first: SAQ gets ``retries + 1``. SAQ
timeouts are whole seconds, so a fractional ``timeout`` is rounded up.

Scheduled jobs become SAQ cron jobs keyed ``cron:<name>``, so however many workers run, one
run is queued per tick and a tick is skipped while the previous run is still incomplete. SAQ
has no interval schedule: ``every`` must be expressible as a cron step (see ``every_as_cron``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import replace
from datetime import UTC
from typing import Any

from saq import CronJob, Job, Queue, Worker
from saq.types import Context, Function

from haechi.core.jobs.registry import JobContext, JobRegistry, JobSpec
from haechi.core.jobs.runner import JobRunner, logger


def every_as_cron(seconds: float) -> str:
    """The cron expression for "every ``seconds``", when one exists.

    Whole minutes that divide an hour and whole hours that divide a day map exactly;
    anything else would drift at the hour or day boundary, so it is refused.
    """
    if seconds == int(seconds) and int(seconds) % 60 == 0:
        minutes = int(seconds) // 60
        if minutes == 1:
            return "* * * * *"
        if 0 < minutes < 60 and 60 % minutes == 0:
            return f"*/{minutes} * * * *"
        if minutes % 60 == 0:
            hours = minutes // 60
            if hours == 1:
                return "0 * * * *"
            if hours == 24:
                return "0 0 * * *"
            if 0 < hours < 24 and 24 % hours == 0:
                return f"0 */{hours} * * *"
    raise ValueError(
        f"every={seconds:g}s has no cron equivalent on the redis job backend; "
        "use a divisor of an hour in minutes, of a day in hours, or a cron schedule"
    )


class SaqRunner(JobRunner):
    """Jobs on a SAQ queue in Redis.

    ``start``/``stop`` connect to the queue and, unless ``start_worker`` is false (a web
    process that only enqueues), run a worker inside this process. ``worker`` runs one in the
    foreground until SIGINT/SIGTERM, for the ``haechi worker`` command.
    """

    def __init__(
        self,
        registry: JobRegistry,
        context: JobContext,
        *,
        url: str,
        queue_name: str = "haechi",
        concurrency: int = 10,
        start_worker: bool = True,
        shutdown_grace_s: int | None = None,
    ) -> None:
        super().__init__(registry, context)
        self.queue: Queue = Queue.from_url(url, name=queue_name)
        self.queue.register_before_enqueue(self._apply_policy)
        self._concurrency = concurrency
        self._start_worker = start_worker
        self._shutdown_grace_s = shutdown_grace_s
        self._functions: dict[str, Function[Context]] = {
            spec.name: self._saq_function(spec) for spec in registry
        }
        self._cron_jobs = [
            CronJob(
                self._functions[spec.name],
                cron=spec.schedule if spec.schedule is not None else every_as_cron(spec.every or 0),
                timeout=math.ceil(spec.timeout),
                retries=spec.retries + 1,
            )
            for spec in registry
            if spec.scheduled
        ]
        self._worker: Worker[Context] | None = None
        self._worker_task: asyncio.Task[None] | None = None

    async def _apply_policy(self, job: Job) -> None:
        if job.function in self.registry:
            spec = self.registry.get(job.function)
            job.timeout = math.ceil(spec.timeout)
            job.retries = spec.retries + 1
            job.retry_delay = spec.retry_delay

    def _saq_function(self, spec: JobSpec) -> Function[Context]:
        async def run(saq_ctx: Context, **kwargs: Any) -> Any:
            job = saq_ctx.get("job")
            attempt, tries = (job.attempts, job.retries) if job else (1, 1)
            ctx = replace(self.context, job_id=job.key if job else "", attempt=attempt)
            try:
                return await spec.fn(ctx, **kwargs)
            except Exception:
                logger.warning(
                    "job %s (%s) failed on try %d of %d%s",
                    spec.name,
                    ctx.job_id,
                    attempt,
                    tries,
                    "" if attempt < tries else ", giving up",
                    exc_info=True,
                    extra={"job": spec.name, "job_id": ctx.job_id},
                )
                raise

        # SAQ names cron jobs by the function's __qualname__.
        run.__name__ = run.__qualname__ = spec.name
        return run

    def _build_worker(self, *, handle_signals: bool) -> Worker[Context]:
        worker: Worker[Context] = Worker(
            self.queue,
            functions=list(self._functions.items()),
            cron_jobs=self._cron_jobs,
            cron_tz=UTC,
            concurrency=self._concurrency,
            shutdown_grace_period_s=self._shutdown_grace_s,
        )
        if not handle_signals:
            # Inside the web process the server owns SIGINT/SIGTERM and calls stop().
            worker.SIGNALS = []
        return worker

    async def start(self) -> None:
        await self.queue.connect()
        if self._start_worker and self._worker_task is None:
            self._worker = self._build_worker(handle_signals=False)
            self._worker_task = asyncio.create_task(self._worker.start(), name="jobs.saq-worker")

    async def stop(self) -> None:
        worker, task = self._worker, self._worker_task
        self._worker = self._worker_task = None
        if worker is not None and task is not None:
            await worker.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.queue.disconnect()

    async def worker(self) -> None:
        """Run a SAQ worker in the foreground until SIGINT or SIGTERM."""
        await self.queue.connect()
        try:
            await self._build_worker(handle_signals=True).start()
        finally:
            await self.queue.disconnect()

    async def enqueue(self, name: str, /, **kwargs: Any) -> str:
        self.registry.get(name)
        # A Job built here keeps kwargs such as "key" or "timeout" away from SAQ's own fields.
        job = Job(function=name, kwargs=kwargs or None)
        await self.queue.enqueue(job)
        return job.key
