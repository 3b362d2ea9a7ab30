"""Request signals: what a request says about its sender apart from the shape of its movement.

The behaviour model judges how the pointer moves; these rules judge everything around it, in
one pass over the parsed telemetry (pure Python over the events, or numpy over the parser's arrays
when it kept them: about 0.1 ms for a 5-second payload).
Each rule that fires adds points and names itself; ``docs/risk-model.md`` (Serving) lists them
with the measurements behind their weights. ``headless`` and ``webdriver`` set a floor instead,
since a browser that says it is automated needs no second opinion.

Rules are kept where a conforming recorder in a real browser cannot fire them, or where real
visitors rarely do (measured on SapiMouse: see the docs), because every point here is friction
for the people it hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from haechi.risk.telemetry import EventColumns, Telemetry

# The recorder writes at most one move per 8 ms (docs/telemetry.md, Sampling); only a pending
# move flushed before a down, up, blur or the send may come sooner.
SAMPLE_MS: Final = 8
SAMPLING_VIOLATIONS: Final = 3
# A press shorter than this (ms) is not a finger: SapiMouse people hold 32 ms at the 1st
# percentile; 0.1% of their clicks read <= 2 ms (recorder quirks), never most of a window's.
MIN_DWELL_MS: Final = 2
MIN_SHORT_PRESSES: Final = 2
MIN_APPROACH_MOVES: Final = 3
SPARSE_SPAN_MS: Final = 1_000
SPARSE_MOVES: Final = 20
SPARSE_RATE: Final = 2.0  # moves per second
HINT_FLOOR: Final = 95

POINTS: Final[dict[str, int]] = {
    "impossible-timing": 30,
    "no-approach": 20,
    "few-events": 15,
    "no-languages": 15,
    "impossible-drawing": 30,
    # Environment checks (docs/risk-model.md, Policy): each alone lifts a person's risk into a
    # visual-task band, never into a block; with bot-like movement the sum may block.
    "ua-mismatch": 45,
    "worker-mismatch": 45,
    "untrusted-input": 45,
    "no-browser-ui": 20,
    "synthetic-input-clock": 45,
    "header-mismatch": 45,
}
# Boolean hints that add points when true, by rule name.
ENV_HINTS: Final[tuple[tuple[str, str], ...]] = (
    ("ua_mismatch", "ua-mismatch"),
    ("worker_mismatch", "worker-mismatch"),
    ("no_ui", "no-browser-ui"),
)
# The input clock (docs/telemetry.md, Hints): on Chromium/X11 the system's input shares one
# fraction of a millisecond (0 of n off the grid, measured with xdotool); input dispatched
# through the DevTools protocol is stamped on arrival, about 70% of it off the grid (one grid
# step of 0.1 ms either side of the first counts as on it). The system's clock gives no stray
# off-grid event (0 of 278 xdotool events, window at (37, 52)), so a few events suffice: the
# widget often solves 1.2 s after the first move, with only a handful recorded.
CLOCK_MIN_EVENTS: Final = 4
CLOCK_MIN_OFF: Final = 3
# A hand on a canvas: a word takes longer than this, and the pen is slower than this on average.
MIN_DRAWING_MS = 300.0
MAX_PEN_SPEED = 4.0  # px/ms over the strokes (a fast hand is about 1)


@dataclass(frozen=True, slots=True)
class IpRateRule:
    """Points for the sender's request rate: none up to ``low``, rising linearly to ``points``
    at ``high`` requests a second and staying there. Shared addresses (offices, carrier NAT)
    send many honest requests, so this adds friction and is never a block on its own."""

    low: float = 5.0
    high: float = 25.0
    points: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high or not 0 <= self.points <= 60:
            raise ValueError("ip rate rule: 0 <= low < high, 0 <= points <= 60")

    def __call__(self, rate: float | None) -> int:
        if rate is None or not rate > self.low:  # NaN compares False: ignored
            return 0
        share = min(1.0, (rate - self.low) / (self.high - self.low))
        return max(1, round(self.points * share))


@dataclass(frozen=True, slots=True)
class PointerFacts:
    """What one pass over the events found; the model is asked only when ``mouse_or_pen``."""

    pointer_events: int
    mouse_or_pen: int
    sampling_violations: int
    short_presses: int
    presses: int
    approach: int  # mouse/pen moves before the first mouse/pen down; -1 when none went down
    sparse: bool


def pointer_facts(tele: Telemetry) -> PointerFacts:
    """One pass over the events (about 0.2 ms for 2,000 on the development machine), or a few
    array operations when the parser kept the events as arrays (about 0.04 ms)."""
    if tele.columns is not None:
        return _facts_of_columns(tele.columns)
    if tele.head is not None:
        # A head-only read: the counts, and nothing found (the events are judged at /v1/solve).
        return PointerFacts(
            pointer_events=tele.head.pointer,
            mouse_or_pen=tele.head.mouse_or_pen,
            sampling_violations=0,
            short_presses=0,
            presses=0,
            approach=-1,
            sparse=False,
        )
    mp_moves = mp_events = touch = violations = presses = short = 0
    approach = -1
    first_t = last_t = -1
    down_at: dict[int, int] = {}
    # A move written sooner than 8 ms after the move before it is a violation when a move
    # follows it: a recorder following the format writes such a move only when flushing its
    # pending move before a down, up or blur, or at the send.
    prev_move_t = -SAMPLE_MS  # time of the previous event when it was a mouse/pen move
    close = False  # the previous event was a move sooner than 8 ms after a move
    for t, kind, _x, _y, button, ptype in tele.events:
        if kind == "m":
            if ptype == "t":
                touch += 1
                prev_move_t, close = -SAMPLE_MS, False
                continue
            if close:
                violations += 1
            close = t - prev_move_t < SAMPLE_MS
            prev_move_t = t
            mp_moves += 1
        else:
            prev_move_t, close = -SAMPLE_MS, False
            if kind != "d" and kind != "u":
                continue
            if ptype == "t":
                touch += 1
                continue
            if kind == "d":
                if approach < 0:
                    approach = mp_moves
                down_at[button] = t
            else:
                pressed = down_at.pop(button, None)
                if pressed is not None:
                    presses += 1
                    if t - pressed <= MIN_DWELL_MS:
                        short += 1
        mp_events += 1
        if first_t < 0:
            first_t = t
        last_t = t
    span = last_t - first_t
    sparse = (
        span >= SPARSE_SPAN_MS and mp_moves < SPARSE_MOVES and mp_moves * 1000 < SPARSE_RATE * span
    )
    return PointerFacts(
        pointer_events=mp_events + touch,
        mouse_or_pen=mp_events,
        sampling_violations=violations,
        short_presses=short,
        presses=presses,
        approach=approach,
        sparse=sparse,
    )


_M, _D, _U, _TOUCH = ord("m"), ord("d"), ord("u"), ord("t")


def _facts_of_columns(cols: EventColumns) -> PointerFacts:
    """``pointer_facts`` from the parser's arrays: the same answer, vectorised."""
    kind, t = cols.kind, cols.t
    is_move = kind == _M
    pointer = is_move | (kind == _D) | (kind == _U)
    touch = pointer & (cols.ptype == _TOUCH)
    mp = pointer ^ touch
    mp_move = mp & is_move
    # A move is a violation when the two events before it were moves too, 8 ms or less apart
    # (the one before it was written too soon after its predecessor).
    violations = int(
        np.count_nonzero(
            mp_move[2:] & mp_move[1:-1] & mp_move[:-2] & (t[1:-1] - t[:-2] < SAMPLE_MS)
        )
    )
    clicks = (mp ^ mp_move).nonzero()[0]
    approach = -1
    presses = short = 0
    if clicks.shape[0]:
        down_at: dict[int, float] = {}
        for i, k, b, at in zip(
            clicks.tolist(), kind[clicks].tolist(), cols.button[clicks].tolist(),
            t[clicks].tolist(), strict=True,
        ):  # fmt: skip
            if k == _D:
                if approach < 0:
                    approach = int(np.count_nonzero(mp_move[:i]))
                down_at[b] = at
            else:
                pressed = down_at.pop(b, None)
                if pressed is not None:
                    presses += 1
                    if at - pressed <= MIN_DWELL_MS:
                        short += 1
    mp_at = mp.nonzero()[0]
    mp_events = int(mp_at.shape[0])
    span = float(t[mp_at[-1]] - t[mp_at[0]]) if mp_events else 0.0
    mp_moves = int(np.count_nonzero(mp_move))
    sparse = (
        span >= SPARSE_SPAN_MS and mp_moves < SPARSE_MOVES and mp_moves * 1000 < SPARSE_RATE * span
    )
    return PointerFacts(
        pointer_events=mp_events + int(np.count_nonzero(touch)),
        mouse_or_pen=mp_events,
        sampling_violations=violations,
        short_presses=short,
        presses=presses,
        approach=approach,
        sparse=sparse,
    )


