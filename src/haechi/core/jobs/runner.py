"""Runners execute registered jobs; the in-process one serves the embedded mode.

Every runner applies the same policy from the registry: a per-try timeout, ``retries`` further
tries ``retry_delay`` seconds apart, and failures logged on ``haechi.jobs`` rather than raised
into the caller. ``run_now`` is the exception: it runs a job in the calling task (CLI, tests)
and raises the last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from haechi.core.jobs.registry import JobContext, JobRegistry, JobSpec

logger = logging.getLogger("haechi.jobs")


def new_job_id() -> str:
    return uuid.uuid4().hex


async def run_job(
    spec: JobSpec, context: JobContext, kwargs: dict[str, Any], *, job_id: str
) -> Any:
    """Run one job under its policy; return its result or raise the last try's error."""
    tries = spec.retries + 1
    for attempt in range(1, tries + 1):
        ctx = replace(context, job_id=job_id, attempt=attempt)
        try:
            async with asyncio.timeout(spec.timeout):
                return await spec.fn(ctx, **kwargs)
        except Exception as error:
            timed_out = isinstance(error, TimeoutError)
            what = f"timed out after {spec.timeout:g}s" if timed_out else "failed"
            if attempt == tries:
                logger.error(
                    "job %s (%s) %s on try %d of %d, giving up",
                    spec.name,
                    job_id,
                    what,
                    attempt,
                    tries,
                    exc_info=error,
                    extra={"job": spec.name, "job_id": job_id},
                )
                raise
            logger.warning(
                "job %s (%s) %s on try %d of %d, retrying in %gs",
                spec.name,
                job_id,
                what,
                attempt,
                tries,
                spec.retry_delay,
                exc_info=error,
                extra={"job": spec.name, "job_id": job_id},
            )
        await asyncio.sleep(spec.retry_delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class JobRunner(ABC):
    """Runs the jobs of one registry with one context. Use as ``async with runner:`` or
    call ``start``/``stop`` from the application's lifespan."""

    def __init__(self, registry: JobRegistry, context: JobContext) -> None:
        self.registry = registry
        self.context = context

    @abstractmethod
    async def start(self) -> None:
        """Begin running schedules (and, where the runner consumes a queue, queued jobs)."""

    @abstractmethod
    async def stop(self) -> None:
        """Cancel what is running and wait for it; safe to call twice."""

    @abstractmethod
    async def enqueue(self, name: str, /, **kwargs: Any) -> str:
        """Queue a run of job ``name`` with ``kwargs``; return the run's id at once."""

    async def run_now(self, name: str, /, **kwargs: Any) -> Any:
        """Run job ``name`` in the calling task under its policy; raise its last error."""
        return await run_job(self.registry.get(name), self.context, kwargs, job_id=new_job_id())

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class InProcessRunner(JobRunner):
    """Jobs as asyncio tasks in this process: the embedded mode's runner.

    Queued runs are not durable; a restart forgets them. A scheduled job whose previous run is
    still going skips its turn instead of piling up. Cron schedules read ``clock`` (UTC).
    """

    def __init__(
        self,
        registry: JobRegistry,
        context: JobContext,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(registry, context)
        self._clock = clock
        self._runs: set[asyncio.Task[None]] = set()
        self._schedulers: list[asyncio.Task[None]] = []
        self._stopped = False

    async def start(self) -> None:
        self._stopped = False
        if self._schedulers:
            return
        for spec in self.registry:
            if spec.scheduled:
                task = asyncio.create_task(self._schedule(spec), name=f"jobs.schedule:{spec.name}")
                self._schedulers.append(task)

    async def stop(self) -> None:
        self._stopped = True
        tasks = [*self._schedulers, *self._runs]
        self._schedulers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def enqueue(self, name: str, /, **kwargs: Any) -> str:
        spec = self.registry.get(name)
        if self._stopped:
            raise RuntimeError("the job runner is stopped")
        job_id = new_job_id()
        self._spawn(spec, kwargs, job_id)
        return job_id

    def _spawn(self, spec: JobSpec, kwargs: dict[str, Any], job_id: str) -> asyncio.Task[None]:
        task = asyncio.create_task(self._run(spec, kwargs, job_id), name=f"jobs:{spec.name}")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task

    async def _run(self, spec: JobSpec, kwargs: dict[str, Any], job_id: str) -> None:
        with contextlib.suppress(Exception):  # run_job has logged it
            await run_job(spec, self.context, kwargs, job_id=job_id)

    def _fire(self, spec: JobSpec, previous: asyncio.Task[None] | None) -> asyncio.Task[None]:
        if previous is not None and not previous.done():
            logger.warning("job %s is still running, skipping this turn", spec.name)
            return previous
        return self._spawn(spec, {}, new_job_id())

    async def _schedule(self, spec: JobSpec) -> None:
        try:
            if spec.cron is not None:
                await self._every_cron_tick(spec)
            elif spec.every is not None:
                await self._every_interval(spec, spec.every)
        except Exception:
            logger.exception("the schedule of job %s stopped", spec.name)

    async def _every_cron_tick(self, spec: JobSpec) -> None:
        assert spec.cron is not None
        running: asyncio.Task[None] | None = None
        fire_at = spec.cron.next_after(self._clock())
        while True:
            now = self._clock()
            if now < fire_at:
                # The loop's clock and the wall clock drift apart: check again on waking.
                await asyncio.sleep((fire_at - now).total_seconds())
                continue
            running = self._fire(spec, running)
            # Ticks missed while stalled are skipped, not caught up.
            fire_at = spec.cron.next_after(now)

    async def _every_interval(self, spec: JobSpec, every: float) -> None:
        loop = asyncio.get_running_loop()
        running: asyncio.Task[None] | None = None
        next_at = loop.time() + every
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            running = self._fire(spec, running)
            # Fixed rate; after a long stall (a suspended laptop) start afresh, don't catch up.
            next_at = max(next_at + every, loop.time())
