"""Behaviour telemetry v1 and v2: a fast, lenient reader for what the widget records.

The formats are specified in ``docs/telemetry.md`` (JSON Schemas in ``docs/schemas``); v2, what
the widget sends, is v1 with the events packed into columns, read with one base64 decode and
array views (``_packed_events``).
This reader runs on the hot path of ``/v1/challenge`` and ``/v1/solve``, so it is plain Python
over the already decoded JSON value: no pydantic, no schema validation. It never raises and never
trusts its input. Whatever a conforming recorder would not send is dropped and counted in
``Telemetry.anomalies``, so bad input scores as suspicious instead of failing the request.
Entries keep the order they were sent in; times that go backwards are counted, not sorted.

A payload whose events are all well formed (every conforming recorder's) is read column by
column with numpy instead of event by event (``_fast_events``); anything else falls back to the
per-event loop, so both give the same ``Telemetry``. The fast path also keeps the events as
arrays (``Telemetry.columns``) for the request signals and the feature code.
"""

from __future__ import annotations

import binascii
import math
import operator
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

VERSION: Final = 2  # what the widget sends; the reader reads 1 and 2
VERSIONS: Final = frozenset({1, 2})
# v2's packed events: per event, t uint32, x and y int32 (hundredths of a CSS px) and button
# int8, little-endian, column after column (docs/telemetry.md, "Format v2").
ROW_BYTES: Final = 13
CENTI: Final = 100.0
MAX_EVENTS: Final = 2_000
MAX_KEYS: Final = 500
MAX_BYTES: Final = 64 * 1024  # the default of ``protocol.max_telemetry_bytes``
MAX_T_MS: Final = 1_800_000
# A time may step back this much without counting: recorders mix event and clock timestamps.
JITTER_MS: Final = 16
MAX_COORD: Final = 100_000  # |x|, |y| of pointer, focus and blur events, CSS px
MAX_SCROLL: Final = 50_000_000  # |x|, |y| of scroll offsets, CSS px
MAX_VIEWPORT: Final = 100_000
MAX_SLOT: Final = 255
MAX_DROPPED: Final = 2**31 - 1
MAX_HINTS: Final = 64  # a hints object with more keys than this is one anomaly

Pointer: TypeAlias = Literal["mouse", "touch", "pen", "none"]
HintValue: TypeAlias = bool | int | float
# (t ms, kind "m"|"d"|"u"|"s"|"f"|"b", x, y, button -1..4, pointer type "m"|"t"|"p")
Event: TypeAlias = tuple[int, str, float, float, int, str]
# (t ms, "d"|"u", slot 0..255)
Key: TypeAlias = tuple[int, str, int]

# Positions in an ``Event`` tuple.
T, KIND, X, Y, BUTTON, PTYPE = range(6)

POINTER_KINDS: Final = frozenset("mdu")
POINTER_TYPES: Final = frozenset("mtp")
# The primary pointer gives an event's type when it carries none; "none" reads as mouse.
_PRIMARY_PTYPE: Final[dict[str, str]] = {"mouse": "m", "touch": "t", "pen": "p", "none": "m"}
_POINTERS: Final[dict[str, Pointer]] = {
    "mouse": "mouse",
    "touch": "touch",
    "pen": "pen",
    "none": "none",
}
# Per event kind: largest |x| and |y|, lowest and highest button.
_EVENT_LIMITS: Final[dict[str, tuple[int, int, int]]] = {
    "m": (MAX_COORD, -1, 4),
    "d": (MAX_COORD, 0, 4),
    "u": (MAX_COORD, 0, 4),
    "s": (MAX_SCROLL, -1, -1),
    "f": (MAX_COORD, -1, -1),
    "b": (MAX_COORD, -1, -1),
}
_NUMBER: Final = frozenset({int, float})
_CONTAINER: Final = frozenset({dict, list, tuple})
_SEQUENCE: Final = frozenset({list, tuple})

