"""WAV reading/writing and small signal helpers shared by the corpus maker and the loader.

Only Python's ``wave`` module and numpy: no TensorFlow import, so ``kwsq synth`` workers
start fast.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from pipeline.atomic import atomic_path

SAMPLE_RATE = 16000


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV -> (float32 samples in [-1, 1) of the first channel, sample rate).

    Raises ``wave.Error``/``EOFError`` for broken files and ``ValueError`` for other sample
    widths, so callers can count bad files instead of crashing.
    """
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{w.getsampwidth() * 8}-bit samples (expected 16)")
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if channels > 1:
        data = data[::channels]
    return data.astype(np.float32) / 32768.0, rate


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(audio) * 32767.0), -32768, 32767).astype("<i2")


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_int16(audio).tobytes())
    return buf.getvalue()


def write_wav(dest: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float audio in [-1, 1] as 16-bit mono PCM, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(wav_bytes(audio, rate))


def word_bounds(audio: np.ndarray, rel: float = 0.03, margin: int = 160) -> tuple[int, int]:
    """First and last sample (exclusive) above ``rel`` x peak, widened by ``margin`` samples."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return 0, 0
    idx = np.flatnonzero(np.abs(audio) > rel * peak)
    return max(0, int(idx[0]) - margin), min(audio.size, int(idx[-1]) + 1 + margin)


def colored_noise(n: int, rng: np.random.Generator, exponent: float = 1.0,
                  min_hz: float = 20.0) -> np.ndarray:
    """Noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown), unit RMS.

    The spectrum is flat below ``min_hz`` so that brown noise does not become a slow drift.
    """
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE), min_hz)
    spec /= f ** (exponent / 2)
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)
