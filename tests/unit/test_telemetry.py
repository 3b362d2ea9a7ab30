"""The telemetry v1 reader: the documented example reads cleanly, bad input is counted, never raised."""

from __future__ import annotations

import base64
import dataclasses
import functools
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haechi.risk import telemetry as tm
from haechi.risk.telemetry import MAX_EVENTS, MAX_KEYS, Telemetry, parse_telemetry

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "telemetry.md"
SCHEMA = ROOT / "docs" / "schemas" / "telemetry.v1.json"


def doc_example() -> dict[str, Any]:
    """The JSON block under the "## Example" heading of docs/telemetry.md."""
    section = DOC.read_text(encoding="utf-8").split("\n## Example\n", 1)[1]
    match = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert match, "docs/telemetry.md: no ```json block under ## Example"
    value: dict[str, Any] = json.loads(match.group(1))
    return value


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def payload(events: list[Any] | None = None, /, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"v": 1, "viewport": [1280, 720], "pointer": "mouse"}
    base["events"] = [[0, "m", 10, 20, -1], [17, "m", 12, 21, -1]] if events is None else events
    base.update(extra)
    return base


# ---------------------------------------------------------------------------- the example


def test_docs_example_validates_against_schema() -> None:
    validator().validate(doc_example())


def test_docs_example_parses_without_anomalies() -> None:
    example = doc_example()
    tele = parse_telemetry(example)
    assert tele.present
    assert tele.anomalies == 0
    assert tele.version == 1
    assert tele.viewport == (1280, 720)
    assert tele.pointer == "mouse"
    assert len(tele.events) == len(example["events"])
    assert len(tele.keys) == len(example["keys"])
    assert dict(tele.hints) == example["hints"]
    # Events without a sixth element take the primary pointer; the pen ones say so.
    assert {e[tm.PTYPE] for e in tele.events if e[tm.KIND] == "m"} == {"m", "p"}
    summary = tele.summary()
    assert summary.clicks == 2
    assert summary.keys == 5
    assert summary.scrolls == 2
    assert summary.blurs == 1
    assert summary.duration_ms == example["keys"][-1][0] - example["events"][0][0]
    assert summary.path_px > 0
    assert summary.as_dict()["moves"] == summary.moves


def test_missing_telemetry_is_not_present() -> None:
    tele = parse_telemetry(None)
    assert not tele.present
    assert tele.empty
    assert tele.anomalies == 0


def test_empty_but_valid_telemetry_is_present_and_clean() -> None:
    tele = parse_telemetry(payload([]))
    assert tele.present
    assert tele.empty
    assert tele.anomalies == 0


def test_result_is_immutable() -> None:
    tele = parse_telemetry(doc_example())
    with pytest.raises(dataclasses.FrozenInstanceError):
        tele.anomalies = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        tele.hints["webdriver"] = True  # type: ignore[index]


# ---------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("value", [1, 1.5, True, "telemetry", b"bytes", [], [1, 2], ("v", 1)])
def test_non_object_counts_one_anomaly(value: object) -> None:
    tele = parse_telemetry(value)
    assert tele.present
    assert tele.anomalies == 1
    assert tele.empty


def test_empty_object_counts_each_missing_member() -> None:
    # v, viewport, pointer, events
    assert parse_telemetry({}).anomalies == 4


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("v", 2),
        ("v", "1"),
        ("v", True),
        ("viewport", [0, 720]),
        ("viewport", [1280]),
        ("viewport", ["1280", 720]),
        ("viewport", [1280, math.nan]),
        ("viewport", [1280, True]),
        ("viewport", {"w": 1}),
        ("pointer", "finger"),
        ("pointer", None),
        ("pointer", ["mouse"]),
        ("events", "m,d,u"),
        ("events", {"0": [0, "m", 1, 2, -1]}),
        ("keys", 5),
        ("hints", []),
        ("hints", "webdriver"),
        ("dropped", -1),
        ("dropped", 2**40),
        ("dropped", "3"),
        ("dropped", False),
    ],
)
def test_bad_member_counts_one_anomaly(member: str, value: object) -> None:
    tele = parse_telemetry(payload(**{member: value}))
    assert tele.anomalies == 1


def test_null_viewport_is_unknown_not_an_anomaly() -> None:
    tele = parse_telemetry(payload(viewport=None))
    assert tele.viewport is None
    assert tele.anomalies == 0