# Whitelisted hints: name -> (kind, lowest, highest). Anything else is ignored.
HINTS: Final[dict[str, tuple[type, float, float]]] = {
    "webdriver": (bool, 0, 1),
    "headless": (bool, 0, 1),
    "in_iframe": (bool, 0, 1),
    "hidden_at_start": (bool, 0, 1),
    "cookies": (bool, 0, 1),
    "pdf_viewer": (bool, 0, 1),
    "languages": (int, 0, 100),
    "cores": (int, 0, 4096),
    "touch_points": (int, 0, 256),
    "plugins": (int, 0, 1024),
    "color_depth": (int, 0, 64),
    "tz_offset": (int, -1440, 1440),
    "memory": (float, 0, 4096),
    "dpr": (float, 0, 16),
    "screen_w": (float, 0, MAX_VIEWPORT),
    "screen_h": (float, 0, MAX_VIEWPORT),
    # Environment checks (docs/telemetry.md, Hints; widget 2026-12): consistency of the user
    # agent, of the page against its worker, input made by scripts, a window without browser UI.
    "ua_mismatch": (bool, 0, 1),
    "worker_mismatch": (bool, 0, 1),
    "no_ui": (bool, 0, 1),
    "untrusted": (int, 0, 1_000_000),
    # The input clock (widget 2026-12-08): trusted mouse/pen events seen on Chromium/X11, and
    # how many left the first one's millisecond grid (DevTools-protocol input does).
    "clock_n": (int, 0, 1_000_000),
    "clock_off": (int, 0, 1_000_000),
}

_NO_HINTS: Final[Mapping[str, HintValue]] = MappingProxyType({})

# Per ASCII byte of an event kind, for the fast path: largest |x|/|y|, lowest and highest button
# (kinds that do not exist never reach these tables: the kinds are checked first).
_LIM_OF: Final = np.zeros(256)
_LOW_OF: Final = np.zeros(256)
_HIGH_OF: Final = np.zeros(256)
for _kind, (_lim, _low, _high) in _EVENT_LIMITS.items():
    _LIM_OF[ord(_kind)], _LOW_OF[ord(_kind)], _HIGH_OF[ord(_kind)] = _lim, _low, _high
_KINDS: Final = frozenset(_EVENT_LIMITS)
_NUMBER_TYPES: Final = frozenset({int, float})


@dataclass(frozen=True, slots=True)
class EventColumns:
    """The events of a ``Telemetry`` as read-only parallel arrays (the same values as
    ``Telemetry.events``): made by the parser when every event was well formed and the times
    never decrease, so that the request signals and the features need not walk the tuples."""

    t: npt.NDArray[np.float64]  # whole ms
    kind: npt.NDArray[np.uint8]  # the kind's ASCII byte: ord("m"), ord("d"), ...
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    button: npt.NDArray[np.int8]
    ptype: npt.NDArray[np.uint8]  # ord("m"), ord("t") or ord("p")

    def __len__(self) -> int:
        return int(self.t.shape[0])


class EventTuples(Sequence[Event]):
    """The events of the parser's fast path as ``Event`` tuples, built only when first asked
    for: the request signals and the features read ``EventColumns``, so on the hot path the
    tuples (2,000 objects for the garbage collector at the cap) are never made. Equal to the
    tuple of the same events, as the per-event reader's result is."""

    __slots__ = ("_columns", "_n", "_tuples")

    def __init__(self, columns: tuple[Sequence[Any] | npt.NDArray[Any], ...], n: int) -> None:
        self._columns: tuple[Sequence[Any] | npt.NDArray[Any], ...] | None = columns
        self._n = n
        self._tuples: tuple[Event, ...] | None = None

    def tuples(self) -> tuple[Event, ...]:
        if self._tuples is None:
            assert self._columns is not None
            columns = (c.tolist() if isinstance(c, np.ndarray) else c for c in self._columns)
            self._tuples = tuple(zip(*columns, strict=True))
            self._columns = None
        return self._tuples

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        return self.tuples()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.tuples())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventTuples):
            return self.tuples() == other.tuples()
        if isinstance(other, tuple):
            return self.tuples() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.tuples())

    def __repr__(self) -> str:
        return repr(self.tuples())


