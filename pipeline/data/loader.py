"""Speech Commands v2 loader: labels, splits, silence/unknown sampling, augmentation, cache.

Works the same on a real GSC v2 folder and on a ``kwsq synth`` corpus (same layout:
``<word>/<speaker>_nohash_<n>.wav``, ``_background_noise_/``, ``validation_list.txt``,
``testing_list.txt``; a file in neither list is training data, as in GSC).

Label modes:

* ``"12"``: ``_silence_``, ``_unknown_`` + the 10 commands. Like TensorFlow's
  ``speech_commands/input_data.py``, silence and unknown examples number
  ``ceil(fraction x known-word examples)`` each (10% by default), unknowns drawn from the
  other 25 words, silence made from 1 s chunks of the background noise files at a random
  level between near-digital silence and clearly audible background.
* ``"35"``: the 35 words, nothing else (``silence_fraction``/``unknown_fraction`` unused).
  With frame-level targets (``targets = "frames"``) a 36th class comes first,
  ``_silence_``: the target of the window positions outside the word (no silence clips).
* ``"wake"``: binary, ``keyword`` (class 1) vs everything else (class 0): every other
  word plus ``ceil(silence_fraction x words)`` silence examples.

The deterministic part (file choice, decoding, silence chunks, features) depends only on
the configs and the corpus, so :func:`arrays` caches its result on disk under a key that
hashes all of them and a fingerprint of the corpus (file names and sizes). Training-time
augmentation (time shift, gain, background noise at a random SNR) works on the audio in
``tf.data`` and is followed by the same feature computation.

Unreadable WAV files and files that are not 16 kHz are skipped, counted and reported
(one line on stderr and in :class:`LoadReport`) instead of stopping the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from pipeline import console
from pipeline.atomic import atomic_path, write_text
from pipeline.config import load_section
from pipeline.data import features
from pipeline.data.audio import SAMPLE_RATE, read_wav
from pipeline.data.centre import CENTRES, centre_clips
from pipeline.data.gsc import (
    COMMANDS,
    CORPUS_SPEECH_NOISES,
    SPLITS,
    TESTING_LIST,
    VALIDATION_LIST,
    WORDS,
    check_layout,
    load_noises,
    speaker_of,
    speaker_table,
    split_files,
)
from pipeline.errors import KwsqError

LABEL_MODES = ("12", "35", "wake")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
OTHER = "_other_"
CACHE_VERSION = 1
# Training targets: "clip" (one label per clip, the default) or "frames" (a label per window
# position from the word's span: pipeline.data.frame_targets, the low-bit QAT paper's
# frame-level targets); FRAME_WINDOWS random positions per clip per epoch by default.
TARGETS = ("clip", "frames")
EDGE_VARY_KEYS = ("edge_vary", "edge_vary_min", "edge_vary_max", "edge_gain_min_db",
                  "edge_gain_max_db", "edge_tilt_db", "edge_stretch_min", "edge_stretch_max")
FRAME_WINDOWS = 8


@dataclass
class DataConfig:
    """What to load and how to augment it; ``to_dict`` is what a run records."""

    path: str
    label_mode: str = "12"
    keyword: str | None = None  # label_mode "wake" only
    silence_fraction: float = 0.1
    unknown_fraction: float = 0.1
    clip_samples: int = 16000
    # silence examples: background chunk at an RMS level drawn from this range (dBFS)
    silence_min_db: float = -70.0
    silence_max_db: float = -25.0
    # augmentation (training only)
    noise_prob: float = 0.8
    snr_min_db: float = 0.0
    snr_max_db: float = 30.0
    time_shift_ms: float = 100.0
    # speed perturbation (Ko et al., "Audio augmentation for speech recognition", 2015):
    # each training clip resampled by a factor drawn from [speed_min, speed_max], which
    # moves pitch and formants together (a crude vocal-tract-length change) and the tempo;
    # 1.0 / 1.0: off
    speed_min: float = 1.0
    speed_max: float = 1.0
    # VTLP (Jaitly and Hinton 2013): each training clip's mel filterbank is warped by a
    # factor drawn from [vtlp_min, vtlp_max] (formants move, tempo and pitch period stay);
    # None: off (left out of the recorded config)
    vtlp_min: float | None = None
    vtlp_max: float | None = None
    # tempo perturbation on the features: each training example's frames resampled in time
    # by a factor drawn from [tempo_min, tempo_max] (> 1: faster), anchored at the centre
    # frame (with frame targets: the word's frames, anchored at the word's centre, spans
    # moved; pipeline.data.frame_targets); spectra (pitch, formants) unchanged; None: off
    # (left out of the config)
    tempo_min: float | None = None
    tempo_max: float | None = None
    # targets "frames" only: non-uniform time warp inside the word (a knot at a random
    # fraction of the word moves by up to this fraction of it: one part of the word longer,
    # the rest shorter; pipeline.data.frame_targets); None: off
    time_warp: float | None = None
    # non-uniform time warp on the features (after tempo): the clip's frames cut into
    # warp_segments pieces at a random phase, each piece stretched or squeezed by its own
    # factor in [1 / warp_max, warp_max] (log-uniform), the whole renormalized to the clip's
    # length; so one sound (a vowel, a release) gets longer while its neighbours get
    # shorter (clip targets; frame targets have time_warp above). 0: off (left out of the
    # config)
    warp_segments: int = 0
    warp_max: float = 1.5
    # word-edge mask on the features (clip targets): each training example loses a random
    # part, up to this fraction of the word, at the word's start or (equally likely) its
    # end, set to the example's mean, so the model learns each word from its middle too
    # (word = the frames whose energy is above a quarter of the way from the clip's median
    # to its loudest frame); 0: off (left out of the config)
    edge_mask: float = 0.0
    # word-edge variation on the features (clip targets; pipeline/data/edge_vary.py): with
    # probability edge_vary, independently at the word's onset and at its offset, the outer
    # edge_vary_min..edge_vary_max of the word gets a gain ramp (edge_gain_min_db..
    # edge_gain_max_db at the boundary, 0 dB inside), a spectral tilt with the same ramp
    # (+-edge_tilt_db per octave) and a time stretch (edge_stretch_min..edge_stretch_max,
    # log-uniform; the rest of the word unchanged); 0: off (all left out of the config)
    edge_vary: float = 0.0
    edge_vary_min: float = 0.10
    edge_vary_max: float = 0.35
    edge_gain_min_db: float = -12.0
    edge_gain_max_db: float = 6.0
    edge_tilt_db: float = 6.0
    edge_stretch_min: float = 0.6
    edge_stretch_max: float = 1.8
    # frequency-wise MixStyle on the features (Zhou et al., "Domain Generalization with
    # MixStyle", ICLR 2021, in the per-frequency form used for unseen recording devices in
    # acoustic scene classification): with this probability a training example's per-channel
    # mean and standard deviation over time are replaced by a Beta(alpha, alpha) mix of its
    # own and those of another example of the batch (its normalized shape kept); 0: off (left
    # out of the config)
    mixstyle_prob: float = 0.0
    mixstyle_alpha: float = 0.3
    # mixup (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018): every
    # training example (window, with frame targets) becomes lam x + (1 - lam) x' with another
    # example x' of the batch, lam ~ Beta(alpha, alpha), and its loss lam CE(y) + (1 - lam)
    # CE(y'); 0: off (left out of the config)
    mixup_alpha: float = 0.0
    # label mode 12, clip targets: train on each example's own word (_silence_, the ten
    # commands and the 25 other words: word_class_names(), 36 classes) instead of the 12
    # classes; the trained model gets a fixed layer summing the other words' posteriors into
    # _unknown_ (pipeline.train.word_targets), so it is scored and converted with 12 outputs.
    # The examples are the same; only the loss tells "learn" from "left". False: off (left
    # out of the config)
    word_targets: bool = False
    gain_min_db: float = -6.0
    gain_max_db: float = 6.0
    # random filtering (microphone/channel variation): with this probability a clip goes
    # through a random smooth EQ: a spectral tilt and one peak/notch, each up to
    # +-filter_max_db, plus random band limits
    filter_prob: float = 0.0
    filter_max_db: float = 10.0
    # SpecAugment (Park et al. 2019) on the features: this many masks per example of up to
    # time_mask_max frames / freq_mask_max coefficients, set to the example's mean
    time_masks: int = 0
    time_mask_max: int = 10
    freq_masks: int = 0
    freq_mask_max: int = 4
    # cross-family test: speakers of this engine family are left out of every split; the
    # extra split "holdout" is all of them (a kwsq corpus's speakers.csv names the family)
    holdout_family: str | None = None
    # "balanced": each training example weighs n / (classes x n_class), so every class
    # counts the same in the loss (the wake-word mode has ~1 keyword example in 35);
    # None: every example weighs 1
    class_weight: str | None = None
    seed: int = 0
    cache_dir: str | None = None  # None: $KWSQ_CACHE, else <path>/.kwsq_cache
    # None = "clip" (left out of the recorded config, so configs made before keep their keys)
    targets: str | None = None
    frame_windows: int | None = None  # targets "frames" only; None: FRAME_WINDOWS
    # targets "frames" only: a window is labelled with the word only once its anchor frame is
    # this far into the word (at most half the word), so the window has heard more than its
    # onset (pipeline.data.frame_targets); None: from the word's first sample
    word_label_delay_ms: float | None = None
    # "energy": every word clip shifted so its energy centroid is at the clip centre
    # (pipeline/data/centre.py), for fully connected models; None: clips as recorded
    centre: str | None = None

    def __post_init__(self) -> None:
        if self.label_mode not in LABEL_MODES:
            raise KwsqError(f"unknown label mode '{self.label_mode}'; expected one of "
                            f"{', '.join(LABEL_MODES)}")
        if self.label_mode == "wake" and not self.keyword:
            raise KwsqError("label mode 'wake' needs a keyword (e.g. --keyword marvin)")
        if self.class_weight not in (None, "balanced"):
            raise KwsqError(f"unknown class_weight '{self.class_weight}'; expected "
                            "'balanced' or none")
        if self.label_mode != "wake" and self.keyword:
            raise KwsqError(f"a keyword only makes sense with label mode 'wake', not "
                            f"'{self.label_mode}'")
        for name in ("silence_fraction", "unknown_fraction", "noise_prob", "filter_prob",
                     "filter_max_db", "time_masks", "time_mask_max", "freq_masks",
                     "freq_mask_max"):
            if getattr(self, name) < 0:
                raise KwsqError(f"{name} must be >= 0")
        if (self.snr_min_db > self.snr_max_db or self.gain_min_db > self.gain_max_db
                or self.speed_min > self.speed_max):
            raise KwsqError("augmentation ranges need min <= max (snr, gain, speed)")
        if not 0.5 <= self.speed_min <= self.speed_max <= 2.0:
            raise KwsqError("speed_min and speed_max must be within 0.5..2.0")
        if (self.vtlp_min is None) != (self.vtlp_max is None):
            raise KwsqError("vtlp_min and vtlp_max go together (both or neither)")
        if self.vtlp_min is not None and not 0.5 <= self.vtlp_min <= self.vtlp_max <= 2.0:
            raise KwsqError("vtlp_min and vtlp_max need 0.5 <= min <= max <= 2.0")
        if (self.tempo_min is None) != (self.tempo_max is None):
            raise KwsqError("tempo_min and tempo_max go together (both or neither)")
        if self.tempo_min is not None and not 0.5 <= self.tempo_min <= self.tempo_max <= 2.0:
            raise KwsqError("tempo_min and tempo_max need 0.5 <= min <= max <= 2.0")
        if self.time_warp is not None and (self.targets != "frames"
                                           or not 0 <= self.time_warp <= 0.5):
            raise KwsqError("time_warp needs targets = \"frames\" and a value in 0..0.5")
        if not 0.0 <= self.edge_mask <= 0.9 or (self.edge_mask and self.targets == "frames"):
            raise KwsqError("edge_mask must be within 0..0.9 and needs clip targets")
        if self.edge_vary and (
                not 0.0 < self.edge_vary <= 1.0 or self.targets == "frames"
                or not 0.0 < self.edge_vary_min <= self.edge_vary_max <= 0.45
                or self.edge_gain_min_db > self.edge_gain_max_db or self.edge_tilt_db < 0
                or not 0.25 <= self.edge_stretch_min <= self.edge_stretch_max <= 4.0):
            raise KwsqError("edge_vary needs clip targets, a probability in 0..1, "
                            "0 < edge_vary_min <= edge_vary_max <= 0.45, gain min <= max, "
                            "edge_tilt_db >= 0 and 0.25 <= stretch min <= max <= 4")
        if not 0.0 <= self.mixstyle_prob <= 1.0 or self.mixstyle_alpha <= 0:
            raise KwsqError("mixstyle_prob must be within 0..1 and mixstyle_alpha > 0")
        if self.word_targets and (self.label_mode != "12" or self.targets == "frames"):
            raise KwsqError("word_targets needs label mode 12 and clip targets")
        if self.mixup_alpha < 0:
            raise KwsqError("mixup_alpha must be >= 0 (0: off)")
        if self.warp_segments < 0 or not 1.0 <= self.warp_max <= 4.0:
            raise KwsqError("warp_segments must be >= 0 and warp_max within 1.0..4.0")
        if self.warp_segments and self.targets == "frames":
            raise KwsqError("warp_segments works with clip targets only (frame targets "
                            "take word spans from the unwarped clip)")
        if self.silence_min_db > self.silence_max_db:
            raise KwsqError("silence level range needs min <= max")
        if self.targets not in (None, *TARGETS):
            raise KwsqError(f"unknown targets '{self.targets}'; expected one of "
                            f"{', '.join(TARGETS)}")
        if self.targets == "clip":
            self.targets = None
        if self.frame_windows is not None and (self.targets != "frames"
                                               or self.frame_windows < 1):
            raise KwsqError("frame_windows needs targets = \"frames\" and a value >= 1")
        if self.word_label_delay_ms is not None and (self.targets != "frames"
                                                     or self.word_label_delay_ms < 0):
            raise KwsqError("word_label_delay_ms needs targets = \"frames\" and a value >= 0")
        if self.centre not in (None, *CENTRES):
            raise KwsqError(f"unknown centre '{self.centre}'; expected one of "
                            f"{', '.join(CENTRES)} or none")
        if self.centre and self.targets == "frames":
            raise KwsqError("centre moves the words away from their recorded spans: it "
                            "cannot be combined with targets = \"frames\"")

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if not self.warp_segments:  # off: configs and caches made before keep their keys
            del d["warp_segments"], d["warp_max"]
        if not self.edge_mask:
            del d["edge_mask"]
        if not self.edge_vary:
            for k in EDGE_VARY_KEYS:
                del d[k]
        if not self.mixstyle_prob:
            del d["mixstyle_prob"], d["mixstyle_alpha"]
        if not self.mixup_alpha:
            del d["mixup_alpha"]
        if not self.word_targets:
            del d["word_targets"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], section: str = "[data]") -> DataConfig:
        """Built by :func:`pipeline.config.load_section`: unknown keys and wrong types are
        one-line errors naming ``section``. A ``pathlib`` path is taken as its string."""
        if isinstance(d.get("path"), os.PathLike):
            d = {**d, "path": os.fspath(d["path"])}
        return load_section(cls, d, section)

    def deterministic_dict(self) -> dict[str, Any]:
        """The settings that change :func:`arrays` (not augmentation, not the cache place)."""
        keep = ("label_mode", "keyword", "silence_fraction", "unknown_fraction",
                "clip_samples", "silence_min_db", "silence_max_db", "seed")
        d = {k: getattr(self, k) for k in keep}
        if self.holdout_family:  # only when set: caches made before keep their keys
            d["holdout_family"] = self.holdout_family
            d["noises"] = "no corpus speech"  # run_noises: silence clips drawn without babble
        if self.centre:
            d["centre"] = self.centre
        if self.label_mode == "35" and self.targets == "frames":  # labels one higher
            d["targets"] = self.targets
        return d

    @property
    def augments_features(self) -> bool:
        """SpecAugment masks (tempo is applied on its own, before them)."""
        return (self.time_masks > 0 and self.time_mask_max > 0) or (
            self.freq_masks > 0 and self.freq_mask_max > 0)


@dataclass
class LoadReport:
    """What loading one split found: used examples and skipped files."""

    split: str
    examples: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # "word/file.wav: reason"
    wrong_rate: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.unreadable) + len(self.wrong_rate)

    def summary(self) -> str:
        first = (self.unreadable + self.wrong_rate)[0] if self.skipped else ""
        return (f"data: {self.split}: skipped {self.skipped} WAV files "
                f"({len(self.unreadable)} unreadable, {len(self.wrong_rate)} not "
                f"{SAMPLE_RATE} Hz); first: {first}")


# ----------------------------------------------------------------------------- layout

def class_names(cfg: DataConfig) -> list[str]:
    if cfg.label_mode == "12":
        return [SILENCE, UNKNOWN, *COMMANDS]
    if cfg.label_mode == "35":  # frame targets: the windows outside the word need a class
        return [SILENCE, *WORDS] if cfg.targets == "frames" else list(WORDS)
    return [OTHER, str(cfg.keyword)]


def target_names(cfg: DataConfig) -> list[str]:
    """The classes the model is trained on: :func:`class_names`, or with ``word_targets``
    :func:`word_class_names` (the model is then scored on ``class_names`` through a summing
    layer, pipeline.train.word_targets)."""
    return word_class_names() if cfg.word_targets else class_names(cfg)


def word_class_names() -> list[str]:
    """The classes of ``word_targets``: ``_silence_``, the ten commands, the other words."""
    return [SILENCE, *COMMANDS, *(w for w in WORDS if w not in COMMANDS)]


# ----------------------------------------------------------------------------- selection

def _rng(cfg: DataConfig, split: str, what: str) -> np.random.Generator:
    digest = hashlib.sha1(f"{cfg.seed}:{split}:{what}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _select(cfg: DataConfig, split: str, files: dict[str, list[str]]
            ) -> tuple[list[tuple[str, int]], int]:
    """(relative file, label) pairs for the word examples, and the number of silence ones."""
    names = class_names(cfg)
    if cfg.label_mode == "35":
        missing = [w for w in WORDS if w not in files]
        if missing and split == "training":
            raise KwsqError(f"label mode 35 needs all 35 word folders; {cfg.path} lacks "
                            f"{' '.join(missing)}")
        picked = [(rel, names.index(w)) for w in WORDS for rel in files.get(w, [])]
        return picked, 0
    if cfg.label_mode == "wake":
        kw = str(cfg.keyword)
        if kw not in files and split == "training":
            raise KwsqError(f"keyword '{kw}' has no folder in {cfg.path}")
        picked = [(rel, int(w == kw)) for w in sorted(files) for rel in files[w]]
        return picked, math.ceil(len(picked) * cfg.silence_fraction)
    known = [(rel, names.index(w)) for w in COMMANDS for rel in files.get(w, [])]
    others = [rel for w in sorted(files) if w not in COMMANDS for rel in files[w]]
    n_unknown = min(len(others), math.ceil(len(known) * cfg.unknown_fraction))
    order = _rng(cfg, split, "unknown").permutation(len(others))[:n_unknown]
    unknown = [(others[i], names.index(UNKNOWN)) for i in sorted(order)]
    return known + unknown, math.ceil(len(known) * cfg.silence_fraction)


def _fit(audio: np.ndarray, n: int) -> np.ndarray:
    """Pad with zeros at the end or cut to exactly ``n`` samples (GSC clips can be short)."""
    if audio.size >= n:
        return audio[:n]
    return np.pad(audio, (0, n - audio.size))


def _silence(cfg: DataConfig, split: str, count: int, noises: list[np.ndarray]) -> np.ndarray:
    rng = _rng(cfg, split, "silence")
    out = np.zeros((count, cfg.clip_samples), np.float32)
    for i in range(count):
        noise = noises[int(rng.integers(len(noises)))]
        start = int(rng.integers(0, noise.size - cfg.clip_samples + 1))
        chunk = noise[start : start + cfg.clip_samples]
        rms = float(np.sqrt(np.mean(chunk.astype(np.float64) ** 2)))
        level = 10 ** (rng.uniform(cfg.silence_min_db, cfg.silence_max_db) / 20)
        if rms > 0:
            out[i] = chunk * (level / rms)
    return np.clip(out, -1.0, 1.0)


HOLDOUT = "holdout"


def _split_of(cfg: DataConfig, split: str, root: Path, speakers: dict[str, dict[str, str]]
              ) -> dict[str, list[str]]:
    """word -> files of ``split``, with ``cfg.holdout_family`` taken out (or, for the
    ``holdout`` split, only that family, from every split)."""
    if split == HOLDOUT and not cfg.holdout_family:
        raise KwsqError("the holdout split needs a holdout_family")
    by_split = split_files(root)
    if not cfg.holdout_family:
        return by_split[split]
    family = cfg.holdout_family
    families = {info.get("family", "") for info in speakers.values()}
    if family not in families:
        raise KwsqError(f"{root} has no speakers of family '{family}' (it has "
                        f"{', '.join(sorted(f for f in families if f)) or 'no speakers.csv'})")

    def of_family(rel: str) -> bool:
        return speakers.get(speaker_of(rel), {}).get("family") == family

    sources = SPLITS if split == HOLDOUT else (split,)
    out: dict[str, list[str]] = {}
    for src in sources:
        for word, rels in by_split[src].items():
            keep = [r for r in rels if of_family(r) == (split == HOLDOUT)]
            if keep:
                out.setdefault(word, []).extend(keep)
    return {w: sorted(r) for w, r in out.items()}


def run_noises(cfg: DataConfig) -> list[np.ndarray]:
    """The noise a run mixes in and draws silence from: the corpus's noise files, without
    those made from the corpus's own speech when a family is held out (that babble holds
    every family's voices, the left-out one's too)."""
    skip = CORPUS_SPEECH_NOISES if cfg.holdout_family else ()
    return load_noises(cfg.path, cfg.clip_samples, skip=skip)


def load_audio(cfg: DataConfig, split: str
               ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], LoadReport]:
    """Deterministic audio of one split: ``x [n, clip_samples]`` float32, ``y [n]`` int32,
    per-example metadata (file, word, speaker, family, human) and a :class:`LoadReport`.

    ``split`` is one of GSC's three, or ``holdout`` (every clip of ``cfg.holdout_family``).
    """
    if split not in (*SPLITS, HOLDOUT):
        raise KwsqError(f"unknown split '{split}'; expected one of {', '.join(SPLITS)}")
    check_layout(cfg.path)
    root = Path(cfg.path)
    speakers = speaker_table(root)
    files = _split_of(cfg, split, root, speakers)
    picked, n_silence = _select(cfg, split, files)
    report = LoadReport(split)
    clips, labels, meta = [], [], []
    for rel, label in console.progress(picked, desc=f"data: {split} clips", unit="clip"):
        try:
            audio, rate = read_wav(root / rel)
        except (wave.Error, EOFError, ValueError, OSError) as exc:
            report.unreadable.append(f"{rel}: {exc}")
            continue
        if rate != SAMPLE_RATE:
            report.wrong_rate.append(f"{rel}: {rate} Hz")
            continue
        clips.append(_fit(audio, cfg.clip_samples))
        labels.append(label)
        spk = speaker_of(rel)
        info = speakers.get(spk, {})
        meta.append({"file": rel, "word": rel.split("/")[0], "speaker": spk,
                     "family": info.get("family", ""), "human": info.get("human", "") == "1"})
    if cfg.centre and clips:  # word clips only: silence has no word to centre
        clips = list(centre_clips(np.stack(clips)))
    if n_silence:
        noises = run_noises(cfg)
        clips.extend(_silence(cfg, split, n_silence, noises))
        labels.extend([0] * n_silence)  # class 0 is _silence_ (12) or _other_ (wake)
        meta.extend({"file": "", "word": SILENCE, "speaker": "", "family": "", "human": False}
                    for _ in range(n_silence))
    x = np.stack(clips).astype(np.float32) if clips else np.zeros((0, cfg.clip_samples),
                                                                    np.float32)
    y = np.asarray(labels, np.int32)
    names = class_names(cfg)
    report.examples = int(y.size)
    report.per_class = {names[i]: int(np.sum(y == i)) for i in range(len(names))}
    if report.skipped:
        print(report.summary(), file=sys.stderr)
    if y.size == 0:
        raise KwsqError(f"no {split} examples in {cfg.path} for label mode {cfg.label_mode}")
    return x, y, meta, report


# ----------------------------------------------------------------------------- cache

def _fingerprint(root: Path) -> str:
    h = hashlib.sha1()
    for name in (VALIDATION_LIST, TESTING_LIST):
        p = root / name
        h.update(f"{name}:{p.stat().st_size}:{p.stat().st_mtime_ns}".encode())
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for entry in sorted(os.scandir(sub), key=lambda e: e.name):
            if entry.name.endswith(".wav"):
                st = entry.stat()
                h.update(f"{sub.name}/{entry.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def sharded_prefetched(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``ds`` with DATA sharding and prefetch: under MultiWorkerMirroredStrategy every worker
    runs the same pipeline (same seeds) and keeps its share of each global batch (there are
    no files to shard by)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def cache_root(cfg: DataConfig) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir)
    if os.environ.get("KWSQ_CACHE"):
        return Path(os.environ["KWSQ_CACHE"])
    local = Path(cfg.path) / ".kwsq_cache"
    if os.access(cfg.path, os.W_OK):
        return local
    return Path.home() / ".cache" / "kwsq"


def cache_key(cfg: DataConfig, feat_cfg: features.FeatureConfig | None, split: str) -> str:
    root = Path(cfg.path).resolve()
    blob = json.dumps({"v": CACHE_VERSION, "path": str(root), "corpus": _fingerprint(root),
                       "data": cfg.deterministic_dict(),
                       "features": feat_cfg.to_dict() if feat_cfg else "audio",
                       "split": split}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _cache_paths(cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str
                 ) -> tuple[Path, Path]:
    base = cache_root(cfg) / f"{split}-{cache_key(cfg, feat_cfg, split)}"
    return base.with_suffix(".npz"), base.with_suffix(".json")


def cached_audio(data_cfg: DataConfig, split: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_audio`'s clips as int16 PCM and labels, cached like :func:`arrays`.

    The augmented training pipeline starts from the audio every run; decoding thousands of
    WAV files each time would cost more than an epoch of a small model.
    """
    base = cache_root(data_cfg) / f"{split}-audio-{cache_key(data_cfg, None, split)}"
    npz = base.with_suffix(".npz")
    if npz.is_file():
        with np.load(npz) as f:
            return f["pcm"], f["y"]
    audio, y, meta, _ = load_audio(data_cfg, split)
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    if data_cfg.word_targets:  # the words of the same rows, while the metadata is at hand
        _write_words(data_cfg, split, meta)
    with atomic_path(npz) as tmp:
        with tmp.open("wb") as fh:
            np.savez(fh, pcm=pcm, y=y)
    return pcm, y


