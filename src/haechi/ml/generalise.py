"""An evaluation that cannot flatter the behaviour model (issue 18): ``haechi risk evaluate``.

People: SapiMouse subjects of one split part (``validation`` while developing, ``test`` as the
final test), each crossed with every context of ``haechi.ml.contexts`` (the task, click-free
windows, random starts, other sample rates and timer jitter, device pixel ratios, idle and
scroll-heavy stretches) at every window length (3, 6 and 10 s): at least ``--per-cell``
windows per (context, length) cell. Bots: every family of ``haechi.ml.scripted`` (the
generators of ``bots`` and the scripted ones), the same lengths, seeds from
``evaluate.BOT_SEED0``; the replays are reported, not gated; the final family
(``scripted.FINAL_FAMILY``) only with ``--final``.

Everything is judged as served: the scorer is the edge's (``CombinedScorer``: the model plus
the request signals, at ``/v1/solve``, where the model judges a visit), and a window passes
when the policy the edge runs (``Settings().policy``, security level medium, attack level 0)
puts it in its *no-task band* (the leading bands that ask for no visual task; read from the
settings at run time). Per cell: the share of people's windows outside that band, with a 95%
interval from a bootstrap over people (a person's windows move together); per family: AUC
(against the people of every context, and the lowest over contexts) and the share of bot
windows inside the band. The gate (``gate``) is the worst cell and the worst family:

- people: at most 3% of windows of 6 s or more outside the band in every context, at most 10%
  of 3-s windows;
- bots (not replays): AUC >= 0.97 against the people of every context, at most 10% of
  windows in the band.

    haechi risk evaluate --split validation                 # development
    haechi risk evaluate --split test --final               # the final test
    haechi risk evaluate --model old.onnx --model new.onnx  # side by side
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from haechi.core.settings import Settings
from haechi.ml import bots, contexts, sapimouse, scripted
from haechi.ml.evaluate import BOT_SEED0, auc
from haechi.risk.engine import LazyBehaviour, shipped_model_loader
from haechi.risk.scoring import CombinedScorer, RiskInput
from haechi.risk.telemetry import parse_telemetry

HUMAN_LONG_MAX: Final = 0.03  # windows of 6 s or more outside the no-task band
HUMAN_SHORT_MAX: Final = 0.10  # 3-s windows
BOT_AUC_MIN: Final = 0.97
BOT_PASS_MAX: Final = 0.10
# Leave-out runs score every window of their held-out contexts and this share of the others
# (the held-out families' AUC is against the people of every context).
OTHER_CONTEXT_SHARE: Final = 0.3
F64 = npt.NDArray[np.float64]


def no_task_limit(settings: Settings | None = None, *, security: str = "medium") -> int:
    """The highest risk the served policy puts in a band without a visual task (or block), at
    ``security`` and attack level 0: risk <= this passes invisibly."""
    policy = (settings or Settings()).policy
    offset = policy.security_offsets.get(security, 0)
    limit = -1
    for band in policy.bands:
        if band.challenges or band.block:
            break
        limit = band.max_risk
    return limit - offset


@dataclass(frozen=True, slots=True)
class Cell:
    context: str
    length_s: float
    n: int
    outside: float
    outside_ci: tuple[float, float]
    with_clicks: int
    outside_clicks: float
    outside_no_clicks: float
    limit: float


@dataclass(frozen=True, slots=True)
class Family:
    family: str
    n: int
    auc: float
    auc_ci: tuple[float, float]
    worst_context_auc: float
    worst_context: str
    in_band: float
    in_band_ci: tuple[float, float]
    gated: bool


@dataclass(frozen=True, slots=True)
class ZooFamily:
    """One family of the bot zoo's recordings (``bench/bots/recordings``, issue 17: real
    browsers through the widget), scored as served. Reported, not gated: about ten sessions a
    family, recorded on the development machine."""

    family: str
    records: int
    judged: int  # records with a solve-stage telemetry object that has pointer events
    in_band: float  # share of the judged ones in the no-task band
    median_risk: float
    auc: float  # against the people windows of this evaluation (every context)
    people: bool


@dataclass(slots=True)
class Report:
    model: str
    split: str
    subjects: int
    limit: int
    cells: list[Cell] = field(default_factory=list)
    families: list[Family] = field(default_factory=list)
    by_length: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    zoo: list[ZooFamily] = field(default_factory=list)

    def gate(self) -> dict[str, Any]:
        worst_long = max((c for c in self.cells if c.length_s >= 6), key=lambda c: c.outside)
        worst_short = max((c for c in self.cells if c.length_s < 6), key=lambda c: c.outside)
        gated = [f for f in self.families if f.gated]
        worst_auc = min(gated, key=lambda f: f.worst_context_auc)
        worst_pass = max(gated, key=lambda f: f.in_band)
        ok = (
            worst_long.outside <= HUMAN_LONG_MAX
            and worst_short.outside <= HUMAN_SHORT_MAX
            and worst_auc.worst_context_auc >= BOT_AUC_MIN
            and worst_pass.in_band <= BOT_PASS_MAX
        )
        return {
            "ok": ok,
            "worst_long": [worst_long.context, worst_long.length_s, worst_long.outside],
            "worst_short": [worst_short.context, worst_short.length_s, worst_short.outside],
            "worst_auc": [worst_auc.family, worst_auc.worst_context, worst_auc.worst_context_auc],
            "worst_bot_pass": [worst_pass.family, worst_pass.in_band],
        }


def _interval(values: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v == v], np.float64)
    if not arr.shape[0]:
        return (math.nan, math.nan)
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return (round(float(lo), 4), round(float(hi), 4))


def served_scorer(model: Path | None) -> CombinedScorer:
    return CombinedScorer(LazyBehaviour(shipped_model_loader(model)))


def score_all(scorer: CombinedScorer, objs: Sequence[dict[str, object]]) -> F64:
    return np.array(
        [scorer.score(RiskInput(telemetry=parse_telemetry(o), stage="solve")).risk for o in objs],
        np.float64,
    )


def bot_telemetry(
    family: str, per_family: int, *, seed: int, lengths_s: Sequence[float], pool: Any
) -> tuple[list[dict[str, object]], list[float]]:
    objs, lengths = [], []
    for i in range(per_family):
        length = lengths_s[i % len(lengths_s)]
        s = scripted.session(
            family, BOT_SEED0 + seed + i, duration_ms=length * 1000.0, pool=pool or None
        )
        objs.append(s.telemetry(with_viewport=False))
        lengths.append(length)
    return objs, lengths


@dataclass(frozen=True, slots=True)
class Data:
    subjects: npt.NDArray[np.int64]
    context: npt.NDArray[np.str_]
    length: F64
    clicks: npt.NDArray[np.bool_]
    human: list[dict[str, object]]
    bots: dict[str, list[dict[str, object]]]
    n_subjects: int

    def subset(self, keep: npt.NDArray[np.bool_]) -> Data:
        """The people's windows where ``keep``; the bots unchanged."""
        rows = np.flatnonzero(keep)
        return Data(
            self.subjects[rows],
            self.context[rows],
            self.length[rows],
            self.clicks[rows],
            [self.human[int(i)] for i in rows],
            self.bots,
            self.n_subjects,
        )


