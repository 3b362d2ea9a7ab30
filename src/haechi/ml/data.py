"""Training data for the behaviour model: windows of people and of bots, as feature arrays.

Humans: widget-sized windows (3-10 s, re-timed to 30/60/120/144 Hz) of one part of the
SapiMouse subject split, made by ``evaluate.human_windows`` exactly as the evaluation makes
them. Bots: sessions of the five training families of ``haechi.ml.bots`` with seeds below
``TRAIN_SEED_LIMIT`` (evaluation uses seeds from 1,000,000), about half of them randomised by
``haechi.ml.augment``. The replay families are refused here: they never enter training.

Every window goes through the same path as a request at serving time (telemetry v1 ->
``parse_telemetry`` -> ``features.extract``), in worker processes; the order of the results does
not depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from haechi.ml import augment, bots, contexts, evaluate, sapimouse, scripted
from haechi.risk.features import N_FEATURES, N_WINDOW, extract, to_telemetry
from haechi.risk.telemetry import parse_telemetry

TRAIN_SEED_LIMIT: Final = 1_000_000
RETRY_SEED_STEP: Final = 7919  # a context window's session that was too short is redrawn
F32 = npt.NDArray[np.float32]
A = TypeVar("A")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Windows:
    """Feature arrays of many windows: ``segments[offsets[i]:offsets[i + 1]]`` are window i's."""

    segments: F32  # (all usable segments, N_FEATURES)
    offsets: npt.NDArray[np.int64]  # (windows + 1,)
    window: F32  # (windows, N_WINDOW)
    label: npt.NDArray[np.int8]  # 0 human, 1 bot
    group: tuple[str, ...]  # per window: "human" or the bot family
    subject: npt.NDArray[np.int64]  # SapiMouse subject (-1 for bots)
    context: tuple[str, ...] = ()  # per window: its context (``haechi.ml.contexts``), if any

    def __len__(self) -> int:
        return int(self.window.shape[0])

    def matrix(self, i: int) -> F32:
        return self.segments[self.offsets[i] : self.offsets[i + 1]]

    def select(self, keep: npt.NDArray[np.bool_]) -> Windows:
        rows = [self.matrix(int(i)) for i in np.flatnonzero(keep)]
        sizes = np.array([r.shape[0] for r in rows], np.int64)
        return Windows(
            np.concatenate(rows) if rows else np.zeros((0, N_FEATURES), np.float32),
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            self.window[keep],
            self.label[keep],
            tuple(g for g, k in zip(self.group, keep.tolist(), strict=True) if k),
            self.subject[keep],
            tuple(c for c, k in zip(self.context, keep.tolist(), strict=True) if k)
            if self.context
            else (),
        )


def concat(parts: Sequence[Windows]) -> Windows:
    sizes = np.concatenate([np.diff(p.offsets) for p in parts])
    return Windows(
        np.concatenate([p.segments for p in parts]),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.concatenate([p.window for p in parts]),
        np.concatenate([p.label for p in parts]),
        tuple(g for p in parts for g in p.group),
        np.concatenate([p.subject for p in parts]),
        tuple(c for p in parts for c in p.context) if all(p.context for p in parts) else (),
    )


def featurize(obj: dict[str, object]) -> tuple[F32, F32]:
    """One telemetry object as the serving path sees it: (segment matrix, window vector)."""
    fs = extract(parse_telemetry(obj))
    return fs.matrix, fs.window


def _pack(
    items: Sequence[tuple[F32, F32]], label: int, groups: Sequence[str], subjects: Sequence[int]
) -> Windows:
    sizes = np.array([m.shape[0] for m, _ in items], np.int64)
    return Windows(
        np.concatenate([m for m, _ in items]) if items else np.zeros((0, N_FEATURES), np.float32),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.stack([w for _, w in items]) if items else np.zeros((0, N_WINDOW), np.float32),
        np.full(len(items), label, np.int8),
        tuple(groups),
        np.asarray(subjects, np.int64),
    )


def human_windows(
    recordings: Sequence[sapimouse.Recording], *, per_subject: int, seed: int, jobs: int
) -> Windows:
    windows = evaluate.human_windows(recordings, per_subject=per_subject, seed=seed)
    items = _map(featurize, [w for _, w in windows], jobs)
    return _pack(items, 0, ["human"] * len(items), [s for s, _ in windows])


def _bot_item(args: tuple[str, int, float]) -> tuple[F32, F32]:
    family, seed, varied = args
    session = bots.session(family, seed)
    rng = np.random.default_rng([7, bots.FAMILIES.index(family), seed])
    traj = augment.vary(session, rng, augment.Variation(sessions=varied))
    return featurize(to_telemetry(traj, start_ms=0.0))


