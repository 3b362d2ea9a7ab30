"""Train the abstract-image emotion CNN, measure it against a colour baseline, export it to ONNX.

    python -m haechi.ml.train_abstract            # writes src/haechi/models/abstract-emotion-v1.*
    python -m haechi.ml.train_abstract --quick    # smoke run (< 1 min) into a temporary folder

Data: images from ``haechi.challenges.abstract.generate``, each labelled with the emotion it was
drawn for (its *intent*), encoded and decoded exactly as visitors get them, then shrunk to the
model's input with ``label.resize``. Train, validation and test use disjoint seed streams. The
CNN is small (four strided conv blocks and one more, global average pooling, one linear layer);
inputs are flipped left-right at random, which keeps every cue (a mirrored image reads as the
same emotion: up, down, level, jagged and round do not depend on left or right).

Baseline: a multinomial logistic regression on colour histograms, trained on the same images,
which the generator must defeat; it is also measured on the images the pool keeps and on whole
challenges composed from them (``haechi.ml.abstract_metrics``).

Exported: ``abstract-emotion-v1.onnx`` (input ``image`` float32 [N, 3, S, S] normalised as the
sidecar says, output ``probs`` float32 [N, 5]) — int8-quantised when that changes no test label
and costs no accuracy — and ``abstract-emotion-v1.json`` (labels, input, normalisation, metrics,
versions). Needs the ``train`` extra (torch, onnx) and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]
import PIL

# The train extra may be absent where mypy runs (CI installs haechi without it): the ignores
# below keep the module type-clean either way.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.challenges.abstract import generate, label
from haechi.ml.abstract_metrics import KEEP, colour_baseline, report

MODEL_NAME: Final = label.MODEL_NAME
SEED: Final = 20_261_122
SPLITS: Final = {"train": 0, "validation": 1, "test": 2}
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


# --- data -----------------------------------------------------------------------------------
def sample(task: tuple[int, int, int, int, int]) -> U8:
    """One image as the labeller sees it: rendered, encoded, decoded, resized."""
    seed, split, cls, index, size = task
    img = generate.render(generate.EMOTIONS[cls], np.random.default_rng([seed, split, cls, index]))
    resized: U8 = label.resize([generate.decode(generate.encode(img))], size)[0]
    return resized


def dataset(split: str, per_class: int, *, seed: int, size: int, workers: int) -> tuple[U8, I64]:
    tasks = [
        (seed, SPLITS[split], c, i, size)
        for c in range(len(generate.EMOTIONS))
        for i in range(per_class)
    ]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            images = list(pool.map(sample, tasks, chunksize=32))
    else:
        images = [sample(t) for t in tasks]
    return np.stack(images), np.array([t[2] for t in tasks], np.int64)


# --- the CNN ------------------------------------------------------------------------------------
def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class EmotionCNN(nn.Module):  # type: ignore[misc, unused-ignore]
    def __init__(
        self, n_classes: int = len(generate.EMOTIONS), widths: Sequence[int] = (16, 32, 64, 96)
    ) -> None:
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers.append(_block(c, w, 2))
            c = w
        layers.append(_block(c, c, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(x))
        return logits


class Probabilities(nn.Module):  # type: ignore[misc, unused-ignore]
    """What ONNX holds: the CNN followed by softmax."""

    def __init__(self, cnn: EmotionCNN) -> None:
        super().__init__()
        self.cnn = cnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs: torch.Tensor = torch.softmax(self.cnn(x), dim=1)
        return probs


def to_tensor(images: U8, spec: label.ModelSpec) -> torch.Tensor:
    return torch.from_numpy(label.normalise(images, spec))


def train_cnn(
    x: torch.Tensor, y: I64, *, epochs: int, seed: int, batch: int = 64, lr: float = 3e-3
) -> EmotionCNN:
    torch.manual_seed(seed)
    model = EmotionCNN()
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
        print(
            f"epoch {epoch:2d} loss {total / x.shape[0]:.4f} acc {correct / x.shape[0]:.3f}",
            flush=True,
        )
    model.eval()
    return model


def torch_probs(model: nn.Module, x: torch.Tensor, batch: int = 256) -> F32:
    with torch.no_grad():
        return np.concatenate(
            [torch.softmax(model(x[i : i + batch]), 1).numpy() for i in range(0, x.shape[0], batch)]
        )


# --- export -------------------------------------------------------------------------------------
def export(model: EmotionCNN, path: Path, sample_x: torch.Tensor) -> None:
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
    got = ort_probs(path, sample_x.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def ort_probs(path: Path, x: F32) -> F32:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out: F32 = np.concatenate(
        [sess.run(["probs"], {"image": x[i : i + 256]})[0] for i in range(0, x.shape[0], 256)]
    )
    return out


def quantise(src: Path, dst: Path, calibration: F32) -> None:
    from onnxruntime.quantization import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):  # type: ignore[misc, unused-ignore]
        def __init__(self) -> None:
            self.batches = iter(
                [{"image": calibration[i : i + 32]} for i in range(0, len(calibration), 32)]
            )

        def get_next(self) -> dict[str, F32] | None:
            return next(self.batches, None)

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )


def cpu_seconds() -> float:
    """CPU time of this process and its finished workers (wall time depends on the neighbours)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def versions() -> dict[str, str]:
    import onnx  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }


def export_best(
    cnn: EmotionCNN, out: Path, val_x: torch.Tensor, test: tuple[torch.Tensor, I64], accuracy: float
) -> tuple[Path, bool, dict[str, float]]:
    """Export float32 and int8; keep int8 only if it changes no test label and costs no accuracy."""
    test_x, test_y = test
    float_path, quant_path = out / f"{MODEL_NAME}.float.onnx", out / f"{MODEL_NAME}.int8.onnx"
    export(cnn, float_path, val_x[:32])
    quantise(float_path, quant_path, val_x.numpy()[:512])
    float_test = ort_probs(float_path, test_x.numpy())
    quant_test = ort_probs(quant_path, test_x.numpy())

    def kept(p: F32) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = (p.argmax(1) == test_y) & (p.max(1) >= KEEP)
        return mask

    stats = {
        "same_label": float((float_test.argmax(1) == quant_test.argmax(1)).mean()),
        "same_keep": float((kept(float_test) == kept(quant_test)).mean()),
        "int8_accuracy": float((quant_test.argmax(1) == test_y).mean()),
    }
    use_quant = stats["same_label"] == 1.0 and stats["int8_accuracy"] >= accuracy
    final = out / f"{MODEL_NAME}.onnx"
    (quant_path if use_quant else float_path).replace(final)
    (float_path if use_quant else quant_path).unlink()
    return final, use_quant, stats


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.train_abstract")
    parser.add_argument("--out", help="default: src/haechi/models (a temp folder with --quick)")
    parser.add_argument("--per-class", type=int, default=2000, help="training images per emotion")
    parser.add_argument("--eval-per-class", type=int, default=600, help="test images per emotion")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--size", type=int, default=64, help="model input size in pixels")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=2, help="processes drawing images")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny data, one epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.eval_per_class, args.epochs = 40, 20, 1
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="abstract-") if args.quick else str(label.MODELS_DIR)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    val_per_class = max(10, args.eval_per_class // 3)

    def data(split: str, n: int) -> tuple[U8, I64]:
        return dataset(split, n, seed=args.seed, size=args.size, workers=args.workers)

    train_x, train_y = data("train", args.per_class)
    val_x, val_y = data("validation", val_per_class)
    test_x, test_y = data("test", args.eval_per_class)
    t_data = time.perf_counter() - started
    print(
        f"data: {len(train_y)} train, {len(val_y)} val, {len(test_y)} test in {t_data:.0f} s",
        flush=True,
    )

    pixels = train_x.reshape(-1, 3).astype(np.float64) / 255.0
    mean, std = pixels.mean(0), pixels.std(0)
    spec = label.ModelSpec(
        labels=generate.EMOTIONS,
        input_size=args.size,
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
    )
    train_t = to_tensor(train_x, spec)
    cnn = train_cnn(train_t, train_y, epochs=args.epochs, seed=args.seed)
    t_train = time.perf_counter() - started - t_data

    tx, vx = to_tensor(test_x, spec), to_tensor(val_x, spec)
    test_probs = torch_probs(cnn, tx)
    cnn_report = report(test_y, test_probs)
    print(f"CNN test accuracy {cnn_report['accuracy']:.4f}", flush=True)
    train_probs = torch_probs(cnn, train_t)
    del train_t
    baseline = colour_baseline(
        (train_x, train_y, train_probs),
        (val_x, val_y),
        (test_x, test_y, test_probs),
        seed=args.seed,
    )
    pool_acc = baseline["pool_test_accuracy"]
    print(
        f"colour baseline: all {baseline['all_test']['accuracy']:.4f}, pool {pool_acc}", flush=True
    )
    final, use_quant, quant_stats = export_best(cnn, out, vx, (tx, test_y), cnn_report["accuracy"])
    print(f"int8 vs float32: {quant_stats} -> {'int8' if use_quant else 'float32'}")

    meta = {
        "model": MODEL_NAME,
        "labels": list(spec.labels),
        "input": {
            "name": spec.input_name,
            "size": spec.input_size,
            "dtype": "float32",
            "layout": "NCHW",
            "resize": "decoded RGB image, Pillow BOX resize to size x size",
        },
        "normalisation": {"scale": "1/255", "mean": list(spec.mean), "std": list(spec.std)},
        "output": {"name": spec.output_name, "meaning": "softmax probabilities in label order"},
        "quantised": "int8 QDQ, per channel" if use_quant else None,
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
                "cpu": round(cpu_seconds()),
            },
            "threads": 1,
            "data_workers": args.workers,
        },
        "metrics": {"cnn": cnn_report, "colour_baseline": baseline, "int8_vs_float": quant_stats},
        "versions": versions(),
        "command": "python -m haechi.ml.train_abstract" + (" --quick" if args.quick else ""),
    }
    (out / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {final} and .json in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