def test_wrong_version_is_read_best_effort() -> None:
    tele = parse_telemetry(payload(v=2))
    assert tele.version == 2
    assert len(tele.events) == 2


BAD_EVENTS: list[Any] = [
    None,
    "m",
    17,
    {"t": 0},
    [],
    [0, "m", 1, 2],  # too short
    [0, "m", 1, 2, -1, "m", 0],  # too long
    [True, "m", 1, 2, -1],  # a bool is not a number
    [0, "m", False, 2, -1],
    [0, "m", 1, 2, True],
    ["0", "m", 1, 2, -1],
    [-1, "m", 1, 2, -1],  # negative time
    [1_800_001, "m", 1, 2, -1],  # past 30 minutes
    [10**30, "m", 1, 2, -1],
    [math.nan, "m", 1, 2, -1],
    [math.inf, "m", 1, 2, -1],
    [0, "m", math.nan, 2, -1],
    [0, "m", 1, -math.inf, -1],
    [0, "m", 100_001, 2, -1],  # out of range
    [0, "d", 1, -100_001, 0],
    [0, "x", 1, 2, -1],  # unknown type
    [0, "", 1, 2, -1],
    [0, "md", 1, 2, -1],
    [0, None, 1, 2, -1],
    [0, ["m"], 1, 2, -1],
    [0, "m", 1, 2, 5],  # no such button
    [0, "m", 1, 2, -2],
    [0, "d", 1, 2, -1],  # a down needs a button
    [0, "u", 1, 2, 1.5],
    [0, "s", 0, 120, 0],  # scroll, focus and blur carry no button
    [0, "f", 0, 0, 0],
    [0, "s", 0, 60_000_000, -1],
    [0, "m", 1, 2, -1, "x"],  # unknown pointer type
    [0, "m", 1, 2, -1, None],
    [0, "m", 1, 2, -1, ["t"]],
    [0, "m", "1", 2, -1],
    [0, "m", [1], 2, -1],
    [0, "m", {"x": 1}, 2, -1],
]


@pytest.mark.parametrize("event", BAD_EVENTS, ids=repr)
def test_bad_event_is_dropped_and_counted(event: object) -> None:
    good = [0, "m", 10, 20, -1]
    tele = parse_telemetry(payload([good, event, [20, "m", 11, 21, -1]]))
    assert tele.anomalies == 1
    assert [e[tm.T] for e in tele.events] == [0, 20]


