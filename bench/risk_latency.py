"""Latency of scoring one telemetry payload: the whole path ``/v1/challenge`` runs, and its parts.

    .venv/bin/python bench/risk_latency.py [--runs 3000] [--no-baseline] [--compare MODEL.onnx]

The headline is **parse + score**: from the decoded request body to a risk, as the protocol
service runs it (``parse_telemetry`` → ``CombinedScorer.score``: the request signals' pass over
the events, the behaviour model's features of the last 10 s / 1,500 events, the ONNX run,
calibration and reasons, and the combination). The issue's bar: under 2 ms at p99 for a payload
at the 2,000-event cap.

Payloads, each as telemetry v2 (what the widget sends: the events packed into columns) and as
v1 (one JSON array per event): the largest first chunk of a SapiMouse recording of a test
subject (at or near the 2,000-event cap: half a minute of real movement), a bot session at the
cap (linear family, a long visit, the events past the cap dropped as the recorder drops them),
a dense one (2,000 moves 5 ms apart, faster than the recorder's 8 ms rule allows: the most the
model ever reads, its 1,500-event limit), and the typical 5-second window of
``tests/fixtures/human_windows.jsonl`` (first line). For each: p50 and p99 in ms of
``parse_telemetry`` (from the decoded JSON value), of the features as the model reads them
(``features.extract``), of ``BehaviourModel.assess`` and of the whole path, after a warm-up, in
one process on one thread, all cells interleaved, the collector on and the objects alive after
setup frozen (``gc.freeze()``), as ``haechi serve`` does after startup.

``baseline`` rows run the whole path as it was before the parser's column fast path: the same
code with ``telemetry._fast_events`` switched off, so the events are read one by one and the
request signals and features walk the event tuples (``--no-baseline`` leaves them out).
``--compare`` adds two columns: ``assess`` and parse + score with another model file (an earlier
version, say ``src/haechi/models/risk-behaviour-v5.onnx``, with its JSON beside it),
interleaved with the rest.

On a shared machine p99 is the machine's, not the code's. ``--cpu-clock`` times each call by
the thread's CPU clock instead (what the call computed, without the time it waited for a core;
a busy machine's cache misses still count). ``--loop N`` counts instead of
timing: it builds the payloads, then runs parse + score of one payload (``--payload``, a row
name) N times and exits, for ``valgrind --tool=callgrind`` (instructions are the same however
busy the machine is): run it with N and with 0 and divide the difference of the ``Collected``
totals by N (``bench/risk_instructions.sh`` does that for two models side by side).
Needs ``../shared/data/sapimouse``.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from haechi.ml import bots, sapimouse
from haechi.risk import telemetry
from haechi.risk.features import extract
from haechi.risk.model import WINDOW_EVENTS, WINDOW_MS, BehaviourModel
from haechi.risk.scoring import CombinedScorer, RiskInput
from haechi.risk.telemetry import MAX_EVENTS, parse_telemetry, to_v2

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "human_windows.jsonl"
F64 = npt.NDArray[np.float64]


def measure(
    cells: dict[str, Callable[[], object]],
    runs: int,
    batch: int = 50,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, F64]:
    """Times in ms of each callable, ``runs`` each, interleaved in batches so that every cell
    sees the same share of a shared machine's slow and fast moments."""
    for fn in cells.values():
        for _ in range(min(200, runs)):
            fn()
    times = {name: np.empty(runs) for name in cells}
    for start in range(0, runs, batch):
        for name, fn in cells.items():
            out = times[name]
            for i in range(start, min(start + batch, runs)):
                t0 = clock()
                fn()
                out[i] = clock() - t0
    return {name: v * 1e3 for name, v in times.items()}


def payloads() -> list[tuple[str, dict[str, object]]]:
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found (../shared/data/sapimouse)")
    split = sapimouse.split_subjects(sapimouse.subjects(root))
    chunks = [
        next(sapimouse.telemetry_chunks(rec)) for rec in sapimouse.load(root, only=split.test[:6])
    ]
    human = max(chunks, key=lambda c: len(c["events"]))  # type: ignore[arg-type]
    bot = bots.session("linear", 1_500_000, duration_ms=60_000.0).telemetry()
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0.0, 3.0, (2, MAX_EVENTS)), axis=1) + 500.0
    dense = {
        "v": 1,
        "viewport": None,
        "pointer": "mouse",
        "events": [
            [i * 5, "m", round(float(x), 2), round(float(y), 2), -1]
            for i, (x, y) in enumerate(walk.T)
        ],
    }
    window = orjson.loads(FIXTURE.read_bytes().splitlines()[0])
    v1 = [
        ("human, at the cap", human),
        ("bot (linear), at the cap", bot),
        ("dense (5 ms), at the cap", dense),
        ("human, 5 s", window),
    ]
    # What the widget sends (telemetry v2: the same events, packed), then v1 as before.
    return [(f"{name}, v2", to_v2(obj)) for name, obj in v1] + [(f"{n}, v1", o) for n, o in v1]