def _words_path(data_cfg: DataConfig, split: str) -> Path:
    return cache_root(data_cfg) / f"{split}-words-{cache_key(data_cfg, None, split)}.npy"


def _write_words(data_cfg: DataConfig, split: str, meta: list[dict[str, Any]]) -> np.ndarray:
    names = word_class_names()
    other = sorted({m["word"] for m in meta} - set(names))
    if other:
        raise KwsqError(f"word_targets: {data_cfg.path} has words outside the 35 of Speech "
                        f"Commands ({', '.join(other[:5])})")
    words = np.asarray([names.index(m["word"]) for m in meta], np.int32)
    with atomic_path(_words_path(data_cfg, split)) as tmp:
        with tmp.open("wb") as fh:
            np.save(fh, words)
    return words


def word_labels(data_cfg: DataConfig, split: str) -> np.ndarray:
    """Label mode 12: each example's own word as an index into :func:`word_class_names`,
    for the rows of :func:`cached_audio` and :func:`arrays` (the same order), cached."""
    if data_cfg.label_mode != "12":
        raise KwsqError("word labels need label mode 12")
    path = _words_path(data_cfg, split)
    if path.is_file():
        return np.load(path)
    return _write_words(data_cfg, split, load_audio(data_cfg, split)[2])


def arrays(data_cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """Features ``x`` (float32, ``[n, *input_shape]``) and labels ``y`` (int32) of a split.

    Deterministic; the first call computes and caches, later calls read the cache.
    """
    check_layout(data_cfg.path)
    npz, meta_path = _cache_paths(data_cfg, feat_cfg, split)
    if npz.is_file() and meta_path.is_file():
        with np.load(npz) as f:
            return f["x"], f["y"]
    audio, y, meta, report = load_audio(data_cfg, split)
    x = features.compute_numpy(audio, feat_cfg)
    with atomic_path(npz) as tmp:
        with tmp.open("wb") as fh:
            np.savez(fh, x=x, y=y)
    write_text(meta_path, json.dumps({"report": dataclasses.asdict(report), "examples": meta,
                                      "data": data_cfg.to_dict(),
                                      "features": feat_cfg.to_dict()}) + "\n")
    return x, y


def metadata(data_cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str
             ) -> list[dict[str, Any]]:
    """Per-row info for :func:`arrays` (file, word, speaker, family, human) in the same order.

    Use it to score subsets, e.g. the human-voice speakers of a kwsq corpus.
    """
    _, meta_path = _cache_paths(data_cfg, feat_cfg, split)
    if not meta_path.is_file():
        arrays(data_cfg, feat_cfg, split)
    return json.loads(meta_path.read_text())["examples"]


def load_report(data_cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str
                ) -> LoadReport:
    _, meta_path = _cache_paths(data_cfg, feat_cfg, split)
    if not meta_path.is_file():
        arrays(data_cfg, feat_cfg, split)
    return LoadReport(**json.loads(meta_path.read_text())["report"])


# ----------------------------------------------------------------------------- augmentation

def _noise_bank(noises: list[np.ndarray], clip: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    flat = np.concatenate(noises).astype(np.float32)
    starts = np.cumsum([0] + [n.size for n in noises[:-1]]).astype(np.int64)
    room = np.asarray([n.size - clip + 1 for n in noises], np.int64)
    return tf.constant(flat), tf.constant(starts), tf.constant(room)


@dataclass(frozen=True)
class AudioDraws:
    """Every random choice :func:`augment_audio` makes for a batch of ``b`` clips.

    Drawing (:func:`draw_audio`) and applying (:func:`apply_audio`) are separate so the
    batched, vectorized application can be checked against a plain per-clip reference
    with the very same draws (tests/pipeline/data/test_batched_augment.py).
    """

    shift: tf.Tensor  # [b] int32, samples (> 0: the clip starts later)
    gain_db: tf.Tensor  # [b] float32
    speed: tf.Tensor | None  # [b] float32 resampling factors, None: speed perturbation off
    noise_first: tf.Tensor  # [b] int64, first sample of the noise chunk in the flat bank
    snr_db: tf.Tensor  # [b] float32
    noise_on: tf.Tensor  # [b] bool
    eq: EqDraws | None  # None: filter_prob 0


@dataclass(frozen=True)
class EqDraws:
    """The random EQ's choices for a batch (:func:`random_filter`); each ``[b]``."""

    tilt_db: tf.Tensor  # dB per octave around 1 kHz
    peak_db: tf.Tensor
    peak_octave: tf.Tensor  # octaves from 1 kHz
    highpass_hz: tf.Tensor
    lowpass_hz: tf.Tensor
    on: tf.Tensor  # bool


def _speed_on(cfg: DataConfig) -> bool:
    return cfg.speed_min != 1.0 or cfg.speed_max != 1.0


def draw_audio(cfg: DataConfig, bank: tuple[tf.Tensor, tf.Tensor, tf.Tensor], batch: Any,
               seed: tf.Tensor) -> AudioDraws:
    """:func:`augment_audio`'s random choices for ``batch`` clips from the stateless
    ``seed`` ``[2]``: time shift, gain, speed factor, noise chunk, SNR, noise on/off, EQ."""
    seed = tf.cast(seed, tf.int64)
    b = batch
    speed = None
    if _speed_on(cfg):
        speed = tf.random.stateless_uniform([b], tf.random.experimental.stateless_fold_in(
            seed, 13), cfg.speed_min, cfg.speed_max)
    seeds = tf.random.experimental.stateless_split(seed, 6)
    shift_max = int(cfg.time_shift_ms * SAMPLE_RATE / 1000)
    _, starts, room = bank
    which = tf.random.stateless_uniform([b], seeds[2], 0, tf.shape(starts)[0], tf.int32)
    offset = tf.cast(tf.random.stateless_uniform([b], seeds[3]) *
                     tf.cast(tf.gather(room, which), tf.float32), tf.int64)
    return AudioDraws(
        shift=tf.random.stateless_uniform([b], seeds[0], -shift_max, shift_max + 1, tf.int32),
        gain_db=tf.random.stateless_uniform([b], seeds[1], cfg.gain_min_db, cfg.gain_max_db),
        speed=speed,
        noise_first=tf.gather(starts, which) + offset,
        snr_db=tf.random.stateless_uniform([b], seeds[4], cfg.snr_min_db, cfg.snr_max_db),
        noise_on=tf.random.stateless_uniform([b], seeds[5]) < cfg.noise_prob,
        eq=(draw_eq(cfg, b, tf.random.experimental.stateless_fold_in(seed, 7))
            if cfg.filter_prob > 0 else None))


def draw_eq(cfg: DataConfig, batch: Any, seed: tf.Tensor) -> EqDraws:
    """The random EQ's parameters for ``batch`` clips (see :func:`random_filter`)."""
    b = batch
    s = tf.random.experimental.stateless_split(seed, 7)
    g = cfg.filter_max_db
    return EqDraws(
        tilt_db=tf.random.stateless_uniform([b], s[0], -g / 3.0, g / 3.0),
        peak_db=tf.random.stateless_uniform([b], s[1], -g, g),
        peak_octave=tf.random.stateless_uniform([b], s[2], -2.0, 2.0),  # 250 Hz .. 4 kHz
        highpass_hz=tf.random.stateless_uniform([b], s[3], 20.0, 300.0),
        lowpass_hz=tf.random.stateless_uniform([b], s[4], 3400.0, 8000.0),
        on=tf.random.stateless_uniform([b], s[5]) < cfg.filter_prob)


def _on_rows(on: tf.Tensor, fn: Any, audio: tf.Tensor, *params: tf.Tensor) -> tf.Tensor:
    """``fn(rows, *params_of_rows)`` on the rows of ``audio`` where ``on``; the other rows
    unchanged. Only the chosen rows are computed (half the work at probability 0.5)."""
    part = tf.cast(on, tf.int32)
    index = tf.dynamic_partition(tf.range(tf.shape(audio)[0]), part, 2)
    rows = tf.dynamic_partition(audio, part, 2)
    picked = [tf.dynamic_partition(p, part, 2)[1] for p in params]
    return tf.dynamic_stitch(index, [rows[0], fn(rows[1], *picked)])


def _row_slices(flat: tf.Tensor, first: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Rows ``flat[first[r] : first[r] + n]`` shaped like ``like`` ``[b, n]`` (contiguous
    copies, ~4x cheaper than gathering the samples one by one)."""
    n = tf.shape(like, out_type=first.dtype)[1]
    if like.shape[1] is None:  # no static length (map_fn could not stack an empty batch)
        return tf.gather(flat, first[:, None] + tf.range(n)[None, :])
    rows = tf.map_fn(lambda f: tf.slice(flat, [f], [n]), first,
                     fn_output_signature=tf.TensorSpec([like.shape[1]], flat.dtype))
    return tf.ensure_shape(tf.reshape(rows, tf.shape(like)), like.shape)


def _shift(audio: tf.Tensor, shift: tf.Tensor, limit: Any) -> tf.Tensor:
    """Each row moved by ``shift`` samples (``|shift| <= limit``), zeros shifted in."""
    b = tf.shape(audio)[0]
    n = tf.shape(audio)[1]
    padded = tf.pad(audio, [[0, 0], [limit, limit]])
    flat = tf.reshape(padded, [-1])
    first = tf.range(b) * (n + 2 * limit) + limit - shift
    return _row_slices(flat, first, audio)


def _shift_and_speed(audio: tf.Tensor, shift: tf.Tensor, speed: tf.Tensor | None,
                     limit: Any = None) -> tf.Tensor:
    """Speed perturbation (:func:`speed_perturb`) then the time shift: output sample ``i``
    is the resampled clip's sample ``j = i - shift`` (0 outside). ``limit``: a bound on
    ``|shift|`` (``None``: the clip length)."""
    b = tf.shape(audio)[0]
    n = tf.shape(audio)[1]
    if speed is None:
        return _shift(audio, shift, n if limit is None else limit)
    j = tf.range(n)[None, :] - shift[:, None]
    valid = (j >= 0) & (j < n)
    flat = tf.reshape(audio, [-1])
    row = (tf.range(b) * n)[:, None]
    centre = tf.cast(n - 1, tf.float32) / 2.0
    pos = centre + (tf.cast(j, tf.float32) - centre) * speed[:, None]
    lo = tf.floor(pos)
    frac = pos - lo
    lo = tf.cast(lo, tf.int32)
    inside = (pos >= 0.0) & (pos <= tf.cast(n - 1, tf.float32)) & valid
    # gather_nd on [b, n, 1] flat indices: ~30 % cheaper than gather on CPU, same values
    a0 = tf.gather_nd(flat, (tf.clip_by_value(lo, 0, n - 1) + row)[..., None])
    a1 = tf.gather_nd(flat, (tf.clip_by_value(lo + 1, 0, n - 1) + row)[..., None])
    return (a0 * (1.0 - frac) + a1 * frac) * tf.cast(inside, tf.float32)


def _mix_noise(audio: tf.Tensor, first: tf.Tensor, snr_db: tf.Tensor, flat: tf.Tensor
               ) -> tf.Tensor:
    chunk = _row_slices(flat, first, audio)
    p_sig = tf.reduce_mean(tf.square(audio), axis=1)
    p_sig = tf.maximum(p_sig, 0.01)  # -20 dBFS reference for near-silent clips
    p_noise = tf.reduce_mean(tf.square(chunk), axis=1) + 1e-12
    scale = tf.sqrt(p_sig / (p_noise * tf.pow(10.0, snr_db / 10.0)))
    return audio + chunk * scale[:, None]


def apply_audio(audio: tf.Tensor, d: AudioDraws, bank: tuple[tf.Tensor, tf.Tensor, tf.Tensor],
                limit: Any = None) -> tf.Tensor:
    """:func:`augment_audio` with its random choices given (``[b, samples]`` float32);
    ``limit`` bounds ``|d.shift|`` (``None``: the clip length)."""
    audio = _shift_and_speed(audio, d.shift, d.speed, limit)
    audio = audio * tf.pow(10.0, d.gain_db / 20.0)[:, None]
    audio = _on_rows(d.noise_on, lambda a, f, s: _mix_noise(a, f, s, bank[0]), audio,
                     d.noise_first, d.snr_db)
    if d.eq is not None:
        audio = apply_eq(audio, d.eq)
    return tf.clip_by_value(audio, -1.0, 1.0)


def augment_audio(audio: tf.Tensor, cfg: DataConfig, bank: tuple[tf.Tensor, tf.Tensor, tf.Tensor],
                  seed: tf.Tensor) -> tf.Tensor:
    """Speed, random time shift, gain, background noise and EQ for a batch ``[b, samples]``.

    ``seed`` is a stateless seed ``[2]`` (int64). Speed perturbation (when on) resamples
    the clip first, then it is shifted, scaled and mixed with noise at an SNR drawn from
    ``[snr_min_db, snr_max_db]`` relative to the clip's power; for clips with almost no
    signal (silence examples) the SNR is taken relative to -20 dBFS, so silence gets
    background noise from faint to loud; then the random EQ (:func:`random_filter`). The
    result is clipped to [-1, 1]. The whole batch is done at once: speed and shift in one
    pass (row slices without speed), noise and EQ computed only for the clips that get them.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    return apply_audio(audio, draw_audio(cfg, bank, tf.shape(audio)[0], seed), bank,
                       int(cfg.time_shift_ms * SAMPLE_RATE / 1000))


def _epoch_seed(seed: int, key: int) -> int:
    digest = hashlib.sha1(f"{seed}:epoch:{key}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def augmented_features(pcm: tf.Tensor, seed: tf.Tensor, cfg: DataConfig,
                       feat_cfg: features.FeatureConfig,
                       bank: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
    """Model inputs of a batch of int16 clips ``[b, clip_samples]``, freshly augmented
    from the stateless ``seed`` ``[2]``: :func:`augment_audio`, the features (with VTLP
    when on), tempo perturbation, word-edge variation, non-uniform time warp, edge mask,
    MixStyle, SpecAugment.
    The whole chain works on the batch (mixup, which also mixes labels, comes after it)."""
    a = tf.ensure_shape(tf.cast(pcm, tf.float32) / 32768.0, [None, cfg.clip_samples])
    x = features.compute(augment_audio(a, cfg, bank, seed), feat_cfg,
                         vtlp_factors(cfg, tf.shape(a)[0], seed))
    if cfg.tempo_min is not None:
        x = tempo_perturb(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 19))
    if cfg.edge_vary:
        from pipeline.data.edge_vary import edge_vary

        x = edge_vary(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 43))
    if cfg.warp_segments:
        x = segment_warp(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 23))
    if cfg.edge_mask:
        x = edge_mask(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 29))
    if cfg.mixstyle_prob:
        x = mix_style(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 37))
    if cfg.augments_features:
        x = spec_augment(x, cfg, feat_cfg, tf.random.experimental.stateless_fold_in(seed, 11))
    return x