def is_json(value: object) -> bool:
    """JSON has no NaN or infinity (and the schema cannot see them): those are Python-only."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("event", [e for e in BAD_EVENTS if is_json(e)], ids=repr)
def test_schema_rejects_what_the_reader_counts(event: object) -> None:
    assert not validator().is_valid(payload([event]))


@pytest.mark.parametrize(
    "event",
    [
        [0, "m", 1.25, -3.5, -1],  # fractional, and outside the viewport
        [0, "m", 1, 2, 0],  # a drag
        [0, "d", 1, 2, 2],
        [0, "u", 1, 2, 4],
        [0, "s", -500, 49_000_000, -1],
        [0, "f", 0, 0, -1],
        [0, "b", 0, 0, -1],
        [0, "m", 1, 2, -1, "t"],
        [0, "m", 1, 2, -1, "m"],  # same as the primary: allowed
        [1_800_000, "m", 1, 2, -1],
    ],
    ids=repr,
)
def test_good_event_is_kept(event: list[Any]) -> None:
    tele = parse_telemetry(payload([event]))
    assert tele.anomalies == 0
    assert len(tele.events) == 1
    assert validator().is_valid(payload([event]))


def test_integral_floats_pass_as_integers_and_t_is_truncated() -> None:
    tele = parse_telemetry(
        payload(
            [[12.7, "d", 1, 2, 0.0]],
            keys=[[3.0, "d", 1.0]],
            hints={"cores": 8.0},
            dropped=2.0,
        )
    )
    assert tele.anomalies == 0
    assert tele.events == ((12, "d", 1, 2, 0, "m"),)
    assert type(tele.events[0][tm.BUTTON]) is int
    assert tele.keys == ((3, "d", 1),)
    assert tele.hints["cores"] == 8
    assert tele.dropped == 2


def test_out_of_order_times_are_counted_and_kept_in_order() -> None:
    events = [[100, "m", 1, 1, -1], [50, "m", 2, 2, -1], [60, "m", 3, 3, -1]]
    tele = parse_telemetry(payload(events))
    assert tele.anomalies == 1
    assert [e[tm.T] for e in tele.events] == [100, 50, 60]


def test_small_clock_jitter_is_tolerated() -> None:
    events = [[100, "m", 1, 1, -1], [100 - tm.JITTER_MS, "d", 1, 1, 0]]
    assert parse_telemetry(payload(events)).anomalies == 0


def test_pointer_type_falls_back_to_the_primary() -> None:
    events = [[0, "d", 1, 1, 0], [5, "m", 1, 1, 0, "p"]]
    touch = parse_telemetry(payload(events, pointer="touch"))
    assert [e[tm.PTYPE] for e in touch.events] == ["t", "p"]
    unknown = parse_telemetry(payload(events, pointer="none"))
    assert [e[tm.PTYPE] for e in unknown.events] == ["m", "p"]


def test_events_over_the_cap_are_cut_and_counted() -> None:
    events = [[i, "m", i % 500, 3, -1] for i in range(MAX_EVENTS + 500)]
    tele = parse_telemetry(payload(events))
    assert len(tele.events) == MAX_EVENTS
    assert tele.anomalies == 500
    assert tele.events[-1][tm.T] == MAX_EVENTS - 1


def test_a_huge_list_is_cut_without_reading_it() -> None:
    tele = parse_telemetry(payload([None] * 1_000_000, keys=[None] * 1_000_000))
    assert tele.events == ()
    assert tele.anomalies == 1_000_000 + 1_000_000


def test_keys_over_the_cap_are_cut_and_counted() -> None:
    keys = [[i, "du"[i % 2], (i // 2) % 256] for i in range(MAX_KEYS + 7)]
    tele = parse_telemetry(payload(keys=keys))
    assert len(tele.keys) == MAX_KEYS
    assert tele.anomalies == 7


@pytest.mark.parametrize(
    "key",
    [
        None,
        [0, "d"],
        [0, "d", 1, 2],
        [0, "x", 1],
        [0, "d", 256],
        [0, "d", -1],
        [0, "d", True],
        [0, "d", "a"],  # never a key value
        [True, "d", 0],
        [-5, "u", 0],
        [math.nan, "u", 0],
        [0, "d", 1.5],
    ],
    ids=repr,
)
def test_bad_key_is_dropped_and_counted(key: object) -> None:
    tele = parse_telemetry(payload(keys=[[0, "d", 0], key, [80, "u", 0]]))
    assert tele.anomalies == 1
    assert len(tele.keys) == 2
    if is_json(key):
        assert not validator().is_valid(payload(keys=[key]))


def test_hints_keep_only_known_valid_scalars() -> None:
    hints = {
        "webdriver": True,
        "languages": 3,
        "dpr": 2.5,
        "unknown_future_hint": "ignored",
        "cores": "8",  # wrong type
        "touch_points": True,  # a bool is not a number
        "memory": math.inf,
        "tz_offset": 5000,  # out of range
        "headless": 1,  # not a bool
    }
    tele = parse_telemetry(payload(hints=hints))
    assert dict(tele.hints) == {"webdriver": True, "languages": 3, "dpr": 2.5}
    assert tele.anomalies == 5


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": [value]}
    return value


def test_deep_nesting_in_hints_is_counted_not_descended() -> None:
    tele = parse_telemetry(payload(hints={"x": deep(100_000), "webdriver": deep(50_000)}))
    assert tele.anomalies == 2
    assert dict(tele.hints) == {}


def test_too_many_hints_is_one_anomaly() -> None:
    hints: dict[str, Any] = {f"h{i}": [i] for i in range(200)}
    hints["webdriver"] = True
    tele = parse_telemetry(payload(hints=hints))
    assert tele.anomalies == 1
    assert tele.hints == {"webdriver": True}


def test_oversized_encoding_discards_the_object() -> None:
    tele = parse_telemetry(doc_example(), encoded_size=64 * 1024 + 1)
    assert tele.present
    assert tele.empty
    assert tele.anomalies == 1
    assert parse_telemetry(doc_example(), encoded_size=64 * 1024).anomalies == 0


def test_odd_python_values_never_raise() -> None:
    class Weird(list[Any]):
        def __len__(self) -> int:
            raise RuntimeError("boom")

    class Evil:
        """Collides with "events" and explodes when compared."""

        def __hash__(self) -> int:
            return hash("events")

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("boom")

    assert parse_telemetry(payload(Weird([[0, "m", 1, 2, -1]]))).anomalies == 1
    assert parse_telemetry(payload([Weird([0, "m", 1, 2, -1])])).anomalies == 1
    assert parse_telemetry({"v": 1, 3: object(), Evil(): 1}).anomalies == 1
    # Tuples read like lists, for Python callers.
    tele = parse_telemetry(payload([(0, "m", 1, 2, -1)], viewport=(800, 600)))
    assert tele.anomalies == 0
    assert tele.viewport == (800, 600)


# ---------------------------------------------------------------------------- fuzzing

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)
# Near-valid pieces, so that the fuzzer reaches the checks inside events, keys and hints.
near_scalars = (
    st.sampled_from(["m", "d", "u", "s", "f", "b", "t", "p", "x", "mouse", "touch", "none"])
    | st.integers(min_value=-3, max_value=2_000_000)
    | st.floats(min_value=-2e5, max_value=2e5)
    | st.floats()
    | st.booleans()
    | st.none()
)
near_entries = st.lists(near_scalars, min_size=3, max_size=7) | json_values
near_telemetry = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 1.0, 2, True, None, "1"]),
        "viewport": st.lists(near_scalars, max_size=3) | json_values,
        "pointer": st.sampled_from(["mouse", "touch", "pen", "none", "", None, 1]),
        "events": st.lists(near_entries, max_size=30) | json_values,
        "keys": st.lists(near_entries, max_size=10) | json_values,
        "hints": st.dictionaries(st.sampled_from([*sorted(tm.HINTS), "other"]), json_values)
        | json_values,
        "dropped": near_scalars,
    },
)


def check(tele: Telemetry) -> None:
    assert tele.anomalies >= 0
    assert len(tele.events) <= MAX_EVENTS
    assert len(tele.keys) <= MAX_KEYS
    for t, kind, x, y, button, ptype in tele.events:
        assert type(t) is int and 0 <= t <= tm.MAX_T_MS
        assert kind in "mdusfb" and len(kind) == 1
        assert math.isfinite(x) and math.isfinite(y)
        assert type(button) is int and -1 <= button <= 4
        assert ptype in ("m", "t", "p")
    for hint in tele.hints.values():
        assert type(hint) in (bool, int, float)
    tele.summary()


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_any_json_value_never_raises(value: object) -> None:
    # The inner reader itself, so that the safety net in parse_telemetry hides nothing.
    check(tm._parse(value, None, tm.MAX_BYTES))
    check(parse_telemetry(value))


@settings(max_examples=300, deadline=None)
@given(near_telemetry)
def test_fuzz_near_valid_telemetry_never_raises(value: dict[str, Any]) -> None:
    tele = tm._parse(value, None, tm.MAX_BYTES)
    check(tele)
    if is_json(value) and validator().is_valid(value):
        assert tele.anomalies == 0 or tele.version != 1 or _out_of_order(value)
    check_head(value, tele)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_head_only_read_never_raises(value: object) -> None:
    check(tm._parse(value, None, tm.MAX_BYTES, head_only=True))
    if isinstance(value, dict):
        check_head(value, parse_telemetry(value))


def check_head(value: dict[str, Any], full: Telemetry) -> None:
    """A head-only read says what the full read says of everything but the events, and counts
    the events the full read would read; or, when it cannot count them, is the full read."""
    head = tm._parse(value, None, tm.MAX_BYTES, head_only=True)
    if head.head is None:
        assert head == full
        return
    assert head.events == () and head.columns is None
    assert (head.hints, head.keys, head.viewport, head.pointer, head.dropped) == (
        full.hints, full.keys, full.viewport, full.pointer, full.dropped,
    )  # fmt: skip
    # The head-only read looks at no time, coordinate or button: what the full read drops or
    # counts for those, it does not.
    assert head.anomalies <= full.anomalies
    pointer = [e for e in full.events if e[1] in "mdu"]
    counts = (len(full.events), len(pointer), sum(1 for e in pointer if e[5] != "t"))
    if full.anomalies == head.anomalies + _late(full):
        assert (head.head.events, head.head.pointer, head.head.mouse_or_pen) == counts
        assert head.empty == full.empty
    else:
        assert head.head.events >= counts[0] and head.head.pointer >= counts[1]


def _late(tele: Telemetry) -> int:
    """Events whose time went back: counted by the full read only (it reads the times)."""
    times = [e[0] for e in tele.events]
    return sum(1 for a, b in itertools.pairwise(times) if b < a - tm.JITTER_MS)


def test_head_only_read_counts_the_events_of_a_conforming_recorder() -> None:
    rows = [[0, "m", 10, 20, -1], [17, "m", 12, 21, -1], [30, "d", 12, 21, 0], [90, "u", 12, 21, 0]]
    value = payload([*rows, [120, "s", 0, 300, -1]])
    head = parse_telemetry(value, head_only=True)
    assert head.head == tm.EventCounts(events=5, pointer=4, mouse_or_pen=4)
    assert head.anomalies == 0 and not head.empty and head.events == ()
    touch = parse_telemetry(payload(rows, pointer="touch"), head_only=True)
    assert touch.head == tm.EventCounts(events=4, pointer=4, mouse_or_pen=0)
    check_head(doc_example(), parse_telemetry(doc_example()))
    # Rows with a pointer type of their own, or malformed rows, are read in full.
    mixed = payload([[0, "m", 1, 2, -1, "t"], [10, "d", 1, 2, 0]])
    assert parse_telemetry(mixed, head_only=True) == parse_telemetry(mixed)
    bad = payload([[0, "m", 1, 2, -1], [10, "q", 1, 2, 0]])
    assert parse_telemetry(bad, head_only=True) == parse_telemetry(bad)
    assert parse_telemetry(bad, head_only=True).anomalies == 1
    none = parse_telemetry(payload([]), head_only=True)
    assert none.head is None and none.empty


def _out_of_order(value: dict[str, Any]) -> bool:
    for member in ("events", "keys"):
        times = [entry[0] for entry in value.get(member, [])]
        if any(b < a - tm.JITTER_MS for a, b in itertools.pairwise(times)):
            return True
    return False


# ------------------------------------------------------------- the column fast path = the loop

# Well-formed events with one field sometimes off, so that both readers see what they disagree
# about if anything: floats for ints, backward times, touch and pen, every kind, out of range.
_good_event = st.tuples(
    st.integers(0, 5_000) | st.floats(0, 5_000),
    st.sampled_from(["m", "m", "m", "d", "u", "s", "f", "b"]),
    st.integers(-10, 2_000) | st.floats(-10, 2_000),
    st.integers(-10, 2_000) | st.floats(-10, 2_000),
    st.sampled_from([-1, -1, 0, 1, 4, 0.0, 2.0]),
).map(list)
_odd_field = st.tuples(
    st.integers(0, 4), st.sampled_from([True, None, "m", 2.5, -1, 9, 10**400, math.nan, 1e9])
)


@st.composite
def _event_lists(draw: st.DrawFn) -> list[list[Any]]:
    events = draw(st.lists(_good_event, min_size=1, max_size=40))
    if draw(st.booleans()):
        events.sort(key=lambda e: e[0])
    if draw(st.booleans()):
        ptypes = draw(st.lists(st.sampled_from("mmpt"), min_size=len(events), max_size=len(events)))
        events = [[*e, p] for e, p in zip(events, ptypes, strict=True)]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(events) - 1))
        field, value = draw(_odd_field)
        events[i] = [*events[i]]
        events[i][field] = value
    return events


def _parse_slowly(value: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Telemetry:
    with monkeypatch.context() as patch:
        patch.setattr(tm, "_fast_events", lambda raw, primary: None)
        return parse_telemetry(value)


@settings(max_examples=300, deadline=None)
@given(_event_lists(), st.sampled_from(["mouse", "pen", "touch"]))
def test_column_fast_path_reads_exactly_what_the_loop_reads(
    events: list[list[Any]], pointer: str
) -> None:
    value = payload(events, pointer=pointer)
    fast = parse_telemetry(value)
    with pytest.MonkeyPatch.context() as patch:
        slow = _parse_slowly(value, patch)
    assert slow.columns is None
    assert fast == slow and fast.anomalies == slow.anomalies
    assert [tuple(map(type, e)) for e in fast.events] == [tuple(map(type, e)) for e in slow.events]
    cols = fast.columns
    if cols is not None:  # only for clean, time-ordered events: the same values as arrays
        assert fast.anomalies == 0 and len(cols) == len(fast.events)
        assert cols.t.tolist() == [e[0] for e in fast.events]
        assert bytes(cols.kind).decode() == "".join(e[1] for e in fast.events)
        assert cols.x.tolist() == [e[2] for e in fast.events]
        assert cols.y.tolist() == [e[3] for e in fast.events]
        assert cols.button.tolist() == [e[4] for e in fast.events]
        assert bytes(cols.ptype).decode() == "".join(e[5] for e in fast.events)
        assert not cols.t.flags.writeable


def test_column_fast_path_takes_clean_payloads_and_leaves_the_rest() -> None:
    events = [[i * 16, "m", 10.5 + i, 20, -1] for i in range(50)] + [[800, "d", 60.5, 20, 0]]
    assert parse_telemetry(payload(events)).columns is not None
    backwards = [*events, [790, "u", 60.5, 20, 0]]  # within the jitter: no anomaly, no columns
    tele = parse_telemetry(payload(backwards))
    assert tele.anomalies == 0 and tele.columns is None and len(tele.events) == 52
    for odd in ([800, "u", True, 20, 0], [800, "u", 1.0, 20, 0.5], [800, "x", 1, 2, 0], 5):
        tele = parse_telemetry(payload([*events, odd]))
        assert tele.columns is None and tele.anomalies == 1 and len(tele.events) == 51


@settings(max_examples=200, deadline=None)
@given(_event_lists(), st.sampled_from(["mouse", "pen", "touch"]))
def test_signals_and_trajectory_read_the_columns_as_they_read_the_events(
    events: list[list[Any]], pointer: str
) -> None:
    from haechi.risk.signals import pointer_facts
    from haechi.risk.trajectory import from_telemetry

    ordered = sorted(events, key=lambda e: e[0] if type(e[0]) in (int, float) else 0)
    fast = parse_telemetry(payload(ordered, pointer=pointer))
    slow = dataclasses.replace(fast, columns=None)
    assert pointer_facts(fast) == pointer_facts(slow)
    for window in ({}, {"last_ms": 1_000.0}, {"max_events": 7}, {"last_ms": 2e3, "max_events": 3}):
        (a, fa), (b, fb) = from_telemetry(fast, **window), from_telemetry(slow, **window)
        assert fa == fb
        for name in ("t", "kind", "x", "y", "button"):
            got, want = getattr(a, name), getattr(b, name)
            assert got.dtype == want.dtype and got.tolist() == want.tolist(), name


def test_pointer_facts_from_columns_on_a_recorded_window() -> None:
    from haechi.risk.signals import pointer_facts

    fixture = ROOT / "tests" / "fixtures" / "human_windows.jsonl"
    for line in fixture.read_text().splitlines()[:20]:
        fast = parse_telemetry(json.loads(line))
        assert fast.columns is not None
        assert pointer_facts(fast) == pointer_facts(dataclasses.replace(fast, columns=None))


# ------------------------------------------------------------------------ v2: packed columns

# What a conforming recorder writes: integer times, coordinates in hundredths of a pixel.
_recorded_event = st.tuples(
    st.integers(0, 5_000),
    st.sampled_from(["m", "m", "m", "d", "u", "s", "f", "b"]),
    st.integers(-1_000, 200_000).map(lambda c: c / 100),
    st.integers(-1_000, 200_000).map(lambda c: c / 100),
    st.sampled_from([-1, -1, 0, 1, 4, 7]),
).map(list)


@st.composite
def _recorded(draw: st.DrawFn) -> list[list[Any]]:
    events = draw(st.lists(_recorded_event, min_size=0, max_size=40))
    if draw(st.booleans()):
        events.sort(key=lambda e: e[0])
    if draw(st.booleans()):
        ptypes = draw(st.lists(st.sampled_from("mmpt"), min_size=len(events), max_size=len(events)))
        events = [[*e, p] for e, p in zip(events, ptypes, strict=True)]
    return events


@settings(max_examples=300, deadline=None)
@given(_recorded(), st.sampled_from(["mouse", "pen", "touch"]))
def test_v2_reads_what_v1_reads(events: list[list[Any]], pointer: str) -> None:
    """The same recording as v1 rows and as v2 columns reads the same (the version aside):
    events, what is dropped and counted, the columns, and a head-only read's counts."""
    v1 = payload(events, pointer=pointer)
    v2 = tm.to_v2(v1)
    one, two = parse_telemetry(v1), parse_telemetry(v2)
    assert two.version == 2
    assert dataclasses.replace(two, version=1) == one
    assert two.anomalies == one.anomalies
    if not one.anomalies:  # v1 keeps columns only when nothing was dropped; v2 of what is kept
        assert (two.columns is None) == (one.columns is None)
    if one.columns is not None and two.columns is not None:
        for name in ("t", "kind", "x", "y", "button", "ptype"):
            assert getattr(two.columns, name).tolist() == getattr(one.columns, name).tolist()
    head = parse_telemetry(v2, head_only=True)
    if head.head is not None:
        check_head(v2, two)
    elif events:
        assert head == two  # could not count: read in full


