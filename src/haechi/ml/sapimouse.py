"""SapiMouse: real human mouse movement, read into Haechi's trajectories and telemetry v1.

SapiMouse (Antal, Fejér, Buza, IEEE SACI 2021) holds 120 people clicking targets that appear at
random on a web page, one 3-minute and one 1-minute session each, recorded in the browser at
about 60 Hz (some machines about 120 Hz). Each ``userN/`` folder holds two CSV files with the
columns ``client timestamp, button, state, x, y``; subjects 35 and 62 are split over
``userN.1/`` and ``userN.2/`` (one person each).

The conversion to telemetry v1 is specified in ``docs/telemetry.md`` ("Converting other
recorders' data"); this module implements it. Split by subject, never by session: no person's
movement is on both sides of a split (``split_subjects``, fixed seed).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from haechi.risk.features import DOWN, MOVE, PAUSE_MS, UP, Trajectory, to_events
from haechi.risk.telemetry import MAX_EVENTS

DATA_ENV: Final = "HAECHI_SAPIMOUSE_DIR"
SPLIT_SEED: Final = 5
SPLIT_FRACTIONS: Final = (0.6, 0.2, 0.2)  # train, validation, test; by subject

BUTTONS: Final = {"NoButton": -1, "Left": 0, "Right": 2, "Other": 1}
STATES: Final = {"Move": MOVE, "Drag": MOVE, "Pressed": DOWN, "Released": UP}
_USER_DIR: Final = re.compile(r"user(\d+)(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Recording:
    """One SapiMouse CSV file as a trajectory."""

    subject: int
    name: str  # folder/file stem, e.g. "user35.1/session_3min"
    trajectory: Trajectory
    skipped: int = 0  # rows that could not be read
    clamped: int = 0  # timestamps that went backwards and were clamped to the previous one


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]
    seed: int

    def part(self, name: str) -> tuple[int, ...]:
        parts = {"train": self.train, "validation": self.validation, "test": self.test}
        if name not in parts:
            raise ValueError(f"unknown split part {name!r}: train, validation or test")
        return parts[name]


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The SapiMouse folder: ``explicit``, ``$HAECHI_SAPIMOUSE_DIR``, the repository's
    ``../shared/data/sapimouse`` (as CI lays it out), then ``/work/shared/data/sapimouse``."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    if env := os.environ.get(DATA_ENV):
        candidates.append(Path(env))
    candidates += [
        repo_root().parent / "shared" / "data" / "sapimouse",
        Path("/work/shared/data/sapimouse"),
    ]
    for path in candidates:
        if path.is_dir() and any(path.glob("user*/*.csv")):
            return path
    return None


def subject_of(folder: str) -> int | None:
    """``user35.1`` -> 35; None for anything else."""
    m = _USER_DIR.fullmatch(folder)
    return int(m.group(1)) if m else None


def read_csv(path: Path) -> tuple[Trajectory, int, int]:
    """One CSV as a trajectory (times in ms from its first row); rows it cannot read and
    timestamps it clamped are counted, never fatal."""
    ts: list[float] = []
    kinds: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    buttons: list[int] = []
    skipped = 0
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)  # header
        for row in reader:
            if len(row) != 5 or row[2] not in STATES or row[1] not in BUTTONS:
                skipped += 1
                continue
            try:
                t, x, y = float(row[0]), float(row[3]), float(row[4])
            except ValueError:
                skipped += 1
                continue
            state, button = row[2], BUTTONS[row[1]]
            if state == "Move":
                button = -1
            elif state != "Drag" and button < 0:
                skipped += 1  # a press or release of no button
                continue
            ts.append(t)
            kinds.append(STATES[state])
            xs.append(x)
            ys.append(y)
            buttons.append(button)
    t_arr = np.asarray(ts, np.float64)
    clamped = 0
    if t_arr.shape[0]:
        mono = np.maximum.accumulate(t_arr)
        clamped = int((mono != t_arr).sum())
        t_arr = mono - mono[0]
    traj = Trajectory(
        t_arr,
        np.asarray(kinds, np.int8),
        np.asarray(xs, np.float64),
        np.asarray(ys, np.float64),
        np.asarray(buttons, np.int8),
    )
    return traj, skipped, clamped


def list_files(root: Path) -> list[tuple[int, Path]]:
    """(subject, csv path) for every recording, in a stable order."""
    out: list[tuple[int, Path]] = []
    for folder in sorted(root.iterdir()):
        subject = subject_of(folder.name)
        if subject is None or not folder.is_dir():
            continue
        out.extend((subject, f) for f in sorted(folder.glob("*.csv")))
    return out


def subjects(root: Path) -> tuple[int, ...]:
    return tuple(sorted({s for s, _ in list_files(root)}))


def load(root: Path, only: Iterable[int] | None = None) -> list[Recording]:
    """Every recording (of the subjects in ``only``, when given)."""
    wanted = set(only) if only is not None else None
    out = []
    for subject, path in list_files(root):
        if wanted is not None and subject not in wanted:
            continue
        traj, skipped, clamped = read_csv(path)
        name = f"{path.parent.name}/{path.stem}"
        out.append(Recording(subject, name, traj, skipped, clamped))
    return out


def split_subjects(
    ids: Sequence[int],
    *,
    seed: int = SPLIT_SEED,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> Split:
    """A subject-level train/validation/test split; the same ids and seed give the same split."""
    uniq = np.array(sorted(set(ids)), np.int64)
    perm = np.random.default_rng(seed).permutation(uniq)
    n = uniq.shape[0]
    n_train = round(n * fractions[0])
    n_val = round(n * fractions[1])
    return Split(
        train=tuple(sorted(int(s) for s in perm[:n_train])),
        validation=tuple(sorted(int(s) for s in perm[n_train : n_train + n_val])),
        test=tuple(sorted(int(s) for s in perm[n_train + n_val :])),
        seed=seed,
    )


def telemetry_chunks(
    rec: Recording, *, max_events: int = MAX_EVENTS
) -> Iterator[dict[str, object]]:
    """A whole recording as telemetry v1 objects of at most ``max_events`` events each.

    The events are written once with the recorder's 8 ms rule, then cut into chunks, each at
    the last pause (> ``PAUSE_MS``) in its second half when there is one; each chunk's times
    start at 0.
    """
    events = to_events(rec.trajectory)
    start = 0
    while start < len(events):
        stop = min(start + max_events, len(events))
        if stop < len(events):
            times = [int(e[0]) for e in events[start:stop]]
            for i in range(len(times) - 1, len(times) // 2, -1):
                if times[i] - times[i - 1] > PAUSE_MS:
                    stop = start + i
                    break
        chunk = events[start:stop]
        base = int(chunk[0][0])
        for e in chunk:
            e[0] = int(e[0]) - base
        yield {"v": 1, "viewport": None, "pointer": "mouse", "events": chunk, "keys": []}
        start = stop
