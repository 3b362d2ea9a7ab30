"""Metrics for the grid tile classifier, and the colour-histogram baseline it is measured against.

If colour statistics gave a tile's category away, a bot would not need to see shapes. The
renderer recolours objects and draws backgrounds independently of the category; this measures
how far that holds with a multinomial logistic regression on colour histograms (the features of
``abstract_metrics.colour_features``), on all test tiles and on the tiles a pool would keep.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# The train extra may be absent where mypy runs.
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.ml.abstract_metrics import colour_features

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


def report(
    y: I64, probs: F32, labels: tuple[str, ...], *, strength: F32 | None = None
) -> dict[str, Any]:
    pred, conf = probs.argmax(1), probs.max(1)
    out: dict[str, Any] = {
        "accuracy": round(float((pred == y).mean()), 4),
        "per_class": {
            name: round(float((pred[y == c] == c).mean()), 4) for c, name in enumerate(labels)
        },
        "keep": {},
    }
    for t in (0.5, 0.8, 0.9):
        kept = (pred == y) & (conf >= t)
        out["keep"][str(t)] = {
            "yield": round(float(kept.mean()), 4),
            "wrong_but_confident": round(float(((pred != y) & (conf >= t)).mean()), 4),
        }
    if strength is not None:
        out["accuracy_by_strength"] = {
            f"{lo:.1f}-{lo + 0.25:.2f}": round(
                float((pred == y)[(strength >= lo) & (strength < lo + 0.25)].mean()), 4
            )
            for lo in (0.0, 0.25, 0.5, 0.75)
        }
    return out


class ColourModel:
    """A fitted colour-histogram regression: ``predict(images) -> probabilities``."""

    def __init__(self, lin: nn.Module) -> None:
        self.lin = lin

    def predict(self, images: U8) -> F32:
        with torch.no_grad():
            probs: F32 = torch.softmax(
                self.lin(torch.from_numpy(colour_features(images))), 1
            ).numpy()
        return probs


def fit_colour(
    x: U8, y: I64, x_val: U8, y_val: I64, *, n_classes: int, seed: int, steps: int = 300
) -> ColourModel:
    """Multinomial logistic regression on colour histograms; L2 weight picked on validation."""
    fx, fv = colour_features(x), colour_features(x_val)
    xt, yt, xv = torch.from_numpy(fx), torch.from_numpy(y), torch.from_numpy(fv)
    best: tuple[float, nn.Module] | None = None
    for decay in (1e-4, 1e-3, 1e-2):
        torch.manual_seed(seed)
        lin = nn.Linear(fx.shape[1], n_classes)
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
    return ColourModel(best[1])


def colour_baseline(
    train: tuple[U8, I64],
    val: tuple[U8, I64],
    test: tuple[U8, I64, F32],
    *,
    labels: tuple[str, ...],
    keep: float,
    seed: int,
) -> dict[str, Any]:
    (train_x, train_y), (val_x, val_y), (test_x, test_y, test_probs) = train, val, test
    model = fit_colour(train_x, train_y, val_x, val_y, n_classes=len(labels), seed=seed)
    pred = model.predict(test_x).argmax(1)
    kept = (test_probs.argmax(1) == test_y) & (test_probs.max(1) >= keep)
    return {
        "features": "sqrt of joint RGB 8x8x8 histogram + HSV marginals (16/8/8 bins)",
        "chance": round(1 / len(labels), 4),
        "all_test_accuracy": round(float((pred == test_y).mean()), 4),
        "kept_test_accuracy": round(float((pred[kept] == test_y[kept]).mean()), 4)
        if kept.any()
        else None,
        "per_class": {
            name: round(float((pred[test_y == c] == c).mean()), 4) for c, name in enumerate(labels)
        },
    }
