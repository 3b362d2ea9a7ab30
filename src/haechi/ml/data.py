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
from dataclasses import dataclass
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from haechi.ml import augment, bots, evaluate, sapimouse
from haechi.risk.features import N_FEATURES, N_WINDOW, extract, to_telemetry
from haechi.risk.telemetry import parse_telemetry

TRAIN_SEED_LIMIT: Final = 1_000_000
F32 = npt.NDArray[np.float32]
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Windows:
    """Feature arrays of many windows: ``segments[offsets[i]:offsets[i + 1]]`` are window i's."""

    segments: F32  # (all usable segments, N_FEATURES)
    offsets: npt.NDArray[np.int64]  # (windows + 1,)
    window: F32  # (windows, N_WINDOW)
    label: npt.NDArray[np.int8]  # 0 human, 1 bot
    group: tuple[str, ...]  # per window: "human" or the bot family
    subject: npt.NDArray[np.int64]  # SapiMouse subject (-1 for bots)

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


def _map(fn: Callable[[A], tuple[F32, F32]], args: Sequence[A], jobs: int) -> list[tuple[F32, F32]]:
    if jobs <= 1 or len(args) < 64:
        return [fn(a) for a in args]
    chunk = max(16, len(args) // (jobs * 8))
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(fn, args, chunksize=chunk))