class AugmentedSplit:
    """One split's audio, loaded once, served as freshly augmented batches per epoch.

    :meth:`epoch` is a pure function of ``(data seed, key)``: the shuffle order and every
    augmentation draw depend on nothing else (not on how many epochs this process has
    run before), so a training run resumed at epoch ``k`` sees exactly the batches an
    uninterrupted run sees at epoch ``k``.
    """

    def __init__(self, data_cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str):
        # int16 halves the memory of the in-graph copy (1.5 GB float32 for the full corpus);
        # cached on disk, so the WAV files are decoded once per corpus, not once per run
        pcm, self.y = cached_audio(data_cfg, split)
        if data_cfg.word_targets:  # trained on each example's own word (36 classes)
            self.y = word_labels(data_cfg, split)
        features.input_shape(feat_cfg, data_cfg.clip_samples)  # fail early on a bad stacking
        if data_cfg.edge_vary:
            from pipeline.data.edge_vary import check

            check(feat_cfg)
        self.cfg, self.feat_cfg = data_cfg, feat_cfg
        self.bank = _noise_bank(run_noises(data_cfg),
                                data_cfg.clip_samples)
        self.class_weights = (balanced_weights(self.y, len(target_names(data_cfg)))
                              if data_cfg.class_weight == "balanced" else None)
        # one in-memory copy for every epoch's pipeline (batches are gathered from it)
        self._pcm = tf.constant(pcm)
        del pcm  # the tensor is the only copy (the full corpus is ~1.4 GB of int16)
        self._labels = tf.constant(self.y)
        # traced once, not once per epoch (each epoch is a new tf.data pipeline)
        self._features = tf.function(
            lambda pcm, seed: augmented_features(pcm, seed, data_cfg, feat_cfg, self.bank),
            input_signature=[tf.TensorSpec([None, data_cfg.clip_samples], tf.int16),
                             tf.TensorSpec([2], tf.int64)])

    @property
    def pcm(self) -> np.ndarray:
        """The split's clips, int16 ``[n, clip_samples]`` (a view of the in-memory tensor)."""
        return self._pcm.numpy()

    def __len__(self) -> int:
        return int(self.y.size)

    def batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def _pipeline(self, batch_size: int, shuffle_seed: int | None, reshuffle: bool,
                  aug_seed: int, rerandomize: bool) -> tf.data.Dataset:
        weights = (None if self.class_weights is None
                   else tf.constant(self.class_weights, tf.float32))
        pcm, labels, compute = self._pcm, self._labels, self._features
        # shuffling indices gives the order shuffling the examples would (same seed)
        ds = tf.data.Dataset.range(len(self))
        if shuffle_seed is not None:
            ds = ds.shuffle(len(self), seed=shuffle_seed, reshuffle_each_iteration=reshuffle)
        ds = ds.batch(batch_size)
        # one stateless seed per batch
        seeds = tf.data.Dataset.random(seed=aug_seed, rerandomize_each_iteration=rerandomize)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2)))

        def _map(index: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, ...]:
            y = tf.gather(labels, index)
            x = compute(tf.gather(pcm, index), seed)
            w = None if weights is None else tf.gather(weights, y)
            if self.cfg.mixup_alpha:
                return mixup(x, y, w, self.cfg.mixup_alpha,
                             tf.random.experimental.stateless_fold_in(seed, 41))
            if w is not None:  # Keras reads a third element as per-example weights
                return x, y, w
            return x, y

        return sharded_prefetched(
            ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))

    def epoch(self, key: int, batch_size: int, shuffle: bool = True) -> tf.data.Dataset:
        """The batches of epoch ``key`` (any integer naming the epoch, e.g. per stage)."""
        seed = _epoch_seed(self.cfg.seed, key)
        return self._pipeline(batch_size, seed if shuffle else None, False, seed, False)

    def repeating(self, batch_size: int, shuffle: bool) -> tf.data.Dataset:
        """One dataset whose every iteration is a new epoch (order depends on the count)."""
        seed = self.cfg.seed
        return self._pipeline(batch_size, seed if shuffle else None, True, seed, True)


