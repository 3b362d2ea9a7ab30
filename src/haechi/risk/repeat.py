"""Near-duplicate repeat detection: short digests of a pointer path's shape (``sketches``).

A person never moves the same way twice; a bot that replays a recorded session does, even when
it nudges every event by a few pixels and milliseconds. ``sketches`` cuts the telemetry's
pointer events into ``SEGMENTS`` pieces of equal event counts (jitter keeps the count, so the
cuts do not move) and describes each piece by its direction (``SECTORS`` sectors, or "still"
under ``STILL_PX``), its share of the path's length and its share of the time (log-scale
classes ``SHARE_STEP`` octaves wide), so translation, time scaling and jitter of a few pixels or
milliseconds change little. The codes are taken on ``GRIDS`` grids whose boundaries are shifted
against each other, so a jittered copy lands on the same codes in at least one grid (usually);
each grid gives one 8-byte digest, over the codes and the count of pointer events. A telemetry
matches an earlier one when any digest does.

A path whose pieces span less than ``MIN_PATH_PX``, or with fewer than ``MIN_MOVES`` events,
gets no sketch: too little to tell people apart. Nothing here identifies a person: the digests
describe one path's shape, and a person's next path has another (measured on SapiMouse in
``bench/repeat_collisions.py``: see docs/risk-model.md).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Final

import numpy as np

from haechi.risk.telemetry import Telemetry

SEGMENTS: Final = 6
GRIDS: Final = 6
SECTORS: Final = 8
# Time and length share classes: log2(share / mean share) in steps of this many octaves.
SHARE_STEP: Final = 1.0
MIN_PATH_PX: Final = 200.0
MIN_MOVES: Final = 12  # pointer events
STILL_PX: Final = 8.0
_POINTER: Final = np.frombuffer(b"mdu", np.uint8)
_TAU: Final = 2 * math.pi
_SHIFTS: Final = np.arange(GRIDS, dtype=np.float64)[:, None] / GRIDS


def sketches(telemetry: Telemetry) -> tuple[bytes, ...]:
    """The digests of ``telemetry``'s pointer path (empty when it is too short)."""
    columns = telemetry.columns
    if columns is not None:
        keep = np.isin(columns.kind, _POINTER)
        t, x, y = columns.t[keep], columns.x[keep], columns.y[keep]
    else:
        rows = [e for e in telemetry.events if e[1] in "mdu"]
        if not rows:
            return ()
        arr = np.array([(e[0], e[2], e[3]) for e in rows], np.float64)
        t, x, y = arr[:, 0], arr[:, 1], arr[:, 2]
    return path_sketches(t, x, y)


def path_sketches(t: Any, x: Any, y: Any) -> tuple[bytes, ...]:
    """``sketches`` of a path given as times (ms) and positions (CSS px)."""
    t = np.asarray(t, np.float64)
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if t.shape[0] < MIN_MOVES:
        return ()
    # Cut by event index, not by arc length: jitter keeps the count, so the cuts stay put.
    n = t.shape[0]
    cut = (np.arange(SEGMENTS + 1) * (n - 1)) // SEGMENTS
    dx, dy, dt = np.diff(x[cut]), np.diff(y[cut]), np.diff(t[cut])
    length = np.hypot(dx, dy)
    total = float(length.sum())
    duration = float(t[-1] - t[0])
    if not total >= MIN_PATH_PX or not duration > 0 or not math.isfinite(total + duration):
        return ()
    angle = np.arctan2(dy, dx) * (SECTORS / _TAU)  # in sectors
    share = np.log2(np.maximum(dt, 1.0) * (SEGMENTS / duration)) / SHARE_STEP
    reach = np.log2(np.maximum(length, 1.0) * (SEGMENTS / total)) / SHARE_STEP
    # One row per grid: direction sector, time share and length share class of each piece.
    a = np.floor(angle + _SHIFTS).astype(np.int64) % SECTORS
    a[:, length < STILL_PX] = SECTORS  # too short a move to have a direction
    s = np.clip(np.floor(share + _SHIFTS), -3, 3).astype(np.int64) + 3
    r = np.clip(np.floor(reach + _SHIFTS), -3, 3).astype(np.int64) + 3
    codes = ((a * 7 + s) * 7 + r).astype("<u2")
    # The count of pointer events: jitter keeps it, and two people's paths rarely share it.
    head = int(t.shape[0]).to_bytes(4, "little")
    return tuple(
        hashlib.blake2b(
            head + bytes((grid,)) + codes[grid].tobytes(), digest_size=8, person=b"haechi-rpt1"
        ).digest()
        for grid in range(GRIDS)
    )
