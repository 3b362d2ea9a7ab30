"""Randomised variants of the training bots, so that the model learns bots, not one generator.

An attacker has ``haechi.ml.bots`` (it is open source) and can change what any of its
generators does. A model trained only on their exact output could lean on one cheap cue (every
movement ends in a click, nobody's hand slips during a click, one fixed clock) and fail as soon
as a script varies it. ``vary`` applies, each with its own probability, what a more careful
script would add to a session:

- ``time``: the whole session slower or faster (x0.7 to x1.4);
- ``pauses``: a stop of 0.3 to 1.5 s in the middle of a movement (a segment that does not end
  in a click);
- ``wander``: a short drift after a click, a rest, then the next approach starts from there;
- ``slip``: 1 to 3 small moves with the button held between a down and its up;
- ``noise``: low-pass positional noise (tremor);
- ``redeliver``: re-timed to a browser frame rate as the human windows are (30-144 Hz).

The replay family is never varied nor used here: it stays out of training entirely.
Deterministic for a given generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from haechi.ml.bots import REPLAYS, BotSession
from haechi.risk.features import DOWN, MOVE, PAUSE_MS, SAMPLE_RATES, UP, Trajectory, resample

Rng = np.random.Generator
Row = tuple[float, int, float, float, int]


@dataclass(frozen=True, slots=True)
class Variation:
    """Probabilities of each variation (per session; pauses, wander and slips per occasion)."""

    time: float = 0.3
    pauses: float = 0.25
    wander: float = 0.2
    slip: float = 0.2
    noise: float = 0.3
    redeliver: float = 0.3
    sessions: float = 0.5  # share of sessions varied at all


DEFAULT: Final = Variation()
NONE: Final = Variation(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def vary(session: BotSession, rng: Rng, spec: Variation = DEFAULT) -> Trajectory:
    """The session's trajectory with randomised variations (or unchanged, by ``sessions``)."""
    if session.family in REPLAYS:
        raise ValueError("the replay family is held out of training: never vary it")
    traj = session.trajectory
    if len(traj) < 2 or rng.random() >= spec.sessions:
        return traj
    end = float(traj.t[-1])
    if rng.random() < spec.time:
        factor = float(rng.uniform(0.7, 1.4))
        traj = Trajectory(traj.t * factor, traj.kind, traj.x, traj.y, traj.button)
    per_session = [rng.random() < 0.5 for _ in range(3)]
    traj = _structure(
        traj,
        rng,
        pause=spec.pauses if per_session[0] else 0.0,
        wander=spec.wander if per_session[1] else 0.0,
        slip=spec.slip if per_session[2] else 0.0,
    )
    if rng.random() < spec.noise:
        traj = _noise(traj, rng, float(rng.uniform(0.2, 1.2)))
    if rng.random() < spec.redeliver:
        hz = float(SAMPLE_RATES[int(rng.integers(len(SAMPLE_RATES)))])
        traj = resample(traj, hz, rng=rng, jitter_ms=0.3)
    keep = traj.t <= max(end, float(traj.t[0]))
    return Trajectory(traj.t[keep], traj.kind[keep], traj.x[keep], traj.y[keep], traj.button[keep])


