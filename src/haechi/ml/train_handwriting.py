"""Train the handwriting CRNN (CNN + BiLSTM + CTC) on synthetic handwriting, export it to ONNX.

    python -m haechi.ml.train_handwriting          # src/haechi/models/handwriting-crnn-v1.*
    python -m haechi.ml.train_handwriting --quick  # a smoke run into a temporary folder

Data: words written in handwriting and print fonts (``skeleton.TRAIN_FONTS``), thinned to their
skeletons and traced into polylines — what a pen on a canvas records — then augmented per stroke
(shift, turn, scale, wobble along the stroke), per word (slant, rotation, width, an elastic
warp) and per pen (width), and rendered by ``ink.render``, the function serving uses. Half the
words are lexicon forms, half random strings of 1-3 syllables from ``lexicon.SYLLABLES`` (so the
model reads syllables, not whole words); 5% are scribbles with an empty transcript, so a
scribble reads as blank. Syllables are rendered one at a time and set side by side with random
spacing and baseline; lexicon forms are also rendered whole.

Held out: the seed, and the font ``skeleton.HELD_OUT_FONT`` (Nanum Brush), which no training
sample uses. Decoding is calibrated on validation data and written into the sidecar: the
absolute *floor* lets 99% of validation lexicon words through, and the *blank margin* (how much
a word must out-score "nothing written") lets at most 1% of validation scribbles read as a word.
Needs the ``train`` extra (torch, onnx) and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]
import PIL
import torch  # type: ignore[import-not-found, unused-ignore]
from torch import nn  # type: ignore[import-not-found, unused-ignore]

from haechi.challenges.handwriting import ink, recognise, skeleton
from haechi.challenges.handwriting.lexicon import FORMS, LEXICON, SYLLABLES

SEED: Final = 20_261_122
CHARSET: Final = ("", *SYLLABLES)
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]
Strokes = list[F64]


# --- synthetic handwriting ------------------------------------------------------------------
class Glyphs:
    """Skeleton polylines per (font, syllable) and per (font, lexicon form), made on first use."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[Strokes, float]] = {}

    def get(self, font_name: str, text: str) -> tuple[Strokes, float]:
        """Polylines and the advance width of ``text`` (its mask's width)."""
        key = (font_name, text)
        if key not in self._cache:
            mask = skeleton.glyph_mask(text, font_name)
            self._cache[key] = (skeleton.trace(skeleton.thin(mask)), float(mask.shape[1]))
        return self._cache[key]


def compose(glyphs: Glyphs, font_name: str, text: str, rng: np.random.Generator) -> Strokes:
    """``text`` set syllable by syllable: random gaps, baseline wobble, per-syllable size."""
    size = skeleton.GLYPH_PX
    out: Strokes = []
    x = 0.0
    for char in text:
        strokes, advance = glyphs.get(font_name, char)
        scale = rng.uniform(0.88, 1.12)
        dy = rng.normal(0, 0.05 * size)
        for s in strokes:
            out.append(s * scale + np.array([x, dy]))
        x += advance * scale + rng.uniform(-0.12, 0.2) * size
    return out


def _wobble(n: int, rng: np.random.Generator, amp: float) -> F64:
    """A smooth random offset along a stroke of ``n`` points."""
    if n < 2:
        return np.zeros((n, 2))
    t = np.linspace(0, 1, n)[:, None]
    freq = rng.uniform(0.5, 2.0, (1, 2))
    phase = rng.uniform(0, 2 * np.pi, (1, 2))
    out: F64 = amp * rng.uniform(0, 1, (1, 2)) * np.sin(2 * np.pi * freq * t + phase)
    return out


