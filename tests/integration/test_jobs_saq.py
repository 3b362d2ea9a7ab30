"""Jobs on SAQ against a real Redis: enqueue, work off, retry, schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from haechi.core.jobs import JobContext, JobRegistry, create_runner
from haechi.core.settings import Settings

pytest.importorskip("saq")

from haechi.core.jobs.saq_runner import SaqRunner, every_as_cron

pytestmark = pytest.mark.integration

TERMINAL = {"complete", "failed", "aborted"}
MakeRunner = Callable[..., Awaitable[SaqRunner]]


@pytest.fixture
def shared(request: pytest.FixtureRequest) -> ModuleType:
    """tests/conftest.py. ``import conftest`` would find tests/integration/conftest.py, which
    pytest loads later under the same name, so take the module pytest registered by path."""
    module = request.config.pluginmanager.get_plugin(str(Path(__file__).parents[1] / "conftest.py"))
    assert isinstance(module, ModuleType)
    return module


@pytest.fixture
async def redis_url(shared: ModuleType) -> AsyncIterator[str]:
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(shared.REDIS_URL)
    try:
        await client.ping()
    except Exception as error:  # any connection error means "not available"
        await client.aclose()
        shared.unavailable("Redis", error)
    yield shared.REDIS_URL
    await client.aclose()


@pytest.fixture
async def make_runner(redis_url: str, shared: ModuleType) -> AsyncIterator[MakeRunner]:
    """Runners on queues of their own; their keys are removed afterwards."""
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(redis_url)
    names: list[str] = []
    runners: list[SaqRunner] = []

    async def make(jobs: JobRegistry, queue_name: str | None = None, **options: Any) -> SaqRunner:
        name = queue_name or shared.unique("haechi_test_jobs")
        if name not in names:
            names.append(name)
            # A worker sweeps its queue as it starts, and can take a job that was dequeued but
            # not yet marked active for a stuck one (tobymao/saq#277) and abort it, after a 5 s
            # wait. Holding the sweep lock keeps that race out of these short tests.
            await client.set(f"saq:{name}:sweep", 1, ex=60)
        context = JobContext(settings=Settings(env="test"), resources={"tag": "r"})
        runner = SaqRunner(jobs, context, url=redis_url, queue_name=name, **options)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        await runner.stop()
    for name in names:
        for pattern in (f"saq:{name}:*", f"saq:job:{name}:*"):
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
    await client.aclose()


async def finished(runner: SaqRunner, key: str, within: float = 5.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            job = await runner.queue.job(key)
            if job is not None and job.status.value in TERMINAL:
                return job
            await asyncio.sleep(0.02)


async def test_enqueued_job_runs_with_its_kwargs(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()

    @jobs.job(timeout=5)
    async def add(ctx: JobContext, *, a: int, b: int, key: str) -> dict[str, Any]:
        return {
            "sum": a + b,
            "key": key,
            "job_id": ctx.job_id,
            "attempt": ctx.attempt,
            "tag": ctx.resources["tag"],
        }

    runner = await make_runner(jobs)
    await runner.start()
    # "key" is one of SAQ's own Job fields; it must still reach the function.
    job_id = await runner.enqueue("add", a=2, b=3, key="mine")
    job = await finished(runner, job_id)
    assert job.status.value == "complete"
    assert job.result == {"sum": 5, "key": "mine", "job_id": job_id, "attempt": 1, "tag": "r"}
    assert job.kwargs == {"a": 2, "b": 3, "key": "mine"}
    assert (job.timeout, job.retries) == (5, 1)


async def test_failed_job_is_retried_until_it_succeeds(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()
    tries: list[int] = []

    @jobs.job(retries=2, retry_delay=0)
    async def flaky(ctx: JobContext, n: int) -> int:
        tries.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"try {ctx.attempt}")
        return n

    runner = await make_runner(jobs)
    await runner.start()
    job = await finished(runner, await runner.enqueue("flaky", n=9))
    assert (job.status.value, job.result, job.attempts) == ("complete", 9, 3)
    assert tries == [1, 2, 3]


async def test_job_that_keeps_failing_gives_up(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()

    @jobs.job(retries=1, retry_delay=0)
    async def broken(ctx: JobContext) -> None:
        raise RuntimeError("always")

    runner = await make_runner(jobs)
    await runner.start()
    job = await finished(runner, await runner.enqueue("broken"))
    assert (job.status.value, job.attempts) == ("failed", 2)
    assert "RuntimeError: always" in job.error


async def test_slow_job_times_out(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()
    cancelled = asyncio.Event()

    @jobs.job(timeout=0.2)  # SAQ counts whole seconds: this becomes 1 s
    async def slow(ctx: JobContext) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = await make_runner(jobs)
    await runner.start()
    job = await finished(runner, await runner.enqueue("slow"))
    assert (job.status.value, job.attempts, job.timeout) == ("failed", 1, 1)
    assert "TimeoutError" in job.error
    assert cancelled.is_set()


async def test_scheduled_jobs_become_cron_jobs(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()

    @jobs.job(schedule="0 3 * * *", timeout=2.5, retries=1, retry_delay=4)
    async def nightly(ctx: JobContext) -> None:
        return None

    @jobs.job(every=300)
    async def often(ctx: JobContext) -> None:
        return None

    runner = await make_runner(jobs)
    await runner.start()
    async with asyncio.timeout(5):
        while True:
            queued = await runner.queue.jobs(["cron:nightly", "cron:often"])
            if all(queued):
                break
            await asyncio.sleep(0.02)
    for job in queued:
        assert job is not None
        assert job.status.value == "queued"
        assert job.scheduled > 0  # waits for its tick
    nightly_job = queued[0]
    assert nightly_job is not None
    assert (nightly_job.timeout, nightly_job.retries, nightly_job.retry_delay) == (3, 2, 4)


async def test_enqueue_only_runner_leaves_work_to_the_worker(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()

    @jobs.job
    async def echo(ctx: JobContext, word: str) -> str:
        return word

    producer = await make_runner(jobs, start_worker=False)
    await producer.start()
    job_id = await producer.enqueue("echo", word="hi")
    await asyncio.sleep(0.1)
    job = await producer.queue.job(job_id)
    assert job is not None and job.status.value == "queued"

    # The `haechi worker` path: a foreground worker on the same queue.
    consumer = await make_runner(jobs, queue_name=producer.queue.name)
    worker = asyncio.create_task(consumer.worker())
    try:
        job = await finished(producer, job_id)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert (job.status.value, job.result) == ("complete", "hi")


async def test_run_now_runs_here(make_runner: MakeRunner) -> None:
    jobs = JobRegistry()

    @jobs.job
    async def square(ctx: JobContext, x: int) -> int:
        return x * x

    assert await (await make_runner(jobs)).run_now("square", x=4) == 16


@pytest.mark.parametrize(
    ("every", "cron"),
    [
        (60, "* * * * *"),
        (300, "*/5 * * * *"),
        (1800, "*/30 * * * *"),
        (3600, "0 * * * *"),
        (6 * 3600, "0 */6 * * *"),
        (86400, "0 0 * * *"),
    ],
)
def test_every_as_cron(every: float, cron: str) -> None:
    assert every_as_cron(every) == cron


@pytest.mark.parametrize("every", [0.5, 30, 90, 420, 5 * 3600, 2 * 86400])
def test_every_without_a_cron_equivalent(every: float) -> None:
    with pytest.raises(ValueError, match="no cron equivalent"):
        every_as_cron(every)


def test_create_runner_picks_saq_on_the_store_redis() -> None:
    settings = Settings(
        env="test",
        jobs={"backend": "redis", "queue": "q1"},
        store={"url": "redis://redis.invalid:6379/0"},
    )
    runner = create_runner(settings, JobRegistry(), {}, start_worker=False)
    assert isinstance(runner, SaqRunner)
    assert runner.queue.name == "q1"
