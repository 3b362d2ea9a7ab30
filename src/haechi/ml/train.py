"""Train the behaviour model, calibrate it on held-out people, export it to ONNX.

    python -m haechi.ml.train               # writes src/haechi/models/risk-behaviour-v6.{onnx,json}
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
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs (CI installs haechi without it): the ignores
# below keep the module type-clean either way.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.ml import contexts, data, evaluate, net, sapimouse, scripted
from haechi.risk.features import AXIS_UNKNOWN, FEATURE_NAMES, WINDOW_NAMES, extract
from haechi.risk.model import GROUP_NAMES, calibration_group
from haechi.risk.telemetry import parse_telemetry

MODEL_NAME: Final = "risk-behaviour-v6"
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
# Since v5: windows of people in every context (``haechi.ml.contexts``) and of ten families,
# the same contexts applied to both. ``val_per_subject`` is per (context, length) cell.
FULL: Final = Config(None, 110, None, 4, 700, 150, 30, 40)
QUICK: Final = Config(6, 6, 4, 1, 6, 4, 2, 3)
# Per calibration group (window length x clicks): the share of validation people of the group's
# *worst* context that the no-task band (risk <= BAND_RISK) must hold. Below the acceptance bars
# (97% of windows of 6 s or more, 90% of 3-s windows), for the request signals and for people
# the model has not seen.
BAND_RISK: Final = 10.0
EDGE_QUANTILE: Final = {"3": 0.97, "6": 0.99, "10": 0.99}
# The leave-out runs learn from the same windows with shorter training (one head seed unless
# --members says otherwise): five full runs would take an hour on the 2-core machine.
LOO: Final = replace(FULL, ae_epochs=15, head_epochs=25)
# Leave-out runs: one context out of each (every context once), and one or two families
# (every family once). Since v6 (v5: five runs, one or two contexts out of each).
LOO_RUNS: Final = len(contexts.CONTEXTS)
# The pixel-step inputs (``features.AXIS_UNKNOWN`` where a pixel is not a mouse's count): since
# v6 such a window reads them as the people's median (blanked, as the served model blanks them,
# ``model._blank_pixels``), so a screen of a pixel ratio never trained on is not odd.
PIXEL_INPUTS: Final = tuple(
    net.INPUT_NAMES.index(f"window:{n}") for n in ("axis_steps", "axis_pairs")
)
CAL_LENGTHS_S: Final = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)


def pixels_unknown(v: F32) -> npt.NDArray[np.bool_]:
    """Rows (raw input vectors) whose pixel-step inputs were not measured."""
    out: npt.NDArray[np.bool_] = v[:, PIXEL_INPUTS[0]] == AXIS_UNKNOWN
    return out


def input_scale(v: F32) -> tuple[F32, F32]:
    """``robust_scale`` of people's input vectors, the pixel-step inputs over the windows where
    they were measured (their centre is what an unmeasured window reads)."""
    center, scale = robust_scale(v)
    known = ~pixels_unknown(v)
    if known.sum() >= 10:
        c, sc = robust_scale(v[known][:, list(PIXEL_INPUTS)])
        center[list(PIXEL_INPUTS)], scale[list(PIXEL_INPUTS)] = c, sc
    return center, scale


def standardise(v: F32, center: F32, scale: F32) -> F32:
    """What the served graph feeds the heads: clipped robust z-scores, with unmeasured pixel
    steps blanked to 0 (the people's median)."""
    z: F32 = np.clip((v - center) / scale, -net.CLIP, net.CLIP).astype(np.float32)
    rows = np.flatnonzero(pixels_unknown(v))
    z[np.ix_(rows, np.asarray(PIXEL_INPUTS, dtype=np.intp))] = 0.0
    return z


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
    z = standardise(v, model.in_center.numpy(), model.in_scale.numpy())
    with torch.no_grad():
        return model.head_logits(torch.from_numpy(z)).numpy().astype(np.float64)


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


def calibrate_groups(
    scores: F64, groups: Sequence[str], ctx: Sequence[str]
) -> tuple[dict[str, list[list[float]]], dict[str, Any]]:
    """Anchors per calibration group (``model.GROUP_NAMES``): the score that puts
    ``EDGE_QUANTILE`` of the people of the group's worst context (with at least 20 windows) in
    the no-task band maps to ``BAND_RISK``; below it risk falls to 4 at the group's median and 0
    at its minimum; above it, 40, 90 and 100 at 1, 3 and 6 times the distance from the median.
    A group without enough windows borrows the pooled people's anchors."""
    g_arr, c_arr = np.asarray(groups), np.asarray(ctx)
    out: dict[str, list[list[float]]] = {}
    info: dict[str, Any] = {}
    for name in ("all", *GROUP_NAMES):
        sel = np.ones(scores.shape[0], bool) if name == "all" else g_arr == name
        if int(sel.sum()) < 40:
            out[name] = out["all"]
            info[name] = {"n": int(sel.sum()), "borrowed": True}
            continue
        q = EDGE_QUANTILE[name.split("-")[0]] if name != "all" else EDGE_QUANTILE["6"]
        edges = {
            c: float(np.quantile(scores[sel & (c_arr == c)], q))
            for c in sorted(set(c_arr[sel].tolist()))
            if int((sel & (c_arr == c)).sum()) >= 20
        }
        if not edges:  # too few windows per context: the group's people pooled
            edges = {"pooled": float(np.quantile(scores[sel], q))}
        worst = max(edges, key=lambda c: edges[c])
        edge = edges[worst]
        s = np.sort(scores[sel])
        med = float(np.quantile(s, 0.5))
        reach = max(edge - med, 1e-3)
        points = [
            [float(s[0]), 0.0],
            [med, 4.0],
            [edge, BAND_RISK],
            [edge + reach, 40.0],
            [edge + 3 * reach, 90.0],
            [edge + 6 * reach, 100.0],
        ]
        for i in range(1, len(points)):
            points[i][0] = max(points[i][0], points[i - 1][0] + 1e-6)
        out[name] = points
        info[name] = {"n": int(sel.sum()), "worst_context": worst, "quantile": q}
    return out, info


def risk_by_group(scores: F64, groups: Sequence[str], anchors: dict[str, list[list[float]]]) -> F64:
    out = np.empty(scores.shape[0])
    g_arr = np.asarray(groups)
    for name, a in anchors.items():
        sel = g_arr == name
        if sel.any():
            out[sel] = risk_of(scores[sel], a)
    return out


def _val_people(
    recs: Sequence[sapimouse.Recording], *, per_cell: int, seed: int, contexts_: Sequence[str]
) -> tuple[data.Windows, list[str], list[str]]:
    """Validation people in every context and length: their features, calibration group and
    context, for the windows with usable movement."""
    got = contexts.human_windows(
        [(r.subject, r.trajectory) for r in recs],
        contexts=contexts_,
        lengths_s=CAL_LENGTHS_S,
        per_cell_subject=per_cell,
        seed=seed,
    )
    items, groups, ctx, subjects = [], [], [], []
    for subject, w in got:
        fs = extract(parse_telemetry(w.telemetry), last_ms=10_000.0, max_events=1_500)
        if fs.empty:
            continue
        items.append((fs.matrix, fs.window))
        groups.append(calibration_group(fs))
        ctx.append(w.context)
        subjects.append(subject)
    people = data._pack(items, 0, ["human"] * len(items), subjects)
    return replace(people, context=tuple(ctx)), groups, ctx


@dataclass(frozen=True, slots=True)
class TrainData:
    """Every window a run (or a set of leave-one-out runs) learns and calibrates on."""

    humans: data.Windows
    robots: data.Windows
    val_humans: data.Windows
    val_groups: tuple[str, ...]
    val_bots: data.Windows
    train_subjects: int
    val_subjects: int
    split_seed: int

    def without(self, families: Sequence[str], context_names: Sequence[str]) -> TrainData:
        """The same data with some families and contexts left out (people and bots)."""

        def keep(w: data.Windows) -> npt.NDArray[np.bool_]:
            k = np.array([c not in context_names for c in w.context], bool)
            out: npt.NDArray[np.bool_] = k & np.array([g not in families for g in w.group], bool)
            return out

        vk = keep(self.val_humans)
        return replace(
            self,
            humans=self.humans.select(keep(self.humans)),
            robots=self.robots.select(keep(self.robots)),
            val_humans=self.val_humans.select(vk),
            val_groups=tuple(g for g, k in zip(self.val_groups, vk.tolist(), strict=True) if k),
            val_bots=self.val_bots.select(keep(self.val_bots)),
        )


def build_data(cfg: Config, *, seed: int, jobs: int) -> TrainData:
    started = time.perf_counter()
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found: set HAECHI_SAPIMOUSE_DIR")
    split = sapimouse.split_subjects(sapimouse.subjects(root))
    train_ids = split.train[: cfg.train_subjects]
    val_ids = split.validation[: cfg.val_subjects]
    families = list(scripted.TRAINABLE)
    print(f"data: {len(train_ids)} train and {len(val_ids)} validation subjects", flush=True)
    recs = sapimouse.load(root, only=train_ids)
    humans = data.context_human_windows(recs, per_subject=cfg.per_subject, seed=seed, jobs=jobs)
    robots = data.context_bot_windows(families, cfg.per_family, seed0=0, jobs=jobs)
    val_recs = sapimouse.load(root, only=val_ids)
    val_humans, val_groups, _ = _val_people(
        val_recs, per_cell=cfg.val_per_subject, seed=seed + 1, contexts_=contexts.CONTEXTS
    )
    val_bots = data.context_bot_windows(
        families, cfg.val_per_family, seed0=VALIDATION_SEED0, jobs=jobs
    )
    print(
        f"  {len(humans)} people windows, {len(robots)} bot windows; validation "
        f"{len(val_humans)} + {len(val_bots)} ({time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return TrainData(
        humans,
        robots,
        val_humans,
        tuple(val_groups),
        val_bots,
        len(train_ids),
        len(val_ids),
        split.seed,
    )


def cached_data(cfg: Config, *, seed: int, jobs: int, cache: Path | None) -> TrainData | None:
    """The training windows from ``cache`` (a pickle this command wrote for the same config and
    seed), else built and written there; None without a cache (``run`` builds them)."""
    if cache is None:
        return None
    sizes = {k: v for k, v in asdict(cfg).items() if not k.endswith("_epochs")}
    key = {"config": sizes, "seed": seed, "families": list(scripted.TRAINABLE)}
    if cache.exists():
        stored, prepared = pickle.loads(cache.read_bytes())  # noqa: S301 - our own file
        stored["config"] = {k: v for k, v in stored["config"].items() if not k.endswith("_epochs")}
        if stored != key:
            raise SystemExit(f"{cache} holds windows of another config: {stored}")
        return prepared  # type: ignore[no-any-return]
    prepared = build_data(cfg, seed=seed, jobs=jobs)
    cache.write_bytes(pickle.dumps((key, prepared)))
    return prepared


def run(
    cfg: Config,
    out: Path,
    *,
    seed: int,
    jobs: int,
    hold_families: Sequence[str] = (),
    hold_contexts: Sequence[str] = (),
    use_ae: bool = False,
    prepared: TrainData | None = None,
    members: int = net.MEMBERS,
) -> dict[str, Any]:
    started = time.perf_counter()
    net.set_use_ae(use_ae)
    full = prepared or build_data(cfg, seed=seed, jobs=jobs)
    d = full.without(hold_families, hold_contexts)
    families = [f for f in scripted.TRAINABLE if f not in hold_families]
    ctx_names = [c for c in contexts.CONTEXTS if c not in hold_contexts]
    humans, robots, val_humans, val_bots = d.humans, d.robots, d.val_humans, d.val_bots
    val_groups, val_ctx = list(d.val_groups), list(d.val_humans.context)

    keep = has_segments(humans)
    seg_center, seg_scale = robust_scale(humans.segments)
    z = np.clip((humans.segments - seg_center) / seg_scale, -net.CLIP, net.CLIP)
    ae = train_autoencoder(z.astype(np.float32), epochs=cfg.ae_epochs, seed=seed)
    model = net.BehaviourNet(ae, seg_center, seg_scale)
    model.eval()

    v_h, _ = input_vectors(model, humans)
    v_b, _ = input_vectors(model, robots)
    in_center, in_scale = input_scale(v_h)
    model.in_center.copy_(torch.from_numpy(in_center))
    model.in_scale.copy_(torch.from_numpy(in_scale))
    zv = standardise(np.concatenate([v_h, v_b]), in_center, in_scale)
    y = np.concatenate([np.zeros(len(v_h)), np.ones(len(v_b))]).astype(np.float32)
    for h, name in enumerate(net.HEADS):
        cols = [net.INPUT_NAMES.index(n) for n in net.HEAD_INPUTS[name]]
        stack = []
        for m in range(members):  # member 0 has the seed a single head had (v2, v3)
            head = net.Head(len(cols))
            train_head(head, zv[:, cols], y, epochs=cfg.head_epochs, seed=head_seed(seed, h, m))
            stack.append(head)
        model.heads[h] = net.HeadStack.pack(stack)
        print(f"  head {name}: {len(cols)} inputs, {members} members", flush=True)
    model.eval()

    vh_val, ae_h = input_vectors(model, val_humans)
    vb_val, ae_b = input_vectors(model, val_bots)
    lg_h, lg_b = logits(model, vh_val), logits(model, vb_val)
    norm = head_norm(lg_h)
    score_h = combined(lg_h, norm)
    anchors_by, cal_info = calibrate_groups(score_h, val_groups, val_ctx)
    anchors = anchors_by["all"]
    ae_anchors = calibrate(ae_h.astype(np.float64))
    bot_families = [g for g, k in zip(val_bots.group, has_segments(val_bots), strict=True) if k]
    risk_h = risk_by_group(score_h, val_groups, anchors_by)
    risk_b = risk_of(combined(lg_b, norm), anchors)
    table = validation_table(risk_h, risk_b, bot_families)
    outside = {
        c: round(float((risk_h[np.asarray(val_ctx) == c] > BAND_RISK).mean()), 4) for c in ctx_names
    }
    ae_table = validation_table(
        risk_of(ae_h.astype(np.float64), ae_anchors),
        risk_of(ae_b.astype(np.float64), ae_anchors),
        bot_families,
    )

    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{MODEL_NAME}.onnx"
    first = int(np.flatnonzero(keep)[0]) if keep.any() else 0
    net.export(model, str(onnx_path), humans.matrix(first).copy())
    seconds = time.perf_counter() - started
    meta: dict[str, Any] = {
        "model": MODEL_NAME,
        "features": list(FEATURE_NAMES),
        "window_features": list(WINDOW_NAMES),
        "inputs": list(net.INPUT_NAMES),
        "heads": list(net.HEADS),
        "head_inputs": {h: list(net.HEAD_INPUTS[h]) for h in net.HEADS},
        "groups": list(net.GROUPS),
        "head_norm": norm,
        "head_quantile": [HEAD_QUANTILE[h] for h in net.HEADS],
        "anchors": anchors,
        "anchors_by_group": {g: anchors_by[g] for g in GROUP_NAMES},
        "calibration": {"band_risk": BAND_RISK, "edge_quantile": EDGE_QUANTILE, **cal_info},
        "ae_anchors": ae_anchors,
        "pixels_unknown": "median",
        "versions": _versions(),
        "train": {
            "subjects": d.train_subjects,
            "windows": len(humans),
            "segments": int(humans.segments.shape[0]),
            "contexts": ctx_names,
            "bot_sessions": len(robots),
            "bot_families": families,
            "held_out": {"families": list(hold_families), "contexts": list(hold_contexts)},
            "bot_seeds": [0, cfg.per_family + 4 * data.RETRY_SEED_STEP],
            "use_ae": use_ae,
            "ae_epochs": cfg.ae_epochs,
            "head_epochs": cfg.head_epochs,
            "head_members": members,
            "seed": seed,
            "split_seed": d.split_seed,
        },
        "validation": {
            "subjects": d.val_subjects,
            "windows": len(val_humans),
            "bot_seeds": [VALIDATION_SEED0, VALIDATION_SEED0 + cfg.val_per_family],
            "outside_band_by_context": outside,
            "model": table,
            "autoencoder": ae_table,
        },
        "seconds": round(seconds, 1),
        "command": "python -m haechi.ml.train",
    }
    (out / f"{MODEL_NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(
        json.dumps({"outside_band": outside, "validation": meta["validation"]["model"]}, indent=1),
        flush=True,
    )
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
    parser.add_argument("--hold-out-family", choices=scripted.TRAINABLE, action="append")
    parser.add_argument("--hold-out-context", choices=contexts.CONTEXTS, action="append")
    parser.add_argument(
        "--ae",
        action="store_true",
        help="the behaviour head reads the AutoEncoder's errors (v4; since v5 it does not)",
    )
    parser.add_argument(
        "--no-ae", action="store_true", help="the default since v5 (kept for old commands)"
    )
    parser.add_argument(
        "--held-out-all",
        metavar="DIR",
        help=f"train the {LOO_RUNS} leave-out models into DIR/run<k>: run k without the "
        f"families TRAINABLE[k::{LOO_RUNS}] and the contexts CONTEXTS[k::{LOO_RUNS}], all from "
        "one set of windows (each family and each context is held out of exactly one run)",
    )
    parser.add_argument(
        "--members", type=int, default=net.MEMBERS, help="seeds per head (shipped: 5)"
    )
    parser.add_argument(
        "--data-cache",
        type=Path,
        help="keep the training windows in this file and reuse them (same config and seed)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = QUICK if args.quick else FULL
    prepared = cached_data(cfg, seed=args.seed, jobs=args.jobs, cache=args.data_cache)
    if args.held_out_all:
        prepared = prepared or build_data(cfg, seed=args.seed, jobs=args.jobs)
        loo = LOO if not args.quick else cfg
        if not (args.ae and not args.no_ae):  # the heads never read it: one epoch for `ae`
            loo = replace(loo, ae_epochs=1)
        for k in range(LOO_RUNS):
            run(
                loo,
                Path(args.held_out_all) / f"run{k}",
                seed=args.seed,
                jobs=args.jobs,
                hold_families=scripted.TRAINABLE[k::LOO_RUNS],
                hold_contexts=contexts.CONTEXTS[k::LOO_RUNS],
                use_ae=args.ae and not args.no_ae,
                prepared=prepared,
                members=args.members,
            )
        return 0
    kw: dict[str, Any] = {
        "seed": args.seed,
        "jobs": args.jobs,
        "hold_families": args.hold_out_family or (),
        "hold_contexts": args.hold_out_context or (),
        "use_ae": args.ae and not args.no_ae,
        "prepared": prepared,
        "members": args.members,
    }
    if args.out:
        run(cfg, Path(args.out), **kw)
    elif args.quick:
        with tempfile.TemporaryDirectory(prefix="haechi-train-") as tmp:
            run(cfg, Path(tmp), **kw)
    else:
        run(cfg, sapimouse.repo_root() / "src/haechi/models", **kw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
