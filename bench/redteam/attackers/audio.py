"""Attackers on the audio type (spoken digits in noise, English or Korean).

``audio/pocketsphinx``: CMU PocketSphinx from PyPI (its wheel ships the US English acoustic
model and dictionary), constrained by a JSGF grammar to sequences of 4-6 English digit words,
which is the strongest setting an off-the-shelf recogniser has for this task. It has no Korean
model: Korean clips are expected to fail, and the runner reports each locale.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

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


ATTACKERS: list[type[Attacker]] = [Pocketsphinx]