def vtlp_factors(cfg: DataConfig, batch: Any, seed: tf.Tensor) -> tf.Tensor | None:
    """One VTLP warp factor per clip of a batch, uniform in ``[vtlp_min, vtlp_max]``
    (``None`` when VTLP is off); feed them to :func:`features.compute` as ``warp``."""
    if cfg.vtlp_min is None:
        return None
    return tf.random.stateless_uniform(
        [batch], tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 17),
        cfg.vtlp_min, cfg.vtlp_max)


def tempo_perturb(feats: tf.Tensor, cfg: DataConfig, feat_cfg: features.FeatureConfig,
                  seed: tf.Tensor) -> tf.Tensor:
    """Resample each example's frames in time by a factor in ``[tempo_min, tempo_max]``
    (> 1: the word gets shorter), anchored at the centre frame, by linear interpolation
    between neighbouring frames; positions outside the clip repeat its edge frame.

    Works on ``[b, frames, coeffs]`` and on stacked inputs ``[b, frames * coeffs]``. Only
    the time axis moves: unlike speed perturbation it keeps pitch and formants, so it
    teaches speaking rate alone (synthetic voices differ by tens of percent in word length).
    """
    shape = tf.shape(feats)
    x = tf.reshape(feats, [shape[0], -1, feat_cfg.coefficients])
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    factor = tf.random.stateless_uniform([b, 1], seed, cfg.tempo_min, cfg.tempo_max)
    centre = tf.cast(t - 1, tf.float32) / 2.0
    pos = centre + (tf.cast(tf.range(t), tf.float32)[None, :] - centre) * factor
    pos = tf.clip_by_value(pos, 0.0, tf.cast(t - 1, tf.float32))
    return tf.reshape(interpolate_frames(x, pos), shape)


