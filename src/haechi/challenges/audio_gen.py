"""Offline generator for audio challenge clips: spoken digits in noise, as a bare WAV file.

Run by the pool builder (``haechi challenges build-pool --type audio``), never per request: it
shells out to espeak-ng (Debian package ``espeak-ng``) once per spoken word. Each clip is 4-6
digits in English or Korean, each synthesised on its own with a jittered rate, pitch and voice
variant, resampled by a few percent (speed and pitch move together, as in a real speaker), and
placed with random gaps. Under it, at a lower level:

- babble: other synthetic speech played backwards — speech-like spectra and rhythm, which
  draw a recogniser's attention, but no words a listener hears;
- pink noise; and
- short gaps inside the mix filled with a noise burst (listeners restore a phoneme masked by
  noise; a recogniser that relies on clean frames loses it).

The output is 16 kHz mono 16-bit PCM WAV with only the ``fmt`` and ``data`` chunks: no LIST,
INFO or other metadata that could name the digits. Chromium, Firefox and Safari all play it.
Security is not claimed here; ``bench/redteam`` measures it.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SAMPLE_RATE = 16_000
CONTENT_TYPE = "audio/wav"
MIN_DIGITS, MAX_DIGITS = 4, 6

DIGIT_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    # Sino-Korean numerals, the way phone numbers and codes are read aloud.
    "ko": ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"),
}
VOICES = {"en": ("en-us", "en-gb", "en-gb-x-rp", "en-us-nyc"), "ko": ("ko",)}
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")
# Babble material, spoken and then reversed: everyday words, so its spectrum is speech's.
BABBLE_WORDS = {
    "en": (
        "morning window garden yellow basket pocket river market doctor paper table",
        "summer winter orange purple silver button pencil rabbit kitchen bottle letter",
    ),
    "ko": (
        "바다 나무 하늘 사람 학교 시장 고양이 강아지 자동차 도서관 바람 구름 우산",
        "가방 연필 의자 창문 사과 기차 노래 친구 공원 주머니 빨래 신발 거울",
    ),
}

Audio = NDArray[np.float64]


class EspeakMissing(RuntimeError):
    """espeak-ng is not installed; pool builds need it (serving never does)."""


@dataclass(frozen=True, slots=True)
class Clip:
    wav: bytes
    digits: str
    locale: str
    duration_ms: int


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakMissing("espeak-ng is not installed: apt-get install espeak-ng")
    return path


def _parse_wav(data: bytes) -> tuple[Audio, int]:
    """Samples and rate from espeak-ng's ``--stdout`` WAV, whose sizes are placeholders (it
    streams): the data chunk is taken to run to the end of the output."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not write a WAV file")
    offset, rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = (
            data[offset : offset + 4],
            struct.unpack("<I", data[offset + 4 : offset + 8])[0],
        )
        body = offset + 8
        if chunk == b"fmt ":
            channels, rate, bits = struct.unpack("<xxHI6xH", data[body : body + 16])
            if channels != 1 or bits != 16:
                raise ValueError("expected 16-bit mono from espeak-ng")
        elif chunk == b"data":
            pcm = np.frombuffer(data[body : body + (len(data) - body) // 2 * 2], dtype="<i2")
            return pcm.astype(np.float64) / 32768.0, rate
        offset = body + size + (size & 1)
    raise ValueError("espeak-ng output has no data chunk")


def synthesise(text: str, voice: str, rate_wpm: int, pitch: int) -> tuple[Audio, int]:
    result = subprocess.run(  # noqa: S603 - fixed argv, text from our own word lists
        [espeak_path(), "--stdout", "-v", voice, "-s", str(rate_wpm), "-p", str(pitch), text],
        capture_output=True,
        timeout=30,
        check=True,
    )
    return _parse_wav(result.stdout)


def resample(x: Audio, rate_in: int, rate_out: float) -> Audio:
    """Low-pass below the new Nyquist frequency (no aliasing from espeak's top octave), then
    interpolate. The FFT runs on a power-of-two length: odd lengths are many times slower."""
    if x.size == 0:
        return x
    n_fft = 1 << (len(x) - 1).bit_length()
    spectrum = np.fft.rfft(x, n_fft)
    cutoff = int(len(spectrum) * min(1.0, 0.95 * rate_out / rate_in))
    spectrum[cutoff:] = 0
    smooth = np.fft.irfft(spectrum, n_fft)[: len(x)]
    n_out = max(1, round(len(x) * rate_out / rate_in))
    positions = np.arange(n_out) * (rate_in / rate_out)
    out: Audio = np.interp(positions, np.arange(len(x)), smooth)
    return out


def trim(x: Audio, threshold: float = 0.02) -> Audio:
    loud = np.flatnonzero(np.abs(x) > threshold * max(1e-9, float(np.max(np.abs(x)))))
    if loud.size == 0:
        return x[:0]
    pad = SAMPLE_RATE // 100
    return x[max(0, loud[0] - pad) : loud[-1] + pad]


def rms(x: Audio) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def pink_noise(n: int, rng: np.random.Generator) -> Audio:
    n_fft = 1 << max(0, n - 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(n_fft))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0
    noise: Audio = np.fft.irfft(spectrum, n_fft)[:n]
    return noise / max(1e-9, rms(noise))


def _word(rng: random.Random, text: str, voice: str) -> Audio:
    """One word at a jittered rate and pitch, resampled to 16 kHz at a speed off by a few %."""
    samples, rate = synthesise(text, voice, rng.randint(125, 175), rng.randint(25, 75))
    speed = rng.uniform(0.92, 1.08)
    return trim(resample(samples, rate, SAMPLE_RATE / speed))


def _babble(rng: random.Random, locale: str, length: int) -> Audio:
    """Several reversed speech streams laid over the whole clip."""
    words = " ".join(BABBLE_WORDS[locale]).split() + list(DIGIT_WORDS[locale])
    bed = np.zeros(length)
    # About 2.5 words a second covers the clip in one espeak-ng call per stream.
    n_words = max(4, int(length / SAMPLE_RATE * 2.5) + 2)
    for _ in range(rng.randint(3, 5)):
        voice = f"{rng.choice(VOICES[locale])}+{rng.choice(VARIANTS)}"
        stream = _word(rng, " ".join(rng.choice(words) for _ in range(n_words)), voice)[::-1]
        if stream.size == 0:
            continue
        if len(stream) < length:
            stream = np.tile(stream, length // len(stream) + 1)
        start = rng.randint(0, len(stream) - length)
        bed += stream[start : start + length] * rng.uniform(0.6, 1.0)
    return bed / max(1e-9, rms(bed))


def _mask_gaps(mix: Audio, rng: random.Random, noise: np.random.Generator) -> None:
    """Replace a few short stretches with a noise burst at the mix's own level."""
    level = rms(mix)
    for _ in range(rng.randint(3, 6)):
        width = rng.randint(SAMPLE_RATE * 15 // 1000, SAMPLE_RATE * 40 // 1000)
        start = rng.randint(0, max(0, len(mix) - width))
        mix[start : start + width] = noise.standard_normal(width) * level * 0.8


def encode_wav(samples: Audio) -> bytes:
    """16-bit mono PCM WAV with exactly two chunks, ``fmt`` and ``data``."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(pcm)),
            b"WAVE",
            b"fmt ",
            struct.pack("<I", len(fmt)),
            fmt,
            b"data",
            struct.pack("<I", len(pcm)),
            pcm,
        )
    )


def make_clip(rng: random.Random, locale: str) -> Clip:
    """One clip; everything random comes from ``rng``, so a seed reproduces it exactly."""
    digits = "".join(str(rng.randrange(10)) for _ in range(rng.randint(MIN_DIGITS, MAX_DIGITS)))
    voice = f"{rng.choice(VOICES[locale])}+{rng.choice(VARIANTS)}"
    pieces: list[Audio] = [np.zeros(int(SAMPLE_RATE * rng.uniform(0.4, 0.9)))]
    for digit in digits:
        pieces.append(_word(rng, DIGIT_WORDS[locale][int(digit)], voice) * rng.uniform(0.8, 1.0))
        pieces.append(np.zeros(int(SAMPLE_RATE * rng.uniform(0.35, 1.0))))
    speech = np.concatenate(pieces)
    speech_level = rms(speech[np.abs(speech) > 0.01])
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    # Babble 7-12 dB and pink noise 18-24 dB below the spoken digits.
    babble = _babble(rng, locale, len(speech)) * speech_level * 10 ** (-rng.uniform(7, 12) / 20)
    hiss = pink_noise(len(speech), noise_rng) * speech_level * 10 ** (-rng.uniform(18, 24) / 20)
    mix = speech + babble + hiss
    _mask_gaps(mix, rng, noise_rng)
    mix *= 0.89 / max(1e-9, float(np.max(np.abs(mix))))
    return Clip(encode_wav(mix), digits, locale, int(len(mix) * 1000 / SAMPLE_RATE))
