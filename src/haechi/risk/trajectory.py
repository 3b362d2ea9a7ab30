"""Pointer trajectories: reading them from telemetry, cleaning, re-timing and writing them back.

A trajectory is the mouse/pen pointer events (moves, downs, ups) of one telemetry object as
parallel arrays. ``clean`` makes any input usable: it drops non-finite and absurd points, sorts
by time (stable) and merges moves that share a timestamp, and says what it did in its flags.

Resampling (``resample``) re-times a trajectory as a browser at another frame rate would have
delivered it (30, 60, 120, 144 Hz), so that a model trained on one recorder's rate learns the
person, not the recorder. ``to_events``/``to_telemetry`` write telemetry v1 as the widget does.
Shared by serving (``haechi.risk.features``) and training (``haechi.ml``); nothing here raises
on bad input.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from operator import itemgetter
from typing import Final

import numpy as np
import numpy.typing as npt

from haechi.risk.telemetry import MAX_COORD, MAX_EVENTS, EventColumns, Telemetry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
EventRow = list[int | float | str]  # one telemetry v1 event: [t, kind, x, y, button]

MOVE, DOWN, UP = 0, 1, 2
KIND_CODES: Final = {"m": MOVE, "d": DOWN, "u": UP}
KIND_NAMES: Final = ("m", "d", "u")
SAMPLE_RATES: Final = (30.0, 60.0, 120.0, 144.0)
MOVE_INTERVAL_MS: Final = 8  # the recorder's rule: at most one move per 8 ms

# One column of the parsed events each; ``map`` with a single-item getter hands over the
# existing objects, so reading 2,000 events allocates no tuples (no collector pauses).
_T, _KIND, _X, _Y, _BUTTON, _PTYPE = (itemgetter(i) for i in range(6))
_EPS: Final = 1e-9
# Event kind (an ASCII byte) -> MOVE/DOWN/UP, -1 for the rest (scroll, focus, blur).
_CODE_OF: Final = np.full(256, -1, np.int8)
for _name, _code in KIND_CODES.items():
    _CODE_OF[ord(_name)] = _code
_TOUCH: Final = ord("t")


@dataclass(frozen=True, slots=True)
class Trajectory:
    """Pointer events as parallel arrays: time (ms), kind (MOVE/DOWN/UP), x, y, button held."""

    t: F64
    kind: I8
    x: F64
    y: F64
    button: I8  # for moves the button held (-1 none); for downs/ups the button pressed/released

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self) else 0.0

    def window(self, start: int, stop: int) -> Trajectory:
        return Trajectory(
            self.t[start:stop],
            self.kind[start:stop],
            self.x[start:stop],
            self.y[start:stop],
            self.button[start:stop],
        )


EMPTY: Final = Trajectory(
    np.zeros(0), np.zeros(0, np.int8), np.zeros(0), np.zeros(0), np.zeros(0, np.int8)
)


def from_telemetry(
    tele: Telemetry, *, last_ms: float | None = None, max_events: int | None = None
) -> tuple[Trajectory, set[str]]:
    """The mouse/pen pointer events of parsed telemetry (touch is not a trajectory here).

    ``last_ms`` and ``max_events`` keep only the most recent events: those at most ``last_ms``
    before the last one, and at most ``max_events`` of them (before anything is converted).
    """
    flags: set[str] = set()
    if tele.columns is not None:
        return _from_columns(tele.columns, last_ms, max_events, flags)
    events = tele.events
    if max_events is not None and len(events) > max_events:
        events = events[len(events) - max_events :]
    if last_ms is not None and events:
        # The parser keeps the order sent; a conforming recorder sends times in order.
        events = events[bisect_left(events, events[-1][0] - last_ms, key=_T) :]
    n = len(events)
    if not n:
        flags.add("no-pointer")
        return EMPTY, flags
    kinds = "".join(map(_KIND, events)).encode("ascii", "replace")
    ptypes = "".join(map(_PTYPE, events)).encode("ascii", "replace")
    if len(kinds) != n or len(ptypes) != n:
        flags.add("malformed")  # not what the parser makes
        return EMPTY, flags
    codes = _CODE_OF[np.frombuffer(kinds, np.uint8)]
    pointer = codes >= 0
    if not pointer.any():
        flags.add("no-pointer")
        return EMPTY, flags
    keep = pointer & (np.frombuffer(ptypes, np.uint8) != ord("t"))
    if not keep.any():
        flags.add("touch-only")
        return EMPTY, flags
    t = np.fromiter(map(_T, events), np.float64, n)
    x = np.fromiter(map(_X, events), np.float64, n)
    y = np.fromiter(map(_Y, events), np.float64, n)
    button = np.fromiter(map(_BUTTON, events), np.int8, n)
    if not keep.all():
        t, x, y, button, codes = t[keep], x[keep], y[keep], button[keep], codes[keep]
    return Trajectory(t, codes, x, y, button), flags


def _from_columns(
    cols: EventColumns, last_ms: float | None, max_events: int | None, flags: set[str]
) -> tuple[Trajectory, set[str]]:
    """``from_telemetry`` from the parser's arrays (times never decrease there), without
    touching the events before the window."""
    n = len(cols)
    start = 0
    if max_events is not None and n > max_events:
        start = n - max_events
    if last_ms is not None and n:
        start = max(start, int(np.searchsorted(cols.t, cols.t[-1] - last_ms, side="left")))
    if start >= n:
        flags.add("no-pointer")
        return EMPTY, flags
    codes = _CODE_OF[cols.kind[start:]]
    pointer = codes >= 0
    if not pointer.any():
        flags.add("no-pointer")
        return EMPTY, flags
    keep = pointer & (cols.ptype[start:] != _TOUCH)
    if not keep.any():
        flags.add("touch-only")
        return EMPTY, flags
    t, x, y, button = cols.t[start:], cols.x[start:], cols.y[start:], cols.button[start:]
    if not keep.all():
        t, x, y, button, codes = t[keep], x[keep], y[keep], button[keep], codes[keep]
    return Trajectory(t, codes, x, y, button), flags


def clean(traj: Trajectory) -> tuple[Trajectory, set[str]]:
    """Drop non-finite or absurd points, sort by time, merge moves at the same instant."""
    flags: set[str] = set()
    t, kind, x, y, button = traj.t, traj.kind, traj.x, traj.y, traj.button
    n = t.shape[0]
    if not (kind.shape[0] == x.shape[0] == y.shape[0] == button.shape[0] == n):
        flags.add("malformed")
        return EMPTY, flags
    # Inf or NaN anywhere in a row makes the sum non-finite: one pass instead of three.
    ok = np.isfinite(t + x + y)
    lim = float(MAX_COORD)
    with np.errstate(invalid="ignore"):
        sane = (np.maximum(np.abs(x), np.abs(y)) <= lim) & (t >= 0) & (t <= 1e8)
    sane &= (kind >= MOVE) & (kind <= UP)
    if not sane.all():
        if not ok.all():
            flags.add("non-finite")
        if not (sane | ~ok).all():
            flags.add("absurd-values")
        t, kind, x, y, button = t[sane], kind[sane], x[sane], y[sane], button[sane]
    if t.shape[0] > 1 and bool((t[1:] < t[:-1]).any()):
        flags.add("out-of-order")
        order = np.argsort(t, kind="stable")
        t, kind, x, y, button = t[order], kind[order], x[order], y[order], button[order]
    if t.shape[0] > 1:
        # A move followed by another move at the same instant is superseded by it.
        same = (t[1:] == t[:-1]) & (kind[1:] == MOVE) & (kind[:-1] == MOVE)
        if same.any():
            flags.add("duplicate-times")
            keep = np.ones(t.shape[0], bool)
            keep[:-1] = ~same
            t, kind, x, y, button = t[keep], kind[keep], x[keep], y[keep], button[keep]
    return Trajectory(t, kind, x, y, button), flags


def resample(
    traj: Trajectory,
    hz: float,
    *,
    rng: np.random.Generator | None = None,
    jitter_ms: float = 0.0,
    max_gap_ms: float = 50.0,
    decimals: int = 0,
) -> Trajectory:
    """The trajectory as a browser polling at ``hz`` would have delivered it.

    Moves are re-timed to frames ``1000 / hz`` ms apart (a random phase when ``rng`` is given,
    plus Gaussian ``jitter_ms``), positions interpolated with a cubic Hermite curve through the
    original moves. Like a browser, it fires no move while the pointer rests: a frame is kept
    when an original move fell since the previous frame, or when it lies between two original
    moves at most ``max_gap_ms`` apart. Downs and ups keep their times and positions. Times
    are rounded to whole ms, coordinates to ``decimals``.
    """
    traj, _ = clean(traj)
    moves = traj.kind == MOVE
    tm, xm, ym = traj.t[moves], traj.x[moves], traj.y[moves]
    if tm.shape[0] < 2 or not hz > 0:
        return traj
    period = 1000.0 / hz
    phase = float(rng.uniform(0.0, period)) if rng is not None else 0.0
    frames = np.arange(tm[0] + phase, tm[-1] + _EPS, period)
    i = np.clip(np.searchsorted(tm, frames, side="right") - 1, 0, tm.shape[0] - 2)
    h = tm[i + 1] - tm[i]
    recent = tm[i] > frames - period  # an original move since the previous frame
    close = h <= max_gap_ms
    keep = recent | close
    frames, i, h, close = frames[keep], i[keep], h[keep], close[keep]
    # Hermite tangents from neighbouring moves (one-sided at the ends), zero across long gaps.
    vx, vy = _tangents(tm, xm, max_gap_ms), _tangents(tm, ym, max_gap_ms)
    s = np.where(h > 0, (frames - tm[i]) / np.maximum(h, _EPS), 1.0)
    s = np.clip(s, 0.0, 1.0)
    s2, s3 = s * s, s * s * s
    h00, h10, h01, h11 = 2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2
    fx = h00 * xm[i] + h10 * h * vx[i] + h01 * xm[i + 1] + h11 * h * vx[i + 1]
    fy = h00 * ym[i] + h10 * h * vy[i] + h01 * ym[i + 1] + h11 * h * vy[i + 1]
    # Across a long gap the pointer rested at the earlier move until it moved again.
    fx = np.where(close, fx, xm[i])
    fy = np.where(close, fy, ym[i])
    if rng is not None and jitter_ms > 0:
        frames = frames + rng.normal(0.0, jitter_ms, frames.shape[0])
    ft = np.round(frames)

    # Button held at each frame: the state after the last original event at or before it.
    held = _held_buttons(traj)
    j = np.clip(np.searchsorted(traj.t, ft, side="right") - 1, 0, len(traj) - 1)
    fb = held[j]
    # A browser flushes a coalesced move before a down or up: keep the last original move
    # before each click when no frame came after it.
    move_at = np.flatnonzero(moves)
    click_at = np.flatnonzero(~moves)
    before = np.searchsorted(move_at, click_at) - 1
    pm = move_at[np.maximum(before, 0)]
    lastf = np.searchsorted(ft, np.round(traj.t[click_at]), side="right") - 1
    last_frame_t = np.where(lastf >= 0, ft[np.maximum(lastf, 0)], -np.inf)
    pm = np.unique(pm[(before >= 0) & (np.round(traj.t[pm]) > last_frame_t)])
    ft = np.concatenate([ft, np.round(traj.t[pm])])
    fx = np.concatenate([fx, traj.x[pm]])
    fy = np.concatenate([fy, traj.y[pm]])
    fb = np.concatenate([fb, traj.button[pm]])
    clicks = ~moves
    t = np.concatenate([ft, np.round(traj.t[clicks])])
    order = np.lexsort((np.concatenate([np.zeros(ft.shape[0]), np.ones(int(clicks.sum()))]), t))
    out = Trajectory(
        t[order],
        np.concatenate([np.zeros(ft.shape[0], np.int8), traj.kind[clicks]])[order],
        np.round(np.concatenate([fx, traj.x[clicks]]), decimals)[order],
        np.round(np.concatenate([fy, traj.y[clicks]]), decimals)[order],
        np.concatenate([fb, traj.button[clicks]])[order],
    )
    return clean(out)[0]


def _tangents(t: F64, v: F64, max_gap_ms: float) -> F64:
    n = t.shape[0]
    out = np.zeros(n)
    if n < 2:
        return out
    dt = np.diff(t)
    slope = np.where(dt > 0, np.diff(v) / np.maximum(dt, _EPS), 0.0)
    slope[dt > max_gap_ms] = 0.0
    out[0], out[-1] = slope[0], slope[-1]
    out[1:-1] = (slope[:-1] + slope[1:]) / 2
    return out


def _held_buttons(traj: Trajectory) -> I8:
    """The button held after each event (-1 none)."""
    held = np.full(len(traj), -1, np.int8)
    state = -1
    for n, (kind, button) in enumerate(zip(traj.kind.tolist(), traj.button.tolist(), strict=True)):
        if kind == DOWN:
            state = button
        elif kind == UP:
            state = -1
        else:
            state = button
        held[n] = state
    return held


def to_events(traj: Trajectory, *, start_ms: float | None = None) -> list[EventRow]:
    """Telemetry v1 events for a trajectory, as the widget writes them.

    Times become whole ms from ``start_ms`` (default: the first event) and never decrease;
    moves follow the recorder's 8 ms rule (a move sooner than 8 ms after the last written one
    is held as pending and replaced by later ones; a down or up, and the end, flush it).
    Coordinates are rounded to two decimals and clipped to the format's limits.
    """
    traj, _ = clean(traj)
    if not len(traj):
        return []
    base = float(traj.t[0]) if start_ms is None else start_ms
    times = np.maximum(np.round(traj.t - base), 0.0).astype(np.int64).tolist()
    xs = np.round(np.clip(traj.x, -MAX_COORD, MAX_COORD), 2).tolist()
    ys = np.round(np.clip(traj.y, -MAX_COORD, MAX_COORD), 2).tolist()
    out: list[EventRow] = []
    pending: EventRow | None = None
    last_move = -MOVE_INTERVAL_MS
    last_t = 0
    for t, kind, x, y, button in zip(
        times, traj.kind.tolist(), xs, ys, traj.button.tolist(), strict=True
    ):
        t = max(t, last_t)
        last_t = t
        if kind == MOVE:
            event: EventRow = [t, "m", x, y, max(-1, min(4, button))]
            if t - last_move >= MOVE_INTERVAL_MS:
                out.append(event)
                last_move = t
                pending = None
            else:
                pending = event
            continue
        if pending is not None:
            out.append(pending)
            pending = None
        out.append([t, KIND_NAMES[kind], x, y, max(0, min(4, button))])
    if pending is not None:
        out.append(pending)
    return out


def to_telemetry(
    traj: Trajectory,
    *,
    viewport: tuple[float, float] | None = None,
    start_ms: float | None = None,
    hints: dict[str, bool | int | float] | None = None,
) -> dict[str, object]:
    """A telemetry v1 object for a mouse trajectory; over 2,000 events, the oldest moves go."""
    events = to_events(traj, start_ms=start_ms)
    dropped = max(0, len(events) - MAX_EVENTS)
    if dropped:
        moves = [n for n, e in enumerate(events) if e[1] == "m"][:dropped]
        gone = set(moves)
        events = [e for n, e in enumerate(events) if n not in gone][-MAX_EVENTS:]
    return {
        "v": 1,
        "viewport": list(viewport) if viewport is not None else None,
        "pointer": "mouse",
        "events": events,
        "keys": [],
        "hints": dict(hints or {}),
        "dropped": dropped,
    }