def _short_keys(tele: Telemetry) -> tuple[int, int]:
    """Key presses (down then up of one slot) and how many of them were impossibly short."""
    down_at: dict[int, int] = {}
    presses = short = 0
    for t, kind, slot in tele.keys:
        if kind == "d":
            down_at[slot] = t
        else:
            pressed = down_at.pop(slot, None)
            if pressed is not None:
                presses += 1
                if t - pressed <= MIN_DWELL_MS:
                    short += 1
    return presses, short


def _impossible(facts: PointerFacts, tele: Telemetry) -> bool:
    if facts.sampling_violations >= SAMPLING_VIOLATIONS:
        return True
    if facts.short_presses >= MIN_SHORT_PRESSES and 2 * facts.short_presses >= facts.presses:
        return True
    key_presses, short_keys = _short_keys(tele)
    return short_keys >= MIN_SHORT_PRESSES and 2 * short_keys >= key_presses


def anomaly_points(anomalies: int) -> int:
    """Entries the parser dropped or flagged: a conforming recorder sends none."""
    if not anomalies:
        return 0
    return 45 if anomalies >= 10 else 25 if anomalies >= 3 else 10


def no_approach(facts: PointerFacts, tele: Telemetry, *, judged: bool) -> bool:
    """The first mouse/pen down came from nowhere: no move at all before it, or fewer than
    ``MIN_APPROACH_MOVES`` when the model had too little movement to judge (a scripted click).
    Where the model judged the movement it has the evidence; a window that starts at a click's
    last correction (1-2 moves, 5% of people's cut windows) is not held against them. A capped or
    re-based recording may have lost the approach: only judged when whole."""
    if tele.dropped or facts.approach < 0:
        return False
    return facts.approach == 0 or (not judged and facts.approach < MIN_APPROACH_MOVES)