@dataclass(frozen=True, slots=True)
class TelemetrySummary:
    """Cheap counters for logs and the baseline scorer."""

    events: int
    moves: int
    clicks: int  # pointer downs
    keys: int  # key downs
    scrolls: int
    blurs: int
    duration_ms: int  # first to last time over events and keys
    path_px: float
    anomalies: int
    dropped: int

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EventCounts:
    """What a head-only read (``parse_telemetry(..., head_only=True)``) knows of the events."""

    events: int
    pointer: int  # moves, downs and ups
    mouse_or_pen: int  # of them, those of a mouse or a pen


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One parsed telemetry object; ``present`` is False when none was sent.

    A head-only read leaves ``events`` empty and says how many there were in ``head``.
    """

    present: bool = False
    version: int | None = None
    viewport: tuple[float, float] | None = None
    pointer: Pointer = "none"
    # A tuple, or (fast path) ``EventTuples``, equal to the tuple of the same events.
    events: Sequence[Event] = ()
    keys: tuple[Key, ...] = ()
    hints: Mapping[str, HintValue] = field(default_factory=lambda: _NO_HINTS)
    anomalies: int = 0
    dropped: int = 0
    # The events as arrays, when the parser's fast path read them (None otherwise).
    columns: EventColumns | None = field(default=None, compare=False, repr=False)
    # Set by a head-only read instead of the events.
    head: EventCounts | None = None

    @property
    def empty(self) -> bool:
        """Nothing recorded: no events and no keys (sent or not)."""
        if self.head is not None:
            return not self.head.events and not self.keys
        return not self.events and not self.keys

    def summary(self) -> TelemetrySummary:
        """Counters in one pass; the path sums steps between consecutive pointer events."""
        moves = clicks = scrolls = blurs = 0
        path = 0.0
        hypot = math.hypot
        # Path: consecutive pointer events of one pointer type; a touch down starts a new chain.
        last_ptype = ""
        lx = ly = 0.0
        for _t, kind, x, y, _button, ptype in self.events:
            if kind in POINTER_KINDS:
                if kind == "m":
                    moves += 1
                elif kind == "d":
                    clicks += 1
                    if ptype == "t":
                        last_ptype = ""
                if ptype == last_ptype:
                    path += hypot(x - lx, y - ly)
                last_ptype, lx, ly = ptype, x, y
            elif kind == "s":
                scrolls += 1
            elif kind == "b":
                blurs += 1
        times = [e[0] for e in self.events] + [k[0] for k in self.keys]
        return TelemetrySummary(
            events=len(self.events),
            moves=moves,
            clicks=clicks,
            keys=sum(1 for k in self.keys if k[1] == "d"),
            scrolls=scrolls,
            blurs=blurs,
            duration_ms=max(times) - min(times) if times else 0,
            path_px=round(path, 1),
            anomalies=self.anomalies,
            dropped=self.dropped,
        )


MISSING: Final = Telemetry()


def parse_telemetry(
    obj: object,
    *,
    encoded_size: int | None = None,
    max_bytes: int = MAX_BYTES,
    head_only: bool = False,
) -> Telemetry:
    """Read a decoded telemetry value (``None`` when the request carried none); never raises.

    ``encoded_size`` is the serialized size when the caller knows it; above ``max_bytes``
    the whole object is discarded as one anomaly.

    ``head_only``: read everything but the events, and of the events only how many there are
    of each pointer (``Telemetry.head``), when they are rows of five with known kinds (every
    conforming recorder's, unless a visitor used two kinds of pointer); otherwise read them all.
    ``/v1/challenge`` reads this way when the behaviour is judged at ``/v1/solve``: the events
    are judged there, in the longer telemetry the solve carries.
    """
    if obj is None:
        return MISSING
    try:
        return _parse(obj, encoded_size, max_bytes, head_only)
    except Exception:
        # Unreachable for decoded JSON; a safety net for odd Python callers (CLI, training).
        return Telemetry(present=True, anomalies=1)


def _parse(
    obj: object, encoded_size: int | None, max_bytes: int, head_only: bool = False
) -> Telemetry:
    if type(obj) is not dict:
        return Telemetry(present=True, anomalies=1)
    bad = 0
    version = _as_int(obj.get("v"))
    if version not in VERSIONS:
        bad += 1  # read on, best effort
    if encoded_size is not None and encoded_size > max_bytes:
        return Telemetry(present=True, version=version, anomalies=bad + 1)

    viewport: tuple[float, float] | None = None
    if "viewport" not in obj:
        bad += 1
    else:
        vp = obj["viewport"]
        if vp is not None:
            if type(vp) in _SEQUENCE and len(vp) == 2:
                w, h = vp[0], vp[1]
                if (
                    type(w) in _NUMBER
                    and type(h) in _NUMBER
                    and 0 < w <= MAX_VIEWPORT
                    and 0 < h <= MAX_VIEWPORT
                ):
                    viewport = (w, h)
                else:
                    bad += 1
            else:
                bad += 1

    p = obj.get("pointer")
    pointer = _POINTERS.get(p) if type(p) is str else None
    if pointer is None:
        pointer = "none"
        bad += 1

    columns: EventColumns | None = None
    head: EventCounts | None = None
    events: Sequence[Event] = ()
    if "events" not in obj:
        bad += 1
    elif type(raw := obj["events"]) is dict and version != 1:  # v2: packed columns
        if not head_only or (head := _count_packed(raw, pointer)) is None:
            events, n_bad, columns = _packed_events(raw, _PRIMARY_PTYPE[pointer])
            bad += n_bad
    else:  # v1: one array per event (in v2, read as v1, best effort)
        if version == 2:
            bad += 1
        if not head_only or (head := _count_events(raw, pointer)) is None:
            events, n_bad, columns = _read_events(raw, _PRIMARY_PTYPE[pointer])
            bad += n_bad

    keys: list[Key] = []
    if "keys" in obj:
        keys, n_bad = _read_keys(obj["keys"])
        bad += n_bad

    hints = _NO_HINTS
    if "hints" in obj:
        hints, n_bad = _read_hints(obj["hints"])
        bad += n_bad

    dropped = 0
    if "dropped" in obj:
        d = _as_int(obj["dropped"])
        if d is not None and 0 <= d <= MAX_DROPPED:
            dropped = d
        else:
            bad += 1

    return Telemetry(
        present=True,
        version=version,
        viewport=viewport,
        pointer=pointer,
        events=events,
        keys=tuple(keys),
        hints=hints,
        anomalies=bad,
        dropped=dropped,
        columns=columns,
        head=head,
    )


_KIND_OF_ROW: Final = operator.itemgetter(1)


def _count_events(raw: object, pointer: Pointer) -> EventCounts | None:
    """The events' counts by pointer, when they are rows of five (the primary pointer's) with
    known kinds; None otherwise (the caller reads them all). No value but the kind is read."""
    if type(raw) not in _SEQUENCE:
        return None
    assert isinstance(raw, list | tuple)
    n = len(raw)
    if not n or n > MAX_EVENTS or not set(map(type, raw)) <= _SEQUENCE or set(map(len, raw)) != {5}:
        return None
    try:
        kinds = "".join(map(_KIND_OF_ROW, raw))
    except TypeError:  # a kind that is not a string
        return None
    if len(kinds) != n or not set(kinds) <= _KINDS:
        return None
    return _primary_counts(kinds, pointer)


def _primary_counts(kinds: str, pointer: Pointer) -> EventCounts:
    """Counts of events that are all the primary pointer's, from their kinds."""
    on_pointer = kinds.count("m") + kinds.count("d") + kinds.count("u")
    return EventCounts(len(kinds), on_pointer, 0 if pointer == "touch" else on_pointer)