def test_v2_example_and_its_sizes() -> None:
    v1 = payload([[0, "m", 412.5, 300, -1], [17, "d", 412.5, 300, 0], [90, "u", 412.5, 300, 0]])
    v2 = tm.to_v2(v1)
    assert v2["events"]["k"] == "mdu" and "p" not in v2["events"]
    assert len(v2["events"]["d"]) == 4 * 13  # 39 bytes, base64
    tele = parse_telemetry(v2)
    assert tele.anomalies == 0 and tele.events == ((0, "m", 412.5, 300.0, -1, "m"),
                                                   (17, "d", 412.5, 300.0, 0, "m"),
                                                   (90, "u", 412.5, 300.0, 0, "m"))  # fmt: skip


@pytest.mark.parametrize(
    ("events", "anomalies"),
    [
        ({"k": "mm", "d": "not base64!"}, 2),  # every event it claims
        ({"k": "mm", "d": base64.b64encode(bytes(25)).decode()}, 2),  # 25 bytes, not 26
        ({"k": 5, "d": ""}, 1),
        ({"k": "m", "d": base64.b64encode(bytes(13)).decode(), "p": "mm"}, 1),
        ({"k": "é", "d": base64.b64encode(bytes(26)).decode()}, 1),
        ({}, 1),
        ({"k": "", "d": ""}, 0),
    ],
)
def test_v2_columns_that_cannot_be_read_count_and_read_nothing(
    events: dict[str, Any], anomalies: int
) -> None:
    tele = parse_telemetry({"v": 2, "viewport": [800, 600], "pointer": "mouse", "events": events})
    assert tele.events == () and tele.anomalies == anomalies
    head = parse_telemetry(
        {"v": 2, "viewport": [800, 600], "pointer": "mouse", "events": events}, head_only=True
    )
    assert head.anomalies == anomalies and head.head is None