def synthetic_clock(n: object, off: object) -> bool:
    """Mouse input stamped off the system's millisecond clock: at least ``CLOCK_MIN_OFF`` of at
    least ``CLOCK_MIN_EVENTS`` events, and a third of them (the system's own input: none)."""
    if type(n) is not int or type(off) is not int or n < CLOCK_MIN_EVENTS:
        return False
    return off >= CLOCK_MIN_OFF and 3 * off >= n


# What a Chromium agent's platform token says ``Sec-CH-UA-Platform`` is (the first token found).
_CH_PLATFORMS: Final = (
    ("Android", '"Android"'),
    ("CrOS", '"Chrome OS"'),
    ("Windows", '"Windows"'),
    ("Macintosh", '"macOS"'),
    ("Linux", '"Linux"'),
)
_LOOPBACK: Final = ("127.", "localhost", "[::1]")


def _major(ua: str, token: str) -> int:
    """The major version after ``token`` in the agent string; -1 when absent or not a number."""
    at = ua.find(token)
    if at < 0:
        return -1
    start = at + len(token)
    end = ua.find(".", start)
    digits = ua[start:end] if end > start else ""
    return int(digits) if len(digits) < 5 and digits.isdigit() else -1


def header_mismatch(
    ua: str | None,
    ch_ua: str | None,
    ch_platform: str | None,
    fetch_mode: str | None,
    origin: str | None,
    host: str | None,
) -> bool:
    """The request's headers contradict the browser its ``User-Agent`` names (docs/risk-model.md,
    Serving): a browser's fetch to a secure URL (an ``https`` page, or this server on a loopback
    address) always carries Fetch Metadata (Chromium 76+, Firefox 90+), and Chromium 90+ sends
    its low-entropy Client Hints with it, one brand at the agent's major version and the
    agent's platform. An HTTP client that copied a browser's agent, or a browser whose agent was
    replaced, sends something else. Android WebViews (``; wv)``) and agents that name neither
    browser are not judged; a few string searches, no regular expression."""
    if not ua:
        return False
    secure = (origin is not None and origin.startswith("https://")) or (
        host is not None and host.startswith(_LOOPBACK)
    )
    chrome = _major(ua, " Chrome/")
    if chrome >= 90 and "; wv)" not in ua:
        if ch_ua is None:
            return secure or fetch_mode is not None
        if f'v="{chrome}"' not in ch_ua:
            return True
        if ch_platform is not None:
            for token, platform in _CH_PLATFORMS:
                if token in ua:
                    # Android's "desktop site" sends a Linux agent with the Android platform.
                    return ch_platform != platform and not (
                        platform == '"Linux"' and ch_platform == '"Android"'
                    )
        return False
    if _major(ua, " Firefox/") >= 90 or chrome >= 80:
        return secure and fetch_mode is None
    return False


