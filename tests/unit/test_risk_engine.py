"""The model off the event loop: a deadline, lazy loading, and failure as friction."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from haechi.risk.engine import LazyBehaviour, RiskEngine
from haechi.risk.scoring import CombinedScorer, RiskInput, rests_on_missing
from haechi.risk.telemetry import Telemetry, parse_telemetry


@dataclass(frozen=True, slots=True)
class FakeAssessment:
    risk: int | None
    reasons: tuple[str, ...] = ()
    segments: int = 1


class ThreadRecordingModel:
    name = "fake-v1"

    def __init__(self, risk: int = 8) -> None:
        self.risk = risk
        self.threads: list[str] = []

    def assess(self, telemetry: Telemetry) -> FakeAssessment:
        self.threads.append(threading.current_thread().name)
        return FakeAssessment(self.risk, ("model:ok",))


class StuckModel:
    """Blocks until released: a model that hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def assess(self, telemetry: Telemetry) -> FakeAssessment:
        self.release.wait(5.0)
        return FakeAssessment(1)


def mouse_input(ip_rate: float | None = None) -> RiskInput:
    # A curved approach on a 60 Hz frame clock (16/17 ms steps), then a click.
    events: list[Any] = [
        [100 + 16 * i + i // 3, "m", 100 + 7.0 * i + (i * i) % 5, 200.0 + 0.1 * i * i, -1]
        for i in range(30)
    ]
    events += [[700, "d", 303.0, 284.1, 0], [790, "u", 303.0, 284.1, 0]]
    obj = {"v": 1, "viewport": [1280, 720], "pointer": "mouse", "events": events}
    return RiskInput(telemetry=parse_telemetry(obj), ip_rate=ip_rate)


async def test_offloaded_model_runs_on_a_worker_thread() -> None:
    model = ThreadRecordingModel()
    engine = RiskEngine(CombinedScorer(model), offload=True, timeout_s=2.0)
    try:
        result = await engine.score(mouse_input())
    finally:
        engine.close()
    assert (result.risk, result.reasons) == (8, ("model:ok",))
    assert model.threads and model.threads[0].startswith("haechi-risk")


async def test_inline_mode_runs_on_the_loop_thread() -> None:
    model = ThreadRecordingModel()
    engine = RiskEngine(CombinedScorer(model), offload=False)
    result = await engine.score(mouse_input(ip_rate=25.0))
    assert result.risk == 8 + 30
    assert model.threads == [threading.current_thread().name]


async def test_small_payloads_stay_inline_below_the_threshold() -> None:
    model = ThreadRecordingModel()
    engine = RiskEngine(CombinedScorer(model), offload=True, offload_min_events=33)
    try:
        await engine.score(mouse_input())  # 32 events
        engine.offload_min_events = 32
        await engine.score(mouse_input())
    finally:
        engine.close()
    assert model.threads[0] == threading.current_thread().name
    assert model.threads[1].startswith("haechi-risk")


async def test_a_model_past_its_deadline_gives_friction_not_a_pass() -> None:
    model = StuckModel()
    engine = RiskEngine(CombinedScorer(model, model_failure_risk=45), timeout_s=0.05)
    try:
        result = await engine.score(mouse_input())
        # Signals are still counted on top of the fallback base.
        flooded = await engine.score(mouse_input(ip_rate=25.0))
    finally:
        model.release.set()
        engine.close()
    assert (result.risk, result.reasons) == (45, ("model-timeout",))
    assert result.model == "fallback+signals-v1"
    assert rests_on_missing(result)  # our own failure never blocks anyone by itself
    assert flooded.risk == 45 + 30 and "ip-rate" in flooded.reasons


async def test_requests_without_mouse_movement_never_wait_for_the_model() -> None:
    model = StuckModel()
    engine = RiskEngine(CombinedScorer(model), timeout_s=5.0)
    try:
        result = await asyncio.wait_for(
            engine.score(RiskInput(telemetry=parse_telemetry(None))), 1.0
        )
    finally:
        model.release.set()
        engine.close()
    assert result.reasons == ("no-telemetry",)


def test_engine_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RiskEngine(CombinedScorer(None), timeout_s=0)
    with pytest.raises(ValueError):
        RiskEngine(CombinedScorer(None), threads=0)


# ---------------------------------------------------------------------------- lazy loading


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_lazy_model_loads_once_on_warm_up() -> None:
    loads: list[int] = []

    def load() -> ThreadRecordingModel:
        loads.append(1)
        return ThreadRecordingModel(risk=3)

    engine = RiskEngine(CombinedScorer(LazyBehaviour(load)))
    try:
        assert await engine.warm_up()
        for _ in range(3):
            assert (await engine.score(mouse_input())).risk == 3
    finally:
        engine.close()
    assert loads == [1]
    assert engine.scorer.model == "fake-v1+signals-v1"


async def test_a_model_that_cannot_load_is_retried_later_and_scores_as_friction() -> None:
    clock = Clock()
    attempts: list[float] = []
    broken = True

    def load() -> ThreadRecordingModel:
        attempts.append(clock.now)
        if broken:
            raise FileNotFoundError("risk-ae-v2.onnx")
        return ThreadRecordingModel(risk=4)

    lazy = LazyBehaviour(load, retry_seconds=60.0, clock=clock)
    engine = RiskEngine(CombinedScorer(lazy, model_failure_risk=50), offload=False)
    assert not await engine.warm_up()
    first = await engine.score(mouse_input())
    assert (first.risk, first.reasons) == (50, ("model-unavailable",))
    clock.now = 30.0
    await engine.score(mouse_input())
    assert attempts == [0.0]  # not retried on every request
    broken = False
    clock.now = 61.0
    assert (await engine.score(mouse_input())).risk == 4
    assert attempts == [0.0, 61.0]