def bot_windows(
    families: Sequence[str], per_family: int, *, seed0: int, varied: float, jobs: int
) -> Windows:
    """``per_family`` sessions of each family from seed ``seed0``; ``varied`` of them randomised."""
    if any(f in bots.REPLAYS for f in families):
        raise ValueError("the replay families are held out of training")
    if seed0 + per_family > TRAIN_SEED_LIMIT:
        raise ValueError(f"training bots must use seeds below {TRAIN_SEED_LIMIT:,}")
    args = [(f, seed0 + i, varied) for f in families for i in range(per_family)]
    items = _map(_bot_item, args, jobs)
    return _pack(items, 1, [a[0] for a in args], [-1] * len(items))


def context_human_windows(
    recordings: Sequence[sapimouse.Recording],
    *,
    per_subject: int,
    seed: int,
    jobs: int,
    context_names: Sequence[str] = contexts.CONTEXTS,
) -> Windows:
    """``per_subject`` windows of each subject, each in a random context of ``context_names``
    and of a random length of 3-10 s (``haechi.ml.contexts``)."""
    objs: list[dict[str, object]] = []
    subjects: list[int] = []
    ctx: list[str] = []
    by_subject: dict[int, list[sapimouse.Recording]] = {}
    for rec in recordings:
        by_subject.setdefault(rec.subject, []).append(rec)
    for subject in sorted(by_subject):
        rng = np.random.default_rng([seed, subject])
        recs = by_subject[subject]
        got = tries = 0
        while got < per_subject and tries < per_subject * 20:
            tries += 1
            context = context_names[int(rng.integers(len(context_names)))]
            length = float(rng.uniform(3000.0, 10000.0))
            traj = recs[int(rng.integers(len(recs)))].trajectory
            w = contexts.apply(traj, context, rng, length)
            if w is not None:
                objs.append(w.telemetry)
                subjects.append(subject)
                ctx.append(context)
                got += 1
    items = _map(featurize, objs, jobs)
    return replace(_pack(items, 0, ["human"] * len(items), subjects), context=tuple(ctx))


def _context_bot_item(args: tuple[str, int, tuple[str, ...]]) -> tuple[F32, F32, str]:
    family, seed, context_names = args
    rng = np.random.default_rng([11, scripted.ALL_FAMILIES.index(family), seed])
    length = float(rng.uniform(3000.0, 10000.0))
    context = "task" if rng.random() < 0.4 else context_names[int(rng.integers(len(context_names)))]
    for attempt in range(5):
        extra = length if context in ("idle", "scroll") else 0.0
        s = scripted.session(
            family, seed + RETRY_SEED_STEP * attempt, duration_ms=length + extra + 2000.0
        )
        traj = s.trajectory
        if family in bots.TRAINING_FAMILIES and rng.random() < 0.5:
            traj = augment.vary(s, rng, augment.Variation(sessions=1.0))
        retime = rng.random() < 0.3
        w = contexts.apply(traj, context, rng, length, onset_start=False, retime=retime)
        if w is not None:
            return (*featurize(w.telemetry), context)
    return (*featurize(s.telemetry()), "task")


def context_bot_windows(
    families: Sequence[str],
    per_family: int,
    *,
    seed0: int,
    jobs: int,
    context_names: Sequence[str] = contexts.CONTEXTS,
) -> Windows:
    """``per_family`` windows of each family, 40% as the bot sends them and the rest in a
    random context of ``context_names`` (the same transforms as people's, so that no context
    is evidence of a person); the randomised variants of ``augment`` for half of the
    ``bots`` families' sessions."""
    if any(f in bots.REPLAYS for f in families):
        raise ValueError("the replay families are held out of training")
    if scripted.FINAL_FAMILY in families:
        raise ValueError(f"{scripted.FINAL_FAMILY} is the final test: never trained on")
    if seed0 + per_family + 4 * RETRY_SEED_STEP > TRAIN_SEED_LIMIT:
        raise ValueError(f"training bots must use seeds below {TRAIN_SEED_LIMIT:,}")
    names = tuple(context_names)
    args = [(f, seed0 + i, names) for f in families for i in range(per_family)]
    got = _map(_context_bot_item, args, jobs)
    items = [(m, w) for m, w, _ in got]
    ctx = tuple(c for _, _, c in got)
    return replace(_pack(items, 1, [a[0] for a in args], [-1] * len(items)), context=ctx)


def _map(fn: Callable[[A], R], args: Sequence[A], jobs: int) -> list[R]:
    if jobs <= 1 or len(args) < 64:
        return [fn(a) for a in args]
    chunk = max(16, len(args) // (jobs * 8))
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(fn, args, chunksize=chunk))