def test_v2_drops_and_counts_bad_events_and_caps_at_2000() -> None:
    rows = [[i * 10, "m", 1, 2, -1] for i in range(5)]
    packed = tm.pack_events([*rows, [60, "q", 1, 2, -1], [70, "m", 1, 2, 9], [80, "d", 1, 2, -1]])
    tele = parse_telemetry({"v": 2, "viewport": [800, 600], "pointer": "mouse", "events": packed})
    assert len(tele.events) == 5 and tele.anomalies == 3 and tele.columns is not None
    many = tm.pack_events([[i, "m", 1, 2, -1] for i in range(MAX_EVENTS + 7)])
    tele = parse_telemetry({"v": 2, "viewport": [800, 600], "pointer": "mouse", "events": many})
    assert len(tele.events) == MAX_EVENTS and tele.anomalies == 7
    # A version that does not match the events' shape is one anomaly; both shapes are read.
    assert parse_telemetry({**tm.to_v2(payload()), "v": 1}).anomalies == 1
    assert parse_telemetry({**payload(), "v": 2}).anomalies == 1


def test_v2_of_the_example_conforms_to_the_v2_schema() -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "telemetry.v2.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    value = tm.to_v2(doc_example())
    jsonschema.validate(value, schema)
    assert parse_telemetry(value).anomalies == 0