def request_signals(
    tele: Telemetry,
    facts: PointerFacts,
    ip_rate: float | None,
    rate_rule: IpRateRule,
    *,
    judged: bool,
) -> tuple[list[tuple[str, int]], int, list[str]]:
    """Rules that fired as (reason, points), the floor the hints set (0: none) and the hints'
    reasons. ``judged``: the behaviour model answered a risk for the movement. The order is
    fixed; the caller sorts by weight."""
    fired: list[tuple[str, int]] = []
    if tele.anomalies:
        fired.append(("anomalies", anomaly_points(tele.anomalies)))
    if facts.mouse_or_pen:
        if _impossible(facts, tele):
            fired.append(("impossible-timing", POINTS["impossible-timing"]))
        if no_approach(facts, tele, judged=judged):
            fired.append(("no-approach", POINTS["no-approach"]))
        if facts.sparse:
            fired.append(("few-events", POINTS["few-events"]))
    elif _impossible(facts, tele):
        fired.append(("impossible-timing", POINTS["impossible-timing"]))
    hints = tele.hints
    if hints:
        if hints.get("languages") == 0:
            fired.append(("no-languages", POINTS["no-languages"]))
        for hint, rule in ENV_HINTS:
            if hints.get(hint) is True:
                fired.append((rule, POINTS[rule]))
        untrusted = hints.get("untrusted")
        if type(untrusted) is int and untrusted >= 1:
            fired.append(("untrusted-input", POINTS["untrusted-input"]))
        if synthetic_clock(hints.get("clock_n"), hints.get("clock_off")):
            fired.append(("synthetic-input-clock", POINTS["synthetic-input-clock"]))
    rate_points = rate_rule(ip_rate)
    if rate_points:
        fired.append(("ip-rate", rate_points))
    floor = 0
    automation: list[str] = []
    for hint in ("webdriver", "headless"):
        if hints.get(hint) is True:
            floor = HINT_FLOOR
            automation.append(hint)
    return fired, floor, automation


def task_signals(signals: dict[str, float] | None) -> list[tuple[str, int]]:
    """Points for how a visual task was answered (``CheckResult.signals``; today the
    handwriting type's drawing timing): a word drawn faster than a hand can draw it."""
    if not signals or "draw_duration_ms" not in signals:
        return []
    duration = signals.get("draw_duration_ms", 0.0)
    speed = signals.get("draw_mean_speed", 0.0)
    if duration < MIN_DRAWING_MS or speed > MAX_PEN_SPEED:
        return [("impossible-drawing", POINTS["impossible-drawing"])]
    return []
