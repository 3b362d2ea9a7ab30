"""The handwriting challenge: strokes in, the lexicon, prompts, the CRNN and the type's check."""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from haechi.challenges import ChallengeContext, CheckResult, default_registry
from haechi.challenges.handwriting import ink, prompt, recognise, skeleton
from haechi.challenges.handwriting.challenge import CANVAS, Handwriting
from haechi.challenges.handwriting.lexicon import BY_WORD, FORMS, LEXICON, SYLLABLES
from haechi.challenges.pool import ChallengePools
from haechi.core.blobs import BlobUrlSigner, FsBlobStore
from haechi.core.crypto import Keyring, b64d, new_key
from haechi.core.errors import Unavailable
from haechi.core.settings import PoolSettings
from tests.skips import NO_TRAIN

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
TASK = json.loads((SCHEMAS / "challenge-task.v1.json").read_text())
SUBMISSION = json.loads((SCHEMAS / "challenge-submission.v1.json").read_text())
RECOGNISER = recognise.Recogniser()


def pools_in(path: Path, min_items: int = 1) -> ChallengePools:
    keyring = Keyring({"k1": b64d(new_key())}, "k1")
    store = FsBlobStore(path, BlobUrlSigner(keyring))
    return ChallengePools(store, PoolSettings(min_items=min_items), url_ttl_seconds=300)


def written(word: str, font: str = skeleton.HELD_OUT_FONT, seed: int = 1) -> dict[str, Any]:
    """``word`` as a canvas submission: the skeleton of the word rendered in ``font``."""
    return skeleton.as_submission(skeleton.word_strokes(word, font), CANVAS, random.Random(seed))


def scribble(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    strokes, t = [], 0
    for _ in range(int(rng.integers(1, 8))):
        start = rng.uniform([40, 30], [360, 130])
        steps = np.cumsum(rng.normal(0, 18, (int(rng.integers(3, 25)), 2)), axis=0)
        points = []
        for x, y in np.clip(start + steps, 0, [400, 160]):
            t += 15
            points.append([int(x), int(y), t])
        strokes.append(points)
        t += 200
    return {"strokes": strokes}


def check(kind: Handwriting, answer: Any, submission: Any) -> CheckResult:
    result = kind.check(answer, submission)
    if isinstance(result, CheckResult):
        return result

    async def wait() -> CheckResult:
        return await result  # type: ignore[misc]

    return asyncio.run(wait())


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory) -> Handwriting:
    return Handwriting(pools_in(tmp_path_factory.mktemp("hw-blobs")), RECOGNISER)


# --- strokes ------------------------------------------------------------------------------------
def test_parse_accepts_a_schema_valid_drawing() -> None:
    sub = written("사과")
    jsonschema.validate(sub, SUBMISSION)
    strokes = ink.parse(sub, CANVAS)
    assert len(strokes) == len(sub["strokes"]) and all(s.shape[1] == 3 for s in strokes)


@pytest.mark.parametrize(
    ("submission", "reason"),
    [
        (None, "malformed"),
        ([], "malformed"),
        ({"strokes": [[[1, 2, 3]]], "extra": 1}, "malformed"),
        ({"strokes": []}, "stroke-count"),
        ({"strokes": [[[1, 1, 1]]] * 65}, "stroke-count"),
        ({"strokes": [[]]}, "point-count"),
        ({"strokes": [[[1, 1, i] for i in range(1025)]]}, "point-count"),
        ({"strokes": [[[1, 2]]]}, "malformed"),
        ({"strokes": [[[1, 2, "3"]]]}, "malformed"),
        ({"strokes": [[[True, 2, 3]]]}, "malformed"),
        ({"strokes": [[[float("nan"), 2, 3]]]}, "not-finite"),
        ({"strokes": [[[1, float("inf"), 3]]]}, "not-finite"),
        ({"strokes": [[[1, 2, -1]]]}, "time"),
        ({"strokes": [[[1, 2, 50], [3, 4, 40]]]}, "time"),
        ({"strokes": [[[1, 2, 3], [900, 4, 9]]]}, "out-of-bounds"),
        ({"strokes": [[[1, -200, 3]]]}, "out-of-bounds"),
    ],
)
def test_parse_refuses_what_the_schema_or_physics_does_not_allow(
    submission: Any, reason: str
) -> None:
    with pytest.raises(ink.BadStrokes) as error:
        ink.parse(submission, CANVAS)
    assert error.value.args[0] == reason


def test_points_just_off_the_canvas_are_clipped_to_its_edge() -> None:
    (stroke,) = ink.parse({"strokes": [[[-20, 50, 0], [410, 170, 10]]]}, CANVAS)
    assert stroke[:, :2].tolist() == [[0, 50], [400, 160]]


