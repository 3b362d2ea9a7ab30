"""Training the behaviour model: the quick run end to end (needs the train extra and SapiMouse),
and the randomised training bots it learns from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from haechi.ml import augment, bots, contexts, data, sapimouse, scripted
from haechi.risk import features as F
from haechi.risk.model import GROUP_NAMES, BehaviourModel
from haechi.risk.telemetry import parse_telemetry

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "human_windows.jsonl"


def test_quick_training_run_writes_a_servable_model(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    pytest.importorskip("onnx", reason="the train extra (onnx) is not installed")
    if sapimouse.find_data_dir() is None:
        pytest.skip("SapiMouse not found (../shared/data/sapimouse)")
    from haechi.ml import train

    started = time.perf_counter()
    assert train.main(["--quick", "--out", str(tmp_path), "--jobs", "1", "--threads", "1"]) == 0
    assert time.perf_counter() - started < 120  # about 15 s on the 2-core development machine
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "risk-behaviour-v6.json",
        "risk-behaviour-v6.onnx",
    ]
    meta = json.loads((tmp_path / "risk-behaviour-v6.json").read_text())
    assert meta["features"] == list(F.FEATURE_NAMES)
    # Never a replay, never the final test family.
    assert meta["train"]["bot_families"] == list(scripted.TRAINABLE)
    assert max(meta["train"]["bot_seeds"]) < data.TRAIN_SEED_LIMIT
    assert meta["train"]["contexts"] == list(contexts.CONTEXTS)
    for anchors in (meta["anchors"], *meta["anchors_by_group"].values()):
        a = np.asarray(anchors)
        assert np.all(np.diff(a[:, 0]) > 0) and np.all(np.diff(a[:, 1]) >= 0)
    assert sorted(meta["anchors_by_group"]) == sorted(GROUP_NAMES)
    assert meta["pixels_unknown"] == "median"
    model = BehaviourModel(tmp_path / "risk-behaviour-v6.onnx")
    window = orjson.loads(FIXTURE.read_bytes().splitlines()[0])
    a = model.assess(parse_telemetry(window))
    assert a.risk is not None and 0 <= a.risk <= 100 and a.segments > 0


def test_unmeasured_pixel_steps_are_the_people_median_in_training() -> None:
    """Since v6 a window whose pixel steps are AXIS_UNKNOWN (a scaled screen) reads them as 0
    after standardising (the people's median over the windows where they were measured), as
    the served model blanks them; measured values are standardised as before."""
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from haechi.ml import net, train

    rng = np.random.default_rng(0)
    v = rng.normal(size=(200, net.N_INPUTS)).astype(np.float32)
    cols = list(train.PIXEL_INPUTS)
    v[:, cols] = rng.uniform(0.6, 0.9, size=(200, 2))
    v[:50, cols] = F.AXIS_UNKNOWN  # a quarter of the people on scaled screens
    center, scale = train.input_scale(v)
    # The centre is the median of the measured windows, not pulled towards -1.
    np.testing.assert_allclose(center[cols], np.median(v[50:, cols], axis=0), rtol=1e-6)
    z = train.standardise(v, center, scale)
    assert np.all(z[:50][:, cols] == 0.0)
    expect = np.clip((v[50:, cols] - center[cols]) / scale[cols], -net.CLIP, net.CLIP)
    np.testing.assert_allclose(z[50:][:, cols], expect, rtol=1e-6)
    # Every other input is untouched by the blanking.
    other = [i for i in range(net.N_INPUTS) if i not in cols]
    np.testing.assert_allclose(
        z[:, other], np.clip((v[:, other] - center[other]) / scale[other], -8, 8), rtol=1e-6
    )


def test_training_refuses_replay_and_evaluation_seeds() -> None:
    with pytest.raises(ValueError, match="held out"):
        data.bot_windows(["linear", "replay"], 1, seed0=0, varied=0.0, jobs=1)
    with pytest.raises(ValueError, match="below"):
        data.bot_windows(["linear"], 10, seed0=999_995, varied=0.0, jobs=1)
    with pytest.raises(ValueError, match="held out"):
        data.context_bot_windows(["linear", "replay_direction"], 1, seed0=0, jobs=1)
    with pytest.raises(ValueError, match="final test"):
        data.context_bot_windows([scripted.FINAL_FAMILY], 1, seed0=0, jobs=1)
    with pytest.raises(ValueError, match="below"):
        data.context_bot_windows(["linear"], 10, seed0=990_000, jobs=1)
    replay = bots.BotSession("replay", 1, bots.session("linear", 1).trajectory, (1280, 720))
    with pytest.raises(ValueError, match="held out"):
        augment.vary(replay, np.random.default_rng(0))


@pytest.mark.parametrize("family", bots.TRAINING_FAMILIES)
def test_varied_bots_are_valid_and_deterministic(family: str) -> None:
    session = bots.session(family, 11)
    every = augment.Variation(1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0)
    a = augment.vary(session, np.random.default_rng(3), every)
    b = augment.vary(session, np.random.default_rng(3), every)
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.x, b.x)
    obj = F.to_telemetry(a, start_ms=0.0)
    assert parse_telemetry(obj).anomalies == 0
    assert float(a.t[-1]) <= float(session.trajectory.t[-1])  # still a widget-sized window
    untouched = augment.vary(session, np.random.default_rng(3), augment.NONE)
    assert untouched is session.trajectory


def test_variations_add_what_they_say() -> None:
    session = bots.session("ghost_cursor", 4, duration_ms=20_000.0)
    before = F.extract_trajectory(session.trajectory)
    slips = augment.Variation(0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0)
    pauses = augment.Variation(0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    win = {n: i for i, n in enumerate(F.WINDOW_NAMES)}
    # Slips and pauses are switched on per session half of the time: try a few generators.
    slip = max(
        F.extract_trajectory(augment.vary(session, np.random.default_rng(s), slips)).window[
            win["click_slip"]
        ]
        for s in range(6)
    )
    paused = max(
        F.extract_trajectory(augment.vary(session, np.random.default_rng(s), pauses)).window[
            win["pause_share"]
        ]
        for s in range(6)
    )
    assert before.window[win["click_slip"]] == 0.0 and slip > 0.5
    assert paused > before.window[win["pause_share"]] + 0.05


def test_each_head_is_scaled_at_its_own_people_quantile() -> None:
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from haechi.ml import net, train

    assert list(train.HEAD_QUANTILE) == list(net.HEADS)
    rng = np.random.default_rng(3)
    people = np.column_stack([rng.normal(0.0, 1.0, 200_000), rng.normal(2.0, 3.0, 200_000)])
    norm = train.head_norm(people)
    for h, name in enumerate(net.HEADS):
        med, top = np.quantile(people[:, h], [0.5, train.HEAD_QUANTILE[name]])
        assert norm[h] == pytest.approx([med, top])
    # On the common scale the behaviour head passes 1 for about 0.1% of people, the structure
    # head for 1%: the max of the two is above 1 for about 1.1%, not 2%.
    above = train.combined(people, norm) > 1.0
    assert 0.009 < above.mean() < 0.0125
    # A window far beyond people on either head is far above 1.
    assert train.combined(np.array([[6.0, 2.0], [0.0, 20.0]]), norm).min() > 1.5


def test_calibration_puts_the_band_edge_at_the_worst_context() -> None:
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    from haechi.ml import train

    rng = np.random.default_rng(4)
    n = 4_000
    ctx = np.array(["task", "idle"] * (n // 2))
    groups = ["6-clicks"] * n
    # The idle context's people score higher: the edge must hold 98.5% of *them*.
    scores = rng.normal(0.0, 1.0, n) + np.where(ctx == "idle", 1.0, 0.0)
    anchors, info = train.calibrate_groups(scores, groups, ctx.tolist())
    assert info["6-clicks"]["worst_context"] == "idle"
    risk = train.risk_by_group(scores, groups, anchors)
    idle_out = float((risk[ctx == "idle"] > train.BAND_RISK).mean())
    task_out = float((risk[ctx == "task"] > train.BAND_RISK).mean())
    assert abs(idle_out - (1 - train.EDGE_QUANTILE["6"])) <= 0.005 and task_out < idle_out / 2
    # A group without windows borrows the pooled anchors.
    assert info["3-none"]["borrowed"] and anchors["3-none"] == anchors["all"]
