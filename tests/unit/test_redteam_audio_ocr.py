"""The trained speech recogniser (audio) and the off-the-shelf OCR attackers (handwriting) on
their own: quick prepare, then solve on locally generated clips and prompts. They skip when
torch, espeak-ng or an OCR engine is missing (the runner measures pass rates live)."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
from pathlib import Path

import jsonschema
import pytest
from bench.redteam.attackers import audio, handwriting
from bench.redteam.attackers.base import Attacker, Challenge

from haechi.challenges.handwriting import prompt
from haechi.challenges.handwriting.challenge import CANVAS
from haechi.challenges.handwriting.lexicon import LEXICON

SUBMISSION = json.loads(
    (Path(__file__).resolve().parents[2] / "docs/schemas/challenge-submission.v1.json").read_text()
)


def test_attackers_are_listed_with_family_and_budget() -> None:
    assert audio.TrainedCRNN in audio.ATTACKERS
    assert audio.TrainedCRNN.family == "trained" and "clips" in audio.TrainedCRNN.budget
    ocr = [handwriting.OcrDdddocr, handwriting.OcrRapid, handwriting.OcrTesseract]
    assert all(cls in handwriting.ATTACKERS for cls in ocr)
    assert len({cls.name for cls in ocr}) == 3
    for cls in ocr:
        assert cls.name.startswith("handwriting/ocr-") and cls.family == "off-the-shelf"
        assert cls.types == ("handwriting",) and cls.budget


def test_log_mel_shape_and_normalisation() -> None:
    import numpy as np

    samples = (np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000) * 8000).astype("<i2")
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    feats = audio.log_mel(out.getvalue())
    assert feats.shape == (1 + (16000 - 400) // 320, 40)
    assert abs(float(feats.mean())) < 1e-3 and abs(float(feats.std()) - 1) < 1e-2
    # A 440 Hz tone: the loudest band is a low one, the same in every frame.
    assert len(set(feats.argmax(1).tolist())) == 1 and feats.argmax(1)[0] < 15


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or shutil.which("espeak-ng") is None,
    reason="needs torch (extra redteam) and espeak-ng",
)
def test_quick_crnn_trains_caches_and_transcribes(tmp_path: Path) -> None:
    from haechi.challenges.audio_gen import make_clip

    attacker = audio.TrainedCRNN()
    attacker.prepare(tmp_path, quick=True)
    assert attacker.prepare_cpu_s > 0
    assert len(list(tmp_path.glob("audio-crnn-*.pt"))) == 1
    rng = random.Random(31337)  # not the attacker's seed
    for locale in ("en", "ko"):
        clip = make_clip(rng, locale)
        text = attacker.transcribe(clip.wav)
        assert text == "" or text.isdigit()
        task = {"type": "audio", "audio": "/v1/blob/1"}
        sub = attacker.solve(Challenge("audio", task, lambda url, w=clip.wav: w))
        assert set(sub) == {"text"} and sub["text"].isdigit() and len(sub["text"]) >= 1
    # A second prepare loads the cached model and reports the cost of training it.
    again = audio.TrainedCRNN()
    again.prepare(tmp_path, quick=True)
    assert again.prepare_cpu_s == attacker.prepare_cpu_s
    assert again.transcribe(clip.wav) == attacker.transcribe(clip.wav)


def test_lexicon_match() -> None:
    word = LEXICON[1]
    assert handwriting.lexicon_match(f"xx {word.ko} yy") == word.ko
    assert handwriting.lexicon_match(word.en.upper()) == word.ko
    assert handwriting.lexicon_match("강 아 지") == "개"  # another accepted form
    assert handwriting.lexicon_match("@#%") is None


def _available(cls: type[Attacker], tmp_path: Path) -> Attacker:
    attacker = cls()
    try:
        attacker.prepare(tmp_path, quick=True)
    except ImportError as error:
        pytest.skip(f"{cls.name}: {error}")
    return attacker


@pytest.mark.parametrize(
    "cls", [handwriting.OcrDdddocr, handwriting.OcrRapid, handwriting.OcrTesseract]
)
def test_ocr_attacker_writes_a_valid_drawing(cls: type[Attacker], tmp_path: Path) -> None:
    attacker = _available(cls, tmp_path)
    assert isinstance(attacker, handwriting._OCR)
    rng = random.Random(5150)
    for i in range(2):
        data = prompt.make(rng.choice(LEXICON), rng)
        task = {
            "type": "handwriting",
            "kind": "draw",
            "image": f"/v1/blob/{i}",
            "canvas": {"width": CANVAS[0], "height": CANVAS[1]},
        }
        assert isinstance(attacker.read(handwriting._png(data)), str)
        sub = attacker.solve(Challenge("handwriting", task, lambda url, d=data: d))
        jsonschema.validate(sub, SUBMISSION)
        assert sub["strokes"] and all(
            0 <= p[0] <= CANVAS[0] and 0 <= p[1] <= CANVAS[1] for s in sub["strokes"] for p in s
        )
