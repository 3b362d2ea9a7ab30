"""Metrics for the abstract-emotion CNN, and the colour-histogram baseline it is measured against.

The baseline is a multinomial logistic regression on colour histograms. If colour statistics
gave the emotion away, a bot would not need a CNN; the generator is built so that they do not,
and ``colour_baseline`` measures how far that holds: per image on all test images, per image on
the *pool* (the test images the CNN keeps, which is what a bot harvesting challenges sees), and
on whole challenges composed from that pool (``challenge_pass_rates``).
"""

from __future__ import annotations

import math
import random
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs: see train_abstract.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.challenges.abstract import generate, items

KEEP: Final = items.MIN_CONFIDENCE  # the confidence the pool asks for
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def confusion(y: I64, pred: I64) -> list[list[int]]:
    n = len(generate.EMOTIONS)
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, pred), 1)
    return [[int(v) for v in row] for row in m]


def report(y: I64, probs: F32) -> dict[str, Any]:
    pred = probs.argmax(1)
    conf = probs.max(1)
    per_class = {
        e: round(float((pred[y == c] == c).mean()), 4) for c, e in enumerate(generate.EMOTIONS)
    }
    keep = {}
    for t in (0.8, 0.9, 0.95):
        kept = (pred == y) & (conf >= t)
        keep[str(t)] = {
            "yield": round(float(kept.mean()), 4),
            "per_class_yield": {
                e: round(float(kept[y == c].mean()), 4) for c, e in enumerate(generate.EMOTIONS)
            },
            "wrong_but_confident": round(float(((pred != y) & (conf >= t)).mean()), 4),
        }
    return {
        "accuracy": round(float((pred == y).mean()), 4),
        "per_class": per_class,
        "confusion": confusion(y, pred),
        "keep": keep,
    }


def colour_features(images: U8, chunk: int = 500) -> F32:
    """Joint RGB histogram (8³) and HSV marginals, square-rooted: a strong colour-only view."""
    return np.concatenate(
        [_colour_chunk(images[i : i + chunk]) for i in range(0, len(images), chunk)]
    )


def _colour_chunk(images: U8) -> F32:
    n = images.shape[0]
    flat = images.reshape(n, -1, 3)
    q = (flat // 32).astype(np.int64)
    codes = q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]
    joint = np.stack([np.bincount(c, minlength=512) for c in codes]).astype(np.float32)
    rgb = flat.astype(np.float32) / 255.0
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = (np.arctan2(np.sqrt(3.0) * (g - b), 2 * r - g - b) / (2 * np.pi)) % 1.0
    parts = [joint / flat.shape[1]]
    for values, bins in ((hue, 16), (sat, 8), (mx, 8)):
        idx = np.minimum((values * bins).astype(np.int64), bins - 1)
        parts.append(np.stack([np.bincount(i, minlength=bins) for i in idx]) / flat.shape[1])
    features: F32 = np.sqrt(np.concatenate(parts, axis=1)).astype(np.float32)
    return features


def logistic_regression(
    x: F32, y: I64, x_val: F32, y_val: I64, *, seed: int, steps: int = 400
) -> nn.Module:
    """Multinomial logistic regression; the L2 weight is picked on validation."""
    best: tuple[float, nn.Module] | None = None
    xt, yt, xv = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(x_val)
    for decay in (1e-4, 1e-3, 1e-2):
        torch.manual_seed(seed)
        lin = nn.Linear(x.shape[1], len(generate.EMOTIONS))
        opt = torch.optim.Adam(lin.parameters(), lr=0.05)
        for _ in range(steps):
            loss = nn.functional.cross_entropy(lin(xt), yt) + decay * (lin.weight**2).sum()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            opt.step()
        with torch.no_grad():
            acc = float((lin(xv).argmax(1).numpy() == y_val).mean())
        if best is None or acc > best[0]:
            best = (acc, lin)
    assert best is not None
    return best[1]


def colour_baseline(
    train: tuple[U8, I64, F32], val: tuple[U8, I64], test: tuple[U8, I64, F32], *, seed: int
) -> dict[str, Any]:
    """The colour-histogram regression on all test images, and on those the pool would keep.

    ``train`` and ``test`` carry the CNN's probabilities: the pool regression is trained and
    tested only on images the CNN keeps, as an attacker harvesting the pool would see them.
    """
    (train_x, train_y, train_probs), (val_x, val_y), (test_x, test_y, test_probs) = train, val, test
    cf_train, cf_val, cf_test = (colour_features(a) for a in (train_x, val_x, test_x))
    keep_train = (train_probs.argmax(1) == train_y) & (train_probs.max(1) >= KEEP)
    keep_test = (test_probs.argmax(1) == test_y) & (test_probs.max(1) >= KEEP)
    lr_all = logistic_regression(cf_train, train_y, cf_val, val_y, seed=seed)
    lr_pool = logistic_regression(
        cf_train[keep_train], train_y[keep_train], cf_val, val_y, seed=seed
    )
    with torch.no_grad():
        all_probs = torch.softmax(lr_all(torch.from_numpy(cf_test)), 1).numpy()
        pool_pred = lr_pool(torch.from_numpy(cf_test[keep_test])).argmax(1).numpy()
    pool_y = test_y[keep_test]
    return {
        "features": "sqrt of joint RGB 8x8x8 histogram + HSV marginals (16/8/8 bins)",
        "challenge_pass_rate": challenge_pass_rates(
            pool_pred, pool_y, test_probs.max(1)[keep_test], seed=seed
        ),
        "all_test": report(test_y, all_probs),
        "pool_test_accuracy": round(float((pool_pred == pool_y).mean()), 4)
        if pool_y.size
        else None,
        "pool_test_per_class": {
            e: round(float((pool_pred[pool_y == c] == c).mean()), 4)
            for c, e in enumerate(generate.EMOTIONS)
            if (pool_y == c).any()
        },
    }


def challenge_pass_rates(
    pred: I64, y: I64, confidence: F32, *, seed: int, runs: int = 1000
) -> dict[str, Any]:
    """How often a per-image classifier solves whole challenges composed from the test pool.

    The attacker selects exactly the cells it labels with the target emotion; a challenge passes
    only on the exact set. 95% Wilson intervals; ``random_guess`` knows that 2-5 cells are right.
    """
    pool = [
        items.AbstractItem(str(i).encode(), generate.CONTENT_TYPE, generate.EMOTIONS[c], float(p))
        for i, (c, p) in enumerate(zip(y, confidence, strict=True))
    ]
    by_label = {e: [it for it in pool if it.label == e] for e in generate.EMOTIONS}
    rng = random.Random(seed)
    lo, hi = items.TARGETS
    guess = sum(1 / math.comb(items.CELLS, k) for k in range(lo, hi + 1)) / (hi - lo + 1) ** 2
    out: dict[str, Any] = {"challenges_per_difficulty": runs, "random_guess": round(guess, 5)}
    if min(len(v) for v in by_label.values()) < items.CELLS:
        return out | {"skipped": "the test pool is too small to compose challenges"}
    for difficulty in (0.0, 0.5, 1.0):
        passed = 0
        for _ in range(runs):
            target = rng.choice(generate.EMOTIONS)
            cells, answer = items.compose(rng, by_label, target, difficulty)
            chosen = sorted(
                c.id for c in cells if generate.EMOTIONS[pred[int(c.item.image)]] == target
            )
            passed += chosen == answer
        out[str(difficulty)] = {"pass_rate": passed / runs, "ci95": wilson(passed, runs)}
    return out


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]
