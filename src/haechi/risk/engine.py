"""Serving the risk scorer: the model loaded once, lazily, and run off the event loop.

The behaviour model costs about a millisecond even for a few events (fixed costs of feature
extraction and inference), about 1.6 ms for a 5-second payload and several at the 2,000-event
cap; a hop to a worker thread and back costs about 0.08 ms. Measured with 8 scores in flight
(``bench/risk_serving.py timing``; ``docs/risk-model.md``, Serving), inline scoring makes other
requests wait for the loop 47 ms at p99 against 0.03 ms offloaded, for 0-35% more CPU per score
offloaded on the busy 2-core machine. Past STYLE's one millisecond, so the model runs on a small
thread pool by default, under a deadline: a slow or failed model gives ``model-timeout`` or
``model-error`` and more friction, never a pass. A timed-out call that has not started yet is
cancelled, so an overloaded process sheds model work instead of queueing it. The request
signals are cheap and stay on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from haechi.risk.scoring import (
    DEFERRED,
    Assessment,
    Behaviour,
    CombinedScorer,
    ModelFailure,
    ModelOutcome,
    ModelUnavailable,
    RiskInput,
    RiskResult,
)
from haechi.risk.telemetry import Telemetry

log = logging.getLogger("haechi.risk")


def shipped_model_loader(path: Path | None = None) -> Callable[[], Behaviour]:
    """A loader for the behaviour model (the shipped one when ``path`` is None)."""

    def load() -> Behaviour:
        from haechi.risk.model import BehaviourModel

        # ``get`` reads the file now, so a bad file fails here (and is retried) rather than
        # on every request.
        return BehaviourModel(path).get()

    return load


def serving_scorer() -> CombinedScorer:
    """The scorer serving uses, with default settings: for ``haechi risk evaluate --scorer
    haechi.risk.engine:serving_scorer`` (the model and the request signals together)."""
    return CombinedScorer(LazyBehaviour(shipped_model_loader()))


class LazyBehaviour:
    """Loads the model on first use, once, under a lock; a failed load is retried after
    ``retry_seconds`` (until then every call raises ``ModelUnavailable`` at once, so a broken
    file costs each request nothing but friction)."""

    def __init__(
        self,
        load: Callable[[], Behaviour],
        *,
        retry_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._model: Behaviour | None = None
        self._failed_at: float | None = None

    @property
    def name(self) -> str:
        return str(getattr(self._model, "name", "") or "behaviour")

    def get(self) -> Behaviour:
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is not None:
                return self._model
            now = self._clock()
            if self._failed_at is not None and now - self._failed_at < self._retry_seconds:
                raise ModelUnavailable("the behaviour model failed to load; retrying later")
            try:
                self._model = self._load()
            except Exception as error:
                self._failed_at = now
                log.exception("cannot load the behaviour model; every score gets more friction")
                raise ModelUnavailable(str(error)) from error
            self._failed_at = None
            log.info("loaded the behaviour model", extra={"model": self.name})
            return self._model

    def assess(self, telemetry: Telemetry) -> Assessment:
        return self.get().assess(telemetry)


class RiskEngine:
    """Scores requests for the protocol: ``CombinedScorer`` with its model off the loop.

    Payloads with at least ``offload_min_events`` events go to a worker thread under the
    ``timeout_s`` deadline (queueing included); smaller ones, or all with ``offload=False``,
    run inline, where they cost less than the hop would save (no deadline applies there).
    """

    def __init__(
        self,
        scorer: CombinedScorer,
        *,
        offload: bool = True,
        offload_min_events: int = 0,
        timeout_s: float = 0.25,
        threads: int = 1,
        behaviour_at_challenge: bool = True,
    ) -> None:
        if timeout_s <= 0 or threads < 1 or offload_min_events < 0:
            raise ValueError("timeout_s > 0, threads >= 1 and offload_min_events >= 0")
        self.scorer = scorer
        self.offload = offload
        self.offload_min_events = offload_min_events
        self.timeout_s = timeout_s
        self.behaviour_at_challenge = behaviour_at_challenge
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        # Risk without telemetry by (model name, rate points): at most 61 points values a name.
        self._missing: dict[tuple[str, int, tuple[str, ...]], RiskResult] = {}
        self._missing_of: CombinedScorer | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="haechi-risk")
        return self._pool

    async def warm_up(self) -> bool:
        """Load the model now (on the pool) so the first visitor does not wait; True if it is
        usable. Failing here is logged, not raised: the process serves with more friction."""
        behaviour = self.scorer.behaviour
        get = getattr(behaviour, "get", None)
        if get is None:
            return behaviour is not None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor(), get)
        except ModelUnavailable:
            return False
        return True

    async def score(self, inp: RiskInput) -> RiskResult:
        scorer = self.scorer
        if not inp.telemetry.present and inp.task_signals is None:
            # No telemetry (scripts, floods, API clients): the answer depends on the request
            # rate's points alone, so it is computed once per points value and model name.
            if self._missing_of is not scorer:  # a scorer replaced (tests) starts afresh
                self._missing, self._missing_of = {}, scorer
            key = (scorer.model, scorer.ip_rate_rule(inp.ip_rate), inp.request_rules)
            result = self._missing.get(key)
            if result is None:
                result = self._missing[key] = scorer.combine(inp, scorer.facts(inp.telemetry), None)
            return result
        facts = scorer.facts(inp.telemetry)
        outcome: ModelOutcome = None
        if facts.mouse_or_pen and inp.stage == "challenge" and not self.behaviour_at_challenge:
            # Judged once per visit, at /v1/solve (risk.behaviour_at).
            outcome = DEFERRED
        elif facts.mouse_or_pen:
            if self.offload and len(inp.telemetry.events) >= self.offload_min_events:
                outcome = await self._assess_off_loop(inp.telemetry)
            else:
                outcome = scorer.assess(inp.telemetry)
        return scorer.combine(inp, facts, outcome)

    async def _assess_off_loop(self, telemetry: Telemetry) -> Assessment | ModelFailure:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), self.scorer.assess, telemetry)
        try:
            # Cheaper than wait_for (no extra task); cancelling the wrapped future cancels the
            # call too when no thread has picked it up yet.
            async with asyncio.timeout(self.timeout_s):
                return await future
        except TimeoutError:
            log.warning("the behaviour model missed its %.0f ms deadline", self.timeout_s * 1e3)
            return ModelFailure("model-timeout")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
