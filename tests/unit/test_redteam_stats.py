"""The red team's statistics and helpers: Wilson intervals, exact random baselines, verdicts,
difficulty pinning, a random selection's distribution and the perceptual hash."""

from __future__ import annotations

import io
import math
import random
from collections import Counter

import numpy as np
import pytest
from bench.redteam import stats
from bench.redteam.attackers.common import hamming, phash, random_selection
from bench.redteam.run import DEFAULT_DIFFICULTY, pin
from PIL import Image


def test_wilson_matches_known_intervals() -> None:
    low, high = stats.wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = stats.wilson(0, 1000)
    assert low == 0.0
    # With no passes the upper bound is z^2 / (n + z^2): 0.38% for 1,000 trials.
    assert high == pytest.approx(stats.Z95**2 / (1000 + stats.Z95**2))
    assert stats.wilson(1000, 1000) == (pytest.approx(1 - high), 1.0)
    assert stats.wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        stats.wilson(11, 10)


@pytest.mark.parametrize("passes", [0, 1, 7, 50, 99, 100])
def test_wilson_brackets_the_rate_and_narrows_with_n(passes: int) -> None:
    low, high = stats.wilson(passes, 100)
    assert 0.0 <= low <= passes / 100 <= high <= 1.0
    low10, high10 = stats.wilson(passes * 10, 1000)
    assert high10 - low10 < high - low


def test_select_baseline_counts_every_well_formed_subset() -> None:
    assert stats.select_subsets(9, 1, 9) == 511
    assert stats.select_subsets(9, 2, 5) == 36 + 84 + 126 + 126
    assert stats.select_subsets(9, 0, 20) == 512
    task = {"cells": [{"id": str(i)} for i in range(9)], "select": {"min": 1, "max": 9}}
    assert stats.select_baseline(task) == pytest.approx(1 / 511)


def test_digits_baseline_averages_over_answer_lengths() -> None:
    assert stats.digits_baseline([4]) == pytest.approx(1e-4)
    assert stats.digits_baseline([4, 6]) == pytest.approx((1e-4 + 1e-6) / 2)
    assert stats.digits_baseline([]) == 0.0


def test_verdict_judges_the_upper_bound_against_the_familys_target() -> None:
    # 0 of 1,000: upper bound 0.38%, under 1%.
    assert stats.verdict("off-the-shelf", 0, 1000) == "pass"
    # 5 of 1,000 is 0.5%, but its upper bound (1.17%) is not under 1%.
    assert stats.verdict("off-the-shelf", 5, 1000) == "FAIL"
    assert stats.verdict("trained", 70, 1000) == "pass"
    assert stats.verdict("trained", 90, 1000) == "FAIL"
    assert stats.verdict("memoriser", 90, 1000) == "FAIL"
    assert stats.verdict("trained", 0, 0) == "-"
    assert stats.verdict("unknown", 0, 1000) == "-"
    # Random guessing checks the baseline; it is not judged.
    assert stats.verdict("random", 4, 1000) == "-"


def test_random_selection_is_uniform_over_subsets() -> None:
    task = {"cells": [{"id": c} for c in "abcd"], "select": {"min": 1, "max": 4}}
    rng = random.Random(0)
    seen = Counter(frozenset(random_selection(rng, task)) for _ in range(15_000))
    assert len(seen) == 15  # every non-empty subset of four cells
    expected = 15_000 / 15
    assert all(abs(count - expected) < 5 * math.sqrt(expected) for count in seen.values())


@pytest.mark.parametrize("difficulty", [0.0, DEFAULT_DIFFICULTY, 0.5, 0.8, 0.9, 1.0])
def test_pin_reproduces_the_protocols_difficulty(difficulty: float) -> None:
    risk, level = pin(difficulty)
    assert 0 <= risk <= 90  # policy.missing_telemetry_risk's range
    effective = min(100, risk + {"medium": 0, "strict": 30}[level])
    assert (effective - 10) / 90 == pytest.approx(difficulty, abs=0.006)
    assert pin(DEFAULT_DIFFICULTY) == (30, "medium")


def _noise(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((128, 128), Image.Resampling.BICUBIC)


def test_phash_survives_reencoding_and_tells_images_apart() -> None:
    img = _noise(1)
    buf = io.BytesIO()
    img.resize((96, 96)).save(buf, "JPEG", quality=40)
    again = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    others = np.array([phash(_noise(s)) for s in range(2, 30)], np.uint64)
    h = phash(img)
    assert int(hamming(phash(again), np.array([h], np.uint64))[0]) <= 6
    assert int(hamming(h, others).min()) > 12
