"""Evaluate a risk scorer on widget-sized windows: held-out people against each bot family.

Humans: windows of 3-10 s cut at random from the SapiMouse recordings of the subjects of one
split part (``test`` by default), each re-timed to a browser frame rate drawn from 30, 60, 120
and 144 Hz (``features.resample``) and written as telemetry v1 with the recorder's rules. Bots:
sessions of the same length from each family of ``haechi.ml.bots`` (seeds from ``BOT_SEED0``,
disjoint from any training seeds); the ``replay`` family maps the movement of the same held-out
subjects onto the bots' own targets, and is reported apart: no model may train on it. So are
two smarter replay tools (``bots.REPLAY_DIRECTION``, ``bots.REPLAY_UNROTATED``): segments picked
by direction too, rotated by at most 30 degrees or not at all.

For each family: AUC (risk as the score, ties count half), the share of bots caught at 1% of
humans flagged (TPR at 1% FPR), and the human and bot pass rates at the thresholds that let 95%
and 99% of the humans through (pass = risk <= threshold). 95% intervals come from a bootstrap
that resamples human *subjects* (windows of one person move together) and bot sessions.

    python -m haechi.ml.evaluate --scorer model        # the shipped model, as served
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from haechi.ml import bots, sapimouse
from haechi.risk.features import (
    MOVE,
    PAUSE_MS,
    SAMPLE_RATES,
    UP,
    Trajectory,
    resample,
    to_telemetry,
)
from haechi.risk.model import BehaviourModel
from haechi.risk.scoring import HeuristicScorer, RiskInput, RiskResult, RiskScorer
from haechi.risk.telemetry import parse_telemetry

BOT_SEED0: Final = 1_000_000  # evaluation bots use seeds from here; training uses fewer
WINDOW_S: Final = (3.0, 10.0)
MIN_WINDOW_MOVES: Final = 10
ACCEPT: Final = (0.95, 0.99)  # human pass rates the thresholds are set for
Telemetry = dict[str, object]


def human_windows(
    recordings: Sequence[sapimouse.Recording],
    *,
    per_subject: int,
    seed: int,
    window_s: tuple[float, float] = WINDOW_S,
    rates: Sequence[float] = SAMPLE_RATES,
) -> list[tuple[int, Telemetry]]:
    """``per_subject`` random windows per subject, resampled to a random rate: (subject, obj)."""
    rng = np.random.default_rng(seed)
    by_subject: dict[int, list[Trajectory]] = {}
    for rec in recordings:
        by_subject.setdefault(rec.subject, []).append(rec.trajectory)
    out: list[tuple[int, Telemetry]] = []
    for subject in sorted(by_subject):
        trajs = by_subject[subject]
        got = tries = 0
        while got < per_subject and tries < per_subject * 20:
            tries += 1
            traj = trajs[int(rng.integers(len(trajs)))]
            length = rng.uniform(*window_s) * 1000.0
            onsets = movement_onsets(traj)
            onsets = onsets[traj.t[onsets] < traj.t[-1] - length]
            if not onsets.shape[0]:
                continue
            first = int(onsets[int(rng.integers(onsets.shape[0]))])
            gap = float(traj.t[first] - traj.t[first - 1]) if first else 200.0
            start = float(traj.t[first]) - float(rng.uniform(0.0, max(0.0, min(200.0, gap - 1))))
            lo, hi = np.searchsorted(traj.t, [start, start + length])
            win = traj.window(int(lo), int(hi))
            if int((win.kind == 0).sum()) < MIN_WINDOW_MOVES:
                continue
            hz = float(rates[int(rng.integers(len(rates)))])
            win = resample(win, hz, rng=rng, jitter_ms=0.3)
            out.append((subject, to_telemetry(win, start_ms=start)))
            got += 1
    return out


def movement_onsets(traj: Trajectory) -> npt.NDArray[np.int64]:
    """Indices of moves that start a movement: the first, and those after an up or a pause.

    A widget starts recording before the visitor moves; a window starts at one of these.
    """
    t, kind = traj.t, traj.kind
    if not t.shape[0]:
        return np.zeros(0, np.int64)
    onset = kind == MOVE
    onset[1:] &= (kind[:-1] == UP) | (np.diff(t) > PAUSE_MS)
    return np.flatnonzero(onset)


def bot_windows(
    family: str, n: int, *, seed0: int = BOT_SEED0, pool: Sequence[bots.ReplaySegment] = ()
) -> list[Telemetry]:
    return [
        bots.session(family, seed0 + i, pool=pool or None).telemetry(with_viewport=False)
        for i in range(n)
    ]


def auc(humans: npt.NDArray[np.float64], bots_: npt.NDArray[np.float64]) -> float:
    """P(bot scores above human) + half P(tie): the Mann-Whitney AUC."""
    if not humans.shape[0] or not bots_.shape[0]:
        return float("nan")
    h = np.sort(humans)
    below = np.searchsorted(h, bots_, side="left")
    equal = np.searchsorted(h, bots_, side="right") - below
    return float((below + 0.5 * equal).sum() / (h.shape[0] * bots_.shape[0]))


def threshold(humans: npt.NDArray[np.float64], accept: float) -> float:
    """The lowest risk threshold that lets at least ``accept`` of the humans pass (risk <= it)."""
    h = np.sort(humans)
    return float(h[min(h.shape[0] - 1, max(0, int(np.ceil(accept * h.shape[0])) - 1))])


@dataclass(frozen=True, slots=True)
class FamilyResult:
    family: str
    n: int
    auc: float
    auc_ci: tuple[float, float]
    tpr_at_1pct_fpr: float
    bot_pass: dict[str, float]  # per acceptance level, "95" and "99"
    bot_pass_ci: dict[str, tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Report:
    scorer: str
    split: str
    humans: int
    subjects: int
    thresholds: dict[str, float]
    human_pass: dict[str, float]
    human_pass_ci: dict[str, tuple[float, float]]
    families: list[FamilyResult]
    seconds: float


def _interval(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v == v], np.float64)
    if not arr.shape[0]:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return (round(float(lo), 4), round(float(hi), 4))


def summarise(
    scorer: str,
    split: str,
    human_risk: npt.NDArray[np.float64],
    human_subject: npt.NDArray[np.int64],
    bot_risk: dict[str, npt.NDArray[np.float64]],
    *,
    boot: int = 500,
    seed: int = 0,
    seconds: float = 0.0,
) -> Report:
    rng = np.random.default_rng(seed)
    subjects = np.unique(human_subject)
    rows_of = [np.flatnonzero(human_subject == s) for s in subjects]
    thr = {f"{round(a * 100)}": threshold(human_risk, a) for a in ACCEPT}
    # Bootstrap samples of humans, by subject; thresholds are re-fitted in each sample.
    samples = []
    for _ in range(boot):
        pick: list[int] = rng.integers(len(rows_of), size=len(rows_of)).tolist()
        samples.append(human_risk[np.concatenate([rows_of[i] for i in pick])])
    human_pass = {k: float((human_risk <= v).mean()) for k, v in thr.items()}
    human_pass_ci = {
        f"{round(a * 100)}": _interval([float((h <= threshold(h, a)).mean()) for h in samples])
        for a in ACCEPT
    }
    families = []
    for family, risk in bot_risk.items():
        aucs: list[float] = []
        passes: dict[str, list[float]] = {k: [] for k in thr}
        for h in samples:
            b = risk[rng.integers(risk.shape[0], size=risk.shape[0])]
            aucs.append(auc(h, b))
            for a in ACCEPT:
                passes[f"{round(a * 100)}"].append(float((b <= threshold(h, a)).mean()))
        bot_pass = {k: float((risk <= v).mean()) for k, v in thr.items()}
        families.append(
            FamilyResult(
                family=family,
                n=int(risk.shape[0]),
                auc=auc(human_risk, risk),
                auc_ci=_interval(aucs),
                tpr_at_1pct_fpr=1.0 - bot_pass["99"],
                bot_pass=bot_pass,
                bot_pass_ci={k: _interval(v) for k, v in passes.items()},
            )
        )
    return Report(
        scorer=scorer,
        split=split,
        humans=int(human_risk.shape[0]),
        subjects=int(subjects.shape[0]),
        thresholds=thr,
        human_pass=human_pass,
        human_pass_ci=human_pass_ci,
        families=families,
        seconds=seconds,
    )


def format_report(report: Report) -> str:
    def pct(v: float) -> str:
        return f"{100 * v:5.1f}%"

    def ci(pair: tuple[float, float], scale: float = 100.0) -> str:
        return f"[{scale * pair[0]:.1f}, {scale * pair[1]:.1f}]"

    lines = [
        f"scorer {report.scorer} · split {report.split} · {report.humans} human windows from "
        f"{report.subjects} subjects · {report.seconds:.1f} s",
        "thresholds (pass = risk <= t): "
        + ", ".join(
            f"{k}% humans: t={report.thresholds[k]:g}, human pass {pct(report.human_pass[k])} "
            f"{ci(report.human_pass_ci[k])}"
            for k in report.thresholds
        ),
        "",
        "| family | n | AUC [95% CI] | TPR@1%FPR | bot pass @95% humans [CI] | "
        "bot pass @99% humans [CI] |",
        "|---|---:|---|---:|---|---|",
    ]
    for f in report.families:
        name = f"{f.family} (held out)" if f.family in bots.REPLAYS else f.family
        lines.append(
            f"| {name} | {f.n} | {f.auc:.3f} [{f.auc_ci[0]:.3f}, {f.auc_ci[1]:.3f}] | "
            f"{pct(f.tpr_at_1pct_fpr)} | {pct(f.bot_pass['95'])} {ci(f.bot_pass_ci['95'])} | "
            f"{pct(f.bot_pass['99'])} {ci(f.bot_pass_ci['99'])} |"
        )
    return "\n".join(lines)


NO_JUDGEMENT_RISK: Final = 50  # a window the model cannot judge (no usable movement) scores this


class ModelScorer:
    """The shipped behaviour model through its serving class (``haechi.risk.model``).

    Pointer behaviour only: the request signals (hints, IP rate, anomalies) are the combined
    scorer's. A window without usable movement gets ``NO_JUDGEMENT_RISK``.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.behaviour = BehaviourModel(path).get()
        self.model = self.behaviour.name

    def score(self, inp: RiskInput) -> RiskResult:
        a = self.behaviour.assess(inp.telemetry)
        risk = NO_JUDGEMENT_RISK if a.risk is None else a.risk
        return RiskResult(risk=risk, reasons=a.reasons, model=self.model)


