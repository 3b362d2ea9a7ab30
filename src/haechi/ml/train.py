"""Train the behaviour model, calibrate it on held-out people, export it to ONNX.

    python -m haechi.ml.train               # writes src/haechi/models/risk-behaviour-v4.{onnx,json}
    python -m haechi.ml.train --quick       # CI smoke run: a few windows, into a temp folder

1. Data (``haechi.ml.data``): windows of the SapiMouse *train* subjects, and sessions of the five
   training bot families (seeds below 1,000,000; half randomised by ``haechi.ml.augment``).
2. The AutoEncoder learns the segments of people only (``net.AutoEncoder``).
3. Each window becomes one input vector (segment feature means and spreads, the AutoEncoder's
   errors, the window features); two heads learn people against bots on it: ``behaviour``
   (the movements) and ``structure`` (what happens around them), each an ensemble of
   ``net.MEMBERS`` seeds whose logits are averaged (``net.HeadStack``).
4. Calibration on windows of the *validation* subjects: each head's logit is put on a common
   scale (0 at the people's median, 1 at their ``HEAD_QUANTILE`` quantile: the 99.9th for the
   behaviour head, the 99th for the structure head) and the window's score is the larger of the
   two (either view can call a bot; the behaviour head only for a window beyond nearly every
   person, so that its own tail of odd people does not lift the 99% threshold). That score
   maps to ``risk`` 0-100 through monotone anchors at people's quantiles (``ANCHORS``); the
   AutoEncoder alone gets anchors of its own, so its view can still be evaluated by itself.
5. Export: one ONNX graph (``net.BehaviourNet``) checked against PyTorch, and a JSON sidecar with
   names, calibration, versions and validation numbers.

Fixed seeds; no network. Needs the ``train`` extra (torch, onnx) and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs (CI installs haechi without it): the ignores
# below keep the module type-clean either way.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.ml import bots, data, evaluate, net, sapimouse
from haechi.risk.features import FEATURE_NAMES, WINDOW_NAMES

MODEL_NAME: Final = "risk-behaviour-v4"
SEED: Final = 20_260_522
VALIDATION_SEED0: Final = (
    500_000  # validation bots: below the evaluation range, apart from training
)
# (people's quantile of the calibrated score on validation subjects, risk). Below the first
# anchor risk falls linearly to 0 at the validation minimum; above the last it rises to 90 and
# then 100 at 3 and 6 times the distance from the median to the last anchor.
ANCHORS: Final = ((0.5, 5.0), (0.9, 10.0), (0.99, 25.0), (0.999, 40.0))
# Per head (``net.HEADS``): the people's quantile that is 1 on the common scale. Each head at its
# own 99th percentile put about 1.6% of people above 1 in the max; the behaviour head's people
# tail (one odd segment) then set the 99% threshold. Chosen on validation subjects (see
# src/haechi/models/risk.md, Calibration); the test subjects were not looked at for it.
HEAD_QUANTILE: Final = {"behaviour": 0.999, "structure": 0.99}
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Config:
    train_subjects: int | None  # None: all of the part
    per_subject: int
    val_subjects: int | None
    val_per_subject: int
    per_family: int
    val_per_family: int
    ae_epochs: int
    head_epochs: int


# 500 windows of each validation subject (12,000): the behaviour head's scale is people's
# 99.9th percentile, which 2,400 windows set by their top two or three.
FULL: Final = Config(None, 60, None, 500, 1500, 300, 30, 40)
QUICK: Final = Config(6, 4, 4, 4, 12, 6, 2, 3)


def robust_scale(x: F32) -> tuple[F32, F32]:
    """Median and a robust spread (IQR / 1.349, at least a tenth of the std, at least 1e-3)."""
    center = np.median(x, axis=0)
    q75, q25 = np.percentile(x, [75, 25], axis=0)
    spread = np.maximum((q75 - q25) / 1.349, np.std(x, axis=0) * 0.1)
    return center.astype(np.float32), np.maximum(spread, 1e-3).astype(np.float32)


def train_autoencoder(z: F32, *, epochs: int, seed: int, batch: int = 256) -> net.AutoEncoder:
    torch.manual_seed(seed)
    ae = net.AutoEncoder()
    opt = torch.optim.AdamW(ae.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    zt = torch.from_numpy(z)
    for epoch in range(epochs):
        ae.train()
        perm = torch.randperm(zt.shape[0], generator=gen)
        total = 0.0
        for i in range(0, zt.shape[0], batch):
            zb = zt[perm[i : i + batch]]
            loss = ((ae(zb) - zb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * zb.shape[0]
        sched.step()
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(f"  autoencoder epoch {epoch:3d} loss {total / zt.shape[0]:.4f}", flush=True)
    ae.eval()
    return ae


def train_head(head: net.Head, z: F32, y: F32, *, epochs: int, seed: int, batch: int = 256) -> None:
    """People against bots, each class weighted to half of the loss."""
    torch.manual_seed(seed)
    weight = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    zt, yt, wt = (torch.from_numpy(a.astype(np.float32)) for a in (z, y, weight))
    opt = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    bce = nn.BCEWithLogitsLoss(reduction="none")
    for _ in range(epochs):
        head.train()
        perm = torch.randperm(zt.shape[0], generator=gen)
        for i in range(0, zt.shape[0], batch):
            b = perm[i : i + batch]
            loss = (bce(head(zt[b]), yt[b]) * wt[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    head.eval()


def head_seed(seed: int, head: int, member: int) -> int:
    return seed + 10 + head + 100 * member


def input_vectors(model: net.BehaviourNet, windows: data.Windows) -> tuple[F32, F32]:
    """Raw input vectors of the windows that have a usable segment, and their AE scores."""
    rows, ae = [], []
    with torch.no_grad():
        for i in range(len(windows)):
            m = windows.matrix(i)
            if not m.shape[0]:
                continue
            v = model.inputs(torch.from_numpy(m), torch.from_numpy(windows.window[i : i + 1]))
            rows.append(v.numpy()[0])
            ae.append(float(v[0, 2 * len(FEATURE_NAMES)]))
    return np.asarray(rows, np.float32), np.asarray(ae, np.float32)


def has_segments(windows: data.Windows) -> npt.NDArray[np.bool_]:
    return np.diff(windows.offsets) > 0


def logits(model: net.BehaviourNet, v: F32) -> F64:
    with torch.no_grad():
        return model.head_logits(model.standardise(torch.from_numpy(v))).numpy().astype(np.float64)


def head_norm(human_logits: F64) -> list[list[float]]:
    """Per head: (median, ``HEAD_QUANTILE`` quantile) of people's logits, the common scale's
    0 and 1."""
    out = []
    for h, name in enumerate(net.HEADS):
        med, top = np.quantile(human_logits[:, h], [0.5, HEAD_QUANTILE[name]])
        out.append([float(med), float(max(top, med + 1e-3))])
    return out


def combined(lg: F64, norm: Sequence[Sequence[float]]) -> F64:
    """The larger of the heads' logits on the common scale (serving does the same)."""
    n = np.asarray(norm, np.float64)
    return np.asarray(np.max((lg - n[:, 0]) / (n[:, 1] - n[:, 0]), axis=1), np.float64)