def build(
    *,
    split: str,
    per_cell: int,
    per_family: int,
    seed: int,
    families: Sequence[str],
    context_names: Sequence[str] = contexts.CONTEXTS,
    lengths_s: Sequence[float] = contexts.LENGTHS_S,
) -> Data:
    root = sapimouse.find_data_dir()
    if root is None:
        raise SystemExit("SapiMouse not found: set HAECHI_SAPIMOUSE_DIR")
    parts = sapimouse.split_subjects(sapimouse.subjects(root))
    recs = sapimouse.load(root, only=parts.part(split))
    ids = sorted({r.subject for r in recs})
    per_subject = max(1, math.ceil(per_cell / len(ids)))
    windows = contexts.human_windows(
        [(r.subject, r.trajectory) for r in recs],
        contexts=context_names,
        lengths_s=lengths_s,
        per_cell_subject=per_subject,
        seed=seed + 17,
    )
    pool = bots.replay_pool([r.trajectory for r in recs])
    bot_objs = {
        f: bot_telemetry(f, per_family, seed=seed, lengths_s=lengths_s, pool=pool)[0]
        for f in families
    }
    return Data(
        subjects=np.array([s for s, _ in windows], np.int64),
        context=np.array([w.context for _, w in windows]),
        length=np.array([w.length_ms / 1000.0 for _, w in windows], np.float64),
        clicks=np.array([w.clicks for _, w in windows], bool),
        human=[w.telemetry for _, w in windows],
        bots=bot_objs,
        n_subjects=len(ids),
    )


