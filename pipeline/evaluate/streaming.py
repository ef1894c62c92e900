"""Run a model over long recordings the way a device does, and score its detections.

A device computes one feature frame every hop (10 ms for the LFBE front-ends) and runs
the model on the newest input window:

* state-free stacked-frame DNNs (``left_context``/``right_context`` > 0): a new stacked
  input at every frame, i.e. every 10 ms, exactly the stacking of
  :func:`pipeline.data.features.stack_frames`;
* models on a whole clip of frames (the conv models): the last 1 s of frames (as many as
  a training clip has) every ``conv_hop_seconds`` (default 0.1 s).

With per-clip feature normalization (``FeatureConfig.normalize``) each input is normalized
over its window, the frames training normalized over (see :class:`Windowing`).

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
    """Which frames form each model input and when a device has them.

    A window is ``span`` consecutive frames; the model input is the frames at ``offsets``
    inside it. Without per-clip normalization the window is the input's own span. With it
    (``cfg.normalize``), the window is the frames training normalized over: a training
    clip's frames, in which a stacked input sits where ``features.compute`` picks it
    (``clip_window_start``), and a clip model's input is the whole window anyway. The
    input is then its frames minus the window's mean (:func:`window_stats`): exactly the
    clip's normalization, and causal, since a window is scored once its last frame is
    there. The C front-end (``tflm_port/frontend``, kwsq_fe_norm) computes the same.
    """

    span: int  # frames of one window (first to last, inclusive)
    offsets: tuple[int, ...]  # frame offsets of the model input inside a window
    hop_frames: int  # frames between consecutive windows
    cfg: FeatureConfig

    @property
    def hop_seconds(self) -> float:
        return self.hop_frames * self.cfg.hop_samples / self.cfg.sample_rate

    def starts(self, n_frames: int) -> np.ndarray:
        return np.arange(0, max(0, n_frames - self.span + 1), self.hop_frames)

    def times(self, starts: np.ndarray) -> np.ndarray:
        """Seconds at which the audio of the window starting at each frame is complete."""
        last = starts + self.span - 1
        return (last * self.cfg.hop_samples + self.cfg.window_samples) / self.cfg.sample_rate


def windowing(cfg: FeatureConfig, clip_samples: int = 16000,
              conv_hop_seconds: float = CONV_HOP_SECONDS) -> Windowing:
    """Stacked DNNs: a new input every frame; clip models: the last clip's frames every hop.

    With per-clip normalization a stacked DNN's window is a whole clip of frames with the
    stacked input where training picks it inside the clip (see :class:`Windowing`)."""
    from pipeline.data.features import clip_window_start

    if cfg.stacked:
        offsets = tuple(i * cfg.stack_stride
                        for i in range(cfg.left_context + cfg.right_context + 1))
        if cfg.normalize == "fixed":
            return Windowing(cfg.stack_span, offsets, 1, cfg)
        lead = clip_window_start(cfg, clip_samples)
        return Windowing(cfg.num_frames(clip_samples), tuple(lead + o for o in offsets), 1,
                         cfg)
    n = cfg.num_frames(clip_samples)
    hop_frames = max(1, int(round(conv_hop_seconds * cfg.sample_rate / cfg.hop_samples)))
    return Windowing(n, tuple(range(n)), hop_frames, cfg)


def window_stats(frames: np.ndarray, win: Windowing, starts: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Per-window normalization (``cfg.normalize``) over each window's ``span`` frames:
    ``(means [w, 1|coeffs], deviations [w, coeffs] or None)`` as float32, or None for
    "fixed". Means as ``features.normalize_clip`` takes them ("utterance": over every
    value, "channel"/"channel_var": per coefficient); "channel_var" also gives each
    coefficient's standard deviation, floored at ``CHANNEL_VAR_FLOOR``. Sums are float64
    running sums over the recording (exact enough for hours of audio)."""
    from pipeline.data.features import CHANNEL_VAR_FLOOR

    mode = win.cfg.normalize
    if mode == "fixed":
        return None
    span = win.span
    f64 = np.asarray(frames, np.float64)
    c = np.concatenate([np.zeros((1, f64.shape[1])), np.cumsum(f64, 0)])
    means = (c[starts + span] - c[starts]) / span  # [w, coeffs]
    sds = None
    if mode == "utterance":
        means = means.mean(1, keepdims=True)
    elif mode == "channel_var":
        c2 = np.concatenate([np.zeros((1, f64.shape[1])), np.cumsum(f64 * f64, 0)])
        var = np.maximum((c2[starts + span] - c2[starts]) / span - means * means, 0.0)
        sds = np.maximum(np.sqrt(var), CHANNEL_VAR_FLOOR).astype(np.float32)
    return means.astype(np.float32), sds


def inputs(frames: np.ndarray, win: Windowing, starts: np.ndarray) -> np.ndarray:
    """Model inputs of the windows starting at ``starts`` (normalized over each window):
    flat stacks or frame blocks."""
    idx = starts[:, None] + np.asarray(win.offsets)[None, :]
    x = frames[idx]  # [w, len(offsets), coeffs]
    stats = window_stats(frames, win, starts)
    if stats is not None:
        means, sds = stats
        x = x - means[:, None, :]
        if sds is not None:
            x = x / sds[:, None, :]
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
            x = inputs(frames, win, starts[sl])
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


