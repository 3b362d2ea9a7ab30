"""The emotion labeller: the shipped model, lazy loading, and ONNX matching PyTorch."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from haechi.challenges.abstract import generate
from haechi.challenges.abstract.label import (
    MODELS_DIR,
    EmotionLabeller,
    ModelSpec,
    normalise,
    resize,
)
from tests.skips import NO_TRAIN

SHIPPED = MODELS_DIR / "abstract-emotion-v1.onnx"


def images(per_class: int, stream: int) -> tuple[list, np.ndarray]:
    """Encoded-then-decoded images, as visitors and the pool builder see them."""
    out, labels = [], []
    for c, emotion in enumerate(generate.EMOTIONS):
        for i in range(per_class):
            img = generate.render(emotion, np.random.default_rng([stream, c, i]))
            out.append(generate.decode(generate.encode(img)))
            labels.append(c)
    return out, np.array(labels)


def test_sidecar_matches_the_onnx_graph() -> None:
    spec = ModelSpec.read(SHIPPED.with_suffix(".json"))
    assert spec.labels == generate.EMOTIONS
    sess = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == spec.input_name and out.name == spec.output_name
    assert inp.shape[1:] == [3, spec.input_size, spec.input_size]
    assert out.shape[1] == len(spec.labels)
    meta = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert (
        meta["metrics"]["cnn"]["accuracy"]
        > meta["metrics"]["colour_baseline"]["all_test"]["accuracy"]
    )


def test_shipped_model_reads_fresh_images() -> None:
    """Images from a seed stream training never used: the labeller still agrees with the intent."""
    imgs, labels = images(12, stream=987_654)
    probs = EmotionLabeller().predict(imgs)
    assert probs.shape == (len(imgs), len(generate.EMOTIONS))
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    assert (probs.argmax(1) == labels).mean() >= 0.85


def test_loads_lazily_and_once_under_concurrency() -> None:
    labeller = EmotionLabeller()
    assert labeller._session is None  # nothing loaded at construction
    sessions = []
    barrier = threading.Barrier(4)

    def first_call() -> None:
        barrier.wait()
        sessions.append(labeller._load()[0])

    threads = [threading.Thread(target=first_call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sessions) == 4 and all(s is sessions[0] for s in sessions)
    assert labeller.predict([]).shape == (0, len(generate.EMOTIONS))


def test_onnx_output_matches_pytorch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason=NO_TRAIN)
    pytest.importorskip("onnx", reason=NO_TRAIN)
    from haechi.ml import train_abstract

    torch.manual_seed(0)
    cnn = train_abstract.EmotionCNN()
    imgs, _ = images(4, stream=55)
    spec = ModelSpec(generate.EMOTIONS, 64, (0.5, 0.45, 0.4), (0.25, 0.24, 0.26))
    x = torch.from_numpy(normalise(resize(imgs, spec.input_size), spec))
    cnn.train()
    with torch.no_grad():  # move the batch-norm statistics off their defaults
        for _ in range(3):
            cnn(x)
    cnn.eval()
    path = tmp_path / "m.onnx"
    train_abstract.export(cnn, path, x[:8])
    sidecar = {
        "labels": list(spec.labels),
        "input": {"name": "image", "size": spec.input_size},
        "output": {"name": "probs"},
        "normalisation": {"mean": list(spec.mean), "std": list(spec.std)},
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    got = EmotionLabeller(path).predict(imgs)
    with torch.no_grad():
        want = torch.softmax(cnn(x), 1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
