"""Train the grid tile classifier, measure a colour-histogram baseline, export it to ONNX.

    python -m haechi.ml.train_grid            # writes src/haechi/models/grid-tiles-v1.{onnx,json}
    python -m haechi.ml.train_grid --quick    # smoke run (< 1 min) into a temporary folder

Data: tiles from ``haechi.challenges.grid.render`` (augmentation strength uniform in 0..1), each
labelled with the category it was drawn for, encoded and decoded exactly as visitors get them
(a 6,144-byte WebP), then shrunk to the model's input with ``label.resize``. Train, validation
and test use disjoint seed streams. The CNN is small: five 3x3 conv blocks, global average
pooling, one linear layer.

Baseline: a multinomial logistic regression on colour histograms (``grid_metrics``), trained on
the same tiles; the renderer must keep it near chance.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs (CI installs haechi without it).
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.challenges.grid import categories, label, render
from haechi.ml.grid_metrics import colour_baseline, report
from haechi.ml.train_abstract import EmotionCNN, Probabilities

SEED: Final = 20_261_122
SPLITS: Final = {"train": 0, "validation": 1, "test": 2}
KEEP: Final = 0.8  # the confidence a pool tile needs (grid.items.MIN_CONFIDENCE)
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


# --- data ---------------------------------------------------------------------------------------
def sample(task: tuple[int, int, int, int, int]) -> tuple[U8, float]:
    """One tile as the classifier sees it, and the strength it was drawn with."""
    seed, split, cls, index, size = task
    rng = random.Random(f"{seed}-{split}-{cls}-{index}")
    strength = rng.random()
    tile = render.render_tile(categories.NAMES[cls], rng, strength)
    resized: U8 = label.resize([render.decode(render.encode(tile))], size)[0]
    return resized, strength


def dataset(
    split: str, per_class: int, *, seed: int, size: int, workers: int
) -> tuple[U8, I64, F32]:
    n = len(categories.NAMES)
    tasks = [(seed, SPLITS[split], c, i, size) for i in range(per_class) for c in range(n)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            made = list(pool.map(sample, tasks, chunksize=32))
    else:
        made = [sample(t) for t in tasks]
    images = np.stack([m[0] for m in made])
    strengths = np.array([m[1] for m in made], np.float32)
    return images, np.array([t[2] for t in tasks], np.int64), strengths


# --- the CNN ------------------------------------------------------------------------------------
class TileCNN(EmotionCNN):
    """The abstract labeller's CNN (``train_abstract.EmotionCNN``), wider, over 16 categories;
    ``train_abstract.Probabilities`` wraps it for export."""

    def __init__(self, n_classes: int, widths: Sequence[int] = (24, 48, 64, 96)) -> None:
        super().__init__(n_classes, widths)


def train_cnn(
    x: torch.Tensor,
    y: I64,
    *,
    n_classes: int,
    epochs: int,
    seed: int,
    batch: int = 64,
    lr: float = 3e-3,
    log: bool = True,
) -> TileCNN:
    torch.manual_seed(seed)
    model = TileCNN(n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((x.shape[0] + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    yt = torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(x.shape[0], generator=gen)
        total = correct = 0.0
        for i in range(0, x.shape[0], batch):
            idx = perm[i : i + batch]
            xb, yb = x[idx], yt[idx]
            flip = torch.rand(xb.shape[0], generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            opt.step()
            sched.step()
            total += float(loss.detach()) * xb.shape[0]
            correct += float((logits.argmax(1) == yb).sum())
        if log:
            print(f"epoch {epoch:2d} loss {total / x.shape[0]:.4f} acc {correct / x.shape[0]:.3f}")
    model.eval()
    return model


def torch_probs(model: nn.Module, x: torch.Tensor, batch: int = 256) -> F32:
    with torch.no_grad():
        return np.concatenate(
            [torch.softmax(model(x[i : i + batch]), 1).numpy() for i in range(0, x.shape[0], batch)]
        )


def spec_for(images: U8, size: int) -> label.ModelSpec:
    pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
    mean, std = pixels.mean(0), pixels.std(0)
    return label.ModelSpec(
        labels=categories.NAMES,
        input_size=size,
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
    )


# --- export -------------------------------------------------------------------------------------
def export(model: TileCNN, path: Path, sample_x: torch.Tensor) -> None:
    import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

    wrapped = Probabilities(model).eval()
    torch.onnx.export(
        wrapped,
        (sample_x,),
        str(path),
        input_names=["image"],
        output_names=["probs"],
        dynamic_axes={"image": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    with torch.no_grad():
        want = wrapped(sample_x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["probs"], {"image": sample_x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.train_grid")
    parser.add_argument("--out", help="default: src/haechi/models (a temp folder with --quick)")
    parser.add_argument("--per-class", type=int, default=900, help="training tiles per category")
    parser.add_argument("--eval-per-class", type=int, default=200, help="test tiles per category")
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--size", type=int, default=64, help="model input size in pixels")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=2, help="processes drawing tiles")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny data, one epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.eval_per_class, args.epochs = 20, 10, 1
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="grid-") if args.quick else str(label.MODELS_DIR)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_classes = len(categories.NAMES)
    val_per_class = max(10, args.eval_per_class // 3)

    def data(split: str, n: int) -> tuple[U8, I64, F32]:
        return dataset(split, n, seed=args.seed, size=args.size, workers=args.workers)

    train_x, train_y, _ = data("train", args.per_class)
    val_x, val_y, _ = data("validation", val_per_class)
    test_x, test_y, test_s = data("test", args.eval_per_class)
    t_data = time.perf_counter() - started
    print(f"data: {len(train_y)} train, {len(val_y)} val, {len(test_y)} test in {t_data:.0f} s")

    spec = spec_for(train_x, args.size)
    train_t = torch.from_numpy(label.normalise(train_x, spec))
    cnn = train_cnn(train_t, train_y, n_classes=n_classes, epochs=args.epochs, seed=args.seed)
    t_train = time.perf_counter() - started - t_data
    test_t = torch.from_numpy(label.normalise(test_x, spec))
    test_probs = torch_probs(cnn, test_t)
    cnn_report = report(test_y, test_probs, categories.NAMES, strength=test_s)
    print(f"CNN test accuracy {cnn_report['accuracy']:.4f}")
    baseline = colour_baseline(
        (train_x, train_y),
        (val_x, val_y),
        (test_x, test_y, test_probs),
        labels=categories.NAMES,
        keep=KEEP,
        seed=args.seed,
    )
    print(
        f"colour baseline: all {baseline['all_test_accuracy']:.4f}, "
        f"kept {baseline['kept_test_accuracy']}, chance {baseline['chance']:.4f}"
    )
    final = out / f"{label.MODEL_NAME}.onnx"
    export(cnn, final, test_t[:16])

    meta = {
        "model": label.MODEL_NAME,
        "labels": list(spec.labels),
        "input": {
            "name": spec.input_name,
            "size": spec.input_size,
            "dtype": "float32",
            "layout": "NCHW",
            "resize": "decoded RGB tile, Pillow BOX resize to size x size",
        },
        "normalisation": {"scale": "1/255", "mean": list(spec.mean), "std": list(spec.std)},
        "output": {"name": spec.output_name, "meaning": "softmax probabilities in label order"},
        "quantised": None,
        "train": {
            "per_class": args.per_class,
            "epochs": args.epochs,
            "seed": args.seed,
            "validation_per_class": val_per_class,
            "test_per_class": args.eval_per_class,
            "seconds": {
                "data": round(t_data),
                "train": round(t_train),
                "total": round(time.perf_counter() - started),
            },
            "threads": 1,
            "data_workers": args.workers,
        },
        "metrics": {"cnn": cnn_report, "colour_baseline": baseline, "keep_threshold": KEEP},
        "command": "python -m haechi.ml.train_grid" + (" --quick" if args.quick else ""),
    }
    (out / f"{label.MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {final} and .json in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