# Per ASCII byte: a known event kind; a known pointer type; a pointer event.
_KIND_OK: Final = np.zeros(256, bool)
_KIND_OK[[ord(k) for k in _EVENT_LIMITS]] = True
_PTYPE_OK: Final = np.zeros(256, bool)
_PTYPE_OK[[ord(p) for p in POINTER_TYPES]] = True
_ON_POINTER: Final = np.zeros(256, bool)
_ON_POINTER[[ord(k) for k in POINTER_KINDS]] = True
_TOUCH_CODE: Final = ord("t")


def _packed_shape(d: str, n: int) -> bool:
    """Whether ``d`` has the length and padding of the base64 of ``n`` packed events (its
    characters are checked only when it is decoded)."""
    size = n * ROW_BYTES
    pad = -size % 3
    return len(d) == 4 * -(-size // 3) and d.endswith("=" * pad) and d[-pad - 1] != "="


def _packed_strings(raw: dict[Any, Any]) -> tuple[str, str, str | None] | None:
    k, d, p = raw.get("k"), raw.get("d"), raw.get("p")
    if type(k) is not str or type(d) is not str or (p is not None and type(p) is not str):
        return None
    return k, d, p


def _count_packed(raw: dict[Any, Any], pointer: Pointer) -> EventCounts | None:
    """``_count_events`` for v2: from the kinds (and pointer types), nothing decoded; None when
    the columns are not well formed (the caller reads them all and counts what is wrong)."""
    strings = _packed_strings(raw)
    if strings is None:
        return None
    k, d, p = strings
    n = len(k)
    if not n or n > MAX_EVENTS or not _packed_shape(d, n) or (p is not None and len(p) != n):
        return None
    if not set(k) <= _KINDS or (p is not None and not set(p) <= POINTER_TYPES):
        return None
    if p is None:
        return _primary_counts(k, pointer)
    kinds = np.frombuffer(k.encode("ascii"), np.uint8)
    ptypes = np.frombuffer(p.encode("ascii"), np.uint8)
    on = _ON_POINTER[kinds]
    touch = int(np.count_nonzero(on & (ptypes == _TOUCH_CODE)))
    on_pointer = int(np.count_nonzero(on))
    return EventCounts(n, on_pointer, on_pointer - touch)


def _packed_events(
    raw: dict[Any, Any], primary: str
) -> tuple[Sequence[Event], int, EventColumns | None]:
    """v2's events: (events, anomalies, columns). An event that is not what a conforming
    recorder writes is dropped and counted, as in v1; columns that cannot be read at all (not
    strings, bad base64, lengths that disagree) count every event they claim, at least one."""
    strings = _packed_strings(raw)
    if strings is None:
        return (), 1, None
    k, d, p = strings
    n = len(k)
    try:
        kinds = np.frombuffer(k.encode("ascii"), np.uint8)
        ptypes = (
            np.full(n, ord(primary), np.uint8)
            if p is None
            else np.frombuffer(p.encode("ascii"), np.uint8)
        )
        data = binascii.a2b_base64(d, strict_mode=True) if n else b""
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return (), max(1, n), None
    if len(data) != n * ROW_BYTES or ptypes.shape[0] != n:
        return (), max(1, n), None
    if not n:
        return (), 0, None
    bad = 0
    m = n
    if n > MAX_EVENTS:
        bad, m = n - MAX_EVENTS, MAX_EVENTS
    t = np.frombuffer(data, "<u4", m, 0).astype(np.float64)
    x = np.frombuffer(data, "<i4", m, 4 * n) / CENTI
    y = np.frombuffer(data, "<i4", m, 8 * n) / CENTI
    b = np.frombuffer(data, np.int8, m, 12 * n)
    kinds, ptypes = kinds[:m], ptypes[:m]
    ok = _KIND_OK[kinds] & _PTYPE_OK[ptypes] & _within_limits(kinds, t, x, y, b)
    k_out: Sequence[str] = k[:m]
    p_out: Sequence[str] = primary * m if p is None else p[:m]
    if not ok.all():
        bad += int(np.count_nonzero(~ok))
        t, x, y, b, kinds, ptypes = t[ok], x[ok], y[ok], b[ok], kinds[ok], ptypes[ok]
        k_out, p_out = kinds.tobytes().decode("ascii"), ptypes.tobytes().decode("ascii")
        m = int(t.shape[0])
        if not m:
            return (), bad, None
    events, back, columns = _read_columns(t, kinds, x, y, b, ptypes, (k_out, x, y, p_out))
    return events, bad + back, columns


_U32: Final = 2**32 - 1
_I32: Final = 2**31 - 1


def pack_events(events: Sequence[Sequence[Any]], primary: str = "mouse") -> dict[str, str]:
    """v1 event arrays as v2's packed ``events`` member (for tests, tools and converters).
    Coordinates are rounded to hundredths of a pixel; every value is clamped to its column's
    range, as the widget does; a sixth element (pointer type) makes the ``p`` column, written
    for every event when any event has one."""
    n = len(events)
    t = np.array([e[0] for e in events], np.float64).reshape(n)
    x = np.array([e[2] for e in events], np.float64).reshape(n)
    y = np.array([e[3] for e in events], np.float64).reshape(n)
    packed = b"".join(
        (
            np.clip(np.trunc(t), 0, _U32).astype("<u4").tobytes(),
            np.clip(np.round(x * CENTI), -_I32, _I32).astype("<i4").tobytes(),
            np.clip(np.round(y * CENTI), -_I32, _I32).astype("<i4").tobytes(),
            np.clip([e[4] for e in events], -128, 127).astype(np.int8).reshape(n).tobytes(),
        )
    )
    out = {
        "k": "".join(str(e[1]) for e in events),
        "d": binascii.b2a_base64(packed, newline=False).decode(),
    }
    if any(len(e) > 5 for e in events):
        own = _PRIMARY_PTYPE.get(primary, "m")
        out["p"] = "".join(str(e[5]) if len(e) > 5 else own for e in events)
    return out


def to_v2(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A v1 telemetry object as v2 (the same members, the events packed)."""
    out = dict(obj)
    out["v"] = 2
    out["events"] = pack_events(obj.get("events", []), str(obj.get("pointer", "mouse")))
    return out


def _read_events(raw: object, primary: str) -> tuple[Sequence[Event], int, EventColumns | None]:
    if type(raw) not in _SEQUENCE:
        return (), 1, None
    assert isinstance(raw, list | tuple)
    bad = 0
    if len(raw) > MAX_EVENTS:
        bad = len(raw) - MAX_EVENTS
        raw = raw[:MAX_EVENTS]
    try:
        fast = _fast_events(raw, primary)
    except (TypeError, ValueError, OverflowError):  # unhashable or odd entries: the loop reads them
        fast = None
    if fast is not None:
        return fast[0], bad + fast[1], fast[2]
    events, n_bad = _slow_events(raw, primary)
    return tuple(events), bad + n_bad, None


def _fast_events(
    raw: list[Any] | tuple[Any, ...], primary: str
) -> tuple[EventTuples, int, EventColumns | None] | None:
    """The events read column by column when every one of them is well formed: (events,
    times that went back, columns); None when any event is not (the caller falls back to the
    per-event loop, which says which and how many)."""
    n = len(raw)
    if not n or not set(map(type, raw)) <= _SEQUENCE:
        return None
    # Rows of unequal lengths raise ValueError (the caller falls back to the loop).
    read = tuple(zip(*raw, strict=True))
    if len(read) == 5:
        t, kind, x, y, button = read
        ptype: tuple[object, ...] | None = None
    elif len(read) == 6:
        t, kind, x, y, button, ptype = read
        if not set(ptype) <= POINTER_TYPES:
            return None
    else:
        return None
    # Only strings equal the kinds.
    if not set(kind) <= _KINDS:
        return None
    # ``array`` refuses whatever is not a real number ("d": a string, None, a list, an integer
    # beyond float range) or a small integer ("b": also a float, or a button outside -128..127)
    # with TypeError or OverflowError, and the loop reads those. It reads a bool as 0 or 1, so
    # the values 0 and 1 have their types looked at.
    ts, xs, ys = (np.frombuffer(array("d", col)) for col in (t, x, y))
    bs = np.frombuffer(array("b", button), np.int8)
    for col, values in ((t, ts), (x, xs), (y, ys), (button, bs)):
        zero_or_one = ((values == 0) | (values == 1)).nonzero()[0]
        if zero_or_one.shape[0] and any(type(col[i]) is bool for i in zero_or_one.tolist()):
            return None
    codes = np.frombuffer("".join(kind).encode("ascii"), np.uint8)
    if not _within_limits(codes, ts, xs, ys, bs).all():  # NaN and infinity fail every comparison
        return None
    ptypes = (
        np.full(n, ord(primary), np.uint8)
        if ptype is None
        else np.frombuffer("".join(ptype).encode("ascii"), np.uint8)  # type: ignore[arg-type]
    )
    # The tuples keep the coordinates as sent (an int stays an int), as the loop's do.
    shown = (kind, x, y, (primary,) * n if ptype is None else ptype)
    return _read_columns(np.trunc(ts), codes, xs, ys, bs, ptypes, shown)


def _within_limits(
    codes: npt.NDArray[np.uint8],
    t: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    b: npt.NDArray[np.int8],
) -> npt.NDArray[np.bool_]:
    """Per event, whether its time, coordinates and button are within its kind's limits (both
    formats' rule; the kind itself is checked by the caller)."""
    lim = _LIM_OF[codes]
    ok: npt.NDArray[np.bool_] = (  # NaN fails every comparison, without a warning
        (t >= 0)
        & (t <= MAX_T_MS)
        & (np.abs(x) <= lim)
        & (np.abs(y) <= lim)
        & (b >= _LOW_OF[codes])
        & (b <= _HIGH_OF[codes])
    )
    return ok


def _read_columns(
    t: npt.NDArray[np.float64],
    codes: npt.NDArray[np.uint8],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    b: npt.NDArray[np.int8],
    ptypes: npt.NDArray[np.uint8],
    shown: tuple[Sequence[Any] | npt.NDArray[Any], ...],
) -> tuple[EventTuples, int, EventColumns | None]:
    """Well-formed events (whole-ms times) as (tuples made when asked for, times that went
    back, columns when they never do). ``shown`` is (kinds, x, y, pointer types) as the tuples
    give them; times and buttons are whole numbers there, as the loop writes them."""
    step = t[1:] - t[:-1]
    back = int(np.count_nonzero(step < -JITTER_MS))
    kinds, xs, ys, pts = shown
    events = EventTuples((t.astype(np.int64), kinds, xs, ys, b, pts), int(t.shape[0]))
    columns = None
    if not bool((step < 0).any()):
        columns = EventColumns(
            _frozen(t), _frozen(codes), _frozen(x), _frozen(y), _frozen(b), _frozen(ptypes)
        )
    return events, back, columns


_A = TypeVar("_A", bound=np.generic)


def _frozen(a: npt.NDArray[_A]) -> npt.NDArray[_A]:
    a.flags.writeable = False
    return a


def _slow_events(raw: list[Any] | tuple[Any, ...], primary: str) -> tuple[list[Event], int]:
    """The per-event reader: drops and counts each malformed event."""
    bad = 0
    out: list[Event] = []
    append = out.append
    number, ptypes, limits = _NUMBER, POINTER_TYPES, _EVENT_LIMITS
    last_t = 0
    for e in raw:
        kind_of = type(e)
        if kind_of is not list and kind_of is not tuple:
            bad += 1
            continue
        n = len(e)
        if n == 5:
            t, kind, x, y, button = e
            ptype = primary
        elif n == 6:
            t, kind, x, y, button, ptype = e
            if type(ptype) is not str or ptype not in ptypes:
                bad += 1
                continue
        else:
            bad += 1
            continue
        spec = limits.get(kind) if type(kind) is str else None
        if spec is None:
            bad += 1
            continue
        lim, lowest, highest = spec
        if not (
            type(t) in number
            and 0 <= t <= MAX_T_MS
            and type(x) in number
            and -lim <= x <= lim
            and type(y) in number
            and -lim <= y <= lim
            and (type(button) is int or (type(button) is float and button.is_integer()))
            and lowest <= button <= highest
        ):
            bad += 1
            continue
        if type(t) is float:
            t = int(t)
        if type(button) is float:
            button = int(button)
        if t < last_t - JITTER_MS:
            bad += 1  # kept where it was sent; counted
        last_t = t
        append((t, kind, x, y, button, ptype))
    return out, bad


def _read_keys(raw: object) -> tuple[list[Key], int]:
    if type(raw) not in _SEQUENCE:
        return [], 1
    assert isinstance(raw, list | tuple)
    bad = 0
    if len(raw) > MAX_KEYS:
        bad = len(raw) - MAX_KEYS
        raw = raw[:MAX_KEYS]
    out: list[Key] = []
    last_t = 0
    for k in raw:
        if type(k) not in _SEQUENCE or len(k) != 3:
            bad += 1
            continue
        t, kind, slot = k[0], k[1], _as_int(k[2])
        if (
            type(t) not in _NUMBER
            or not 0 <= t <= MAX_T_MS
            or (kind != "d" and kind != "u")
            or slot is None
            or not 0 <= slot <= MAX_SLOT
        ):
            bad += 1
            continue
        t = int(t)
        if t < last_t - JITTER_MS:
            bad += 1
        last_t = t
        out.append((t, kind, slot))
    return out, bad


def _read_hints(raw: object) -> tuple[Mapping[str, HintValue], int]:
    if type(raw) is not dict:
        return _NO_HINTS, 1
    bad = 0
    if len(raw) > MAX_HINTS:
        bad += 1
    else:
        # Hints are scalars; never descend into a nested value, just count it.
        for name, value in raw.items():
            if type(value) in _CONTAINER and name not in HINTS:
                bad += 1
    hints: dict[str, HintValue] = {}
    for name, (kind, lo, hi) in HINTS.items():
        if name not in raw:
            continue
        value = raw[name]
        kind_of = type(value)
        if kind is bool:
            ok = kind_of is bool
        elif kind is int:
            value = _as_int(value)
            ok = value is not None and lo <= value <= hi
        else:
            ok = kind_of in _NUMBER and lo <= value <= hi
        if ok:
            hints[name] = value
        else:
            bad += 1
    return (MappingProxyType(hints) if hints else _NO_HINTS), bad


def _as_int(value: object) -> int | None:
    """An integer, or a float with an integral value (JSON does not tell 1.0 from 1); not a bool."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None
