"""Train the behaviour AutoEncoder on people only, calibrate it, export it to ONNX.

    python -m haechi.ml.train_autoencoder            # writes src/haechi/models/risk-ae-v1.*

Data: widget-sized windows (3-10 s, re-timed to 30/60/120/144 Hz) of the SapiMouse *train*
subjects; every usable segment's feature vector (``haechi.risk.features``) is one sample. No bot
is seen, the replay family included. The model: a small MLP AutoEncoder over robustly
standardised features (median and inter-quartile range of the train segments, clipped to ±8).
A segment's score is its mean squared reconstruction error; a window's is the mean of the log
errors of its segments. Calibration: windows of the *validation* subjects fix the map from that
score to ``risk`` 0-100 (piecewise linear through human quantiles, see ``ANCHORS``), so that
risk means the same thing whatever the model's scale.

Exported: ``risk-ae-v1.onnx`` (input ``features`` float32 [N, F] raw feature vectors, output
``error`` float32 [N], standardisation inside) and ``risk-ae-v1.json`` (feature names,
aggregation, calibration anchors). Needs the ``train`` extra (torch, onnx) and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs (CI installs haechi without it): the ignores
# below keep the module type-clean either way.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.ml import evaluate, sapimouse
from haechi.risk.features import FEATURE_NAMES, N_FEATURES, extract
from haechi.risk.telemetry import parse_telemetry

MODEL_NAME: Final = "risk-ae-v1"
SEED: Final = 20_260_522
CLIP: Final = 8.0
# (human quantile of the window score on validation subjects, risk): below the first, risk
# falls linearly to 0 at the validation minimum; above the last it rises to 100 at twice the
# distance from the median to the last anchor.
ANCHORS: Final = ((0.5, 5.0), (0.9, 10.0), (0.99, 25.0), (0.999, 40.0))
F32 = npt.NDArray[np.float32]


class AutoEncoder(nn.Module):  # type: ignore[misc, unused-ignore]
    def __init__(self, n_in: int = N_FEATURES, hidden: int = 64, code: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, code),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, n_in),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.decoder(self.encoder(z))
        return out


class SegmentError(nn.Module):  # type: ignore[misc, unused-ignore]
    """Raw features -> standardised -> reconstruction error per segment (what ONNX holds)."""

    center: torch.Tensor
    scale: torch.Tensor

    def __init__(self, ae: AutoEncoder, center: F32, scale: F32) -> None:
        super().__init__()
        self.ae = ae
        self.register_buffer("center", torch.from_numpy(center))
        self.register_buffer("scale", torch.from_numpy(scale))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = torch.clamp((features - self.center) / self.scale, -CLIP, CLIP)
        error: torch.Tensor = ((self.ae(z) - z) ** 2).mean(dim=1)
        return error


def window_features(objs: Sequence[dict[str, object]]) -> list[F32]:
    return [extract(parse_telemetry(o)).matrix for o in objs]


def window_score(errors: npt.NDArray[np.floating[Any]]) -> float:
    """A window's score from its segments' errors: the mean log error (nan with none)."""
    if not errors.shape[0]:
        return float("nan")
    return float(np.mean(np.log(errors.astype(np.float64) + 1e-6)))


def calibrate(scores: npt.NDArray[np.float64]) -> list[list[float]]:
    """Monotone (score, risk) anchors from validation humans' window scores."""
    s = np.sort(scores[np.isfinite(scores)])
    points = [[float(s[0]), 0.0]]
    points += [[float(np.quantile(s, q)), r] for q, r in ANCHORS]
    top = points[-1][0] + 2 * (points[-1][0] - float(np.quantile(s, 0.5)))
    points.append([top, 100.0])
    for i in range(1, len(points)):  # strictly increasing scores
        points[i][0] = max(points[i][0], points[i - 1][0] + 1e-6)
    return points


def train(
    x: F32, *, epochs: int, seed: int, batch: int = 256, lr: float = 2e-3
) -> tuple[AutoEncoder, F32, F32]:
    torch.manual_seed(seed)
    center = np.median(x, axis=0).astype(np.float32)
    q75, q25 = np.percentile(x, [75, 25], axis=0)
    spread = np.maximum((q75 - q25) / 1.349, np.std(x, axis=0) * 0.1)
    scale = np.maximum(spread, 1e-3).astype(np.float32)
    z = torch.from_numpy(np.clip((x - center) / scale, -CLIP, CLIP).astype(np.float32))
    ae = AutoEncoder()
    opt = torch.optim.AdamW(ae.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        ae.train()
        perm = torch.randperm(z.shape[0], generator=gen)
        total = 0.0
        for i in range(0, z.shape[0], batch):
            zb = z[perm[i : i + batch]]
            loss = ((ae(zb) - zb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * zb.shape[0]
        sched.step()
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:3d} loss {total / z.shape[0]:.4f}", flush=True)
    ae.eval()
    return ae, center, scale


def export(model: SegmentError, path: Path, sample: F32) -> None:
    import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

    model.eval()
    torch.onnx.export(
        model,
        (torch.from_numpy(sample),),
        str(path),
        input_names=["features"],
        output_names=["error"],
        dynamic_axes={"features": {0: "segments"}, "error": {0: "segments"}},
        opset_version=17,
        dynamo=False,
    )
    with torch.no_grad():
        want = model(torch.from_numpy(sample)).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(["error"], {"features": sample})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.train_autoencoder")
    parser.add_argument("--out", default=str(sapimouse.repo_root() / "src/haechi/models"))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--per-subject", type=int, default=60, help="train windows per subject")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found: set HAECHI_SAPIMOUSE_DIR")
    split = sapimouse.split_subjects(sapimouse.subjects(root))
    train_recs = sapimouse.load(root, only=split.train)
    val_recs = sapimouse.load(root, only=split.validation)
    train_windows = evaluate.human_windows(train_recs, per_subject=args.per_subject, seed=args.seed)
    x = np.concatenate(window_features([w for _, w in train_windows]))
    print(f"train: {len(train_windows)} windows, {x.shape[0]} segments", flush=True)
    ae, center, scale = train(x, epochs=args.epochs, seed=args.seed)
    model = SegmentError(ae, center, scale)

    val_windows = evaluate.human_windows(val_recs, per_subject=40, seed=args.seed + 1)
    with torch.no_grad():
        val_scores = np.array(
            [
                window_score(model(torch.from_numpy(m)).numpy()) if m.shape[0] else np.nan
                for m in window_features([w for _, w in val_windows])
            ]
        )
    anchors = calibrate(val_scores)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    export(model, out / f"{MODEL_NAME}.onnx", x[:64].copy())
    meta = {
        "model": MODEL_NAME,
        "features": list(FEATURE_NAMES),
        "aggregation": "mean log(error + 1e-6) over usable segments",
        "anchors": anchors,
        "empty_risk": 50,
        "train": {
            "subjects": len(split.train),
            "windows": len(train_windows),
            "segments": int(x.shape[0]),
            "epochs": args.epochs,
            "seed": args.seed,
            "split_seed": split.seed,
        },
        "validation": {"subjects": len(split.validation), "windows": len(val_windows)},
        "command": "python -m haechi.ml.train_autoencoder",
    }
    (out / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out / MODEL_NAME}.onnx/.json in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