def test_timing_signals_describe_the_drawing_not_the_word() -> None:
    sub = {"strokes": [[[0, 0, 100], [30, 40, 200]], [[50, 0, 700], [50, 10, 720]]]}
    signals = ink.timing(ink.parse(sub, CANVAS))
    assert signals == {
        "draw_duration_ms": 620.0,
        "draw_strokes": 2.0,
        "draw_points": 4.0,
        "draw_mean_speed": pytest.approx(60 / 120),
        "draw_pause_share": pytest.approx(500 / 620),
    }


def test_render_normalises_position_and_scale() -> None:
    strokes = ink.parse(written("고양이"), CANVAS)
    image = ink.render(strokes)
    assert image.shape == (ink.HEIGHT, ink.WIDTH) and image.dtype == np.uint8
    assert image.max() == 255 and 0.05 < (image > 127).mean() < 0.4
    # Ink touches neither the top nor the bottom row: the margin holds.
    assert image[0].max() < 128 and image[-1].max() < 128
    moved = [
        s * np.array([0.5, 0.5, 1], np.float32) + np.array([7, 3, 0], np.float32) for s in strokes
    ]
    diff = np.abs(ink.render(moved).astype(int) - image.astype(int))
    assert diff.mean() < 6
    assert ink.render([]).max() == 0


def test_thinning_leaves_a_one_pixel_line_and_tracing_follows_it() -> None:
    mask = np.zeros((20, 60), bool)
    mask[8:13, 5:55] = True
    bone = skeleton.thin(mask)
    assert bone.sum() > 30 and bone.sum(axis=0).max() == 1
    paths = skeleton.trace(bone)
    assert len(paths) == 1
    span = paths[0][:, 0].max() - paths[0][:, 0].min()
    assert span > 35 and np.ptp(paths[0][:, 1]) <= 1


# --- lexicon and prompts ----------------------------------------------------------------------
def test_lexicon_words_are_short_distinct_and_writable() -> None:
    assert 40 <= len(LEXICON) <= 80
    assert len({w.emoji for w in LEXICON}) == len(LEXICON)
    assert len(FORMS) == sum(len(w.forms) for w in LEXICON)  # no form belongs to two words
    for form in FORMS:
        assert 1 <= len(form) <= 3 and all(c in SYLLABLES for c in form)
    assert len(SYLLABLES) > 3 * len({c for f in FORMS for c in f})


def test_prompt_is_a_fixed_size_webp_that_names_nothing() -> None:
    sizes = set()
    for i, word in enumerate(LEXICON[:8]):
        data = prompt.make(word, random.Random(i))
        sizes.add(len(data))
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        for text in (word.ko, word.en, word.emoji):
            assert text.encode() not in data
        with Image.open(io.BytesIO(data)) as img:
            assert img.size == (prompt.SIZE, prompt.SIZE) and not img.getexif()
    assert sizes == {prompt.WEBP_BYTES}


def test_pool_item_is_labelled_with_its_word(kind: Handwriting) -> None:
    item = kind.make_item(random.Random(3))
    assert item.label in BY_WORD and item.meta == {"locale": "ko"}
    assert item.content_type == "image/webp" and len(item.data) == prompt.WEBP_BYTES


# --- the type -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Handwriting]:
    pools = pools_in(tmp_path_factory.mktemp("hw-pool"))
    served = Handwriting(pools, RECOGNISER)
    await pools.build(served, 6, rng=random.Random(4))
    yield served


@pytest.mark.parametrize("locale", ["en", "ko"])
async def test_task_is_schema_valid_and_carries_no_answer(served: Handwriting, locale: str) -> None:
    ctx = ChallengeContext("sk", "shop.example.com", {"pools": served.pools})
    task, answer = await served.generate(ctx, random.Random(9), 0.5, locale)
    jsonschema.validate(task, TASK)
    assert task["kind"] == "draw" and task["canvas"] == {"width": CANVAS[0], "height": CANVAS[1]}
    assert answer in BY_WORD
    text = json.dumps(task, ensure_ascii=False)
    assert answer not in text and BY_WORD[answer].en not in text
    assert ("한글" in task["prompt"]) == (locale == "ko")


async def test_without_a_pool_the_type_is_unavailable(tmp_path: Path) -> None:
    kind = Handwriting(pools_in(tmp_path), RECOGNISER)
    assert not kind.available()
    with pytest.raises(Unavailable):
        await kind.generate(ChallengeContext("sk", "h"), random.Random(1), 0.5, "en")
    assert "handwriting" in default_registry(pools_in(tmp_path)).names()
    assert "handwriting" not in default_registry().names()