def whole_path(scorer: CombinedScorer, obj: dict[str, object]) -> object:
    """What ``/v1/challenge`` runs on a decoded body: parse, then score."""
    return scorer.score(RiskInput(telemetry=parse_telemetry(obj), stage="challenge"))


_FAST_EVENTS = telemetry._fast_events


def _no_fast_events(raw: object, primary: str) -> None:
    return None


def baseline_path(scorer: CombinedScorer, obj: dict[str, object]) -> object:
    """The whole path with the parser's column fast path switched off (the code before it)."""
    telemetry._fast_events = _no_fast_events  # type: ignore[assignment]
    try:
        return whole_path(scorer, obj)
    finally:
        telemetry._fast_events = _FAST_EVENTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--no-baseline", action="store_true", help="leave out the baseline rows")
    parser.add_argument("--compare", type=Path, help="another model file: its assess, beside")
    parser.add_argument("--model", type=Path, help="the model file (default: the shipped one)")
    parser.add_argument("--loop", type=int, help="run parse + score N times, no timing")
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="time each call by the thread's CPU clock (time.thread_time), not the wall clock: "
        "on a loaded machine this leaves out the time the thread waited for a core",
    )
    parser.add_argument("--payload", default="human, at the cap, v2", help="the row --loop runs")
    args = parser.parse_args()
    model = BehaviourModel(args.model).get()
    if args.loop is not None:
        scorer = CombinedScorer(model)
        obj = dict(payloads())[args.payload]
        whole_path(scorer, obj)  # the first call's one-time costs, in both runs
        for _ in range(args.loop):
            whole_path(scorer, obj)
        return
    other = BehaviourModel(args.compare).get() if args.compare else None
    scorer = CombinedScorer(model)
    rows = []
    cells: dict[str, Callable[[], object]] = {}
    whats = ["parse", "features", "assess", "whole"] + ([] if args.no_baseline else ["baseline"])
    whats += ["compare", "compare_whole"] if other else []
    for name, obj in payloads():
        tele = parse_telemetry(obj)
        assert len(tele.events) <= MAX_EVENTS
        assert whole_path(scorer, obj) == baseline_path(scorer, obj)
        rows.append((name, len(tele.events), model.assess(tele).segments))
        cells[f"{name}/parse"] = partial(parse_telemetry, obj)
        cells[f"{name}/features"] = partial(
            extract, tele, last_ms=WINDOW_MS, max_events=WINDOW_EVENTS
        )
        cells[f"{name}/assess"] = partial(model.assess, tele)
        cells[f"{name}/whole"] = partial(whole_path, scorer, obj)
        if not args.no_baseline and name.endswith("v1"):  # v2 has no per-event reader
            cells[f"{name}/baseline"] = partial(baseline_path, scorer, obj)
        if other is not None:
            cells[f"{name}/compare"] = partial(other.assess, tele)
            cells[f"{name}/compare_whole"] = partial(whole_path, CombinedScorer(other), obj)
    gc.collect()
    gc.freeze()  # as haechi.app.serve_app does once the server has started
    clock = time.thread_time if args.cpu_clock else time.perf_counter
    times = measure(cells, args.runs, clock=clock)
    what = "thread CPU time" if args.cpu_clock else "wall time"
    print(f"model {model.name}; {args.runs} runs each, interleaved; {what}, p50 / p99 in ms\n")
    head = ["parse", "features", "assess", "**parse + score**"]
    head += [] if args.no_baseline else ["baseline parse + score"]
    head += [f"assess, {other.name}", f"parse + score, {other.name}"] if other else []
    print("| payload | events | segments | " + " | ".join(head) + " |")
    print("|---|---:|---:|" + "---|" * len(head))
    for name, events, segments in rows:
        row = " | ".join(
            "{:.2f} / {:.2f}".format(*np.percentile(times[f"{name}/{what}"], [50, 99]))
            if f"{name}/{what}" in times
            else "-"
            for what in whats
        )
        print(f"| {name} | {events} | {segments} | {row} |")


if __name__ == "__main__":
    main()
