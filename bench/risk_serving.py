"""Measurements behind the risk engine's serving choices (docs/risk-model.md, Serving).

    .venv/bin/python bench/risk_serving.py timing    # cost of scoring; inline vs worker thread
    .venv/bin/python bench/risk_serving.py signals   # how often each request signal fires

``timing`` scores the 5-second window ``tests/fixtures/human_windows.jsonl`` (first line) and a
payload at the 2,000-event cap (the first chunk of a SapiMouse recording), with the shipped
model: p50/p99 of ``CombinedScorer.score`` and of the signals alone, the cost of a hop to a
worker thread and back, and the CPU time and rate of ``RiskEngine.score`` inline and offloaded
(8 requests in flight, in alternating rounds: best and median), and how long the event loop
stalls meanwhile. ``signals`` runs the request signals
alone (the model replaced by one
that always answers 5) over SapiMouse windows of validation and test subjects, the first chunk
of every recording, and sessions of each bot family. Both need ``../shared/data/sapimouse``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson

from haechi.ml import bots, evaluate, sapimouse
from haechi.risk.engine import LazyBehaviour, RiskEngine, shipped_model_loader
from haechi.risk.scoring import CombinedScorer, RiskInput
from haechi.risk.telemetry import Telemetry, parse_telemetry

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "human_windows.jsonl"
ROUNDS = 7


def quantiles(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """p50 and p99 of ``fn`` in ms, after a warm-up."""
    for _ in range(min(50, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[n // 2] * 1e3, times[int(n * 0.99)] * 1e3


def payloads() -> tuple[Telemetry, Telemetry]:
    window = parse_telemetry(orjson.loads(FIXTURE.read_bytes().splitlines()[0]))
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found (../shared/data/sapimouse)")
    recording = sapimouse.load(root, only=[2])[0]
    cap = parse_telemetry(next(sapimouse.telemetry_chunks(recording)))
    return window, cap


async def engine_rate(engine: RiskEngine, inp: RiskInput, n: int) -> tuple[float, float]:
    """(CPU ms per score over all threads, scores per second) with 8 requests in flight."""
    gate = asyncio.Semaphore(8)

    async def one() -> None:
        async with gate:
            await engine.score(inp)

    await asyncio.gather(*(one() for _ in range(100)))
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / n * 1e3, n / wall


async def loop_stalls(engine: RiskEngine, inp: RiskInput, n: int) -> tuple[float, float]:
    """p99 and worst time a ready callback waits for the loop while ``n`` scores run (8 in
    flight): what every other request on this process waits on top of its own work."""
    gate = asyncio.Semaphore(8)
    waits: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(0)
            waits.append(time.perf_counter() - start)

    async def one() -> None:
        async with gate:
            await asyncio.sleep(0)  # a request yields while its body arrives
            await engine.score(inp)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(one() for _ in range(n)))
    done = True
    await task
    waits.sort()
    return waits[int(len(waits) * 0.99)] * 1e3, waits[-1] * 1e3


async def hop_cost(n: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await loop.run_in_executor(pool, int)
        times.append(time.perf_counter() - start)
    pool.shutdown()
    times.sort()
    return times[n // 2] * 1e3, times[int(n * 0.99)] * 1e3


def timing(n: int) -> None:
    window, cap = payloads()
    behaviour = LazyBehaviour(shipped_model_loader())
    behaviour.get()
    scorer = CombinedScorer(behaviour)
    print(f"model {scorer.model}; {len(window.events)} and {len(cap.events)} events")
    for name, tele in (("5-second window", window), ("payload at the cap", cap)):
        inp = RiskInput(telemetry=tele)
        p50, p99 = quantiles(lambda inp=inp: scorer.score(inp), n)  # type: ignore[misc]
        print(f"model + signals, {name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
        p50, p99 = quantiles(lambda tele=tele: scorer.facts(tele), n)  # type: ignore[misc]
        print(f"signals alone, {name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")

    async def engines() -> None:
        p50, p99 = await hop_cost(n)
        print(f"thread hop and back: p50 {p50 * 1e3:.0f} µs, p99 {p99 * 1e3:.0f} µs")
        inp = RiskInput(telemetry=window)
        # Rounds alternate so that a busy neighbour weighs on both alike; medians reported.
        runs: dict[str, list[tuple[float, float]]] = {"inline": [], "offloaded": []}
        for _ in range(ROUNDS):
            for label, offload in (("inline", False), ("offloaded", True)):
                engine = RiskEngine(scorer, offload=offload, timeout_s=30.0)
                try:
                    runs[label].append(await engine_rate(engine, inp, n // ROUNDS))
                finally:
                    engine.close()
        for label, offload in (("inline", False), ("offloaded", True)):
            engine = RiskEngine(scorer, offload=offload, timeout_s=30.0)
            try:
                p99, worst = await loop_stalls(engine, inp, n // ROUNDS)
            finally:
                engine.close()
            print(f"event loop stalls, {label}: p99 {p99:.2f} ms, worst {worst:.2f} ms")
        for label, results in runs.items():
            cpu = [r[0] for r in results]
            rate = [r[1] for r in results]
            print(
                f"RiskEngine {label}: CPU ms per score best {min(cpu):.3f}, median "
                f"{statistics.median(cpu):.3f}; scores/s best {max(rate):.0f}, median "
                f"{statistics.median(rate):.0f}"
            )

    asyncio.run(engines())


@dataclass(frozen=True, slots=True)
class Constant:
    risk: int | None = 5
    reasons: tuple[str, ...] = ()
    segments: int = 1


class ConstantModel:
    name = "constant"

    def assess(self, telemetry: Telemetry) -> Constant:
        return Constant()


def signals(per_subject: int, per_family: int) -> None:
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found (../shared/data/sapimouse)")
    scorer = CombinedScorer(ConstantModel())
    split = sapimouse.split_subjects(sapimouse.subjects(root))
    held_out = sapimouse.load(root, only=split.validation + split.test)

    def fired(objs: list[dict[str, object]]) -> str:
        counts: collections.Counter[str] = collections.Counter()
        for obj in objs:
            counts.update(scorer.score(RiskInput(telemetry=parse_telemetry(obj))).reasons)
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

    windows = [obj for _, obj in evaluate.human_windows(held_out, per_subject=per_subject, seed=7)]
    print(f"human windows ({len(windows)}, validation + test subjects): {fired(windows)}")
    everyone = sapimouse.load(root)
    chunks = [next(sapimouse.telemetry_chunks(rec)) for rec in everyone]
    print(f"recording starts ({len(chunks)}, first chunk of each): {fired(chunks)}")
    pool = bots.replay_pool([rec.trajectory for rec in held_out])
    for family in bots.FAMILIES:
        objs = evaluate.bot_windows(family, per_family, pool=pool)
        print(f"{family} ({len(objs)}): {fired(objs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["timing", "signals"])
    parser.add_argument("-n", type=int, default=2000, help="timing: calls per measurement")
    parser.add_argument("--per-subject", type=int, default=20)
    parser.add_argument("--per-family", type=int, default=200)
    args = parser.parse_args()
    if args.what == "timing":
        timing(args.n)
    else:
        signals(args.per_subject, args.per_family)


if __name__ == "__main__":
    main()