class AutoencoderScorer(ModelScorer):
    """The shipped model's AutoEncoder alone (people only, no bot ever seen), with its own
    calibration on held-out people: the baseline the heads must beat."""

    def score(self, inp: RiskInput) -> RiskResult:
        s = self.behaviour.scores(inp.telemetry)
        if s is None:
            return RiskResult(NO_JUDGEMENT_RISK, ("no-segments",), f"{self.model}:ae")
        risk = self.behaviour.autoencoder_risk(s.autoencoder)
        return RiskResult(risk=risk, reasons=("behaviour",), model=f"{self.model}:ae")


def load_scorer(name: str) -> RiskScorer:
    """``heuristic``, ``model`` (the shipped behaviour model), ``autoencoder`` (its AutoEncoder
    alone), or ``module:attribute`` naming a scorer class or factory (no arguments)."""
    if name == "heuristic":
        return HeuristicScorer()
    if name == "model":
        return ModelScorer()
    if name == "autoencoder":
        return AutoencoderScorer()
    module, _, attr = name.partition(":")
    if not attr:
        raise SystemExit(f"unknown scorer {name!r}: heuristic, model, autoencoder or module:attr")
    factory: Callable[[], RiskScorer] = getattr(importlib.import_module(module), attr)
    return factory()


def risks(scorer: RiskScorer, objs: Sequence[Telemetry]) -> npt.NDArray[np.float64]:
    return np.array(
        [scorer.score(RiskInput(telemetry=parse_telemetry(o))).risk for o in objs], np.float64
    )


