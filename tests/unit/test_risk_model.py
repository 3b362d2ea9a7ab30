"""The served behaviour model: ONNX = PyTorch, monotone calibration, people below bots, never
a crash, and 'nothing to judge' when there is no mouse movement."""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haechi.ml import contexts
from haechi.risk import features as F
from haechi.risk.model import (
    DEFAULT_MODEL,
    GROUP_NAMES,
    MODELS,
    Assessment,
    BehaviourModel,
    calibration_group,
)
from haechi.risk.telemetry import parse_telemetry
from tests.skips import NO_TRAIN

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "human_windows.jsonl"
REASON = re.compile(r"^model:[a-z]+(-[a-z]+)*$")


@pytest.fixture(scope="module")
def model() -> BehaviourModel:
    return BehaviourModel().get()


def human_windows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines()]


def scripted_lines(seed: int = 0, clicks: int = 8) -> dict[str, object]:
    """A naive bot: straight lines at constant speed on a 16 ms clock, clicking each target."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, int, float, float, int]] = []
    now, x, y = 0.0, 300.0, 300.0
    for _ in range(clicks):
        gx, gy = rng.uniform(50, 1200), rng.uniform(50, 650)
        n = 30
        for i in range(1, n + 1):
            now += 16.0
            rows.append((now, F.MOVE, x + (gx - x) * i / n, y + (gy - y) * i / n, -1))
        x, y = gx, gy
        rows += [(now + 50, F.DOWN, x, y, 0), (now + 130, F.UP, x, y, 0)]
        now += 200
    t, kind, xs, ys, button = (np.asarray(c) for c in zip(*rows, strict=True))
    traj = F.Trajectory(
        t.astype(float), kind.astype(np.int8), xs.astype(float), ys.astype(float),
        button.astype(np.int8),
    )  # fmt: skip
    return F.to_telemetry(traj, start_ms=0.0)


def check(a: Assessment) -> None:
    assert isinstance(a, Assessment)
    assert a.risk is None or (type(a.risk) is int and 0 <= a.risk <= 100)
    assert isinstance(a.reasons, tuple) and len(a.reasons) <= 3
    assert all(REASON.match(r) for r in a.reasons), a.reasons
    assert type(a.segments) is int and a.segments >= 0


# ------------------------------------------------------------------------ people against bots


def test_people_score_below_a_straight_line_bot(model: BehaviourModel) -> None:
    bot = model.assess(parse_telemetry(scripted_lines()))
    check(bot)
    # v4 put it at >= 60 (anchors at people's quantiles); v5's anchors put the no-task band's
    # edge (10) at people's worst context and 40 one edge-to-median distance beyond it.
    assert bot.risk is not None and bot.risk > 40
    assert bot.reasons  # a high risk says why
    for window in human_windows():
        human = model.assess(parse_telemetry(window))
        check(human)
        assert human.risk is not None and human.segments > 0
        assert human.risk < bot.risk
        assert human.risk <= 10  # in the no-task band (v4: up to 27 for one of them)


def test_assessment_is_deterministic_and_thread_safe(model: BehaviourModel) -> None:
    teles = [parse_telemetry(w) for w in human_windows()] + [parse_telemetry(scripted_lines(3))]
    want = [model.assess(t) for t in teles]
    got: list[list[Assessment]] = []

    def worker() -> None:
        got.append([model.assess(t) for t in teles])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == [want] * 4


def test_model_loads_lazily_once() -> None:
    m = BehaviourModel()
    assert m._loaded is None  # nothing read until first use
    m.assess(parse_telemetry(human_windows()[0]))
    first = m._loaded
    m.assess(parse_telemetry(human_windows()[1]))
    assert first is not None and m._loaded is first
    assert m.name == "risk-behaviour-v6"


def test_a_missing_model_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        BehaviourModel(tmp_path / "nope.onnx").get()


# ------------------------------------------------------------------------ nothing to judge


@pytest.mark.parametrize(
    ("telemetry", "reason"),
    [
        (None, "model:no-pointer"),
        ({"v": 1, "viewport": None, "pointer": "none", "events": [], "keys": [[5, "d", 3]]},
         "model:no-pointer"),
        ({"v": 1, "viewport": None, "pointer": "touch",
          "events": [[0, "d", 10, 10, 0], [80, "u", 10, 10, 0]]}, "model:touch-only"),
        ({"v": 1, "viewport": None, "pointer": "mouse",
          "events": [[0, "m", 10, 10, -1], [90, "d", 10, 10, 0], [170, "u", 10, 10, 0]]},
         "model:too-little-movement"),
    ],
)  # fmt: skip
def test_no_mouse_movement_is_not_judged(
    model: BehaviourModel, telemetry: dict[str, object] | None, reason: str
) -> None:
    a = model.assess(parse_telemetry(telemetry))
    assert a == Assessment(None, (reason,), 0)


# ------------------------------------------------------------------------ adversarial input

number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, -1, 1e-300, 8, 16, 1e308]),
)
event = st.one_of(
    st.lists(st.one_of(number, st.sampled_from(["m", "d", "u", "s", "x"])), max_size=7),
    st.tuples(st.integers(0, 20_000), st.sampled_from(["m", "d", "u"]), number, number,
              st.integers(-1, 4)),
    st.text(max_size=3),
    st.none(),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(event, max_size=120), st.sampled_from(["mouse", "pen", "touch", 5, None]))
def test_garbage_never_raises(model: BehaviourModel, events: list[Any], pointer: Any) -> None:
    check(
        model.assess(
            parse_telemetry({"v": 1, "viewport": None, "pointer": pointer, "events": events})
        )
    )


@pytest.mark.parametrize(
    "events",
    [
        # one million events: the parser keeps the cap, the rest are anomalies
        [[i // 100, "m", i % 1000, 5, -1] for i in range(1_000_000)],
        # every event at the same instant, far apart
        [[0, "m", (i * 7919) % 90_000, (i * 104_729) % 90_000, -1] for i in range(2_000)],
        # time running backwards
        [[10_000 - i * 5, "m", i, i, -1] for i in range(2_000)],
        # clicks only
        [[i * 10, "d" if i % 2 == 0 else "u", 5, 5, 0] for i in range(2_000)],
        # a drag of the whole cap at the largest coordinates
        [[i * 8, "m", 100_000 - (i % 2), -100_000, 0] for i in range(2_000)],
        # teleports at 1 ms
        [[i, "m", 0 if i % 2 else 99_999, 0, -1] for i in range(2_000)],
    ],
)
def test_adversarial_payloads_give_a_risk_not_an_error(
    model: BehaviourModel, events: list[Any]
) -> None:
    a = model.assess(
        parse_telemetry({"v": 1, "viewport": None, "pointer": "mouse", "events": events})
    )
    check(a)


def test_teleporting_bot_scores_high(model: BehaviourModel) -> None:
    events = [[i * 16, "m", (i * 431) % 1200, (i * 277) % 700, -1] for i in range(300)]
    a = model.assess(
        parse_telemetry({"v": 1, "viewport": None, "pointer": "mouse", "events": events})
    )
    # Far beyond people: 60 under v2, 59 under v3, 54 under v4 (whose heads average five seeds,
    # so a window's logit is less extreme than one seed's); v5 places its no-task band's edge
    # (10) at its people's worst context. The bound is not a band edge.
    assert a.risk is not None and a.risk >= 50


# ------------------------------------------------------------------------ calibration


def test_shipped_calibration_is_monotone() -> None:
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert meta["features"] == list(F.FEATURE_NAMES)
    assert meta["window_features"] == list(F.WINDOW_NAMES)
    tables = {"anchors": meta["anchors"], "ae_anchors": meta["ae_anchors"]}
    tables.update({f"group {g}": a for g, a in meta["anchors_by_group"].items()})
    assert sorted(meta["anchors_by_group"]) == sorted(GROUP_NAMES)
    for key, anchors in tables.items():
        a = np.asarray(anchors, np.float64)
        assert np.all(np.diff(a[:, 0]) > 0), key  # strictly increasing scores
        assert np.all(np.diff(a[:, 1]) >= 0), key  # non-decreasing risk
        assert a[0, 1] == 0.0 and a[-1, 1] == 100.0
        if key != "ae_anchors":  # the edge of the no-task band is one of the anchors
            assert meta["calibration"]["band_risk"] in a[:, 1], key
    norm = np.asarray(meta["head_norm"])
    assert np.all(norm[:, 1] > norm[:, 0])
    # The behaviour head is scaled at people's 99.9th percentile, the structure head at their
    # 99th (src/haechi/models/risk.md, Calibration), on validation people in every context
    # and length; each head averages five seeds; people and bots in every context.
    assert meta["head_quantile"] == [0.999, 0.99]
    assert meta["validation"]["windows"] > 5_000
    assert meta["train"]["head_members"] == 5
    assert meta["train"]["contexts"] == list(contexts.CONTEXTS)
    assert meta["train"]["held_out"] == {"families": [], "contexts": []}


def test_risk_rises_with_the_score(model: BehaviourModel) -> None:
    loaded = model._load()
    scores = np.linspace(loaded.xp[0] - 5, loaded.xp[-1] + 5, 2_000)
    risk = np.interp(scores, loaded.xp, loaded.fp)
    assert np.all(np.diff(risk) >= 0)
    assert risk[0] == 0.0 and risk[-1] == 100.0


# ------------------------------------------------------------------------ ONNX = PyTorch


def test_onnx_export_matches_pytorch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason=NO_TRAIN)
    pytest.importorskip("onnx", reason=NO_TRAIN)
    import onnxruntime as ort

    from haechi.ml import net

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    center = rng.normal(size=F.N_FEATURES).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, F.N_FEATURES).astype(np.float32)
    model = net.BehaviourNet(
        net.AutoEncoder(), center, scale,
        rng.normal(size=net.N_INPUTS), rng.uniform(0.5, 2.0, net.N_INPUTS),
    )  # fmt: skip
    model.eval()
    path = tmp_path / "m.onnx"
    net.export(model, str(path), rng.normal(size=(5, F.N_FEATURES)).astype(np.float32))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    mask = net.occlusion_masks()
    for n in (1, 7, 300):
        segments = (rng.normal(size=(n, F.N_FEATURES)) * 3).astype(np.float32)
        window = rng.normal(size=(1, F.N_WINDOW)).astype(np.float32)
        got = session.run(["logits", "ae"], {"segments": segments, "window": window, "mask": mask})
        with torch.no_grad():
            want = model(
                torch.from_numpy(segments), torch.from_numpy(window), torch.from_numpy(mask)
            )
        np.testing.assert_allclose(got[0], want[0].numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got[1], want[1].numpy(), rtol=1e-4, atol=1e-4)
        assert got[0].shape == (len(net.GROUPS) + 1, len(net.HEADS))
        # Row 0 blanks nothing: it is the plain score.
        with torch.no_grad():
            v = model.inputs(torch.from_numpy(segments), torch.from_numpy(window))
            plain = model.head_logits(model.standardise(v)).numpy()
        np.testing.assert_allclose(got[0][:1], plain, rtol=1e-4, atol=1e-4)
    assert math.isfinite(float(got[1][0]))


def test_a_head_stack_answers_the_mean_of_its_members() -> None:
    torch = pytest.importorskip("torch", reason=NO_TRAIN)
    from haechi.ml import net

    torch.manual_seed(1)
    members = [net.Head(9) for _ in range(3)]
    for head in members:
        head.eval()
    stack = net.HeadStack.pack(members)
    z = torch.randn(6, 9)
    with torch.no_grad():
        want = torch.stack([head(z) for head in members]).mean(dim=0)
        got = stack(z)
        alone = net.HeadStack.pack(members[:1])(z)
        first = members[0](z)
    assert got.shape == (6,)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(alone.numpy(), first.numpy(), rtol=1e-5, atol=1e-6)


def test_serving_never_imports_training_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, haechi.risk.model as m; m.BehaviourModel().get();"
        "bad = [n for n in sys.modules if n == 'torch' or n.startswith('haechi.ml')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_pen_is_not_judged_on_pixel_steps(
    model: BehaviourModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pixel-step features describe a mouse's counts: for a pen they read as the people's
    median, so what they say changes nothing and is never a reason."""
    window = human_windows()[0]
    pen = parse_telemetry({**window, "pointer": "pen"})
    mouse = parse_telemetry(window)
    real = F.extract

    def extreme(*args: Any, **kwargs: Any) -> F.SegmentFeatures:
        out = real(*args, **kwargs)
        for name in ("axis_steps", "axis_pairs"):
            out.window[F.WINDOW_NAMES.index(name)] = 0.0  # no step along an axis: unlike people
        return out

    before = model.assess(pen)
    mouse_before = model.assess(mouse)
    monkeypatch.setattr("haechi.risk.model.extract", extreme)
    after = model.assess(pen)
    assert after.risk == before.risk
    assert "model:pixel-steps" not in after.reasons
    # A mouse with the same pixels is judged on them.
    assert model.assess(mouse).risk > mouse_before.risk  # type: ignore[operator]


