"""Human windows in contexts that remove the SapiMouse task's fingerprints (issue 18).

SapiMouse people click targets that appear at random, on one recorder, at about 60 Hz, on
screens of device pixel ratio 1. A visitor of a form does other things: moves without clicking,
reads (long still stretches), scrolls, and uses other browsers, displays and screens. Each
context below turns a stretch of a SapiMouse recording into a window of exactly ``length_ms``
of what that person would have sent in such a context, as telemetry v1:

- ``task``: the evaluation's classic window: starts at a movement onset, clicks kept,
  re-timed to 30/60/120/144 Hz (``features.SAMPLE_RATES``);
- ``click_free``: no downs or ups (a person moving over a page without clicking), any start;
- ``random_start``: starts at a random moment (mid-movement, mid-pause, mid-click; not between
  the last move and a press, where no recorder that starts at page load can start);
- ``timing``: other sample rates (48-240 Hz), timer jitter of 0.5-4 ms and 0-15% dropped frames;
- ``dpr``: a screen of device pixel ratio 1.25-3: positions in CSS pixels (the recorded device
  pixels / dpr), written with two decimals or rounded to whole pixels, ``hints.dpr`` set;
- ``idle``: 30-65% of the window still (1-3 stops: reading), the movement around it the
  person's own;
- ``scroll``: like ``idle``, but the page scrolls with the wheel during the stops (scroll
  events, the pointer still).

The same transforms (``apply``) are given to bot sessions in training, so that none of the
contexts themselves (no click, a long pause, a scroll, a fractional pixel) can become evidence
of a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from haechi.risk.features import (
    DOWN,
    MOVE,
    PAUSE_MS,
    SAMPLE_RATES,
    UP,
    Trajectory,
    clean,
    resample,
    to_telemetry,
)

CONTEXTS: Final = ("task", "click_free", "random_start", "timing", "dpr", "idle", "scroll")
LENGTHS_S: Final = (3.0, 6.0, 10.0)
OTHER_RATES: Final = (48.0, 50.0, 75.0, 90.0, 100.0, 165.0, 240.0)
DPRS: Final = (1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
MIN_MOVES: Final = 10
Rng = np.random.Generator
Telemetry = dict[str, object]


@dataclass(frozen=True, slots=True)
class Window:
    telemetry: Telemetry
    context: str
    length_ms: float
    clicks: bool  # the window holds a down


def _cut(traj: Trajectory, lo: float, hi: float) -> Trajectory:
    a, b = np.searchsorted(traj.t, [lo, hi])
    return traj.window(int(a), int(b))


def _onsets(traj: Trajectory) -> np.ndarray:
    t, kind = traj.t, traj.kind
    if not t.shape[0]:
        return np.zeros(0, np.int64)
    onset = kind == MOVE
    onset[1:] &= (kind[:-1] == UP) | (np.diff(t) > PAUSE_MS)
    return np.flatnonzero(onset)


def drop_clicks(traj: Trajectory) -> Trajectory:
    """No downs or ups, no button held: the same hand moving over a page without clicking."""
    keep = traj.kind == MOVE
    return Trajectory(
        traj.t[keep],
        traj.kind[keep],
        traj.x[keep],
        traj.y[keep],
        np.full(int(keep.sum()), -1, np.int8),
    )


def insert_stops(
    traj: Trajectory, rng: Rng, total_ms: float, *, scroll: bool
) -> tuple[Trajectory, list[list[int | float | str]]]:
    """1-3 still stretches inserted at random moments (shifting what follows), adding up to
    ``total_ms``; with ``scroll``, wheel scroll events during each (relative times)."""
    n = int(rng.integers(1, 4))
    parts = rng.dirichlet(np.ones(n)) * total_ms
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    at = np.sort(rng.uniform(t0, t1, n))
    t = traj.t.copy()
    scrolls: list[list[int | float | str]] = []
    y_scroll = float(rng.uniform(0, 2000))
    shift = 0.0
    for when, gap in zip(at.tolist(), parts.tolist(), strict=True):
        t[traj.t > when] += gap
        if scroll:
            start = when + shift + float(rng.uniform(50, 300))
            stop = when + shift + gap - float(rng.uniform(50, 300))
            s = start
            direction = 1.0 if rng.random() < 0.8 else -1.0
            while s < stop:
                y_scroll = max(
                    0.0, y_scroll + direction * float(rng.choice([40.0, 53.0, 100.0, 120.0]))
                )
                scrolls.append([s, "s", 0, round(y_scroll, 2), -1])
                burst = rng.random() < 0.8  # wheel notches in a burst, else a rest
                s += float(rng.uniform(16.0, 120.0) if burst else rng.uniform(200.0, 600.0))
        shift += gap
    return Trajectory(t, traj.kind, traj.x, traj.y, traj.button), scrolls


def apply(
    traj: Trajectory,
    context: str,
    rng: Rng,
    length_ms: float,
    *,
    onset_start: bool = True,
    retime: bool = True,
) -> Window | None:
    """A window of ``length_ms`` from ``traj`` (a recording or a longer bot session) in
    ``context``; None when the stretch chosen has too little movement. ``retime`` re-times it
    to a browser's frame rate (people's recordings; a bot keeps its own clock without it,
    except in the ``timing`` context)."""
    if not len(traj):
        return None
    still = 0.0
    if context in ("idle", "scroll"):
        still = length_ms * float(rng.uniform(0.30, 0.65))
    src = length_ms - still
    t0, t1 = float(traj.t[0]), float(traj.t[-1])
    if t1 - t0 <= src:
        return None
    if context in ("click_free", "random_start") or not onset_start:
        start = float(rng.uniform(t0, t1 - src))
    else:
        onsets = _onsets(traj)
        onsets = onsets[traj.t[onsets] < t1 - src]
        if not onsets.shape[0]:
            return None
        first = int(onsets[int(rng.integers(onsets.shape[0]))])
        gap = float(traj.t[first] - traj.t[first - 1]) if first else 200.0
        start = float(traj.t[first]) - float(rng.uniform(0.0, max(0.0, min(200.0, gap - 1))))
    win = _cut(traj, start, start + src)
    if int((win.kind == MOVE).sum()) < MIN_MOVES:
        return None
    downs = np.flatnonzero(win.kind == DOWN)
    if downs.shape[0] and not (win.kind[: downs[0]] == MOVE).any():
        # A start between a person's last move and their press (a pointer resting on the
        # button when recording began): the widget records from page load, so a person's
        # first press always has a move before it. Not a context of this evaluation.
        return None
    if context == "click_free":
        win = drop_clicks(win)
    hints: dict[str, bool | int | float] = {}
    scrolls: list[list[int | float | str]] = []
    if still > 0:
        win, scrolls = insert_stops(win, rng, still, scroll=context == "scroll")
    decimals = 0
    if context == "dpr":
        dpr = float(rng.choice(DPRS))
        hints["dpr"] = dpr
        win = Trajectory(win.t, win.kind, win.x / dpr, win.y / dpr, win.button)
        decimals = int(rng.choice([0, 2]))
    if context == "timing":
        hz = float(rng.choice(OTHER_RATES))
        win = resample(win, hz, rng=rng, jitter_ms=float(rng.uniform(0.5, 4.0)), decimals=decimals)
        drop = float(rng.uniform(0.0, 0.15))
        keep = (win.kind != MOVE) | (rng.random(len(win)) >= drop)
        win = clean(
            Trajectory(win.t[keep], win.kind[keep], win.x[keep], win.y[keep], win.button[keep])
        )[0]
    elif retime:
        hz = float(rng.choice(SAMPLE_RATES))
        win = resample(win, hz, rng=rng, jitter_ms=0.3, decimals=decimals)
    elif decimals == 0:  # a bot's own clock; positions in whole CSS pixels
        win = Trajectory(win.t, win.kind, np.round(win.x), np.round(win.y), win.button)
    win = _cut(win, start, start + length_ms)
    if int((win.kind == MOVE).sum()) < MIN_MOVES:
        return None
    obj = to_telemetry(win, start_ms=start, hints=hints)
    if scrolls:
        events = obj["events"]
        assert isinstance(events, list)
        for s in scrolls:
            rel = round(float(s[0]) - start)
            if 0 <= rel <= length_ms:
                events.append([rel, *s[1:]])
        events.sort(key=lambda e: e[0])
    return Window(obj, context, length_ms, bool((win.kind == DOWN).any()))


def human_windows(
    trajectories: Sequence[tuple[int, Trajectory]],
    *,
    contexts: Sequence[str],
    lengths_s: Sequence[float],
    per_cell_subject: int,
    seed: int,
) -> list[tuple[int, Window]]:
    """``per_cell_subject`` windows of each subject in each (context, length): (subject, w)."""
    by_subject: dict[int, list[Trajectory]] = {}
    for subject, traj in trajectories:
        by_subject.setdefault(subject, []).append(traj)
    out: list[tuple[int, Window]] = []
    for ci, context in enumerate(contexts):
        for li, length in enumerate(lengths_s):
            for subject in sorted(by_subject):
                rng = np.random.default_rng([seed, ci, li, subject])
                trajs = by_subject[subject]
                got = tries = 0
                while got < per_cell_subject and tries < per_cell_subject * 20:
                    tries += 1
                    traj = trajs[int(rng.integers(len(trajs)))]
                    w = apply(traj, context, rng, length * 1000.0)
                    if w is not None:
                        out.append((subject, w))
                        got += 1
    return out
