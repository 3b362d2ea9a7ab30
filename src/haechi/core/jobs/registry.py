"""Background jobs are plain async functions, registered in one place.

A job is ``async def fn(ctx: JobContext, **kwargs) -> Any``. It is registered with a decorator
that records its schedule, timeout and retry policy; the runner (in-process or SAQ on Redis)
reads the registry and never changes the function, so a test can still call it directly::

    @registry.job(schedule="*/5 * * * *", timeout=120, retries=2)
    async def roll_up_usage(ctx: JobContext) -> int:
        async with ctx.resources["sessionmaker"]() as db:
            ...

Keyword arguments and results cross Redis as JSON on the SAQ backend, so keep both to plain
JSON values.
"""

from __future__ import annotations

import calendar
import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, TypeVar, overload

if TYPE_CHECKING:
    from haechi.core.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """What every job receives: the settings and the process's shared resources.

    ``resources`` holds what the app built at start-up (store, db session factory, blobs, ...);
    a job opens its own session through them. ``job_id`` and ``attempt`` (1 on the first try)
    describe the current run and are filled in by the runner.
    """

    settings: Settings
    resources: dict[str, Any] = field(default_factory=dict)
    job_id: str = ""
    attempt: int = 0


JobFunction = Callable[Concatenate[JobContext, ...], Awaitable[Any]]
F = TypeVar("F", bound=JobFunction)


class UnknownJob(LookupError):
    """No job is registered under this name."""


# ---------------------------------------------------------------------------- cron

_FIELDS = (  # name, lowest, highest
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
)
_NAMES = {
    "month": {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "weekday": {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
# Longest month lengths (a leap February), to reject dates that never come, like "0 0 30 2 *".
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    names = _NAMES.get(name, {})

    def number(token: str) -> int:
        value = names.get(token.lower())
        if value is None:
            if not (token.isascii() and token.isdigit()):
                raise ValueError(f"cron {name}: {token!r} is not a number")
            value = int(token)
        if not low <= value <= high:
            raise ValueError(f"cron {name}: {value} is outside {low}-{high}")
        return value

    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise ValueError(f"cron {name}: bad step {step_text!r}")
            step = int(step_text)
        if span == "*":
            start, stop = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, stop = number(first), number(last)
            if start > stop:
                raise ValueError(f"cron {name}: range {span!r} runs backwards")
        else:
            start = number(span)
            # "5/15" means "from 5, every 15", as in Vixie cron.
            stop = high if step_text else start
        values.update(range(start, stop + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression: minute hour day month weekday.

    Each field takes ``*``, numbers, ``a-b`` ranges, ``/n`` steps and comma lists; months and
    weekdays also take three-letter names, and weekday 7 is Sunday as well as 0. As in Vixie
    cron and croniter (what SAQ uses), when neither day nor weekday is a bare ``*`` a time
    matches if either does; otherwise both must match.
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != len(_FIELDS):
            raise ValueError(f"cron {expression!r} needs 5 fields, got {len(parts)}")
        minutes, hours, days, months, weekdays = (
            _parse_field(text, *spec) for text, spec in zip(parts, _FIELDS, strict=True)
        )
        weekdays = frozenset(d % 7 for d in weekdays)
        any_day, any_weekday = parts[2] == "*", parts[4] == "*"
        if any_weekday and not any(d <= _MONTH_DAYS[m - 1] for m in months for d in days):
            raise ValueError(f"cron {expression!r} names a day that never comes")
        return cls(expression, minutes, hours, days, months, weekdays, any_day, any_weekday)

    def _day_matches(self, when: datetime) -> bool:
        in_days = when.day in self.days
        in_weekdays = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_after(self, when: datetime) -> datetime:
        """The first matching minute strictly after ``when``, on ``when``'s own wall clock."""
        t = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + 9  # a 29 February on a given weekday can take years to return
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            elif not self._day_matches(t):
                t = (t + timedelta(days=1)).replace(hour=0, minute=0)
            elif t.hour not in self.hours:
                t = (t + timedelta(hours=1)).replace(minute=0)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError(f"cron {self.expression!r} never fires")


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class JobSpec:
    """A registered job and its policy. ``retries`` counts tries after the first."""

    name: str
    fn: JobFunction
    schedule: str | None = None
    every: float | None = None
    timeout: float = 60.0
    retries: int = 0
    retry_delay: float = 1.0
    cron: Cron | None = None

    @property
    def scheduled(self) -> bool:
        return self.cron is not None or self.every is not None


class JobRegistry:
    """The one place jobs are declared; runners are built from it."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobSpec] = {}

    @overload
    def job(self, name: F, /) -> F: ...

    @overload
    def job(
        self,
        name: str | None = None,
        *,
        schedule: str | None = None,
        every: float | None = None,
        timeout: float = 60.0,
        retries: int = 0,
        retry_delay: float = 1.0,
    ) -> Callable[[F], F]: ...

    def job(
        self,
        name: str | F | None = None,
        *,
        schedule: str | None = None,
        every: float | None = None,
        timeout: float = 60.0,
        retries: int = 0,
        retry_delay: float = 1.0,
    ) -> F | Callable[[F], F]:
        """Register an async job function; usable bare (``@registry.job``) or called.

        ``schedule`` is a 5-field cron expression (UTC); ``every`` is an interval in seconds
        (first run one interval after start). Give at most one. The name defaults to the
        function's ``__name__``.
        """
        if callable(name):
            return self.job()(name)

        def register(fn: F) -> F:
            self.add(
                fn,
                name=name,
                schedule=schedule,
                every=every,
                timeout=timeout,
                retries=retries,
                retry_delay=retry_delay,
            )
            return fn

        return register

    def add(
        self,
        fn: JobFunction,
        *,
        name: str | None = None,
        schedule: str | None = None,
        every: float | None = None,
        timeout: float = 60.0,
        retries: int = 0,
        retry_delay: float = 1.0,
    ) -> JobSpec:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"job {fn!r} must be an async function")
        job_name = name or fn.__name__
        if job_name in self._jobs:
            raise ValueError(f"a job named {job_name!r} is already registered")
        if schedule is not None and every is not None:
            raise ValueError(f"job {job_name!r}: give schedule or every, not both")
        if every is not None and every <= 0:
            raise ValueError(f"job {job_name!r}: every must be positive")
        if timeout <= 0 or retries < 0 or retry_delay < 0:
            raise ValueError(f"job {job_name!r}: timeout > 0, retries >= 0, retry_delay >= 0")
        spec = JobSpec(
            name=job_name,
            fn=fn,
            schedule=schedule,
            every=every,
            timeout=timeout,
            retries=retries,
            retry_delay=retry_delay,
            cron=Cron.parse(schedule) if schedule is not None else None,
        )
        self._jobs[job_name] = spec
        return spec

    def get(self, name: str) -> JobSpec:
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(f"no job named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)


registry = JobRegistry()
"""The application's registry: feature modules register their jobs here at import time."""