def evaluate(
    scorer_name: str,
    *,
    split: str = "test",
    per_subject: int = 100,
    per_family: int = 400,
    seed: int = 0,
    boot: int = 500,
    families: Sequence[str] = bots.EVAL_FAMILIES,
) -> Report:
    started = time.perf_counter()
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found: set HAECHI_SAPIMOUSE_DIR")
    parts = sapimouse.split_subjects(sapimouse.subjects(root))
    recordings = sapimouse.load(root, only=parts.part(split))
    scorer = load_scorer(scorer_name)
    windows = human_windows(recordings, per_subject=per_subject, seed=seed)
    human_risk = risks(scorer, [w for _, w in windows])
    human_subject = np.array([s for s, _ in windows], np.int64)
    pool = bots.replay_pool([r.trajectory for r in recordings])
    bot_risk = {
        family: risks(scorer, bot_windows(family, per_family, seed0=BOT_SEED0 + seed, pool=pool))
        for family in families
    }
    return summarise(
        scorer_name,
        split,
        human_risk,
        human_subject,
        bot_risk,
        boot=boot,
        seed=seed,
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.evaluate", description=__doc__)
    parser.add_argument(
        "--scorer", default="model", help="model, autoencoder, heuristic, or module:attribute"
    )
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--per-subject", type=int, default=100, help="human windows per subject")
    parser.add_argument("--per-family", type=int, default=400, help="bot sessions per family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boot", type=int, default=500, help="bootstrap samples for intervals")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    report = evaluate(
        args.scorer,
        split=args.split,
        per_subject=args.per_subject,
        per_family=args.per_family,
        seed=args.seed,
        boot=args.boot,
    )
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(asdict(report), fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