def test_calibration_follows_window_length_and_clicks(model: BehaviourModel) -> None:
    """The same score is read through the anchors of the window's own group: a 3-s window
    without a click is calibrated apart from a 10-s window with clicks."""
    loaded = model._load()
    assert sorted(loaded.by_group) == sorted(GROUP_NAMES)
    short = F.SegmentFeatures(np.zeros((1, F.N_FEATURES), np.float32), span_ms=3_000.0)
    long = F.SegmentFeatures(np.zeros((1, F.N_FEATURES), np.float32), span_ms=9_500.0, clicks=2)
    assert calibration_group(short) == "3-none" and calibration_group(long) == "10-clicks"
    edges = {g: float(np.interp(10.0, fp, xp)) for g, (xp, fp) in loaded.by_group.items()}
    assert len(set(edges.values())) > 1  # the groups differ where the band ends


def test_pixel_steps_are_not_read_on_a_scaled_screen() -> None:
    """At a device pixel ratio other than 1, or with fractional positions, a step is not one
    count of a mouse: the pixel-step features read AXIS_UNKNOWN."""
    window = human_windows()[0]
    axis = F.WINDOW_NAMES.index("axis_steps")
    plain = F.extract(parse_telemetry(window)).window[axis]
    scaled = F.extract(parse_telemetry({**window, "hints": {"dpr": 2}})).window[axis]
    events = [[e[0], e[1], e[2] + 0.5, e[3], *e[4:]] for e in window["events"]]
    halves = F.extract(parse_telemetry({**window, "events": events})).window[axis]
    assert plain >= 0.0 and scaled == F.AXIS_UNKNOWN and halves == F.AXIS_UNKNOWN