def augment(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    size = skeleton.GLYPH_PX
    out: Strokes = []
    for s in strokes:
        centre = s.mean(0)
        angle = rng.normal(0, 0.07)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        moved = (s - centre) @ rot.T * rng.uniform(0.9, 1.1) + centre
        moved = moved + rng.normal(0, 0.025 * size, 2) + _wobble(len(s), rng, 0.03 * size)
        out.append(moved)
    allp = np.concatenate(out)
    centre = allp.mean(0)
    slant = rng.uniform(-0.3, 0.25)
    angle = rng.normal(0, 0.06)
    stretch = rng.uniform(0.8, 1.25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[stretch, slant], [0.0, 1.0]])
    amp = rng.uniform(0, 0.05) * size
    wave = rng.uniform(1.5, 4.0) * size
    phase = rng.uniform(0, 2 * np.pi, 2)
    warped: Strokes = []
    for s in out:
        p = (s - centre) @ (rot @ shear).T
        p[:, 0] += amp * np.sin(2 * np.pi * p[:, 1] / wave + phase[0])
        p[:, 1] += amp * np.sin(2 * np.pi * p[:, 0] / wave + phase[1])
        warped.append(p)
    # Now and then a pen lifts late or early: a stroke loses a few points at one end.
    if rng.random() < 0.3:
        k = int(rng.integers(len(warped)))
        if len(warped[k]) > 6:
            warped[k] = warped[k][: -int(rng.integers(1, 3))]
    return warped


def scribble(rng: np.random.Generator) -> Strokes:
    """Random pen movement: loops, zigzags and dashes over a word-sized area."""
    size = skeleton.GLYPH_PX
    out: Strokes = []
    width = rng.uniform(0.5, 3.5) * size
    for _ in range(int(rng.integers(1, 9))):
        n = int(rng.integers(2, 30))
        steps = rng.normal(0, 0.25 * size, (n, 2))
        start = rng.uniform([0, 0], [width, size])
        out.append(start + np.cumsum(steps, axis=0) * rng.uniform(0.3, 1.0))
    return out


def random_word(rng: np.random.Generator) -> str:
    n = int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.3]))
    return "".join(SYLLABLES[int(i)] for i in rng.integers(len(SYLLABLES), size=n))


_FORMS: Final = sorted(FORMS)


def sample(glyphs: Glyphs, rng: np.random.Generator, fonts: Sequence[str]) -> tuple[U8, str]:
    """One training image and its transcript."""
    roll = rng.random()
    if roll < 0.05:
        strokes, text = scribble(rng), ""
    else:
        font_name = fonts[int(rng.integers(len(fonts)))]
        text = _FORMS[int(rng.integers(len(_FORMS)))] if roll < 0.5 else random_word(rng)
        if roll < 0.3:
            strokes = [s.copy() for s in glyphs.get(font_name, text)[0]]
        else:
            strokes = compose(glyphs, font_name, text, rng)
        strokes = augment(strokes, rng)
    return ink.render(strokes, pen=ink.PEN * rng.uniform(0.7, 1.4)), text


def dataset(n: int, seed: int, fonts: Sequence[str], glyphs: Glyphs) -> tuple[U8, list[str]]:
    rng = np.random.default_rng(seed)
    images = np.empty((n, ink.HEIGHT, ink.WIDTH), np.uint8)
    texts: list[str] = []
    for i in range(n):
        images[i], text = sample(glyphs, rng, fonts)
        texts.append(text)
    return images, texts