def _min_jerk(s: float) -> float:
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def _structure(
    traj: Trajectory, rng: Rng, *, pause: float, wander: float, slip: float
) -> Trajectory:
    """Insert mid-movement pauses, post-click wander and click slips (times shift later)."""
    t, kind = traj.t.tolist(), traj.kind.tolist()
    x, y, button = traj.x.tolist(), traj.y.tolist(), traj.button.tolist()
    n = len(t)
    moves = traj.kind == MOVE
    step_ms = float(np.median(np.diff(traj.t[moves]))) if int(moves.sum()) > 2 else 16.0
    step_ms = min(max(step_ms, 8.0), 50.0)
    out: list[Row] = []
    shift = 0.0
    carry_x = carry_y = 0.0  # offset that fades out over the next movement
    i = 0
    while i < n:
        if kind[i] != MOVE:
            now = t[i] + shift
            px, py = x[i] + carry_x, y[i] + carry_y
            out.append((now, kind[i], px, py, button[i]))
            nxt = i + 1
            if (
                kind[i] == DOWN
                and nxt < n
                and kind[nxt] == UP
                and t[nxt] - t[i] >= 40.0
                and rng.random() < slip
            ):
                count = int(rng.integers(1, 4))
                span = t[nxt] - t[i]
                for j in range(count):
                    px += float(rng.choice([-1.0, 0.0, 1.0]))
                    py += float(rng.choice([-1.0, 0.0, 1.0]))
                    out.append((now + span * (j + 1) / (count + 1), MOVE, px, py, button[i]))
                carry_x, carry_y = px - x[i], py - y[i]
            if kind[i] == UP and nxt < n and kind[nxt] == MOVE and rng.random() < wander:
                # A drift away from the click, a rest, then on to the next target from there.
                dist = float(rng.uniform(5.0, 60.0))
                ang = float(rng.uniform(0.0, 2.0 * math.pi))
                dx, dy = dist * math.cos(ang), dist * math.sin(ang)
                start = now + float(rng.uniform(30.0, 200.0))
                duration = float(rng.uniform(150.0, 450.0))
                steps = max(2, int(duration / step_ms))
                for j in range(1, steps + 1):
                    s = _min_jerk(j / steps)
                    out.append((start + j * duration / steps, MOVE, px + dx * s, py + dy * s, -1))
                rest = float(rng.uniform(PAUSE_MS + 20.0, 1200.0))
                shift += (start - now) + duration + rest
                carry_x, carry_y = carry_x + dx, carry_y + dy
            i = nxt
            continue
        j = i
        while j < n and kind[j] == MOVE:
            j += 1
        first, last = t[i], t[j - 1]
        length = j - i
        cut = -1
        if length >= 8 and rng.random() < pause:
            cut = i + int(rng.integers(int(length * 0.3), int(length * 0.8) + 1))
        for m in range(i, j):
            if m == cut:
                shift += float(rng.uniform(PAUSE_MS + 20.0, 1500.0))
            s = _min_jerk((t[m] - first) / (last - first)) if last > first else 1.0
            fade = 1.0 - s
            out.append(
                (t[m] + shift, MOVE, x[m] + carry_x * fade, y[m] + carry_y * fade, button[m])
            )
        carry_x = carry_y = 0.0
        i = j
    t_out = np.asarray([r[0] for r in out], np.float64)
    x_out = np.rint(np.asarray([r[2] for r in out], np.float64))
    y_out = np.rint(np.asarray([r[3] for r in out], np.float64))
    order = np.argsort(t_out, kind="stable")
    return Trajectory(
        t_out[order],
        np.asarray([r[1] for r in out], np.int8)[order],
        x_out[order],
        y_out[order],
        np.asarray([r[4] for r in out], np.int8)[order],
    )


def _noise(traj: Trajectory, rng: Rng, sigma: float) -> Trajectory:
    """Low-pass Gaussian noise on the moves' positions (whole pixels, as a browser reports)."""
    moves = traj.kind == MOVE
    count = int(moves.sum())
    if count < 3:
        return traj
    kernel = np.ones(3) / 3.0
    nx = np.convolve(rng.normal(0.0, sigma, count), kernel, mode="same")
    ny = np.convolve(rng.normal(0.0, sigma, count), kernel, mode="same")
    x, y = traj.x.copy(), traj.y.copy()
    x[moves] = np.round(x[moves] + nx)
    y[moves] = np.round(y[moves] + ny)
    # A click happens where the pointer is: keep downs and ups on the preceding move.
    last_move = np.maximum.accumulate(np.where(moves, np.arange(len(traj)), -1))
    clicks = np.flatnonzero(~moves & (last_move >= 0))
    x[clicks], y[clicks] = x[last_move[clicks]], y[last_move[clicks]]
    return Trajectory(traj.t, traj.kind, x, y, traj.button)