def calibrate(scores: F64) -> list[list[float]]:
    """Monotone (score, risk) anchors from validation people's scores."""
    s = np.sort(scores[np.isfinite(scores)])
    points = [[float(s[0]), 0.0]]
    points += [[float(np.quantile(s, q)), r] for q, r in ANCHORS]
    med, top = float(np.quantile(s, 0.5)), points[-1][0]
    reach = max(top - med, 1e-3)
    points += [[top + 3 * reach, 90.0], [top + 6 * reach, 100.0]]
    for i in range(1, len(points)):  # strictly increasing scores
        points[i][0] = max(points[i][0], points[i - 1][0] + 1e-6)
    return points


def risk_of(scores: F64, anchors: Sequence[Sequence[float]]) -> F64:
    a = np.asarray(anchors, np.float64)
    return np.asarray(np.round(np.interp(scores, a[:, 0], a[:, 1])), np.float64)


def validation_table(human: F64, bot: F64, families: Sequence[str]) -> dict[str, Any]:
    """AUC and pass rates per family at the 95% and 99% people thresholds (validation)."""
    table: dict[str, Any] = {}
    thr = {k: evaluate.threshold(human, a) for k, a in (("95", 0.95), ("99", 0.99))}
    fam = np.asarray(families)
    for f in sorted(set(families)):
        b = bot[fam == f]
        table[f] = {
            "n": int(b.shape[0]),
            "auc": round(evaluate.auc(human, b), 4),
            "pass95": round(float((b <= thr["95"]).mean()), 4),
            "pass99": round(float((b <= thr["99"]).mean()), 4),
        }
    return table


def _versions() -> dict[str, str]:
    import onnx  # type: ignore[import-untyped, import-not-found, unused-ignore]
    import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return {
        "torch": str(torch.__version__),
        "onnx": str(onnx.__version__),
        "onnxruntime": str(ort.__version__),
        "numpy": str(np.__version__),
        "opset": "17",
    }