# --- the CRNN -----------------------------------------------------------------------------------
def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class CRNN(nn.Module):  # type: ignore[misc, unused-ignore]
    """[N, 1, 32, 128] -> log-probabilities [N, 32, classes]: 4 conv blocks (the first strided,
    pooling to 4x32), each column's 4 rows folded into its features and projected, a BiLSTM, a
    linear layer, log-softmax. Small because it trains on one CPU thread in minutes."""

    def __init__(
        self, n_classes: int, widths: Sequence[int] = (16, 32, 48, 64), hidden: int = 48
    ) -> None:
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            _block(1, a, 2),
            _block(a, b),
            nn.MaxPool2d(2),
            _block(b, c),
            nn.MaxPool2d((2, 1)),
            _block(c, d),
        )
        self.project = nn.Linear(d * (ink.HEIGHT // 8), 128)
        self.rnn = nn.LSTM(128, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.15)
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # [N, C, 4, T]
        n, c, h, t = f.shape
        seq = torch.relu(self.project(f.permute(0, 3, 1, 2).reshape(n, t, c * h)))
        out, _ = self.rnn(seq)
        logits: torch.Tensor = self.head(self.dropout(out))
        return torch.log_softmax(logits, dim=-1)


def to_tensor(images: U8) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def targets(texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    index = {c: i for i, c in enumerate(CHARSET)}
    flat = [index[c] for t in texts for c in t]
    return torch.tensor(flat, dtype=torch.long), torch.tensor([len(t) for t in texts])


def train(
    model: CRNN, images: U8, texts: list[str], *, epochs: int, seed: int, batch: int = 64
) -> list[float]:
    torch.manual_seed(seed)
    x = to_tensor(images)
    order_rng = np.random.default_rng(seed)
    steps = epochs * (len(texts) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    losses: list[float] = []
    model.train()
    for epoch in range(epochs):
        order = order_rng.permutation(len(texts))
        total, count = 0.0, 0
        for i in range(0, len(order) - batch + 1, batch):
            idx = order[i : i + batch]
            lp = model(x[idx])  # [N, T, C]
            flat, lengths = targets([texts[j] for j in idx])
            t = torch.full((len(idx),), lp.shape[1], dtype=torch.long)
            loss = ctc(lp.permute(1, 0, 2), flat, t, lengths)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            count += len(idx)
        losses.append(total / max(count, 1))
        print(f"epoch {epoch + 1}/{epochs}: ctc loss {losses[-1]:.3f}", flush=True)
    model.eval()
    return losses


def torch_log_probs(model: CRNN, images: U8, batch: int = 256) -> F32:
    with torch.no_grad():
        x = to_tensor(images)
        return np.concatenate([model(x[i : i + batch]).numpy() for i in range(0, len(x), batch)])


# --- export -------------------------------------------------------------------------------------
def export(model: CRNN, path: Path, sample_images: U8) -> None:
    x = to_tensor(sample_images)
    torch.onnx.export(
        model,
        (x,),
        str(path),
        input_names=["image"],
        output_names=["log_probs"],
        dynamic_axes={"image": {0: "batch"}, "log_probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    np.testing.assert_allclose(
        ort_log_probs(path, sample_images), torch_log_probs(model, sample_images), atol=1e-3
    )


def ort_log_probs(path: Path, images: U8) -> F32:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = to_tensor(images).numpy()
    out: F32 = np.concatenate(
        [sess.run(["log_probs"], {"image": x[i : i + 256]})[0] for i in range(0, len(x), 256)]
    )
    return out


def quantise(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        QuantType,
        quantize_dynamic,
    )

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


# --- evaluation ---------------------------------------------------------------------------------
def lexicon_targets() -> tuple[list[list[int]], list[str]]:
    codes, owners = [], []
    for word in LEXICON:
        for form in word.forms:
            code = recognise.encode(form, CHARSET)
            assert code is not None
            codes.append(code)
            owners.append(word.ko)
    return codes, owners


WORDS: Final = [w.ko for w in LEXICON]


def rngs(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, i]) for i in range(n)]


def blank_scores(log_probs: F32) -> F32:
    """log P(nothing written): every column blank."""
    out: F32 = log_probs[:, :, 0].sum(1)
    return out


def readings(log_probs: F32) -> tuple[list[str], F32]:
    """Per drawing: the best lexicon word, and every word's best score [N, words]."""
    codes, owners = lexicon_targets()
    words = [w.ko for w in LEXICON]
    col = {w: i for i, w in enumerate(words)}
    scores = np.full((len(log_probs), len(words)), -np.inf, np.float32)
    for n, lp in enumerate(log_probs):
        for owner, value in zip(owners, recognise.ctc_scores(lp, codes), strict=True):
            scores[n, col[owner]] = max(scores[n, col[owner]], value)
    return [words[i] for i in scores.argmax(1)], scores


def held_out_words(
    font_name: str, seed: int, per_word: int, glyphs: Glyphs
) -> tuple[U8, list[str], U8]:
    """Every lexicon word in ``font_name``: as clean skeleton strokes through a canvas submission
    (what tests and the red team submit) and ``per_word`` augmented copies."""
    rng = np.random.default_rng(seed)
    canvas = (400, 160)
    clean, augmented, labels = [], [], []
    for word in LEXICON:
        strokes = glyphs.get(font_name, word.ko)[0]
        sub = skeleton.as_submission(strokes, canvas, random.Random(seed))
        clean.append(ink.render(ink.parse(sub, canvas)))
        for _ in range(per_word):
            augmented.append(ink.render(augment([s.copy() for s in strokes], rng)))
            labels.append(word.ko)
    return np.stack(clean), labels, np.stack(augmented)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def versions() -> dict[str, str]:
    import onnx  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m haechi.ml.train_handwriting")
    parser.add_argument("--out", help="default: src/haechi/models (a temp folder with --quick)")
    parser.add_argument("--train", type=int, default=24_000, help="training images")
    parser.add_argument("--eval", type=int, default=2_000, help="validation and test images")
    parser.add_argument("--per-word", type=int, default=20, help="held-out font copies a word")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny data, one epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.train, args.eval, args.per_word, args.epochs = 640, 200, 2, 1
    if args.out is None:
        args.out = (
            tempfile.mkdtemp(prefix="handwriting-") if args.quick else str(recognise.MODELS_DIR)
        )
    return args


def rate(mask: npt.NDArray[np.bool_]) -> float:
    return float(mask.mean()) if mask.size else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    glyphs = Glyphs()
    fonts = skeleton.TRAIN_FONTS

    x_train, y_train = dataset(args.train, args.seed, fonts, glyphs)
    x_val, y_val = dataset(args.eval, args.seed + 1, fonts, glyphs)
    x_test, y_test = dataset(args.eval, args.seed + 2, fonts, glyphs)
    data_s = time.perf_counter() - started
    print(f"data: {len(y_train)} train images in {data_s:.0f} s", flush=True)

    model = CRNN(len(CHARSET))
    params = sum(p.numel() for p in model.parameters())
    losses = train(model, x_train, y_train, epochs=args.epochs, seed=args.seed)
    train_s = time.perf_counter() - started - data_s

    float_path, quant_path = out / "crnn.float.onnx", out / "crnn.int8.onnx"
    export(model, float_path, x_val[:16])
    quantise(float_path, quant_path)

    def greedy_acc(lp: F32, texts: Sequence[str]) -> float:
        keep = [i for i, t in enumerate(texts) if t]
        got = [recognise.greedy(lp[i], CHARSET) for i in keep]
        return float(np.mean([g == texts[i] for g, i in zip(got, keep, strict=True)]))

    # Calibration on validation data: the floor lets 99% of validation lexicon words through;
    # the blank margin lets at most 1% of validation scribbles read as a word rather than blank.
    val_lp = ort_log_probs(quant_path, x_val)
    _, val_scores = readings(val_lp)
    is_lex = np.array([t in FORMS for t in y_val])
    val_true = [FORMS[t].ko for t in np.array(y_val)[is_lex]]
    right = val_scores[is_lex][np.arange(len(val_true)), [WORDS.index(w) for w in val_true]]
    floor = float(np.quantile(right, 0.01))
    x_scr = np.stack([ink.render(scribble(r)) for r in rngs(args.seed + 4, args.eval // 2)])
    scr_lp = ort_log_probs(quant_path, x_scr)
    _, scr_scores = readings(scr_lp)
    margin = float(np.quantile(scr_scores.max(1) - blank_scores(scr_lp), 0.99))
    print(f"floor {floor:.2f}, blank margin {margin:.2f}", flush=True)

    clean, words, augmented = held_out_words(
        skeleton.HELD_OUT_FONT, args.seed + 3, args.per_word, glyphs
    )
    x_scr_test = np.stack([ink.render(scribble(r)) for r in rngs(args.seed + 5, args.eval // 2)])
    non_lex = np.array([bool(t) and t not in FORMS for t in y_test])
    results: dict[str, dict[str, float]] = {}
    for label, path in (("float32", float_path), ("int8", quant_path)):
        lp = ort_log_probs(path, x_test)

        def judged(
            images: U8, path: Path = path
        ) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_]]:
            """The best word of each drawing and whether it clears floor and margin."""
            log_probs = ort_log_probs(path, images)
            best, scores = readings(log_probs)
            top = scores.max(1)
            clears = (top >= floor) & (top - blank_scores(log_probs) >= margin)
            return np.array(best), clears

        best_c, clears_c = judged(clean)
        best_a, clears_a = judged(augmented)
        true_c, true_a = np.array([w.ko for w in LEXICON]), np.array(words)
        _, clears_s = judged(x_scr_test)
        _, clears_n = judged(x_test[non_lex])
        lex_test = np.array([t in FORMS for t in y_test])
        best_l, clears_l = judged(x_test[lex_test])
        true_l = np.array([FORMS[t].ko for t in np.array(y_test)[lex_test]])
        # A drawing of one word submitted for another passes only when it is read as that
        # other word: over all (drawing, other word) pairs, accepts / (words - 1). A scribble
        # or a non-lexicon word passes for a random answer with probability clears / words.
        n_words = len(LEXICON)
        results[label] = {
            "test_greedy_word_accuracy": greedy_acc(lp, y_test),
            "test_lexicon_top1": rate(best_l == true_l),
            "test_lexicon_pass": rate((best_l == true_l) & clears_l),
            "held_out_font_clean_top1": rate(best_c == true_c),
            "held_out_font_clean_pass": rate((best_c == true_c) & clears_c),
            "held_out_font_augmented_top1": rate(best_a == true_a),
            "held_out_font_augmented_pass": rate((best_a == true_a) & clears_a),
            "held_out_font_greedy_word_accuracy": greedy_acc(ort_log_probs(path, augmented), words),
            "wrong_word_false_accept": float(((best_a != true_a) & clears_a).sum())
            / (len(true_a) * (n_words - 1)),
            "scribble_read_as_a_word": rate(clears_s),
            "scribble_false_accept": rate(clears_s) / n_words,
            "non_lexicon_word_false_accept": rate(clears_n) / n_words,
        }
        print(label, json.dumps(results[label], indent=1), flush=True)

    use_quant = (
        results["int8"]["held_out_font_augmented_pass"]
        >= results["float32"]["held_out_font_augmented_pass"] - 0.01
    )
    final = out / f"{recognise.MODEL_NAME}.onnx"
    (quant_path if use_quant else float_path).replace(final)
    (float_path if use_quant else quant_path).unlink()
    # int8 moves log-probabilities of unlikely classes by up to ~1; probabilities stay close.
    np.testing.assert_allclose(
        np.exp(ort_log_probs(final, x_val[:32])),
        np.exp(torch_log_probs(model, x_val[:32])),
        atol=0.1 if use_quant else 1e-4,
    )
    meta = {
        "name": recognise.MODEL_NAME,
        "charset": list(CHARSET),
        "input": {"name": "image", "height": ink.HEIGHT, "width": ink.WIDTH, "pen": ink.PEN},
        "output": {"name": "log_probs", "blank": 0},
        "decoding": {
            "floor": round(floor, 3),
            "blank_margin": round(margin, 3),
            "rule": "best lexicon word by CTC log-likelihood, >= floor, >= blank + blank_margin",
        },
        "parameters": params,
        "quantised": "int8 dynamic (weights)" if use_quant else None,
        "train": {
            "images": args.train,
            "epochs": args.epochs,
            "seed": args.seed,
            "fonts": list(fonts),
            "held_out_font": skeleton.HELD_OUT_FONT,
            "losses": [round(v, 4) for v in losses],
        },
        "metrics": results["int8" if use_quant else "float32"],
        "metrics_all": results,
        "timing": {
            "data_s": round(data_s, 1),
            "train_s": round(train_s, 1),
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(cpu_seconds(), 1),
        },
        "versions": versions(),
        "command": "python -m haechi.ml.train_handwriting " + " ".join(sys.argv[1:]),
    }
    final.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    print(json.dumps(meta["timing"]), f"-> {final} ({final.stat().st_size} bytes)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
