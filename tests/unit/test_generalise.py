"""Issue 18's evaluation: contexts, scripted bot families, the served no-task band."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from haechi.core.settings import PlanBand, PolicySettings, Settings
from haechi.ml import contexts, generalise, sapimouse, scripted
from haechi.risk.features import DOWN, MOVE, UP, WINDOW_NAMES, Trajectory, extract
from haechi.risk.telemetry import parse_telemetry


def _person(seconds: float = 30.0, seed: int = 3) -> Trajectory:
    """A synthetic recording: moves at 60 Hz with pauses and a click every second."""
    rng = np.random.default_rng(seed)
    t, kind, x, y = [], [], [], []
    now, px, py = 0.0, 500.0, 400.0
    while now < seconds * 1000:
        for _ in range(40):
            now += 16.7
            px += float(rng.normal(3, 2))
            py += float(rng.normal(-1, 2))
            t.append(now)
            kind.append(MOVE)
            x.append(round(px))
            y.append(round(py))
        for k in (DOWN, UP):
            now += 80
            t.append(now)
            kind.append(k)
            x.append(round(px))
            y.append(round(py))
        now += 400
    k = np.array(kind, np.int8)
    return Trajectory(
        np.array(t),
        k,
        np.array(x, float),
        np.array(y, float),
        np.where(k == MOVE, -1, 0).astype(np.int8),
    )


@pytest.mark.parametrize("context", contexts.CONTEXTS)
def test_each_context_gives_a_window_of_its_length(context: str) -> None:
    rng = np.random.default_rng(1)
    w = None
    for _ in range(20):
        w = contexts.apply(_person(), context, rng, 6000.0)
        if w is not None:
            break
    assert w is not None
    tele = parse_telemetry(w.telemetry)
    assert not tele.anomalies
    events = w.telemetry["events"]
    assert isinstance(events, list)
    times = [e[0] for e in events]
    assert times == sorted(times) and times[-1] <= 6000
    kinds = {e[1] for e in events}
    if context == "click_free":
        assert kinds == {"m"} and not w.clicks
    if context == "scroll":
        assert "s" in kinds
    if context == "dpr":
        assert w.telemetry["hints"]["dpr"] in contexts.DPRS  # type: ignore[index]
    if context in ("idle", "scroll"):
        moves = [e[0] for e in events if e[1] == "m"]
        assert max(np.diff(moves)) >= 300  # a still stretch
    assert not extract(tele).empty


@pytest.mark.parametrize("family", scripted.SCRIPTED)
def test_scripted_families_are_deterministic_and_conforming(family: str) -> None:
    a = scripted.session(family, 5, duration_ms=6000).telemetry()
    b = scripted.session(family, 5, duration_ms=6000).telemetry()
    assert a == b
    tele = parse_telemetry(a)
    assert not tele.anomalies
    assert sum(1 for e in tele.events if e[1] == "m") >= 20


def test_the_final_family_is_never_trainable() -> None:
    assert scripted.FINAL_FAMILY not in scripted.TRAINABLE
    assert not set(scripted.TRAINABLE) & {"replay", "replay_direction", "replay_unrotated"}


def test_step_runs_repeat_identical_steps() -> None:
    traj = scripted.session("step_runs", 2, duration_ms=6000).trajectory
    m = traj.kind == MOVE
    d = np.stack([np.diff(traj.x[m]), np.diff(traj.y[m])], axis=1)
    same = (d[1:] == d[:-1]).all(axis=1) & (np.abs(d[1:]).sum(axis=1) > 0)
    assert same.mean() > 0.4


def test_no_task_limit_follows_the_served_policy() -> None:
    assert generalise.no_task_limit(Settings()) == 10
    bands = [
        PlanBand(max_risk=5, pow_bits=12, pow_count=2),
        PlanBand(max_risk=15, pow_bits=13, pow_count=4),
        PlanBand(max_risk=60, pow_bits=14, pow_count=4, challenges=["grid"]),
        PlanBand(max_risk=100, pow_bits=16, pow_count=8, block=True),
    ]
    s = Settings(policy=PolicySettings(bands=bands, security_offsets={"medium": 3}))
    assert generalise.no_task_limit(s) == 12


def test_repeated_pauses_and_identical_steps_are_counted() -> None:
    """What a script repeats: still stretches of one length, runs of one identical step."""
    rows: list[list[object]] = []
    t = 0
    for leg in range(6):
        for i in range(20):
            t += 10
            rows.append([t, "m", 100 + 4 * (20 * leg + i), 300, -1])
        t += 500  # the same sleep every time
    scripted_w = extract(parse_telemetry({"v": 1, "pointer": "mouse", "events": rows})).window
    window = contexts.apply(_person(), "task", np.random.default_rng(2), 6000.0)
    assert window is not None
    person = extract(parse_telemetry(window.telemetry)).window
    names = {n: i for i, n in enumerate(WINDOW_NAMES)}
    assert scripted_w[names["pause_twins"]] == 1.0
    assert scripted_w[names["step_repeat"]] > 0.9
    assert scripted_w[names["step_run_log"]] > np.log1p(15)
    assert person[names["step_repeat"]] < scripted_w[names["step_repeat"]]


def test_a_small_evaluation_runs_end_to_end(tmp_path: Path) -> None:
    """The whole harness on a few windows: cells, families, gate and the windows' cache."""
    if sapimouse.find_data_dir() is None:
        pytest.skip("SapiMouse not found (../shared/data/sapimouse)")
    cache = tmp_path / "windows.pkl"
    kw: dict[str, Any] = {
        "split": "validation",
        "per_cell": 24,
        "per_family": 3,
        "seed": 0,
        "boot": 20,
        "final": False,
        "families": ["linear", "step_runs", scripted.FINAL_FAMILY],
        "context_names": ["task", "click_free"],
        "cache": cache,
    }
    (report,) = generalise.run([None], **kw)
    assert cache.exists()
    assert {(c.context, c.length_s) for c in report.cells} == {
        (c, n) for c in ("task", "click_free") for n in contexts.LENGTHS_S
    }
    assert all(c.n == 24 for c in report.cells)
    assert all(c.with_clicks == 0 for c in report.cells if c.context == "click_free")
    assert [f.family for f in report.families] == ["linear", "step_runs"]  # no final family
    assert report.limit == generalise.no_task_limit()
    text = generalise.format_report(report)
    assert "gate" in text and "click_free" in text
    (again,) = generalise.run([None], **kw)  # from the cache: the same windows, the same numbers
    assert [c.outside for c in again.cells] == [c.outside for c in report.cells]