def summarise(
    name: str,
    split: str,
    data: Data,
    human_risk: F64,
    bot_risk: dict[str, F64],
    *,
    limit: int,
    boot: int,
    seed: int,
) -> Report:
    rng = np.random.default_rng(seed)
    report = Report(model=name, split=split, subjects=data.n_subjects, limit=limit)
    outside = human_risk > limit
    ids = np.unique(data.subjects)
    rows_of = {int(s): np.flatnonzero(data.subjects == s) for s in ids}
    picks = [rng.choice(ids, size=ids.shape[0]) for _ in range(boot)]
    for ctx in dict.fromkeys(data.context.tolist()):
        for length in sorted(set(data.length.tolist())):
            cell = (data.context == ctx) & (data.length == length)
            if not cell.any():
                continue
            boots = []
            for pick in picks:
                rows = np.concatenate([rows_of[int(s)] for s in pick])
                rows = rows[cell[rows]]
                boots.append(float(outside[rows].mean()) if rows.shape[0] else math.nan)
            clicks = cell & data.clicks
            no_clicks = cell & ~data.clicks
            report.cells.append(
                Cell(
                    context=str(ctx),
                    length_s=float(length),
                    n=int(cell.sum()),
                    outside=float(outside[cell].mean()),
                    outside_ci=_interval(boots),
                    with_clicks=int(clicks.sum()),
                    outside_clicks=float(outside[clicks].mean()) if clicks.any() else math.nan,
                    outside_no_clicks=(
                        float(outside[no_clicks].mean()) if no_clicks.any() else math.nan
                    ),
                    limit=HUMAN_LONG_MAX if length >= 6 else HUMAN_SHORT_MAX,
                )
            )
    for length in sorted(set(data.length.tolist())):
        sel = data.length == length
        report.by_length[f"{length:g}"] = {
            "outside_clicks": float(outside[sel & data.clicks].mean())
            if (sel & data.clicks).any()
            else math.nan,
            "outside_no_clicks": float(outside[sel & ~data.clicks].mean())
            if (sel & ~data.clicks).any()
            else math.nan,
        }
    ctx_names = list(dict.fromkeys(data.context.tolist()))
    for family, risk in bot_risk.items():
        per_ctx = {c: auc(human_risk[data.context == c], risk) for c in ctx_names}
        worst = min(per_ctx, key=lambda c: per_ctx[c])
        aucs, passes = [], []
        for pick in picks[: max(1, boot // 5)]:
            rows = np.concatenate([rows_of[int(s)] for s in pick])
            b = risk[rng.integers(risk.shape[0], size=risk.shape[0])]
            aucs.append(auc(human_risk[rows], b))
            passes.append(float((b <= limit).mean()))
        report.families.append(
            Family(
                family=family,
                n=int(risk.shape[0]),
                auc=auc(human_risk, risk),
                auc_ci=_interval(aucs),
                worst_context_auc=per_ctx[worst],
                worst_context=worst,
                in_band=float((risk <= limit).mean()),
                in_band_ci=_interval(passes),
                gated=family not in bots.REPLAYS,
            )
        )
    return report


def format_report(r: Report) -> str:
    def pct(v: float) -> str:
        return "—" if v != v else f"{100 * v:.1f}%"

    lines = [
        f"model {r.model} · split {r.split} · {r.subjects} subjects · served scorer at "
        f"/v1/solve · no-task band: risk <= {r.limit} (medium, attack 0) · {r.seconds:.0f} s",
        "",
        "| context | length | n | outside no-task band [95% CI by person] | with clicks (n) | "
        "without clicks | limit |",
        "|---|---:|---:|---|---|---|---:|",
    ]
    for c in r.cells:
        flag = "" if c.outside <= c.limit else " ✗"
        lines.append(
            f"| {c.context} | {c.length_s:g} s | {c.n} | {pct(c.outside)} "
            f"[{pct(c.outside_ci[0])}, {pct(c.outside_ci[1])}]{flag} | "
            f"{pct(c.outside_clicks)} ({c.with_clicks}) | {pct(c.outside_no_clicks)} | "
            f"{pct(c.limit)} |"
        )
    lines += [
        "",
        "| family | n | AUC [95% CI] | worst context: AUC | in no-task band [95% CI] |",
        "|---|---:|---|---|---|",
    ]
    for f in r.families:
        name = f.family if f.gated else f"{f.family} (reported, not gated)"
        bad = f.gated and (f.worst_context_auc < BOT_AUC_MIN or f.in_band > BOT_PASS_MAX)
        lines.append(
            f"| {name} | {f.n} | {f.auc:.3f} [{f.auc_ci[0]:.3f}, {f.auc_ci[1]:.3f}] | "
            f"{f.worst_context}: {f.worst_context_auc:.3f} | {pct(f.in_band)} "
            f"[{pct(f.in_band_ci[0])}, {pct(f.in_band_ci[1])}]{' ✗' if bad else ''} |"
        )
    if r.zoo:
        lines += [
            "",
            "bot zoo recordings (bench/bots/recordings; reported, not gated: about ten a family)",
            "",
            "| zoo family | records | judged | in no-task band | median risk | AUC vs people |",
            "|---|---:|---:|---|---:|---|",
        ]
        for z in r.zoo:
            lines.append(
                f"| {z.family} | {z.records} | {z.judged} | {pct(z.in_band)} | "
                f"{z.median_risk:.0f} | {'—' if z.people else f'{z.auc:.3f}'} |"
            )
    g = r.gate()
    lines += [
        "",
        f"gate {'PASS' if g['ok'] else 'FAIL'}: worst >= 6 s cell {g['worst_long'][0]} "
        f"{g['worst_long'][1]:g} s {pct(g['worst_long'][2])} (<= 3%); worst 3 s cell "
        f"{g['worst_short'][0]} {pct(g['worst_short'][2])} (<= 10%); worst AUC "
        f"{g['worst_auc'][0]} vs {g['worst_auc'][1]} {g['worst_auc'][2]:.3f} (>= 0.97); most "
        f"bots in band {g['worst_bot_pass'][0]} {pct(g['worst_bot_pass'][1])} (<= 10%)",
    ]
    return "\n".join(lines)


ZOO_DIR: Final = sapimouse.repo_root() / "bench" / "bots" / "recordings"


def zoo_telemetry(root: Path = ZOO_DIR) -> dict[str, tuple[int, list[dict[str, object]]]]:
    """Per zoo family (``people/pointer``, ``pw-headed/bezier``, ...): its record count and,
    for each record that has one, the last solve-stage telemetry object with pointer events
    (what the edge judges a visit on). Families without any such object are left out."""
    out: dict[str, tuple[int, list[dict[str, object]]]] = {}
    for path in sorted(root.glob("*.jsonl")) if root.is_dir() else []:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        objs = []
        for rec in records:
            solves = [
                t["telemetry"]
                for t in rec.get("telemetry", [])
                if t.get("stage") == "solve" and _has_pointer_events(t.get("telemetry"))
            ]
            if solves:
                objs.append(solves[-1])
        if objs:
            family = str(records[0].get("family", path.stem))
            out[family] = (len(records), objs)
    return out


def _has_pointer_events(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    events = obj.get("events")
    if isinstance(events, dict):  # telemetry v2: columns, ``k`` the kinds
        return bool(events.get("k"))
    return bool(events)


def score_zoo(
    scorer: CombinedScorer, human_risk: F64, *, limit: int, root: Path = ZOO_DIR
) -> list[ZooFamily]:
    rows = []
    for family, (records, objs) in zoo_telemetry(root).items():
        risk = score_all(scorer, objs)
        people = family.startswith("people/")
        rows.append(
            ZooFamily(
                family=family,
                records=records,
                judged=len(objs),
                in_band=float((risk <= limit).mean()),
                median_risk=float(np.median(risk)),
                auc=math.nan if people else auc(human_risk, risk),
                people=people,
            )
        )
    return rows


def _cached(cache: Path | None, key: dict[str, Any]) -> Data | None:
    """The windows of an earlier run with the same parameters (``--cache``: a pickle this
    command wrote; only read files you wrote yourself)."""
    if cache is None or not cache.exists():
        return None
    stored_key, data = pickle.loads(cache.read_bytes())  # noqa: S301 - our own file
    if stored_key != key:
        raise SystemExit(f"{cache} holds windows of other parameters: {stored_key}")
    return data  # type: ignore[no-any-return]


def load_or_build(
    *,
    split: str,
    per_cell: int,
    per_family: int,
    seed: int,
    families: Sequence[str],
    context_names: Sequence[str],
    cache: Path | None,
) -> Data:
    key = {
        "split": split,
        "per_cell": per_cell,
        "per_family": per_family,
        "seed": seed,
        "families": list(families),
        "contexts": list(context_names),
    }
    data = _cached(cache, key)
    if data is None:
        data = build(
            split=split,
            per_cell=per_cell,
            per_family=per_family,
            seed=seed,
            families=families,
            context_names=context_names,
        )
        if cache is not None:
            cache.write_bytes(pickle.dumps((key, data)))
    return data


def run(
    models: Sequence[Path | None],
    *,
    split: str,
    per_cell: int,
    per_family: int,
    seed: int,
    boot: int,
    final: bool,
    families: Sequence[str] | None = None,
    context_names: Sequence[str] = contexts.CONTEXTS,
    cache: Path | None = None,
) -> list[Report]:
    started = time.perf_counter()
    fams = list(families or scripted.ALL_FAMILIES)
    if not final:
        fams = [f for f in fams if f != scripted.FINAL_FAMILY]
    data = load_or_build(
        split=split,
        per_cell=per_cell,
        per_family=per_family,
        seed=seed,
        families=fams,
        context_names=context_names,
        cache=cache,
    )
    print(
        f"data: {len(data.human)} people windows, {sum(map(len, data.bots.values()))} bot "
        f"windows ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    limit = no_task_limit()
    reports = []
    for model in models:
        t0 = time.perf_counter()
        scorer = served_scorer(model)
        human = score_all(scorer, data.human)
        bot = {f: score_all(scorer, objs) for f, objs in data.bots.items()}
        name = model.stem if model is not None else f"{scorer.model} (shipped)"
        report = summarise(name, split, data, human, bot, limit=limit, boot=boot, seed=seed)
        report.zoo = score_zoo(scorer, human, limit=limit)
        report.seconds = time.perf_counter() - t0
        reports.append(report)
    return reports


def held_out(
    models: Sequence[Path],
    *,
    split: str,
    per_cell: int,
    per_family: int,
    seed: int,
    boot: int,
    families: Sequence[str],
    cache: Path | None = None,
) -> list[dict[str, Any]]:
    """Leave-out: each model was trained without some families and contexts (``train
    --held-out-all``, or ``--hold-out-family``/``--hold-out-context``; read from its JSON); it
    is judged on those contexts' cells and those families only (AUC against the people of every
    context)."""
    metas = [json.loads(m.with_suffix(".json").read_text()) for m in models]
    data = load_or_build(
        split=split,
        per_cell=per_cell,
        per_family=per_family,
        seed=seed,
        families=families,
        context_names=contexts.CONTEXTS,
        cache=cache,
    )
    limit = no_task_limit()
    rows = []
    rng = np.random.default_rng(seed)
    sample = rng.random(len(data.human)) < OTHER_CONTEXT_SHARE
    for model, meta in zip(models, metas, strict=True):
        held = meta["train"]["held_out"]
        # Every window of the held-out contexts; a sample of the others, for the AUC.
        part = data.subset(sample | np.isin(data.context, held["contexts"]))
        scorer = served_scorer(model)
        human = score_all(scorer, part.human)
        bot = {f: score_all(scorer, part.bots[f]) for f in held["families"]}
        r = summarise(model.parent.name, split, part, human, bot, limit=limit, boot=boot, seed=seed)
        rows.append(
            {
                "model": str(model),
                "families": held["families"],
                "contexts": held["contexts"],
                "cells": [asdict(c) for c in r.cells if c.context in held["contexts"]],
                "family_results": [asdict(f) for f in r.families],
            }
        )
        print(format_held_out(rows[-1]), flush=True)
    return rows


def format_held_out(row: dict[str, Any]) -> str:
    def pct(v: float) -> str:
        return "—" if v != v else f"{100 * v:.1f}%"

    held = ", ".join(row["contexts"]) + "; " + ", ".join(row["families"])
    parts = [f"held out of training: {held} ({row['model']})"]
    for c in row["cells"]:
        parts.append(
            f"| {c['context']} | {c['length_s']:g} s | {c['n']} | {pct(c['outside'])} "
            f"[{pct(c['outside_ci'][0])}, {pct(c['outside_ci'][1])}] | {pct(c['limit'])} |"
        )
    for f in row["family_results"]:
        parts.append(
            f"| {f['family']} | {f['n']} | AUC {f['auc']:.3f}, worst context "
            f"{f['worst_context']} {f['worst_context_auc']:.3f} | in band {pct(f['in_band'])} |"
        )
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="haechi risk evaluate", description=__doc__)
    parser.add_argument(
        "--model",
        action="append",
        type=Path,
        help="an ONNX behaviour model (repeatable; default: the shipped one)",
    )
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--per-cell", type=int, default=1000, help="people windows per cell")
    parser.add_argument("--per-family", type=int, default=1000, help="bot windows per family")
    parser.add_argument("--family", action="append", help="only these bot families")
    parser.add_argument("--context", action="append", help="only these contexts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boot", type=int, default=500)
    parser.add_argument(
        "--final", action="store_true", help=f"include the final family ({scripted.FINAL_FAMILY})"
    )
    parser.add_argument("--json", help="also write the reports as JSON to this file")
    parser.add_argument(
        "--cache",
        type=Path,
        help="keep the generated windows in this file and reuse them (same parameters only)",
    )
    parser.add_argument(
        "--held-out",
        nargs="+",
        type=Path,
        help="leave-one-out models (trained with --hold-out-family/--hold-out-context)",
    )
    args = parser.parse_args(argv)
    if args.held_out:
        rows = held_out(
            args.held_out,
            split=args.split,
            per_cell=args.per_cell,
            per_family=args.per_family,
            seed=args.seed,
            boot=args.boot,
            families=[
                f
                for f in args.family or scripted.ALL_FAMILIES
                if args.final or f != scripted.FINAL_FAMILY
            ],
            cache=args.cache,
        )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        return 0
    reports = run(
        args.model or [None],
        split=args.split,
        per_cell=args.per_cell,
        per_family=args.per_family,
        seed=args.seed,
        boot=args.boot,
        final=args.final,
        families=args.family,
        context_names=args.context or contexts.CONTEXTS,
        cache=args.cache,
    )
    for r in reports:
        print(format_report(r))
        print()
    if args.json:
        out = [{**asdict(r), "gate": r.gate()} for r in reports]
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0 if all(r.gate()["ok"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
