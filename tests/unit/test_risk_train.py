"""Training the behaviour model: the quick run end to end (needs the train extra and SapiMouse),
and the randomised training bots it learns from."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from haechi.ml import augment, bots, data, sapimouse
from haechi.risk import features as F
from haechi.risk.model import BehaviourModel
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
        "risk-behaviour-v4.json",
        "risk-behaviour-v4.onnx",
    ]
    meta = json.loads((tmp_path / "risk-behaviour-v4.json").read_text())
    assert meta["features"] == list(F.FEATURE_NAMES)
    assert meta["train"]["bot_families"] == list(bots.TRAINING_FAMILIES)  # never replay
    assert max(meta["train"]["bot_seeds"]) < data.TRAIN_SEED_LIMIT
    anchors = np.asarray(meta["anchors"])
    assert np.all(np.diff(anchors[:, 0]) > 0) and np.all(np.diff(anchors[:, 1]) >= 0)
    model = BehaviourModel(tmp_path / "risk-behaviour-v4.onnx")
    window = orjson.loads(FIXTURE.read_bytes().splitlines()[0])
    a = model.assess(parse_telemetry(window))
    assert a.risk is not None and 0 <= a.risk <= 100 and a.segments > 0


def test_training_refuses_replay_and_evaluation_seeds() -> None:
    with pytest.raises(ValueError, match="held out"):
        data.bot_windows(["linear", "replay"], 1, seed0=0, varied=0.0, jobs=1)
    with pytest.raises(ValueError, match="below"):
        data.bot_windows(["linear"], 10, seed0=999_995, varied=0.0, jobs=1)
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