def interpolate_frames(x: tf.Tensor, pos: tf.Tensor) -> tf.Tensor:
    """``x`` ``[b, t, c]`` read at fractional frame positions ``pos`` ``[b, n]`` (inside
    ``[0, t - 1]``) by linear interpolation between neighbouring frames."""
    t = tf.shape(x)[1]
    lo = tf.cast(tf.floor(pos), tf.int32)
    frac = (pos - tf.floor(pos))[:, :, None]
    x0 = tf.gather(x, lo, batch_dims=1)
    x1 = tf.gather(x, tf.minimum(lo + 1, t - 1), batch_dims=1)
    return x0 * (1.0 - frac) + x1 * frac


def warp_positions(rates: tf.Tensor, phase: tf.Tensor, frames: Any) -> tf.Tensor:
    """Input frame position of every output frame of a monotone piecewise-linear warp.

    ``rates`` ``[b, k + 1]`` > 0, ``phase`` ``[b]`` in ``[0, 1)``: the output frames are cut
    into ``k`` equal pieces shifted by ``phase`` pieces (hence ``k + 1`` pieces, the first
    and last partial); within piece ``i`` the input advances ``rates[i]`` frames per output
    frame, scaled so the last output frame reads the last input frame. A rate below the
    others stretches that stretch of input (it lasts longer in the output). -> ``[b, t]``
    with ``pos[:, 0] = 0``, ``pos[:, -1] = t - 1``, non-decreasing."""
    t = tf.cast(frames, tf.int32)
    k = tf.shape(rates)[1] - 1
    steps = tf.cast(tf.range(t - 1), tf.float32)[None, :] + 0.5  # step j: frame j -> j + 1
    piece = tf.cast(tf.floor(steps / tf.cast(t - 1, tf.float32) * tf.cast(k, tf.float32)
                             + phase[:, None]), tf.int32)
    inc = tf.gather(rates, tf.minimum(piece, k), batch_dims=1)  # [b, t - 1]
    inc = inc * tf.cast(t - 1, tf.float32) / tf.reduce_sum(inc, axis=1, keepdims=True)
    pos = tf.concat([tf.zeros_like(inc[:, :1]), tf.cumsum(inc, axis=1)], axis=1)
    return tf.minimum(pos, tf.cast(t - 1, tf.float32))