def run(cfg: Config, out: Path, *, seed: int, jobs: int) -> dict[str, Any]:
    started = time.perf_counter()
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found: set HAECHI_SAPIMOUSE_DIR")
    split = sapimouse.split_subjects(sapimouse.subjects(root))
    train_ids = split.train[: cfg.train_subjects]
    val_ids = split.validation[: cfg.val_subjects]
    families = bots.TRAINING_FAMILIES

    print(f"data: {len(train_ids)} train and {len(val_ids)} validation subjects", flush=True)
    recs = sapimouse.load(root, only=train_ids)
    humans = data.human_windows(recs, per_subject=cfg.per_subject, seed=seed, jobs=jobs)
    robots = data.bot_windows(families, cfg.per_family, seed0=0, varied=0.5, jobs=jobs)
    val_recs = sapimouse.load(root, only=val_ids)
    val_humans = data.human_windows(
        val_recs, per_subject=cfg.val_per_subject, seed=seed + 1, jobs=jobs
    )
    val_bots = data.bot_windows(
        families, cfg.val_per_family, seed0=VALIDATION_SEED0, varied=0.0, jobs=jobs
    )
    print(
        f"  {len(humans)} people windows, {len(robots)} bot sessions; validation "
        f"{len(val_humans)} + {len(val_bots)} ({time.perf_counter() - started:.0f} s)",
        flush=True,
    )

    seg_center, seg_scale = robust_scale(humans.segments)
    z = np.clip((humans.segments - seg_center) / seg_scale, -net.CLIP, net.CLIP)
    ae = train_autoencoder(z.astype(np.float32), epochs=cfg.ae_epochs, seed=seed)
    model = net.BehaviourNet(ae, seg_center, seg_scale)
    model.eval()

    v_h, _ = input_vectors(model, humans)
    v_b, _ = input_vectors(model, robots)
    in_center, in_scale = robust_scale(v_h)
    model.in_center.copy_(torch.from_numpy(in_center))
    model.in_scale.copy_(torch.from_numpy(in_scale))
    zv = np.clip((np.concatenate([v_h, v_b]) - in_center) / in_scale, -net.CLIP, net.CLIP)
    y = np.concatenate([np.zeros(len(v_h)), np.ones(len(v_b))]).astype(np.float32)
    for h, name in enumerate(net.HEADS):
        cols = [net.INPUT_NAMES.index(n) for n in net.HEAD_INPUTS[name]]
        members = []
        for m in range(net.MEMBERS):  # member 0 has the seed a single head had (v2, v3)
            head = net.Head(len(cols))
            train_head(head, zv[:, cols], y, epochs=cfg.head_epochs, seed=head_seed(seed, h, m))
            members.append(head)
        model.heads[h] = net.HeadStack.pack(members)
        print(f"  head {name}: {len(cols)} inputs, {net.MEMBERS} members", flush=True)
    model.eval()

    vh_val, ae_h = input_vectors(model, val_humans)
    vb_val, ae_b = input_vectors(model, val_bots)
    lg_h, lg_b = logits(model, vh_val), logits(model, vb_val)
    norm = head_norm(lg_h)
    anchors = calibrate(combined(lg_h, norm))
    ae_anchors = calibrate(ae_h.astype(np.float64))
    bot_families = [g for g, k in zip(val_bots.group, has_segments(val_bots), strict=True) if k]
    risk_h = risk_of(combined(lg_h, norm), anchors)
    risk_b = risk_of(combined(lg_b, norm), anchors)
    table = validation_table(risk_h, risk_b, bot_families)
    ae_table = validation_table(
        risk_of(ae_h.astype(np.float64), ae_anchors),
        risk_of(ae_b.astype(np.float64), ae_anchors),
        bot_families,
    )

    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{MODEL_NAME}.onnx"
    net.export(model, str(onnx_path), humans.matrix(0).copy())
    seconds = time.perf_counter() - started
    meta: dict[str, Any] = {
        "model": MODEL_NAME,
        "features": list(FEATURE_NAMES),
        "window_features": list(WINDOW_NAMES),
        "inputs": list(net.INPUT_NAMES),
        "heads": list(net.HEADS),
        "groups": list(net.GROUPS),
        "head_norm": norm,
        "head_quantile": [HEAD_QUANTILE[h] for h in net.HEADS],
        "anchors": anchors,
        "ae_anchors": ae_anchors,
        "versions": _versions(),
        "train": {
            "subjects": len(train_ids),
            "windows": len(humans),
            "segments": int(humans.segments.shape[0]),
            "bot_sessions": len(robots),
            "bot_families": list(families),
            "bot_seeds": [0, cfg.per_family],
            "varied_share": 0.5,
            "ae_epochs": cfg.ae_epochs,
            "head_epochs": cfg.head_epochs,
            "head_members": net.MEMBERS,
            "seed": seed,
            "split_seed": split.seed,
        },
        "validation": {
            "subjects": len(val_ids),
            "windows": len(val_humans),
            "bot_seeds": [VALIDATION_SEED0, VALIDATION_SEED0 + cfg.val_per_family],
            "model": table,
            "autoencoder": ae_table,
        },
        "seconds": round(seconds, 1),
        "command": "python -m haechi.ml.train",
    }
    (out / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({"validation": meta["validation"]["model"]}, indent=1), flush=True)
    print(f"wrote {onnx_path} and .json in {seconds:.0f} s", flush=True)
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.train", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (< 60 s), to a temp dir")
    parser.add_argument("--out", help="output folder (default: src/haechi/models, or a temp dir)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the data")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (the shipped file: 1)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    if args.out:
        run(cfg, Path(args.out), seed=args.seed, jobs=args.jobs)
    elif args.quick:
        with tempfile.TemporaryDirectory(prefix="haechi-train-") as tmp:
            run(cfg, Path(tmp), seed=args.seed, jobs=args.jobs)
    else:
        run(cfg, sapimouse.repo_root() / "src/haechi/models", seed=args.seed, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
