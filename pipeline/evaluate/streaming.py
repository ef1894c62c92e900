"""Run a model over long recordings the way a device does, and score its detections.

A device computes one feature frame every hop (10 ms for the LFBE front-ends) and runs
the model on the newest input window:

* state-free stacked-frame DNNs (``left_context``/``right_context`` > 0): a new stacked
  input at every frame, i.e. every 10 ms, exactly the stacking of
  :func:`pipeline.data.features.stack_frames`;
* models on a whole clip of frames (the conv models): the last 1 s of frames (as many as
  a training clip has) every ``conv_hop_seconds`` (default 0.1 s).

Each window's posteriors carry the time at which a device has all of its audio (the end
of the window's last frame). The detection rules and the DET sweep are in
:mod:`pipeline.evaluate.det`; this module only produces posteriors and feeds them there.

Recordings: a folder of ``NAME.wav`` (16 kHz mono) each with a ``NAME.json`` ground truth
(``docs/streams.md``): ``{"events": [{"word": "yes", "start": 1.25, "end": 1.81}, ...]}``
plus optional fields. Every spoken keyword must be listed; other words may be. Features
are computed in blocks, so recordings of any length fit in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.audio import read_wav
from pipeline.data.features import FeatureConfig
from pipeline.errors import KwsqError
from pipeline.evaluate import det
from pipeline.evaluate.backends import Scorer

CONV_HOP_SECONDS = 0.1
BLOCK_WINDOWS = 4096  # model inputs scored per call
FRAME_BLOCK = 6000  # feature frames computed per TensorFlow call (60 s at 10 ms)


@dataclass
class Recording:
    """One stream file and its ground truth."""

    name: str
    wav: Path
    events: list[dict[str, Any]]
    truth: dict[str, Any] = field(default_factory=dict)


def find_recordings(folder: str | Path) -> list[Recording]:
    """Every ``*.wav`` in ``folder`` with its ``.json`` ground truth (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KwsqError(f"{folder} is not a folder of streams; make some with "
                        "'kwsq synth --streams' or see docs/streams.md")
    wavs = sorted(folder.glob("*.wav"))
    if not wavs:
        raise KwsqError(f"{folder} has no .wav streams (see docs/streams.md)")
    out = []
    for wav in wavs:
        gt = wav.with_suffix(".json")
        if not gt.is_file():
            raise KwsqError(f"{wav} has no ground truth {gt.name} (see docs/streams.md)")
        try:
            truth = json.loads(gt.read_text())
            events = list(truth.get("events", []))
            for e in events:
                if not (isinstance(e["word"], str) and float(e["start"]) <= float(e["end"])):
                    raise ValueError("event needs word and start <= end")
        except (ValueError, KeyError, TypeError) as exc:
            raise KwsqError(f"{gt} is not a valid ground truth file: {exc}") from exc
        out.append(Recording(wav.stem, wav, events, truth))
    return out


# ----------------------------------------------------------------------------- windows

def _frames(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Normalized feature frames of a long recording, computed in blocks (exact)."""
    from pipeline.data import features

    n = cfg.num_frames(audio.size)
    out = np.zeros((n, cfg.coefficients), np.float32)
    for f0 in range(0, n, FRAME_BLOCK):
        f1 = min(n, f0 + FRAME_BLOCK)
        lo = f0 * cfg.hop_samples
        hi = (f1 - 1) * cfg.hop_samples + cfg.window_samples
        out[f0:f1] = np.asarray(features.frames(audio[lo:hi], cfg))
    return out


@dataclass(frozen=True)
class Windowing:
    """Which frames form each model input and when a device has them."""

    span: int  # frames from the first to the last frame of one input
    offsets: tuple[int, ...]  # frame offsets inside an input
    hop_frames: int  # frames between consecutive inputs
    cfg: FeatureConfig

    @property
    def hop_seconds(self) -> float:
        return self.hop_frames * self.cfg.hop_samples / self.cfg.sample_rate

    def starts(self, n_frames: int) -> np.ndarray:
        return np.arange(0, max(0, n_frames - self.span + 1), self.hop_frames)

    def times(self, starts: np.ndarray) -> np.ndarray:
        """Seconds at which the audio of the input starting at each frame is complete."""
        last = starts + self.span - 1
        return (last * self.cfg.hop_samples + self.cfg.window_samples) / self.cfg.sample_rate


def windowing(cfg: FeatureConfig, clip_samples: int = 16000,
              conv_hop_seconds: float = CONV_HOP_SECONDS) -> Windowing:
    """Stacked DNNs: a new input every frame; clip models: the last clip's frames every hop."""
    if cfg.stacked:
        offsets = tuple(i * cfg.stack_stride
                        for i in range(cfg.left_context + cfg.right_context + 1))
        return Windowing(cfg.stack_span, offsets, 1, cfg)
    n = cfg.num_frames(clip_samples)
    hop_frames = max(1, int(round(conv_hop_seconds * cfg.sample_rate / cfg.hop_samples)))
    return Windowing(n, tuple(range(n)), hop_frames, cfg)


def clip_means(frames: np.ndarray, win: Windowing, starts: np.ndarray,
               clip_samples: int) -> np.ndarray | None:
    """Per-window means for per-clip normalization (``cfg.normalize``), ``[w, 1|coeffs]``.

    A clip's normalization averages over the clip's frames; in a stream the clip around a
    stacked window starts ``clip_window_start`` frames before it (a clip model's window is
    the clip), so each window is normalized with the mean over that 1 s of frames, clamped
    to the recording. None when the features are not normalized per clip.
    """
    from pipeline.data.features import clip_window_start

    mode = getattr(win.cfg, "normalize", "fixed")
    if mode == "fixed":
        return None
    n = len(frames)
    lead = clip_window_start(win.cfg, clip_samples) if win.cfg.stacked else 0
    span = min(win.cfg.num_frames(clip_samples), n)
    first = np.clip(starts - lead, 0, n - span)
    c = np.concatenate([np.zeros((1, frames.shape[1])), np.cumsum(frames, 0, np.float64)])
    means = (c[first + span] - c[first]) / span  # [w, coeffs]
    if mode == "utterance":
        means = means.mean(1, keepdims=True)
    return means.astype(np.float32)


def inputs(frames: np.ndarray, win: Windowing, starts: np.ndarray,
           clip_samples: int = 16000) -> np.ndarray:
    """Model inputs for the windows starting at ``starts``: flat stacks or frame blocks."""
    idx = starts[:, None] + np.asarray(win.offsets)[None, :]
    x = frames[idx]  # [w, len(offsets), coeffs]
    means = clip_means(frames, win, starts, clip_samples)
    if means is not None:
        x = x - means[:, None, :]
    if win.cfg.stacked:
        return x.reshape(len(starts), -1)
    return x


# ----------------------------------------------------------------------------- posteriors

@dataclass
class StreamPosteriors:
    """Every scorer's posteriors on every recording (keyword columns only)."""

    recordings: list[Recording]
    durations: list[float]
    times: list[np.ndarray]
    columns: dict[str, int]  # keyword -> posterior column
    posteriors: dict[str, list[np.ndarray]]  # scorer name -> per recording [w, keywords]
    hop_seconds: float

    @property
    def hours(self) -> float:
        return sum(self.durations) / 3600.0


def _blocks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def posteriors(recordings: Sequence[Recording], scorers: Sequence[Scorer],
               cfg: FeatureConfig, columns: dict[str, int], clip_samples: int = 16000,
               conv_hop_seconds: float = CONV_HOP_SECONDS, log=print) -> StreamPosteriors:
    """Score every recording with every scorer; features are computed once per recording."""
    win = windowing(cfg, clip_samples, conv_hop_seconds)
    cols = np.asarray(list(columns.values()), np.int64)
    posts: dict[str, list[np.ndarray]] = {s.name: [] for s in scorers}
    times, durations = [], []
    spent = {s.name: 0.0 for s in scorers}
    t0 = time.monotonic()
    for i, rec in enumerate(recordings):
        audio, rate = read_wav(rec.wav)
        if rate != cfg.sample_rate:
            raise KwsqError(f"{rec.wav} is {rate} Hz; the model's features need "
                            f"{cfg.sample_rate} Hz")
        durations.append(audio.size / rate)
        frames = _frames(audio, cfg)
        starts = win.starts(len(frames))
        times.append(win.times(starts))
        outs: dict[str, list[np.ndarray]] = {s.name: [] for s in scorers}
        for sl in _blocks(len(starts), BLOCK_WINDOWS):
            x = inputs(frames, win, starts[sl], clip_samples)
            for s in scorers:
                ts = time.monotonic()
                p = s.score(x)
                spent[s.name] += time.monotonic() - ts
                if p.shape[1] <= cols.max():
                    raise KwsqError(f"{s.name} gives {p.shape[1]} outputs; keyword columns "
                                    f"need {cols.max() + 1}")
                outs[s.name].append(p[:, cols].astype(np.float32))
        for s in scorers:
            posts[s.name].append(np.concatenate(outs[s.name]) if outs[s.name]
                                 else np.zeros((0, len(cols)), np.float32))
        log(f"eval: stream {i + 1}/{len(recordings)} {rec.name} ({durations[-1] / 60:.1f} min, "
            f"{len(starts)} windows), {time.monotonic() - t0:.0f} s")
    if spent:
        log("eval: stream scoring time " + ", ".join(f"{k} {v:.0f} s" for k, v in spent.items()))
    return StreamPosteriors(list(recordings), durations, times, dict(columns), posts,
                            win.hop_seconds)


def keyword_events(rec: Recording, keyword: str) -> np.ndarray:
    spans = [(float(e["start"]), float(e["end"])) for e in rec.events if e["word"] == keyword]
    return np.asarray(spans, np.float64).reshape(-1, 2)


def sweep(sp: StreamPosteriors, scorer: str, rules: det.Rules = det.DEFAULT_RULES) -> det.Sweep:
    """Per-keyword and pooled DET curves of one scorer's posteriors (rules in ``det``)."""
    w = det.window_frames(rules.smooth_seconds, sp.hop_seconds)
    items = []
    for k, (word, _) in enumerate(sp.columns.items()):
        items.append(det.keyword_scores(
            word, [p[:, k] for p in sp.posteriors[scorer]], sp.times,
            [keyword_events(r, word) for r in sp.recordings], sp.durations, w))
    return det.sweep(items, sp.hours, rules)


def summary(s: det.Sweep, rules: det.Rules = det.DEFAULT_RULES) -> dict[str, Any]:
    return {"pooled": det.summarize(s.pooled, rules),
            "keywords": {k: det.summarize(c, rules) for k, c in s.keywords.items()},
            "events": s.pooled.events}


def log_line(name: str, summ: dict[str, Any]) -> str:
    p = summ["pooled"]
    return (f"eval: {name:7s} streams: AUC {p['auc']:.4f}, miss rate at 1 / 0.5 / 0.1 FA/h "
            f"{100 * p['miss_at_1_fa_per_hour']:.1f}% / {100 * p['miss_at_0.5_fa_per_hour']:.1f}%"
            f" / {100 * p['miss_at_0.1_fa_per_hour']:.1f}%")