def segment_warp(feats: tf.Tensor, cfg: DataConfig, feat_cfg: features.FeatureConfig,
              seed: tf.Tensor) -> tf.Tensor:
    """Non-uniform time warp of each example's frames (:func:`warp_positions` with
    ``cfg.warp_segments`` pieces, each piece's rate log-uniform in ``[1 / warp_max,
    warp_max]``, a random phase), read by linear interpolation.

    Tempo perturbation stretches a word as a whole; synthetic voices also differ in how long
    each sound lasts (one engine's "up" has a long vowel and a weak release, another's a
    short vowel and a strong burst), which a uniform stretch never shows. Like SpecAugment's
    time warp, but with several pieces. Works on ``[b, frames, coeffs]`` and on stacked
    inputs ``[b, frames * coeffs]``; the clip keeps its length and end frames."""
    shape = tf.shape(feats)
    x = tf.reshape(feats, [shape[0], -1, feat_cfg.coefficients])
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    log_max = math.log(cfg.warp_max)
    rates = tf.exp(tf.random.stateless_uniform([b, cfg.warp_segments + 1], s[0],
                                               -log_max, log_max))
    phase = tf.random.stateless_uniform([b], s[1])
    return tf.reshape(interpolate_frames(x, warp_positions(rates, phase, t)), shape)


