"""Attackers on the abstract type ("select every image that feels calm").

- ``abstract/own-model``: Haechi's own shipped emotion CNN on each cell. The pool keeps only
  images that CNN labels with confidence, so this is the attack the design concedes.
- ``abstract/trained-cnn``: a small CNN trained here on images from the open-source generator
  under another seed (no pool, no labeller), within a stated budget.
- ``abstract/color-stats``: colour statistics and a softmax regression, trained on the same
  generated images: what the generator's colour priors give away.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench.redteam.attackers.base import Attacker, Challenge
from bench.redteam.attackers.common import cell_images
from PIL import Image

TRAIN_SEED = 777  # the server's pools use another seed (bench/redteam/run.py SERVER_SEED)
INPUT = 64


def target_of(task: dict[str, Any]) -> str:
    """The emotion a task's prompt asks for, read the way a bot reads it."""
    from haechi.challenges.abstract import items

    for emotion in items.WORDS:
        if task["prompt"].startswith(items.prompt(emotion, task["locale"])):
            return emotion
    raise ValueError(f"no emotion in the prompt {task['prompt']!r}")


def pick(ids: list[str], probs: np.ndarray, labels: tuple[str, ...], target: str) -> list[str]:
    """Cells whose most likely emotion is the target; at least the likeliest one."""
    column = labels.index(target)
    chosen = [i for i, p in zip(ids, probs, strict=True) if int(p.argmax()) == column]
    return chosen or [ids[int(probs[:, column].argmax())]]