# --- recognition --------------------------------------------------------------------------------
HELD_OUT_WORDS = ("고양이", "사과", "나무", "자동차", "물고기", "우산")


@pytest.mark.parametrize("word", HELD_OUT_WORDS)
def test_a_held_out_font_word_passes_for_itself_and_fails_for_another(
    kind: Handwriting, word: str
) -> None:
    sub = written(word)
    ok = check(kind, word, sub)
    assert ok.ok, ok
    assert ok.signals["draw_strokes"] == len(sub["strokes"])
    other = LEXICON[(next(i for i, w in enumerate(LEXICON) if w.ko == word) + 7) % len(LEXICON)]
    wrong = check(kind, other.ko, sub)
    assert not wrong.ok and wrong.reason == "wrong"


def test_an_accepted_alternative_form_passes_for_its_word(kind: Handwriting) -> None:
    assert check(kind, "개", written("강아지", "NanumPen.ttf")).ok


def test_most_lexicon_words_in_the_held_out_font_pass(kind: Handwriting) -> None:
    passed = [check(kind, w.ko, written(w.ko)).ok for w in LEXICON]
    assert np.mean(passed) >= 0.75


def test_scribbles_fail(kind: Handwriting) -> None:
    results = [check(kind, LEXICON[i % len(LEXICON)].ko, scribble(i)) for i in range(40)]
    assert not any(r.ok for r in results)
    assert {r.reason for r in results} <= {"wrong", "illegible", "too-small"}


def test_a_word_outside_the_lexicon_fails(kind: Handwriting) -> None:
    # "바다" (sea) has no picture; whatever it reads closest to, it must not clear the floor
    # for a word it does not look like.
    assert not check(kind, "사과", written("바다")).ok


def test_a_dot_is_too_small(kind: Handwriting) -> None:
    result = check(kind, "사과", {"strokes": [[[100, 100, 0], [102, 101, 30]]]})
    assert result == CheckResult(False, "too-small", result.signals)


def test_ctc_scores_match_torch() -> None:
    torch = pytest.importorskip("torch", reason=NO_TRAIN)
    gen = torch.Generator().manual_seed(0)
    lp = torch.randn(24, 7, generator=gen).log_softmax(-1)
    targets = [[1], [2, 2], [1, 3, 4], [5, 5, 5], [6, 1, 6, 1, 6]]
    got = recognise.ctc_scores(lp.numpy(), targets)
    for value, target in zip(got, targets, strict=True):
        want = -torch.nn.functional.ctc_loss(
            lp[:, None],
            torch.tensor([target]),
            torch.tensor([24]),
            torch.tensor([len(target)]),
            reduction="sum",
        )
        assert value == pytest.approx(float(want), abs=1e-3)


def test_onnx_export_matches_the_torch_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason=NO_TRAIN)
    pytest.importorskip("onnx", reason=NO_TRAIN)
    from haechi.ml import train_handwriting as th

    torch.manual_seed(3)
    model = th.CRNN(len(th.CHARSET)).eval()
    images = np.stack([ink.render(ink.parse(written(w), CANVAS)) for w in HELD_OUT_WORDS])
    th.export(model, tmp_path / "m.onnx", images)  # asserts equality itself
    got = th.ort_log_probs(tmp_path / "m.onnx", images)
    np.testing.assert_allclose(got, th.torch_log_probs(model, images), atol=1e-3)


def test_the_shipped_model_matches_its_sidecar() -> None:
    spec = RECOGNISER.spec
    assert spec.charset[0] == "" and set(spec.charset[1:]) == set(SYLLABLES)
    assert (spec.height, spec.width) == (ink.HEIGHT, ink.WIDTH)
    assert recognise.MODELS_DIR.joinpath(f"{recognise.MODEL_NAME}.onnx").stat().st_size < 2_000_000
    lp = RECOGNISER.log_probs(np.zeros((1, ink.HEIGHT, ink.WIDTH), np.uint8))
    assert lp.shape == (1, ink.WIDTH // 4, len(spec.charset))
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0, atol=1e-3)


# --- never raises -------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=30,
)
points = st.lists(
    st.tuples(st.floats(-50, 500), st.floats(-50, 250), st.integers(-5, 5000)).map(list),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    submission=json_values | st.builds(lambda s: {"strokes": s}, st.lists(points, max_size=5)),
    answer=json_values | st.sampled_from([w.ko for w in LEXICON]),
)
def test_check_never_raises(kind: Handwriting, submission: Any, answer: Any) -> None:
    result = check(kind, answer, submission)
    assert isinstance(result, CheckResult)
    if result.ok:
        assert answer in BY_WORD
