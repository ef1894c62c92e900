"""Long test recordings for streaming evaluation (miss rate vs false accepts per hour).

``kwsq synth --streams`` writes two kinds of 16 kHz mono 16-bit WAV files into ``streams/``,
each with a ground-truth JSON beside it (format: ``docs/streams.md``):

* ``stream_NNN.wav``: keyword-bearing streams. Every spoken word with its start and end
  time, whether it is one of the 10 command keywords, the speaker and its engine family.
  Non-keywords (the other GSC words) are spoken as often as keywords: they are what false
  accepts are made of. The background changes every 10-40 s between the corpus' noise
  recordings at varying levels, and each word is mixed at its own SNR against it.
* ``negative_NNN.wav``: the hours of audio a false-accept rate of 0.5 per hour needs, with
  no command keyword in them: segments of 10-40 s of running speech of non-keywords,
  spoken sentences (rendered by the corpus' own test voices, with no Speech Commands word
  in them), babble, the noise types at loud levels and near-silence, over the same kind of
  changing background. Every word spoken is still listed, so a wake word chosen among the
  other GSC words (``marvin``) is scored correctly on them too.

Words and sentence voices come only from test-split speakers (the GSC testing list), so a
model never heard any of these voices in training. By default the negative streams are
twice as long as the keyword-bearing ones (``--stream-minutes 30``: 30 minutes of keyword
streams and one hour of negative audio).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
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


# ----------------------------------------------------------------------------- negatives

NEGATIVE_SHARE = 2.0  # negative minutes per keyword-stream minute, by default
SEGMENT_SECONDS = (10.0, 40.0)
# kind -> probability of a segment
SEGMENT_KINDS = {"words": 0.35, "sentences": 0.25, "babble": 0.15, "noise": 0.15,
                 "silence": 0.10}
WORD_GAP_SECONDS = (0.05, 0.6)  # running speech: short pauses
SENTENCE_GAP_SECONDS = (0.3, 1.5)
LOUD_DB = (-35.0, -15.0)  # babble and noise segments, dBFS RMS
SILENCE_DB = (-30.0, -20.0)  # background attenuation in near-silent segments
SENTENCE_VOICES = 8
SENTENCES_PER_VOICE = 6
# No word of the 35-word Speech Commands vocabulary, nor a homophone of one ("for", "to",
# "know", "ate"), so a sentence can never hold a keyword.
SENTENCES = (
    "the weather was mild this morning and the garden looked fresh",
    "please remember the plants need water before the weekend",
    "she bought bread, cheese and apples at the market",
    "we waited at the station almost an hour",
    "the children were playing quietly in the kitchen",
    "my brother is cooking dinner with the whole family",
    "the meeting has been moved until thursday afternoon",
    "could you send me the report by email",
    "the library closes early during the summer holidays",
    "a small boat was drifting slowly across the lake",
    "he forgot his umbrella and got completely wet",
    "this recipe needs flour, butter, sugar and milk",
    "the new bridge will open next spring",
    "they painted the fence a bright shade of green",
    "thank you very much, see you later",
    "the coffee in this small cafe is excellent",
)
SENTENCE_DIR = "_sentences"


def _speaker_from_row(row: dict[str, str]):
    """A corpus speaker rebuilt from its speakers.csv row (None if it cannot be)."""
    from pipeline.corpus import voices

    try:
        params = json.loads(row.get("params") or "{}")
        s = voices.Speaker.from_dict({**params, "family": row["family"], "voice": row["voice"]})
    except (TypeError, ValueError, KeyError):
        return None
    return s if s.hash == row.get("hash") else None


def sentence_bank(root: Path, seed: int, speakers: dict[str, dict[str, str]],
                  test_speakers: set[str], progress: bool = False) -> list[dict]:
    """Sentences spoken by up to 8 test voices (rendered once, kept in streams/_sentences).

    Returns ``[{"audio": float32, "text": ..., "speaker": ..., "family": ...}]``; empty
    when the corpus has no speaker table (a real Speech Commands folder) or no engine.
    """
    import shutil
    import subprocess
    import tempfile

    from pipeline.corpus import synth

    rows = [speakers[h] for h in sorted(test_speakers) if h in speakers]
    rng = _rng(seed, "sentence-voices")
    by_family: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_family.setdefault(row.get("family", ""), []).append(row)
    picked: list[dict[str, str]] = []
    while len(picked) < SENTENCE_VOICES and any(by_family.values()):
        for fam in sorted(by_family):  # round robin over engine families
            if by_family[fam] and len(picked) < SENTENCE_VOICES:
                picked.append(by_family[fam].pop(int(rng.integers(len(by_family[fam])))))
    folder = root / STREAM_DIR / SENTENCE_DIR
    bank = []
    for vi, row in enumerate(picked):
        s = _speaker_from_row(row)
        if s is None or s.family not in synth.RENDER:
            continue
        texts = [SENTENCES[(vi * SENTENCES_PER_VOICE + k) % len(SENTENCES)]
                 for k in range(SENTENCES_PER_VOICE)]
        paths = [folder / f"{s.hash}_{SENTENCES.index(t):02d}.wav" for t in texts]
        todo = [t for t, p in zip(texts, paths, strict=True) if not p.is_file()]
        if todo:
            tool = {"espeak": "espeak-ng"}.get(s.family, s.family)
            if shutil.which(tool) is None or shutil.which("sox") is None:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    keys = {f"sentence{i}": t for i, t in enumerate(todo)}
                    raw = synth.RENDER[s.family](s, keys, Path(tmp))
                    for key, t in keys.items():
                        audio = synth._sox_float(raw[key], synth.voice_effects(s))
                        lo, hi = word_bounds(audio, rel=0.01, margin=800)
                        audio = audio[lo:hi].astype(np.float64)
                        audio *= 10 ** (s.level_db / 20) / (np.max(np.abs(audio)) + 1e-12)
                        write_wav(folder / f"{s.hash}_{SENTENCES.index(t):02d}.wav",
                                  audio.astype(np.float32))
                except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
                    if progress:
                        print(f"synth: sentences of {s.hash} ({s.family}) failed: {exc}",
                              file=sys.stderr)
                    continue
        for t, p in zip(texts, paths, strict=True):
            if p.is_file():
                bank.append({"audio": read_wav(p)[0], "text": t, "speaker": s.hash,
                             "family": s.family, "human": s.human})
    return bank


def _mix_at_snr(audio: np.ndarray, seg: np.ndarray, pos: int, snr: float) -> None:
    local = audio[pos: pos + seg.size].astype(np.float64)
    bg_rms = np.sqrt(np.mean(local**2)) + 1e-9
    seg = seg.astype(np.float64) * bg_rms * 10 ** (snr / 20) / (
        np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-12)
    audio[pos: pos + seg.size] += seg.astype(np.float32)


def make_negative_stream(root: Path, index: int, seconds: float, seed: int,
                         clips: dict[str, list[str]], noises: dict[str, np.ndarray],
                         speakers: dict[str, dict[str, str]], sentences: list[dict]) -> dict:
    """One keyword-free stream and its ground truth, a pure function of its inputs."""
    rng = _rng(seed, f"negative{index}")
    n = int(seconds * SAMPLE_RATE)
    noise_list = [noises[k] for k in sorted(noises)]
    audio = _background(noise_list, n, rng)
    others = [w for w in sorted(clips) if w not in COMMANDS and clips[w]]
    kinds = [k for k in SEGMENT_KINDS if (k != "words" or others)
             and (k != "sentences" or sentences) and (k != "babble" or "babble" in noises)]
    weights = np.asarray([SEGMENT_KINDS[k] for k in kinds])
    events, segments = [], []
    seg_start = 0
    # every kind once, in random order, then drawn by weight: a file long enough for
    # len(kinds) segments holds every kind, whatever the seed
    first = [kinds[i] for i in rng.permutation(len(kinds))]
    while seg_start < n:
        seg_end = min(n, seg_start + int(rng.uniform(*SEGMENT_SECONDS) * SAMPLE_RATE))
        kind = first.pop() if first else kinds[int(rng.choice(len(kinds),
                                                              p=weights / weights.sum()))]
        segments.append({"kind": kind, "start": round(seg_start / SAMPLE_RATE, 4),
                         "end": round(seg_end / SAMPLE_RATE, 4)})
        if kind in ("words", "sentences"):
            gap = WORD_GAP_SECONDS if kind == "words" else SENTENCE_GAP_SECONDS
            pos = seg_start + int(rng.uniform(*gap) * SAMPLE_RATE)
            while True:
                if kind == "words":
                    word = others[int(rng.integers(len(others)))]
                    rel = clips[word][int(rng.integers(len(clips[word])))]
                    clip, _ = read_wav(root / rel)
                    lo, hi = word_bounds(clip, rel=0.03, margin=800)
                    seg = clip[lo:hi]
                    row = speakers.get(speaker_of(rel), {})
                    info = {"word": word, "keyword": False, "file": rel,
                            "speaker": speaker_of(rel), "family": row.get("family", ""),
                            "human": row.get("human") == "1"}
                else:
                    item = sentences[int(rng.integers(len(sentences)))]
                    seg = item["audio"]
                    info = {"word": "_sentence_", "keyword": False, "text": item["text"],
                            "speaker": item["speaker"], "family": item["family"],
                            "human": item["human"]}
                if pos + seg.size >= seg_end:
                    break
                snr = float(rng.uniform(*SNR_DB))
                _mix_at_snr(audio, seg, pos, snr)
                events.append({**info, "start": round(pos / SAMPLE_RATE, 4),
                               "end": round((pos + seg.size) / SAMPLE_RATE, 4),
                               "snr_db": round(snr, 2)})
                pos += seg.size + int(rng.uniform(*gap) * SAMPLE_RATE)
        elif kind in ("babble", "noise"):
            name = "babble" if kind == "babble" else [
                k for k in sorted(noises) if k != "babble"][int(rng.integers(
                    max(1, len(noises) - ("babble" in noises))))]
            src = noises[name]
            length = seg_end - seg_start
            start = int(rng.integers(src.size))
            seg = np.tile(src, length // src.size + 2)[start: start + length].astype(np.float64)
            seg *= 10 ** (rng.uniform(*LOUD_DB) / 20) / (np.sqrt(np.mean(seg**2)) + 1e-12)
            ramp = np.minimum(1.0, np.minimum(np.arange(length), np.arange(length)[::-1])
                              / (0.05 * SAMPLE_RATE))
            audio[seg_start:seg_end] += (seg * ramp).astype(np.float32)
            segments[-1]["noise"] = name
        else:  # near-silence: the background turned down
            audio[seg_start:seg_end] *= np.float32(10 ** (rng.uniform(*SILENCE_DB) / 20))
        seg_start = seg_end
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    name = f"negative_{index:03d}"
    write_wav(root / STREAM_DIR / f"{name}.wav", audio)
    truth = {"wav": f"{name}.wav", "sample_rate": SAMPLE_RATE, "seconds": seconds,
             "kind": "negative", "keywords": list(COMMANDS), "seed": seed, "events": events,
             "segments": segments}
    write_text(root / STREAM_DIR / f"{name}.json", json.dumps(truth, indent=1) + "\n")
    return truth


def _noise_table(root: Path) -> dict[str, np.ndarray]:
    from pipeline.data.gsc import noise_files

    out = {}
    for p in noise_files(root):
        audio, rate = read_wav(p)
        if rate == SAMPLE_RATE and audio.size >= SAMPLE_RATE:
            out[p.stem] = audio
    if not out:
        raise KwsqError(f"no usable 16 kHz noise file in {root}/_background_noise_")
    return out


def make_streams(root: str | Path, seed: int = 0, minutes: float = 30.0,
                 progress: bool = True, negative_minutes: float | None = None) -> dict:
    """Write ``minutes`` of keyword streams and ``negative_minutes`` (default twice as
    much) of keyword-free streams, in files of at most 5 minutes; resumable."""
    root = Path(root)
    test = read_list(root / TESTING_LIST)
    if not test:
        raise KwsqError(f"{root / TESTING_LIST} is empty: no test speakers for streams")
    clips: dict[str, list[str]] = {}
    for rel in sorted(test):
        clips.setdefault(rel.split("/")[0], []).append(rel)
    noises = load_noises(root, SAMPLE_RATE)
    speakers = speaker_table(root)
    words = keywords = made = 0
    negative_minutes = NEGATIVE_SHARE * minutes if negative_minutes is None else negative_minutes
    plan = [("stream", minutes), ("negative", negative_minutes)]
    stats: dict = {}
    sentences: list[dict] | None = None
    noise_table: dict[str, np.ndarray] | None = None
    for kind, total in plan:
        if total <= 0:
            continue
        files = max(1, math.ceil(total / MAX_FILE_MINUTES))
        seconds = round(total * 60 / files, 3)
        for i in console.progress(range(files), desc=f"synth: {kind} streams", unit="file",
                                  disable=not progress):
            wav = root / STREAM_DIR / f"{kind}_{i:03d}.wav"
            gt = wav.with_suffix(".json")
            if wav.exists() and gt.exists():
                truth = json.loads(gt.read_text())
            elif kind == "stream":
                truth = make_stream(root, i, seconds, seed, clips, noises, speakers)
                made += 1
            else:
                if sentences is None:
                    sentences = sentence_bank(root, seed, speakers,
                                              {speaker_of(r) for r in test}, progress)
                    noise_table = _noise_table(root)
                truth = make_negative_stream(root, i, seconds, seed, clips, noise_table,
                                             speakers, sentences)
                made += 1
            words += len(truth["events"])
            keywords += sum(bool(e["keyword"]) for e in truth["events"])
        key = "files" if kind == "stream" else "negative_files"
        stats[key] = files
        stats["minutes" if kind == "stream" else "negative_minutes"] = round(
            files * seconds / 60, 2)
    stats.update({"words": words, "keywords": keywords, "made_this_run": made})
    return stats
