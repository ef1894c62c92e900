"""Long test recordings for streaming evaluation (miss rate vs false alarms per hour).

``kwsq synth --streams`` writes ``streams/stream_NNN.wav`` (16 kHz mono 16-bit) with a
ground-truth ``stream_NNN.json`` beside each: every spoken word with its start and end
time, whether it is one of the 10 command keywords, the speaker and its engine family.
Words come only from test-split speakers (the GSC testing list), so a model never heard
any of these voices in training. Non-keywords (the other GSC words) are spoken as often as
keywords: they are what false alarms are made of. The background changes every 10-40 s
between the corpus' noise recordings at varying levels, and each word is mixed at its own
SNR against it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from pipeline import console
from pipeline.atomic import write_text
from pipeline.data.audio import SAMPLE_RATE, read_wav, word_bounds, write_wav
from pipeline.data.gsc import (
    COMMANDS,
    TESTING_LIST,
    load_noises,
    read_list,
    speaker_of,
    speaker_table,
)
from pipeline.errors import KwsqError

STREAM_DIR = "streams"
MAX_FILE_MINUTES = 5.0
GAP_SECONDS = (1.0, 4.0)  # silence between the end of a word and the next word
SNR_DB = (5.0, 25.0)  # word RMS vs background RMS
BACKGROUND_DB = (-55.0, -30.0)  # background RMS level, dBFS
KEYWORD_SHARE = 0.5


def _rng(seed: int, what: str) -> np.random.Generator:
    digest = hashlib.sha1(f"{seed}:streams:{what}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _background(noises: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Segments of random noise files at random levels, joined with 50 ms cross-fades."""
    out = np.zeros(n, np.float32)
    fade = int(0.05 * SAMPLE_RATE)
    pos = 0
    while pos < n:
        length = min(n - pos, int(rng.uniform(10, 40) * SAMPLE_RATE))
        noise = noises[int(rng.integers(len(noises)))]
        reps = math.ceil((length + fade) / noise.size) + 1
        start = int(rng.integers(noise.size))
        seg = np.tile(noise, reps)[start : start + length + fade].astype(np.float64)
        rms = np.sqrt(np.mean(seg**2)) + 1e-12
        seg *= 10 ** (rng.uniform(*BACKGROUND_DB) / 20) / rms
        ramp = np.ones(seg.size)
        ramp[:fade] = np.linspace(0.0, 1.0, fade) if pos else 1.0
        ramp[-fade:] = np.linspace(1.0, 0.0, fade)
        end = min(n, pos + seg.size)
        out[pos:end] += (seg * ramp)[: end - pos].astype(np.float32)
        pos += length
    return out


def make_stream(root: Path, index: int, seconds: float, seed: int,
                clips: dict[str, list[str]], noises: list[np.ndarray],
                speakers: dict[str, dict[str, str]]) -> dict:
    """One stream and its ground truth, a pure function of (seed, index)."""
    rng = _rng(seed, f"file{index}")
    n = int(seconds * SAMPLE_RATE)
    audio = _background(noises, n, rng)
    keywords = [w for w in COMMANDS if clips.get(w)]
    others = [w for w in sorted(clips) if w not in COMMANDS and clips[w]]
    events = []
    pos = int(rng.uniform(*GAP_SECONDS) * SAMPLE_RATE)
    while True:
        pool = keywords if (rng.random() < KEYWORD_SHARE or not others) else others
        word = pool[int(rng.integers(len(pool)))]
        rel = clips[word][int(rng.integers(len(clips[word])))]
        clip, _ = read_wav(root / rel)
        # clips carry a noise floor up to 40 dB under the peak: trim at -30 dB, keep 50 ms
        lo, hi = word_bounds(clip, rel=0.03, margin=800)
        seg = clip[lo:hi].astype(np.float64)
        if pos + seg.size >= n:
            break
        local = audio[pos : pos + seg.size].astype(np.float64)
        bg_rms = np.sqrt(np.mean(local**2)) + 1e-9
        snr = float(rng.uniform(*SNR_DB))
        seg *= bg_rms * 10 ** (snr / 20) / (np.sqrt(np.mean(seg**2)) + 1e-12)
        audio[pos : pos + seg.size] += seg.astype(np.float32)
        speaker = speaker_of(rel)
        row = speakers.get(speaker, {})
        family, human = row.get("family", ""), row.get("human") == "1"
        events.append({"word": word, "keyword": word in COMMANDS,
                       "start": round(pos / SAMPLE_RATE, 4),
                       "end": round((pos + seg.size) / SAMPLE_RATE, 4),
                       "file": rel, "speaker": speaker, "family": family, "human": human,
                       "snr_db": round(snr, 2)})
        pos += seg.size + int(rng.uniform(*GAP_SECONDS) * SAMPLE_RATE)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:  # keep the file unclipped; times are unchanged
        audio *= 0.99 / peak
    name = f"stream_{index:03d}"
    write_wav(root / STREAM_DIR / f"{name}.wav", audio)
    truth = {"wav": f"{name}.wav", "sample_rate": SAMPLE_RATE, "seconds": seconds,
             "keywords": list(COMMANDS), "seed": seed, "events": events}
    write_text(root / STREAM_DIR / f"{name}.json", json.dumps(truth, indent=1) + "\n")
    return truth


def make_streams(root: str | Path, seed: int = 0, minutes: float = 30.0,
                 progress: bool = True) -> dict:
    """Write ``minutes`` of streaming test audio in files of at most 5 minutes; resumable."""
    root = Path(root)
    test = read_list(root / TESTING_LIST)
    if not test:
        raise KwsqError(f"{root / TESTING_LIST} is empty: no test speakers for streams")
    clips: dict[str, list[str]] = {}
    for rel in sorted(test):
        clips.setdefault(rel.split("/")[0], []).append(rel)
    noises = load_noises(root, SAMPLE_RATE)
    speakers = speaker_table(root)
    files = max(1, math.ceil(minutes / MAX_FILE_MINUTES))
    seconds = round(minutes * 60 / files, 3)
    words = keywords = made = 0
    for i in console.progress(range(files), desc="synth: streams", unit="file",
                              disable=not progress):
        wav = root / STREAM_DIR / f"stream_{i:03d}.wav"
        gt = wav.with_suffix(".json")
        if wav.exists() and gt.exists():
            truth = json.loads(gt.read_text())
        else:
            truth = make_stream(root, i, seconds, seed, clips, noises, speakers)
            made += 1
        words += len(truth["events"])
        keywords += sum(e["keyword"] for e in truth["events"])
    return {"files": files, "minutes": round(files * seconds / 60, 2), "words": words,
            "keywords": keywords, "made_this_run": made}