def word_frames(x: tf.Tensor, feat_cfg: features.FeatureConfig) -> tf.Tensor:
    """``[b, t]`` bool: the frames of ``x`` ``[b, t, coeffs]`` that belong to the word, i.e.
    whose energy (the first cepstral coefficient of MFCC, the mean bin of LFBE) lies above
    a quarter of the way from the clip's median frame to its loudest. Scale free, so it
    works before and after per-clip normalization."""
    e = x[:, :, 0] if feat_cfg.kind == "mfcc" else tf.reduce_mean(x, axis=2)
    t = tf.shape(e)[1]
    median = tf.sort(e, axis=1)[:, t // 2]
    top = tf.reduce_max(e, axis=1)
    return e >= (median + 0.25 * (top - median))[:, None]


def edge_mask(feats: tf.Tensor, cfg: DataConfig, feat_cfg: features.FeatureConfig,
              seed: tf.Tensor) -> tf.Tensor:
    """Mask the start or the end of each example's word (:func:`word_frames`: first to last
    word frame), a width uniform in ``[0, edge_mask]`` of the word, with the example's mean.

    A model that learned a word from its edges alone fails when a voice starts or ends the
    word differently (espeak-ng's "left" is heard as "yes" until its first frames are
    silenced, its "no" as "go" until its last ones are; docs/data.md); with an edge missing
    it has to use the middle. Works on ``[b, frames, coeffs]`` and stacked inputs."""
    shape = tf.shape(feats)
    x = tf.reshape(feats, [shape[0], -1, feat_cfg.coefficients])
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    word = word_frames(x, feat_cfg)
    pos = tf.range(t)[None, :]
    first = tf.reduce_min(tf.where(word, pos, t), axis=1)
    last = tf.reduce_max(tf.where(word, pos, -1), axis=1)
    span = tf.cast(tf.maximum(last - first + 1, 0), tf.float32)
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    width = tf.cast(tf.round(tf.random.stateless_uniform([b], s[0], 0.0, cfg.edge_mask)
                             * span), tf.int32)
    at_end = tf.random.stateless_uniform([b], s[1]) < 0.5
    lo = tf.where(at_end, last + 1 - width, first)[:, None]
    hit = (pos >= lo) & (pos < lo + width[:, None])
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return tf.reshape(tf.where(hit[:, :, None], mean, x), shape)


def beta_draws(n: Any, alpha: float, seed: tf.Tensor) -> tf.Tensor:
    """``n`` stateless draws of Beta(alpha, alpha) (as G1 / (G1 + G2) of two Gamma(alpha)
    draws; 0.5 in the rare case both underflow to 0)."""
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    g1 = tf.random.stateless_gamma([n], s[0], alpha)
    g2 = tf.random.stateless_gamma([n], s[1], alpha)
    total = g1 + g2
    return tf.where(total > 0, g1 / tf.where(total > 0, total, 1.0), 0.5)


def partners(n: Any, seed: tf.Tensor) -> tf.Tensor:
    """A random permutation of ``range(n)``: the example of the batch each one mixes with."""
    return tf.argsort(tf.random.stateless_uniform([n], tf.cast(seed, tf.int64)))


MIXSTYLE_EPS = 1e-6  # added to the variance before its square root (as MixStyle's)


def mix_statistics(x: tf.Tensor, lam: tf.Tensor, partner: tf.Tensor, on: tf.Tensor
                   ) -> tf.Tensor:
    """Frequency-wise MixStyle with its draws given: ``x`` ``[b, t, c]``; for the examples
    with ``on`` ``[b]``, each channel's mean and standard deviation over time (``t``) become
    ``lam mu + (1 - lam) mu[partner]`` and ``lam sigma + (1 - lam) sigma[partner]``, the
    channel's normalized values ``(x - mu) / sigma`` kept; the others pass unchanged."""
    mu = tf.reduce_mean(x, axis=1, keepdims=True)
    sigma = tf.sqrt(tf.math.reduce_variance(x, axis=1, keepdims=True) + MIXSTYLE_EPS)
    lam = lam[:, None, None]
    mixed_mu = lam * mu + (1.0 - lam) * tf.gather(mu, partner)
    mixed_sigma = lam * sigma + (1.0 - lam) * tf.gather(sigma, partner)
    return tf.where(on[:, None, None], (x - mu) / sigma * mixed_sigma + mixed_mu, x)


def mix_style(feats: tf.Tensor, cfg: DataConfig, feat_cfg: features.FeatureConfig,
              seed: tf.Tensor) -> tf.Tensor:
    """:func:`mix_statistics` with draws from ``seed``: each example mixed with probability
    ``mixstyle_prob``, its partner a random permutation of the batch, ``lam`` from
    Beta(``mixstyle_alpha``, ``mixstyle_alpha``). Works on ``[b, frames, coeffs]`` and on
    stacked inputs ``[b, frames * coeffs]`` (seen as frames x coeffs).

    A voice or a channel shows in each channel's level and spread over the clip (the
    timbre, the dynamics); mixing them between examples shows the model words in voices
    between the training ones while the word's pattern in time stays."""
    shape = tf.shape(feats)
    x = tf.reshape(feats, [shape[0], -1, feat_cfg.coefficients])
    b = tf.shape(x)[0]
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    on = tf.random.stateless_uniform([b], s[0]) < cfg.mixstyle_prob
    out = mix_statistics(x, beta_draws(b, cfg.mixstyle_alpha, s[1]), partners(b, s[2]), on)
    return tf.reshape(out, shape)


def mixup(x: tf.Tensor, y: tf.Tensor, weights: tf.Tensor | None, alpha: float,
          seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """mixup of a batch ``x`` ``[n, ...]`` with integer labels ``y`` ``[n]``: example ``i``
    becomes ``lam_i x_i + (1 - lam_i) x_p(i)`` (``p`` a random permutation, ``lam`` from
    Beta(alpha, alpha)). Its loss ``lam CE(y_i) + (1 - lam) CE(y_p(i))`` is served as two
    rows with the same input, ``(y_i, 2 lam w_i)`` and ``(y_p(i), 2 (1 - lam) w_p(i))``
    (``w``: the class weights, or 1), so any sparse-label loss trains on the mixed targets
    and the mean weight stays 1; the batch doubles (``[2n, ...]``)."""
    n = tf.shape(x)[0]
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    lam = beta_draws(n, alpha, s[0])
    partner = partners(n, s[1])
    lam_x = tf.reshape(lam, tf.concat([[n], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
    mixed = lam_x * x + (1.0 - lam_x) * tf.gather(x, partner)
    w = tf.ones([n]) if weights is None else tf.cast(weights, tf.float32)
    return (tf.concat([mixed, mixed], 0), tf.concat([y, tf.gather(y, partner)], 0),
            tf.concat([2.0 * lam * w, 2.0 * (1.0 - lam) * tf.gather(w, partner)], 0))


def speed_perturb(audio: tf.Tensor, cfg: DataConfig, seed: tf.Tensor) -> tf.Tensor:
    """Resample each clip ``[b, samples]`` by a factor in ``[speed_min, speed_max]``
    (> 1: faster and higher), anchored at the clip's centre so the word stays in the clip;
    samples read from outside the clip are 0. Linear interpolation: for factors above 1
    the band above ``8 kHz / factor`` folds back near 8 kHz, above every kwsq front-end's
    mel range except LFBE's top bins. (:func:`augment_audio` draws the factor from
    ``fold_in(seed, 13)`` and does this and the time shift in one pass.)"""
    audio = tf.convert_to_tensor(audio, tf.float32)
    b = tf.shape(audio)[0]
    factor = tf.random.stateless_uniform([b], seed, cfg.speed_min, cfg.speed_max)
    return _shift_and_speed(audio, tf.zeros([b], tf.int32), factor)


def balanced_weights(y: np.ndarray, classes: int) -> np.ndarray:
    """Per-class weights ``n / (classes x n_c)`` (0 for a class with no example): the mean
    weight over the examples is 1, and every present class carries the same total."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(classes, np.float64)
    w[present] = counts.sum() / (present.sum() * counts[present])
    return w.astype(np.float32)


def random_filter(audio: tf.Tensor, cfg: DataConfig, seed: tf.Tensor) -> tf.Tensor:
    """A random smooth EQ per clip (with probability ``filter_prob``), in the frequency
    domain of the whole clip: a tilt in dB per octave around 1 kHz, one bell-shaped peak or
    notch (width about an octave) and random band limits (high-pass up to 300 Hz, low-pass
    down to 3.4 kHz, like a telephone). Gains are drawn in +-``filter_max_db``.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    return apply_eq(audio, draw_eq(cfg, tf.shape(audio)[0], seed))


def eq_gain_db(freqs_hz: Any, d: EqDraws) -> tf.Tensor:
    """The EQ's gain in dB ``[b, k]`` at frequencies ``[k]`` (Hz) for draws ``[b]``."""
    f = tf.maximum(tf.convert_to_tensor(freqs_hz, tf.float32), 1.0)[None, :]
    log2_f = tf.math.log(f) / math.log(2.0)
    octave = tf.math.log(tf.maximum(f, 20.0) / 1000.0) / math.log(2.0)
    col = [t[:, None] for t in (d.tilt_db, d.peak_db, d.peak_octave, d.highpass_hz,
                                d.lowpass_hz)]
    tilt, peak_db, peak_oct, hp, lp = col
    gain = tilt * tf.clip_by_value(octave, -3.0, 3.0)
    gain += peak_db * tf.exp(-0.5 * tf.square((octave - peak_oct) / 0.5))
    # 12 dB/octave skirts outside the band
    gain -= 12.0 * (tf.nn.relu(tf.math.log(hp) / math.log(2.0) - log2_f)
                    + tf.nn.relu(log2_f - tf.math.log(lp) / math.log(2.0)))
    return gain


def _eq_rows(audio: tf.Tensor, *params: tf.Tensor) -> tf.Tensor:
    n = tf.shape(audio)[1]
    d = EqDraws(*params, on=None)
    freqs = tf.linspace(0.0, SAMPLE_RATE / 2.0, n // 2 + 1)
    gain = tf.exp(eq_gain_db(freqs, d) * (math.log(10.0) / 20.0))
    spec = tf.signal.rfft(audio) * tf.cast(gain, tf.complex64)
    filtered = tf.signal.irfft(spec, fft_length=[n])
    # keep the level: the EQ changes the colour, the gain augmentation changes the level
    rms_in = tf.sqrt(tf.reduce_mean(tf.square(audio), axis=1, keepdims=True) + 1e-12)
    rms_out = tf.sqrt(tf.reduce_mean(tf.square(filtered), axis=1, keepdims=True) + 1e-12)
    return filtered * (rms_in / rms_out)


def apply_eq(audio: tf.Tensor, d: EqDraws) -> tf.Tensor:
    """:func:`random_filter` with its draws given; only the clips with ``d.on`` change."""
    return _on_rows(d.on, _eq_rows, audio, d.tilt_db, d.peak_db, d.peak_octave,
                    d.highpass_hz, d.lowpass_hz)


def spec_augment(feats: tf.Tensor, cfg: DataConfig, feat_cfg: features.FeatureConfig,
                 seed: tf.Tensor) -> tf.Tensor:
    """SpecAugment time and frequency masks on a batch of model inputs.

    Works on ``[b, frames, coeffs]`` and on stacked inputs ``[b, frames * coeffs]`` (seen as
    frames x coeffs). Masked cells take the example's mean value, so a mask carries no
    level information.
    """
    shape = tf.shape(feats)
    coeffs = feat_cfg.coefficients
    x = tf.reshape(feats, [shape[0], -1, coeffs])
    b, t = tf.shape(x)[0], tf.shape(x)[1]
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    keep = tf.ones_like(x, dtype=tf.bool)
    s = tf.random.experimental.stateless_split(seed, 2 * (cfg.time_masks + cfg.freq_masks) + 1)
    k = 0
    for axis, count, width, size in ((1, cfg.time_masks, cfg.time_mask_max, t),
                                     (2, cfg.freq_masks, cfg.freq_mask_max, coeffs)):
        pos = tf.range(size)
        for _ in range(count):
            w = tf.random.stateless_uniform([b, 1], s[k], 0, width + 1, tf.int32)
            start = tf.cast(tf.random.stateless_uniform([b, 1], s[k + 1]) *
                            tf.cast(tf.maximum(size - w + 1, 1), tf.float32), tf.int32)
            k += 2
            hit = (pos[None, :] >= start) & (pos[None, :] < start + w)  # [b, size]
            hit = hit[:, :, None] if axis == 1 else hit[:, None, :]
            keep &= ~hit
    x = tf.where(keep, x, mean)
    return tf.reshape(x, shape)


def dataset(data_cfg: DataConfig, feat_cfg: features.FeatureConfig, split: str,
            batch_size: int, augment: bool, shuffle: bool) -> tf.data.Dataset:
    """``(x, y)`` batches. Without ``augment`` it serves the cached :func:`arrays`; with it,
    each epoch re-augments the audio and recomputes features (``tf.signal``, in graph)."""
    if not augment:
        x, y = arrays(data_cfg, feat_cfg, split)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(len(y), seed=data_cfg.seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return AugmentedSplit(data_cfg, feat_cfg, split).repeating(batch_size, shuffle)