def training_set(workdir: Path, per_emotion: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generator images (encoded and decoded as served) at INPUT px, cached in ``workdir``."""
    from haechi.challenges.abstract import generate

    cache = workdir / f"abstract-train-{per_emotion}-{seed}.npz"
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"]
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, emotion in enumerate(generate.EMOTIONS):
        for _ in range(per_emotion):
            img = generate.decode(generate.encode(generate.render(emotion, rng)))
            xs.append(np.asarray(img.resize((INPUT, INPUT), Image.Resampling.BOX), np.uint8))
            ys.append(label)
    x, y = np.stack(xs), np.asarray(ys, np.int64)
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, x=x, y=y)
    return x, y


def small_batch(cells: list[tuple[str, Image.Image]]) -> np.ndarray:
    return np.stack(
        [np.asarray(img.resize((INPUT, INPUT), Image.Resampling.BOX), np.uint8) for _, img in cells]
    )


class OwnModel(Attacker):
    name = "abstract/own-model"
    family = "own-model"
    types = ("abstract",)
    budget = "none (Haechi's shipped abstract-emotion-v1.onnx)"

    def prepare(self, workdir: Path, quick: bool) -> None:
        from haechi.challenges.abstract.label import EmotionLabeller

        self.labeller = EmotionLabeller()

    def solve(self, ch: Challenge) -> dict[str, Any]:
        cells = cell_images(ch)
        probs = self.labeller.predict([img for _, img in cells])
        ids = [cell_id for cell_id, _ in cells]
        return {"cells": pick(ids, probs, self.labeller.labels, target_of(ch.task))}


class TrainedCNN(Attacker):
    name = "abstract/trained-cnn"
    family = "trained"
    types = ("abstract",)
    budget = "10,000 generated images (seed 777), 12 epochs, 5.5 CPU-min on 1 thread"
    per_emotion, epochs = 2000, 12

    def prepare(self, workdir: Path, quick: bool) -> None:
        import torch
        from torch import nn

        from haechi.challenges.abstract import generate

        torch.set_num_threads(1)
        torch.manual_seed(TRAIN_SEED)
        per_emotion, epochs = (40, 1) if quick else (self.per_emotion, self.epochs)
        self.labels = tuple(generate.EMOTIONS)
        cache = workdir / f"abstract-trained-cnn-{per_emotion}-{epochs}.pt"
        self.model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, len(self.labels)),
        )  # fmt: skip
        self.torch = torch
        spent = cache.with_suffix(".json")
        if cache.exists() and spent.exists():
            self.model.load_state_dict(torch.load(cache))
            self.model.eval()
            # What training cost when it ran, for the report.
            self.prepare_cpu_s = float(json.loads(spent.read_text())["cpu_s"])
            return
        started = time.process_time()
        x, y = training_set(workdir, per_emotion, TRAIN_SEED)
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255.0)
        ty = torch.from_numpy(y)
        opt = torch.optim.AdamW(self.model.parameters(), lr=3e-3, weight_decay=1e-4)
        steps = epochs * ((len(tx) + 63) // 64)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        self.model.train()
        for _ in range(epochs):
            order = torch.randperm(len(tx))
            for i in range(0, len(tx), 64):
                idx = order[i : i + 64]
                batch = tx[idx]
                if random.random() < 0.5:
                    batch = batch.flip(3)
                loss = nn.functional.cross_entropy(self.model(batch), ty[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
        self.prepare_cpu_s = time.process_time() - started
        self.model.eval()
        torch.save(self.model.state_dict(), cache)
        spent.write_text(json.dumps({"cpu_s": self.prepare_cpu_s}))

    def solve(self, ch: Challenge) -> dict[str, Any]:
        cells = cell_images(ch)
        x = self.torch.from_numpy(small_batch(cells)).permute(0, 3, 1, 2).float().div(255.0)
        with self.torch.no_grad():
            probs = self.torch.softmax(self.model(x), dim=1).numpy()
        ids = [cell_id for cell_id, _ in cells]
        return {"cells": pick(ids, probs, self.labels, target_of(ch.task))}


def colour_features(batch: np.ndarray) -> np.ndarray:
    """Per image: RGB and HSV means and spreads, a hue histogram weighted by saturation,
    saturation and brightness histograms, and brightness contrast percentiles."""
    n = batch.shape[0]
    rgb = batch.reshape(n, -1, 3).astype(np.float32) / 255.0
    hsv = np.stack(
        [np.asarray(Image.fromarray(b).convert("HSV"), np.float32).reshape(-1, 3) / 255.0
         for b in batch]
    )  # fmt: skip
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hue_hist = (
        np.stack([np.histogram(h[i], bins=12, range=(0, 1), weights=s[i])[0] for i in range(n)])
        / (h.shape[1])
    )
    sat_hist = np.stack([np.histogram(s[i], bins=6, range=(0, 1))[0] for i in range(n)])
    val_hist = np.stack([np.histogram(v[i], bins=6, range=(0, 1))[0] for i in range(n)])
    pct = np.percentile(v, [5, 50, 95], axis=1).T
    return np.concatenate(
        [
            rgb.mean(1), rgb.std(1), hsv.mean(1), hsv.std(1), hue_hist,
            sat_hist / h.shape[1], val_hist / h.shape[1], pct, (pct[:, 2] - pct[:, 0])[:, None],
        ],
        axis=1,
    )  # fmt: skip


class ColorStats(Attacker):
    name = "abstract/color-stats"
    family = "trained"
    types = ("abstract",)
    budget = "the trained-cnn's 10,000 generated images (seed 777), softmax regression"

    def prepare(self, workdir: Path, quick: bool) -> None:
        from haechi.challenges.abstract import generate

        per_emotion = 40 if quick else TrainedCNN.per_emotion
        self.labels = tuple(generate.EMOTIONS)
        x, y = training_set(workdir, per_emotion, TRAIN_SEED)
        feats = colour_features(x)
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-6
        z = (feats - self.mean) / self.std
        k = len(self.labels)
        w = np.zeros((z.shape[1], k))
        b = np.zeros(k)
        onehot = np.eye(k)[y]
        for _ in range(500):  # full-batch gradient descent with a little L2
            logits = z @ w + b
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            grad = p - onehot
            w -= 0.5 * (z.T @ grad / len(z) + 1e-3 * w)
            b -= 0.5 * grad.mean(0)
        self.w, self.b = w, b

    def solve(self, ch: Challenge) -> dict[str, Any]:
        cells = cell_images(ch)
        z = (colour_features(small_batch(cells)) - self.mean) / self.std
        logits = z @ self.w + self.b
        ids = [cell_id for cell_id, _ in cells]
        return {"cells": pick(ids, logits, self.labels, target_of(ch.task))}


ATTACKERS: list[type[Attacker]] = [OwnModel, TrainedCNN, ColorStats]
