"""Attackers on the audio type (spoken digits in noise, English or Korean).

``audio/pocketsphinx``: CMU PocketSphinx from PyPI (its wheel ships the US English acoustic
model and dictionary), constrained by a JSGF grammar to sequences of 4-6 English digit words,
which is the strongest setting an off-the-shelf recogniser has for this task. It has no Korean
model: Korean clips are expected to fail, and the runner reports each locale.

``audio/trained-crnn``: a small CRNN (two conv blocks, a BiGRU) trained with CTC over the ten
digits on log-mel spectrograms of clips the attacker generates itself with the open-source
generator (``haechi.challenges.audio_gen.make_clip``, seed 777, English and Korean), greedy
CTC decoding. Numpy features, torch on one thread; the model is cached in the work folder.
"""

from __future__ import annotations

import io
import os
import random
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from bench.redteam.attackers.base import Attacker, Challenge

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGIT = {w: str(i) for i, w in enumerate(_WORDS)} | {"oh": "0"}
_GRAMMAR = (
    "#JSGF V1.0;\ngrammar digits;\n"
    "public <digits> = <d> <d> <d> <d> [<d>] [<d>];\n"
    f"<d> = {' | '.join((*_WORDS, 'oh'))};\n"
)


def pcm16(wav: bytes) -> tuple[bytes, int]:
    """Raw 16-bit mono samples and the sample rate of a WAV file."""
    with wave.open(io.BytesIO(wav)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError("expected 16-bit mono audio")
        return w.readframes(w.getnframes()), w.getframerate()


class Pocketsphinx(Attacker):
    name = "audio/pocketsphinx"
    family = "off-the-shelf"
    types = ("audio",)
    budget = "none (pocketsphinx 5 wheel, en-us model, 4-6 digit grammar)"

    def prepare(self, workdir: Path, quick: bool) -> None:
        from pocketsphinx import Config, Decoder, get_model_path

        model = Path(get_model_path())
        config = Config(
            hmm=str(model / "en-us" / "en-us"),
            dict=str(model / "en-us" / "cmudict-en-us.dict"),
            lm=None,
            samprate=16000,
            loglevel="FATAL",
            # Narrower beams than the defaults: 0.25 s a clip instead of 1-5 s, and on the
            # clips tried the same transcripts.
            beam=1e-20,
            pbeam=1e-20,
            wbeam=1e-16,
            maxhmmpf=3000,
        )
        self.decoder = Decoder(config)
        self.decoder.add_jsgf_string("digits", _GRAMMAR)
        self.decoder.activate_search("digits")

    def transcribe(self, wav: bytes) -> str:
        pcm, rate = pcm16(wav)
        if rate != 16000:
            raise ValueError(f"expected 16 kHz audio, got {rate}")
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, no_search=False, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        words = hyp.hypstr.split() if hyp is not None else []
        return "".join(_DIGIT[w] for w in words if w in _DIGIT)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        digits = self.transcribe(ch.fetch(ch.task["audio"]))
        return {"text": digits or "0000"}


# ------------------------------------------------------------------ trained CRNN (CTC)

_SEED = 777
_RATE = 16000
_N_FFT, _WIN, _HOP, _MELS = 512, 400, 320, 40  # 25 ms windows every 20 ms, 40 mel bands
# Clips to generate; epochs, stopping early once training has used train_cpu_s.
_FULL = {"clips": 1500, "epochs": 16, "train_cpu_s": 210}
_QUICK = {"clips": 8, "epochs": 1, "train_cpu_s": 60}


def _mel_bank() -> np.ndarray:
    """Triangular mel filters, (_MELS, _N_FFT // 2 + 1), 50 Hz to 8 kHz."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(50.0)), mel(np.array(_RATE / 2)), _MELS + 2))
    freqs = np.linspace(0, _RATE / 2, _N_FFT // 2 + 1)
    bank = np.zeros((_MELS, freqs.size))
    for i in range(_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return bank


_BANK = _mel_bank()
_WINDOW = np.hanning(_WIN)


def log_mel(wav: bytes) -> np.ndarray:
    """(frames, _MELS) float32 log-mel spectrogram of a 16 kHz WAV, normalised per clip."""
    pcm, rate = pcm16(wav)
    if rate != _RATE:
        raise ValueError(f"expected 16 kHz audio, got {rate}")
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
    if x.size < _WIN:
        x = np.pad(x, (0, _WIN - x.size))
    n = 1 + (x.size - _WIN) // _HOP
    idx = np.arange(_WIN)[None, :] + _HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _WINDOW, n=_N_FFT)) ** 2
    feats = np.log(spec @ _BANK.T + 1e-8)
    return ((feats - feats.mean()) / (feats.std() + 1e-6)).astype(np.float32)


def _crnn(torch: Any) -> Any:
    nn = torch.nn

    class CRNN(nn.Module):  # type: ignore[misc]
        """Two conv blocks (time and mel bands /4), a BiGRU, 11 outputs
        (CTC blank = 0, digit d = d + 1)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                nn.ReLU(),
                nn.MaxPool2d((2, 2)),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.BatchNorm2d(32),
                nn.ReLU(),
                nn.MaxPool2d((2, 2)),
            )
            self.proj = nn.Linear(32 * _MELS // 4, 96)
            self.rnn = nn.GRU(96, 96, bidirectional=True, batch_first=True)
            self.out = nn.Linear(192, 11)

        def forward(self, x: Any) -> Any:  # x: (batch, time, mels)
            y = self.conv(x.unsqueeze(1))  # (batch, 32, time/4, mels/4)
            b, c, t, f = y.shape
            y = self.proj(y.permute(0, 2, 1, 3).reshape(b, t, c * f)).relu()
            y, _ = self.rnn(y)
            return self.out(y)  # (batch, time/4, 11): 80 ms a step

    return CRNN()


def _cpu_s() -> float:
    """This process's CPU time plus its waited-for children's (espeak-ng)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class TrainedCRNN(Attacker):
    """A small CRNN trained with CTC on clips the attacker makes itself with the open-source
    generator (its own seed, both locales): what anyone with the source and a laptop can do."""

    name = "audio/trained-crnn"
    family = "trained"
    types = ("audio",)
    budget = (
        f"{_FULL['clips']:,} generated clips (seed {_SEED}, en+ko), log-mel, CRNN+CTC "
        f"<={_FULL['epochs']} epochs capped at {_FULL['train_cpu_s'] / 60:.1f} CPU-min; "
        "~8 CPU-min in all incl. generation; torch 1 thread"
    )

    def prepare(self, workdir: Path, quick: bool) -> None:
        import torch

        from haechi.challenges.audio_gen import make_clip

        torch.set_num_threads(1)
        torch.manual_seed(_SEED)
        self.torch = torch
        self.model = _crnn(torch)
        plan = _QUICK if quick else _FULL
        cache = workdir / f"audio-crnn-{plan['clips']}x{plan['epochs']}.pt"
        if cache.exists():
            saved = torch.load(cache, weights_only=True)
            self.model.load_state_dict(saved["state"])
            self.prepare_cpu_s = float(saved["cpu_s"])
            self.model.eval()
            return
        started = _cpu_s()
        rng = random.Random(_SEED)
        seeds = [rng.getrandbits(64) for _ in range(plan["clips"])]

        def example(i: int) -> tuple[Any, list[int]]:
            # Each clip from its own seed, so the set does not depend on thread timing.
            clip = make_clip(random.Random(seeds[i]), ("en", "ko")[i % 2])
            return torch.from_numpy(log_mel(clip.wav)), [int(d) + 1 for d in clip.digits]

        # Two threads: most of a clip's time is espeak-ng subprocesses.
        with ThreadPoolExecutor(2) as pool:
            data = list(pool.map(example, range(plan["clips"])))
        self.generate_cpu_s = _cpu_s() - started
        optimiser = torch.optim.Adam(self.model.parameters(), lr=2e-3)
        ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
        order = random.Random(_SEED + 1)
        self.model.train()
        self.epochs = 0
        trained = _cpu_s()
        while self.epochs < plan["epochs"] and _cpu_s() - trained < plan["train_cpu_s"]:
            self.epochs += 1
            order.shuffle(data)
            for start in range(0, len(data), 32):
                batch = data[start : start + 32]
                x = torch.nn.utils.rnn.pad_sequence([f for f, _ in batch], batch_first=True)
                logp = self.model(x).log_softmax(-1).transpose(0, 1)  # (time, batch, 11)
                in_len = torch.tensor([f.shape[0] // 4 for f, _ in batch])
                targets = torch.tensor([d for _, ds in batch for d in ds])
                out_len = torch.tensor([len(ds) for _, ds in batch])
                loss = ctc(logp, targets, in_len, out_len)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.model.eval()
        self.prepare_cpu_s = _cpu_s() - started
        workdir.mkdir(parents=True, exist_ok=True)
        print(
            f"    {self.name}: {len(data)} clips in {self.generate_cpu_s:.0f} CPU-s, "
            f"{self.epochs} epochs, last loss {loss.item():.3f}, {self.prepare_cpu_s:.0f} CPU-s",
            file=sys.stderr,
        )
        torch.save({"state": self.model.state_dict(), "cpu_s": self.prepare_cpu_s}, cache)

    def transcribe(self, wav: bytes) -> str:
        x = self.torch.from_numpy(log_mel(wav))[None]
        with self.torch.no_grad():
            best = self.model(x)[0].argmax(-1).tolist()
        digits, previous = [], 0
        for k in best:
            if k != previous and k != 0:
                digits.append(str(k - 1))
            previous = k
        return "".join(digits)

    def solve(self, ch: Challenge) -> dict[str, Any]:
        return {"text": self.transcribe(ch.fetch(ch.task["audio"])) or "0000"}


ATTACKERS: list[type[Attacker]] = [Pocketsphinx, TrainedCRNN]
