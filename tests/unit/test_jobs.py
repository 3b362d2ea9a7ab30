"""The job registry, the cron parser and the in-process runner."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from haechi.core.jobs import (
    Cron,
    InProcessRunner,
    JobContext,
    JobRegistry,
    UnknownJob,
    create_runner,
)
from haechi.core.settings import Settings


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


@pytest.fixture
def context() -> JobContext:
    return JobContext(settings=Settings(env="test"), resources={"answer": 42})


# ---------------------------------------------------------------------------- cron parsing


@pytest.mark.parametrize(
    ("expression", "field", "expected"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("5,10,50 * * * *", "minutes", {5, 10, 50}),
        ("5/20 * * * *", "minutes", {5, 25, 45}),
        ("10-13 * * * *", "minutes", {10, 11, 12, 13}),
        ("0 9-17/4 * * *", "hours", {9, 13, 17}),
        ("0 0,12 * * *", "hours", {0, 12}),
        ("0 0 1-10/3,20 * *", "days", {1, 4, 7, 10, 20}),
        ("0 0 * */3 *", "months", {1, 4, 7, 10}),
        ("0 0 * jan-mar,DEC *", "months", {1, 2, 3, 12}),
        ("0 0 * * mon-fri", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * 5-7", "weekdays", {5, 6, 0}),
    ],
)
def test_cron_fields(expression: str, field: str, expected: set[int]) -> None:
    assert getattr(Cron.parse(expression), field) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "* * * *",  # four fields
        "* * * * * *",  # six
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "10-5 * * * *",
        "*/0 * * * *",
        "a * * * *",
        "1- * * * *",
        "0 0 30 2 *",  # 30 February never comes
        "0 0 31 4,6,9,11 *",
    ],
)
def test_cron_rejects(expression: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        Cron.parse(expression)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", "2024-05-05T12:00:30", "2024-05-05T12:01:00"),  # strictly after
        ("* * * * *", "2024-05-05T12:00:00", "2024-05-05T12:01:00"),
        ("*/5 * * * *", "2024-05-05T12:58:00", "2024-05-05T13:00:00"),
        ("0 * * * *", "2024-05-05T23:10:00", "2024-05-06T00:00:00"),
        ("0 0 1 * *", "2024-01-31T10:00:00", "2024-02-01T00:00:00"),  # month boundary
        ("30 23 31 12 *", "2024-12-31T23:30:00", "2025-12-31T23:30:00"),  # year boundary
        ("0 0 31 * *", "2024-04-15T00:00:00", "2024-05-31T00:00:00"),  # April has 30 days
        ("0 0 29 2 *", "2024-03-01T00:00:00", "2028-02-29T00:00:00"),  # leap day
        ("0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"),  # 2100 is no leap year
        ("0 8 * * 1", "2024-01-01T08:00:00", "2024-01-08T08:00:00"),  # Monday to Monday
        ("0 0 * * sun", "2024-01-01T00:00:00", "2024-01-07T00:00:00"),
        ("0 0 13 * 5", "2024-09-01T00:00:00", "2024-09-06T00:00:00"),  # day OR weekday
        ("0 0 13 * 5", "2024-09-06T00:00:00", "2024-09-13T00:00:00"),
        ("15 3 * 2 *", "2023-12-31T05:00:00", "2024-02-01T03:15:00"),  # skips January
        ("0 12 * * 1-5", "2024-06-07T12:00:00", "2024-06-10T12:00:00"),  # Friday to Monday
    ],
)
def test_cron_next_after(expression: str, after: str, expected: str) -> None:
    assert Cron.parse(expression).next_after(at(after)) == at(expected)


def test_cron_keeps_timezone() -> None:
    start = datetime(2024, 3, 1, 10, 7, 45, tzinfo=UTC)
    assert Cron.parse("*/10 * * * *").next_after(start) == datetime(2024, 3, 1, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "*/7 * * * *",
        "3-59/13 1,5,22 * * *",
        "0 0 1,15 * *",
        "30 6 * * mon-fri",
        "0 0 13 * 5",
        "0 0 */2 * 1",
        "45 23 28-31 * *",
        "0 4 * 2,8 0",
        "0 0 29 2 *",
        "5/20 */6 * jan,jul *",
    ],
)
def test_cron_agrees_with_croniter(expression: str) -> None:
    croniter = pytest.importorskip("croniter").croniter
    rng = random.Random(expression)
    cron = Cron.parse(expression)
    for _ in range(20):
        when = datetime(2020, 1, 1) + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))
        assert cron.next_after(when) == croniter(expression, when).get_next(datetime), when


# ---------------------------------------------------------------------------- registry


def test_registry_records_policy_and_leaves_function_alone() -> None:
    jobs = JobRegistry()

    @jobs.job(schedule="*/5 * * * *", timeout=5, retries=2, retry_delay=0.5)
    async def roll_up(ctx: JobContext) -> int:
        return 1

    @jobs.job
    async def bare(ctx: JobContext) -> None:
        return None

    @jobs.job("pool.refill", every=30)
    async def refill(ctx: JobContext) -> None:
        return None

    spec = jobs.get("roll_up")
    assert spec.fn is roll_up
    assert (spec.timeout, spec.retries, spec.retry_delay) == (5, 2, 0.5)
    assert spec.cron is not None and spec.cron.minutes == set(range(0, 60, 5))
    assert spec.scheduled
    assert not jobs.get("bare").scheduled
    assert jobs.get("pool.refill").every == 30
    assert "pool.refill" in jobs and "refill" not in jobs
    assert [s.name for s in jobs] == ["roll_up", "bare", "pool.refill"]
    with pytest.raises(UnknownJob):
        jobs.get("nope")


async def _noop(ctx: JobContext) -> None:
    return None


def _sync(ctx: JobContext) -> None:
    return None


@pytest.mark.parametrize(
    ("fn", "options", "error"),
    [
        (_noop, {"schedule": "* * * * *", "every": 5}, ValueError),
        (_noop, {"every": 0}, ValueError),
        (_noop, {"timeout": 0}, ValueError),
        (_noop, {"retries": -1}, ValueError),
        (_noop, {"schedule": "61 * * * *"}, ValueError),
        (_sync, {}, TypeError),
    ],
)
def test_registry_rejects(fn: Any, options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        JobRegistry().add(fn, **options)


def test_registry_rejects_duplicate_names() -> None:
    jobs = JobRegistry()
    jobs.add(_noop)
    with pytest.raises(ValueError, match="already registered"):
        jobs.add(_noop)


def test_create_runner_in_process(context: JobContext) -> None:
    runner = create_runner(Settings(env="test"), JobRegistry(), {"db": "x"})
    assert isinstance(runner, InProcessRunner)
    assert runner.context.resources == {"db": "x"}


def test_create_runner_redis_needs_a_url() -> None:
    settings = Settings(env="test", jobs={"backend": "redis"}, store={"url": "memory"})
    with pytest.raises(ValueError, match="HAECHI_JOBS__URL"):
        create_runner(settings, JobRegistry(), {})


# ---------------------------------------------------------------------------- in-process runner


async def test_enqueue_runs_the_job_with_its_kwargs(context: JobContext) -> None:
    jobs = JobRegistry()
    seen: list[tuple[str, int, int, Any]] = []

    @jobs.job
    async def record(ctx: JobContext, *, value: int, name: str) -> None:
        seen.append((ctx.job_id, ctx.attempt, value, (name, ctx.resources["answer"])))

    async with InProcessRunner(jobs, context) as runner:
        job_id = await runner.enqueue("record", value=7, name="n")  # "name" is a job kwarg too
        await eventually(lambda: bool(seen))
    assert seen == [(job_id, 1, 7, ("n", 42))]


async def test_enqueue_unknown_job(context: JobContext) -> None:
    async with InProcessRunner(JobRegistry(), context) as runner:
        with pytest.raises(UnknownJob):
            await runner.enqueue("missing")


async def test_every_schedule_runs_repeatedly(context: JobContext) -> None:
    jobs = JobRegistry()
    runs: list[float] = []

    @jobs.job(every=0.02)
    async def tick(ctx: JobContext) -> None:
        runs.append(asyncio.get_running_loop().time())

    async with InProcessRunner(jobs, context):
        assert runs == []  # the first run waits one interval
        await eventually(lambda: len(runs) >= 4)
    assert all(b - a >= 0.015 for a, b in itertools.pairwise(runs))


async def test_cron_schedule_fires_on_the_minute(context: JobContext) -> None:
    jobs = JobRegistry()
    runs: list[int] = []

    @jobs.job(schedule="* * * * *")
    async def minutely(ctx: JobContext) -> None:
        runs.append(ctx.attempt)

    # A clock 80 ms short of a minute boundary: one run soon, the next a minute away.
    real = datetime.now(UTC)
    boundary = real.replace(second=0, microsecond=0) + timedelta(minutes=1)
    skew = boundary - real - timedelta(milliseconds=80)

    async with InProcessRunner(jobs, context, clock=lambda: datetime.now(UTC) + skew):
        await asyncio.sleep(0.03)
        assert runs == []
        await eventually(lambda: runs == [1], within=1.0)
        await asyncio.sleep(0.1)
    assert runs == [1]


async def test_scheduled_job_never_overlaps_itself(
    context: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = JobRegistry()
    running = 0
    most = 0
    finished = 0

    @jobs.job(every=0.01)
    async def slow(ctx: JobContext) -> None:
        nonlocal running, most, finished
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        finished += 1

    with caplog.at_level(logging.WARNING, logger="haechi.jobs"):
        async with InProcessRunner(jobs, context):
            await eventually(lambda: finished >= 2)
    assert most == 1
    assert "still running, skipping" in caplog.text


async def test_timeout_cancels_and_retries(
    context: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = JobRegistry()
    attempts: list[int] = []
    cancelled: list[int] = []

    @jobs.job(timeout=0.03, retries=2, retry_delay=0.01)
    async def stuck(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(ctx.attempt)
            raise

    with caplog.at_level(logging.WARNING, logger="haechi.jobs"):
        async with InProcessRunner(jobs, context) as runner:
            await runner.enqueue("stuck")
            await eventually(lambda: "giving up" in caplog.text)
    assert attempts == cancelled == [1, 2, 3]
    assert caplog.text.count("timed out after 0.03s") == 3


async def test_failure_is_logged_and_the_runner_keeps_going(
    context: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = JobRegistry()
    done: list[str] = []

    @jobs.job(retries=1, retry_delay=0)
    async def broken(ctx: JobContext) -> None:
        raise RuntimeError(f"boom {ctx.attempt}")

    @jobs.job
    async def fine(ctx: JobContext) -> None:
        done.append(ctx.job_id)

    with caplog.at_level(logging.WARNING, logger="haechi.jobs"):
        async with InProcessRunner(jobs, context) as runner:
            await runner.enqueue("broken")
            await eventually(lambda: "giving up" in caplog.text)
            job_id = await runner.enqueue("fine")
            await eventually(lambda: bool(done))
    assert done == [job_id]
    failures = [r for r in caplog.records if r.name == "haechi.jobs" and r.exc_info]
    assert [(r.levelname, str(r.exc_info[1])) for r in failures if r.exc_info] == [
        ("WARNING", "boom 1"),
        ("ERROR", "boom 2"),
    ]


async def test_run_now_returns_the_result_or_raises(context: JobContext) -> None:
    jobs = JobRegistry()
    tries: list[int] = []

    @jobs.job
    async def double(ctx: JobContext, x: int) -> int:
        return 2 * x

    @jobs.job(retries=2, retry_delay=0)
    async def flaky(ctx: JobContext) -> str:
        tries.append(ctx.attempt)
        raise ValueError("nope")

    runner = InProcessRunner(jobs, context)
    assert await runner.run_now("double", x=21) == 42
    with pytest.raises(ValueError, match="nope"):
        await runner.run_now("flaky")
    assert tries == [1, 2, 3]


async def test_stop_cancels_and_waits(context: JobContext) -> None:
    jobs = JobRegistry()
    started = asyncio.Event()
    cancelled: list[str] = []

    @jobs.job(timeout=30)
    async def long(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(ctx.job_id)
            raise

    @jobs.job(schedule="0 0 1 1 *")
    async def yearly(ctx: JobContext) -> None:
        return None

    runner = InProcessRunner(jobs, context)
    await runner.start()
    job_id = await runner.enqueue("long")
    await started.wait()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await runner.stop()
    assert loop.time() - began < 0.5
    assert cancelled == [job_id]
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(n.startswith("jobs") for n in names)
    with pytest.raises(RuntimeError, match="stopped"):
        await runner.enqueue("long")
    await runner.stop()  # twice is fine