def test_a_scaled_screen_reads_pixel_steps_as_the_people_median(
    model: BehaviourModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Since v6, a window whose pixel steps are not a mouse's counts (AXIS_UNKNOWN) is judged
    with them blanked to the people's median, as a pen is: an unseen pixel ratio does not look
    unlike people, and the sentinel is never a reason. A model without the flag (v5) reads
    the sentinel as a value."""
    assert model._load().blank_unknown_pixels
    window = human_windows()[0]
    scaled = parse_telemetry({**window, "hints": {"dpr": 2}})
    as_pen = parse_telemetry({**window, "hints": {"dpr": 2}, "pointer": "pen"})
    a = model.assess(scaled)
    assert a.risk == model.assess(as_pen).risk
    assert "model:pixel-steps" not in a.reasons
    real = F.extract

    def other_sentinel(*args: Any, **kwargs: Any) -> F.SegmentFeatures:
        out = real(*args, **kwargs)
        if out.window[F.WINDOW_NAMES.index("axis_steps")] == F.AXIS_UNKNOWN:
            out.window[F.WINDOW_NAMES.index("axis_pairs")] = 0.0  # whatever it reads
        return out

    monkeypatch.setattr("haechi.risk.model.extract", other_sentinel)
    assert model.assess(scaled).risk == a.risk


def test_an_older_model_reads_its_own_window_features() -> None:
    """A model trained on fewer window features (v5: 26) gets those columns, by name."""
    v5 = MODELS / "risk-behaviour-v5.onnx"
    if not v5.exists():
        pytest.skip("v5 is not in this checkout")
    loaded = BehaviourModel(v5)._load()
    assert not loaded.blank_unknown_pixels
    assert [F.WINDOW_NAMES[i] for i in loaded.window_cols] == json.loads(
        v5.with_suffix(".json").read_text()
    )["window_features"]
