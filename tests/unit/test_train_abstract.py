"""Smoke test of the abstract-emotion training command (needs the train extra)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from haechi.challenges.abstract import generate
from haechi.challenges.abstract.label import EmotionLabeller
from tests.skips import NO_TRAIN


def test_quick_training_run_writes_a_usable_model(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason=NO_TRAIN)
    pytest.importorskip("onnx", reason=NO_TRAIN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "haechi.ml.train_abstract", "--quick", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    assert time.perf_counter() - started < 120  # budget 60 s on an idle machine
    model = tmp_path / "abstract-emotion-v1.onnx"
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["labels"] == list(generate.EMOTIONS)
    assert meta["command"].endswith("--quick")
    for key in ("cnn", "colour_baseline", "int8_vs_float"):
        assert key in meta["metrics"]
    assert len(meta["metrics"]["cnn"]["confusion"]) == len(generate.EMOTIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "abstract-emotion-v1.json",
        "abstract-emotion-v1.onnx",
    ]
    image = generate.render("calm", np.random.default_rng(0))
    assert EmotionLabeller(model).predict([image]).shape == (1, len(generate.EMOTIONS))
