"""Frame-level targets: the low-bit QAT paper's 31-consecutive-frame window, trained per frame.

The paper's small-footprint DNN sees 20 LFBE x 31 consecutive frames (20 left, 10 right
context: 0.31 s) and is trained on frame-level targets, then run on every 10 ms hop. kwsq's
default for the DNNs (``clip3``) instead takes the 31 frames every 3rd frame over the whole
1 s clip with the clip's label. This module makes the ``frames31`` training data:

* every window position of a clip is a training example (window ``t`` holds frames
  ``t .. t + L + R``, the stacking of :func:`pipeline.data.features.stack_frames`);
* **target rule**: the window's *anchor frame* ``a = t + L`` (the "current" frame: ``L``
  frames of past and ``R`` of future context, the frame a streaming device labels) gets the
  clip's word label when the centre sample of frame ``a`` (``a * hop + window / 2``) lies in
  the word's span ``[start, end)``; otherwise, and everywhere in silence examples, the
  silence class (class 0: ``_silence_`` in label mode 12, ``_other_`` in wake mode).
  Unknown words' frames get ``_unknown_``. In label mode 35 the loader adds the silence
  class as class 0 (36 classes) for frame targets.
* ``word_label_delay_ms`` (``D``) moves the start of the labelled part of the word to
  ``start + min(D, (end - start) / 2)`` (:func:`label_spans`): windows anchored on the
  word's first ``D`` ms have heard only its onset (100 ms of right context), where words
  sharing a vowel ("left"/"yes", "on"/"off") cannot be told apart; they get the silence
  class ("no word yet"), so the model fires once it has heard more of the word.
* word spans come from the corpus's ``alignments.csv`` (written by ``kwsq synth``: the clean
  word's boundaries before noise and reverberation). Clips it does not list (a real Speech
  Commands folder, a user's folder, a corpus made before the file existed) get their span
  from :func:`energy_span`, an energy detector on the clip itself; the loader says how many
  on stderr and records the count in the cache's metadata.

Training draws ``frame_windows`` random positions per clip per epoch (all positions would
be 68 near-duplicate examples per clip); validation and test use every
:data:`EVAL_STRIDE`-th position of every clip. Audio augmentation is the clip pipeline's
except the time shift, which would move the word away from its recorded span (the random
window position already varies where the word sits in the window). Speed perturbation
(resampling anchored at the clip centre ``c``) moves the span with the audio: sample ``s``
of the clip lands at ``c + (s - c) / factor`` (:func:`speed_spans`), and the windows are
labelled by the moved span. Tempo (``tempo_min/max``) and ``time_warp`` warp each word's
frames in time, after the front-end (pitch and formants stay): the word becomes ``1 /
tempo`` as long around its own centre, and a knot inside it moves by up to ``time_warp`` of
the word, so one part (e.g. a vowel) gets longer and the rest shorter
(:func:`word_warp_points`, :func:`warp_frames`); the spans move with it
(:func:`warp_spans`). Synthetic voices differ from each other in how long they hold a word's
parts, not only in its overall length. ``class_weight = "balanced"`` weighs window positions, not
clips: each class's weight is ``n / (classes x n_c)`` over the labels of every window
position of every training clip (:func:`window_class_weights`), so the silence windows
around each word (most positions) and each word class carry the same total.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.atomic import atomic_path, write_text
from pipeline.data import features, loader
from pipeline.errors import KwsqError

EVAL_STRIDE = 4  # validation/test: every 4th window position (17 of a 1 s clip's 68)
CACHE_VERSION = 1
NO_SPAN = (-1, -1)  # silence examples: no word anywhere in the clip

# energy detector (clips without recorded boundaries)
ENERGY_HOP = 160  # 10 ms frames at 16 kHz
ENERGY_DROP_DB = 35.0  # a word frame is within this of the loudest (smoothed) frame ...
ENERGY_ABOVE_DB = 6.0  # ... and this far above the noise floor (10th percentile)
ENERGY_GAP = 10  # frames (100 ms) of quiet inside a word that do not end it


def energy_span(audio: np.ndarray, hop: int = ENERGY_HOP) -> tuple[int, int]:
    """The word's ``(start, end)`` samples in a clip, from its short-time energy.

    10 ms frame powers in dB; a frame is speech when it is within
    :data:`ENERGY_DROP_DB` of the loudest frame and :data:`ENERGY_ABOVE_DB` above the noise
    floor (the 10th percentile); the span grows from the loudest frame over speech frames
    separated by at most :data:`ENERGY_GAP` quiet frames (so a burst of noise elsewhere in
    the clip is not taken for the word). On ``kwsq synth``'s tiny corpus (280 clips) it is
    within 4 ms of the recorded start and 5 ms of the end (median; 90th percentile 12 ms
    start, 62 ms end: weak reverberant tails).
    """
    n = audio.size // hop
    if n == 0:
        return 0, int(audio.size)
    power = np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)
    db = 10.0 * np.log10(power + 1e-12)
    threshold = max(float(np.percentile(db, 10)) + ENERGY_ABOVE_DB,
                    float(db.max()) - ENERGY_DROP_DB)
    speech = db > threshold
    lo = hi = int(np.argmax(db))
    while True:
        before = np.flatnonzero(speech[max(0, lo - ENERGY_GAP) : lo])
        if before.size == 0:
            break
        lo = max(0, lo - ENERGY_GAP) + int(before[0])
    while True:
        after = np.flatnonzero(speech[hi + 1 : hi + 1 + ENERGY_GAP])
        if after.size == 0:
            break
        hi = hi + 1 + int(after[-1])
    return lo * hop, (hi + 1) * hop


def check_config(data_cfg: loader.DataConfig, feat_cfg: features.FeatureConfig) -> None:
    """Frame targets need a stacked window."""
    if not feat_cfg.stacked:
        raise KwsqError("frame-level targets need a stacked-frame window (left_context/"
                        "right_context > 0): a DNN model such as svd_dnn or dnn250k")


def speed_spans(spans: tf.Tensor, factor: tf.Tensor, clip_samples: int) -> tf.Tensor:
    """Word spans ``[b, 2]`` (samples) after :func:`pipeline.data.loader.speed_perturb` by
    ``factor`` ``[b]``: the resampled clip's sample ``i`` reads the original at
    ``c + (i - c) * factor`` (``c`` the clip centre), so a span edge ``s`` moves to
    ``c + (s - c) / factor``, rounded up to a whole sample (the first output sample at or
    after the edge), kept inside ``[0, clip_samples]``. Silence examples (:data:`NO_SPAN`)
    stay as they are."""
    spans = tf.convert_to_tensor(spans)
    centre = (clip_samples - 1) / 2.0
    edge = tf.cast(spans, tf.float64)
    moved = centre + (edge - centre) / tf.cast(factor, tf.float64)[:, None]
    moved = tf.clip_by_value(tf.math.ceil(moved - 1e-6), 0.0, float(clip_samples))
    moved = tf.cast(moved, spans.dtype)
    return tf.where(spans[:, :1] < 0, spans, moved)


def _interp(x: tf.Tensor, xp: tf.Tensor, fp: tf.Tensor) -> tf.Tensor:
    """Piecewise-linear ``fp(xp)`` at ``x`` per row (``x [b, n]``; ``xp``, ``fp`` ``[b, K]``,
    ``xp`` non-decreasing); constant beyond the end points, zero-length pieces skipped."""
    k = tf.shape(xp)[1]
    i = tf.clip_by_value(tf.searchsorted(xp, x, side="right") - 1, 0, k - 2)
    x0, x1 = tf.gather(xp, i, batch_dims=1), tf.gather(xp, i + 1, batch_dims=1)
    f0, f1 = tf.gather(fp, i, batch_dims=1), tf.gather(fp, i + 1, batch_dims=1)
    t = tf.clip_by_value(tf.math.divide_no_nan(x - x0, x1 - x0), 0.0, 1.0)
    return f0 + t * (f1 - f0)


def _frame_of(samples: tf.Tensor, feat_cfg: features.FeatureConfig) -> tf.Tensor:
    """Sample index -> (fractional) frame whose centre it is."""
    return (tf.cast(samples, tf.float32) - feat_cfg.window_samples // 2) / feat_cfg.hop_samples


def word_warp_points(spans: tf.Tensor, tempo: tf.Tensor, knot: tf.Tensor, moved: tf.Tensor,
                     feat_cfg: features.FeatureConfig, n_frames: int
                     ) -> tuple[tf.Tensor, tf.Tensor]:
    """Control points ``(source, output)`` ``[b, 5]`` (frames) of each clip's time warp.

    The word's frames ``[a, b]`` (span ``spans [b, 2]`` in samples) become ``L / tempo``
    frames long around the same centre (``tempo > 1``: shorter, as ``tempo_min/max``), and
    the word's frame at fraction ``knot`` of it lands at fraction ``moved`` of the new word
    (``moved != knot``: one part of the word stretched, the other squeezed): points ``0, a,
    a + knot (b - a), b, T - 1`` map to ``0, a', a' + moved (b' - a'), b', T - 1``, the
    word's new ends kept inside the clip; the rest of the clip moves with them. Silence
    examples (:data:`NO_SPAN`) keep the identity.
    """
    last = float(n_frames - 1)
    lo, hi = (tf.clip_by_value(_frame_of(spans[:, i], feat_cfg), 0.0, last) for i in (0, 1))
    half = (hi - lo) / (2.0 * tf.cast(tempo, tf.float32))
    mid = (lo + hi) / 2.0
    lo2, hi2 = tf.clip_by_value(mid - half, 0.0, last), tf.clip_by_value(mid + half, 0.0, last)
    zero, end = tf.zeros_like(lo), tf.fill(tf.shape(lo), last)
    src = tf.stack([zero, lo, lo + tf.cast(knot, tf.float32) * (hi - lo), hi, end], axis=1)
    out = tf.stack([zero, lo2, lo2 + tf.cast(moved, tf.float32) * (hi2 - lo2), hi2, end],
                   axis=1)
    identity = tf.constant([[0.0, 0.25, 0.5, 0.75, 1.0]]) * last
    silent = spans[:, :1] < 0
    return (tf.where(silent, identity, src), tf.where(silent, identity, out))


def warp_frames(feats: tf.Tensor, src: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
    """``[b, frames, coeffs]`` warped in time: output frame ``p`` is the source at the
    position the control points (:func:`word_warp_points`) map ``p`` back to, interpolated
    linearly between neighbouring frames."""
    b, t = tf.shape(feats)[0], tf.shape(feats)[1]
    grid = tf.tile(tf.cast(tf.range(t), tf.float32)[None, :], [b, 1])
    pos = tf.clip_by_value(_interp(grid, out, src), 0.0, tf.cast(t - 1, tf.float32))
    return loader.interpolate_frames(feats, pos)


def warp_spans(spans: tf.Tensor, src: tf.Tensor, out: tf.Tensor,
               feat_cfg: features.FeatureConfig, n_frames: int) -> tf.Tensor:
    """Word spans ``[b, 2]`` (samples) after :func:`warp_frames`: each edge's frame mapped
    forward and back to the sample at its centre, rounded up, so the windows labelled by the
    moved span (anchor centre in ``[start, end)``) are those whose anchor frame reads the
    source word. An edge before the first frame's centre or after the last one's (the
    warp does not move those frames' labels) stays; silence (:data:`NO_SPAN`) stays."""
    spans = tf.convert_to_tensor(spans)
    q = _frame_of(spans, feat_cfg)
    last = float(n_frames - 1)
    e = _interp(tf.clip_by_value(q, 0.0, last), src, out)
    moved = tf.math.ceil(e * feat_cfg.hop_samples + feat_cfg.window_samples // 2 - 1e-3)
    keep = (q < 0.0) | (q > last) | (spans[:, :1] < 0)
    return tf.where(keep, spans, tf.cast(moved, spans.dtype))


def label_spans(spans: tf.Tensor | np.ndarray, delay_ms: float | None,
                sample_rate: int = loader.SAMPLE_RATE) -> tf.Tensor:
    """The part of each word span ``[n, 2]`` labelled with the word: the start moved
    ``min(delay, (end - start) // 2)`` samples later (the module docstring's
    ``word_label_delay_ms``); silence examples (:data:`NO_SPAN`) unchanged."""
    spans = tf.convert_to_tensor(spans, tf.int64)
    if not delay_ms:
        return spans
    delay = tf.constant(int(round(delay_ms * sample_rate / 1000)), tf.int64)
    start, end = spans[:, 0], spans[:, 1]
    later = tf.stack([start + tf.minimum(delay, (end - start) // 2), end], axis=1)
    return tf.where(start[:, None] >= 0, later, spans)


def window_count(feat_cfg: features.FeatureConfig, clip_samples: int) -> int:
    """Stacked window positions in one clip (68 for 98 frames and a 31-frame window)."""
    return max(0, feat_cfg.num_frames(clip_samples) - (feat_cfg.stack_span - 1))


def anchor_centres(feat_cfg: features.FeatureConfig, clip_samples: int) -> np.ndarray:
    """Centre sample of each window position's anchor frame ``t + L * stride``."""
    t = np.arange(window_count(feat_cfg, clip_samples))
    anchor = t + feat_cfg.left_context * feat_cfg.stack_stride
    return anchor * feat_cfg.hop_samples + feat_cfg.window_samples // 2


def frame_labels(label: int, span: tuple[int, int], silence: int,
                 feat_cfg: features.FeatureConfig, clip_samples: int) -> np.ndarray:
    """Target of every window position of one clip (the rule in the module docstring)."""
    centres = anchor_centres(feat_cfg, clip_samples)
    inside = (centres >= span[0]) & (centres < span[1])
    return np.where(inside, label, silence).astype(np.int32)


def window_class_weights(y: np.ndarray, spans: np.ndarray, classes: int,
                         feat_cfg: features.FeatureConfig, clip_samples: int,
                         silence: int = 0) -> np.ndarray:
    """Balanced per-class weights (:func:`pipeline.data.loader.balanced_weights`) over the
    targets of every window position of every clip (labels ``y``, spans ``[n, 2]``): the
    distribution uniformly drawn training positions follow."""
    centres = anchor_centres(feat_cfg, clip_samples)[None, :]
    inside = (centres >= spans[:, :1]) & (centres < spans[:, 1:])
    targets = np.where(inside, np.asarray(y)[:, None], silence)
    return loader.balanced_weights(targets.ravel(), classes)


# ----------------------------------------------------------------------------- clips + spans

def _cache_path(cfg: loader.DataConfig, split: str) -> Path:
    key = loader.cache_key(cfg, None, split)
    return loader.cache_root(cfg) / f"{split}-spans-v{CACHE_VERSION}-{key}.npz"


def clip_spans(cfg: loader.DataConfig, split: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A split's clips as int16 PCM, their labels and word spans ``[n, 2]`` (samples).

    Same clips, order and labels as :func:`pipeline.data.loader.load_audio`; silence
    examples get :data:`NO_SPAN`. Cached beside the loader's caches.
    """
    from pipeline.corpus.synth import read_alignments

    npz = _cache_path(cfg, split)
    if npz.is_file():
        with np.load(npz) as f:
            return f["pcm"], f["y"], f["spans"]
    audio, y, meta, _ = loader.load_audio(cfg, split)
    recorded = read_alignments(cfg.path)
    spans = np.zeros((y.size, 2), np.int64)
    detected = 0
    for i, m in enumerate(meta):
        if m["word"] == loader.SILENCE:
            spans[i] = NO_SPAN
        elif m["file"] in recorded:
            spans[i] = recorded[m["file"]]
        else:
            spans[i] = energy_span(audio[i])
            detected += 1
    if detected:
        print(f"data: {split}: {detected} of {len(meta)} clips have no recorded word "
              f"boundaries (no alignments.csv entry): spans from an energy detector",
              file=sys.stderr)
    pcm = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    with atomic_path(npz) as tmp:
        with tmp.open("wb") as fh:
            np.savez(fh, pcm=pcm, y=y, spans=spans)
    write_text(npz.with_suffix(".json"), json.dumps(
        {"data": cfg.to_dict(), "split": split, "clips": int(y.size),
         "energy_detected_spans": detected}) + "\n")
    return pcm, y, spans


def _silence_class(cfg: loader.DataConfig) -> int:
    return 0  # _silence_ (label modes 12 and 35) or _other_ (wake): class 0 in all


def window_arrays(data_cfg: loader.DataConfig, feat_cfg: features.FeatureConfig, split: str,
                  stride: int = EVAL_STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """Every ``stride``-th window of every clip of a split: ``x [n, (L+R+1)*coeffs]``, ``y``."""
    check_config(data_cfg, feat_cfg)
    pcm, y, spans = clip_spans(data_cfg, split)
    n_win = window_count(feat_cfg, data_cfg.clip_samples)
    picks = np.arange(0, n_win, stride)
    silence = _silence_class(data_cfg)
    fn = tf.function(lambda a: features.stack_frames(  # one trace for any chunk length
        features.normalize_clip(features.frames(a, feat_cfg), feat_cfg), feat_cfg),
        input_signature=[tf.TensorSpec([None, data_cfg.clip_samples], tf.float32)])
    xs, ys = [], []
    for i in range(0, y.size, 256):
        audio = tf.constant(pcm[i : i + 256].astype(np.float32) / 32768.0)
        stacked = fn(audio).numpy()  # [clips, windows, values]
        xs.append(stacked[:, picks].reshape(-1, stacked.shape[-1]))
        labelled = label_spans(spans[i : i + 256], data_cfg.word_label_delay_ms).numpy()
        for label, span in zip(y[i : i + 256], labelled, strict=True):
            ys.append(frame_labels(int(label), tuple(span), silence, feat_cfg,
                                   data_cfg.clip_samples)[picks])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int32)


# ----------------------------------------------------------------------------- training


class FrameSplit:
    """A split served as random window positions with frame targets, freshly augmented per
    epoch; the interface of :class:`pipeline.data.loader.AugmentedSplit`."""

    def __init__(self, data_cfg: loader.DataConfig, feat_cfg: features.FeatureConfig,
                 split: str):
        check_config(data_cfg, feat_cfg)
        self.pcm, self.y, self.spans = clip_spans(data_cfg, split)
        self.cfg = dataclasses.replace(data_cfg, time_shift_ms=0.0)
        self.feat_cfg = feat_cfg
        self.per_clip = int(data_cfg.frame_windows or loader.FRAME_WINDOWS)
        self.bank = loader._noise_bank(loader.run_noises(data_cfg),
                                       data_cfg.clip_samples)
        self.centres = tf.constant(anchor_centres(feat_cfg, data_cfg.clip_samples), tf.int64)
        self.n_frames = feat_cfg.num_frames(data_cfg.clip_samples)
        self.class_weights = (window_class_weights(
            self.y, label_spans(self.spans, data_cfg.word_label_delay_ms).numpy(),
            len(loader.class_names(data_cfg)), feat_cfg,
            data_cfg.clip_samples, _silence_class(data_cfg))
            if data_cfg.class_weight == "balanced" else None)
        # in memory once, and the per-batch chain traced once, not once per epoch
        self._data = (tf.constant(self.pcm), tf.constant(self.y), tf.constant(self.spans))
        self._windows = tf.function(self._batch_windows, input_signature=[
            tf.TensorSpec([None, data_cfg.clip_samples], tf.int16),
            tf.TensorSpec([None], tf.as_dtype(self.y.dtype)),
            tf.TensorSpec([None, 2], tf.as_dtype(self.spans.dtype)),
            tf.TensorSpec([2], tf.int64)])

    def __len__(self) -> int:
        return int(self.y.size) * self.per_clip

    def batches(self, batch_size: int) -> int:
        return math.ceil(self.y.size / max(1, batch_size // self.per_clip))

    def _batch_windows(self, pcm_batch: tf.Tensor, labels: tf.Tensor, spans: tf.Tensor,
                       seed: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """``per_clip`` random window positions of each augmented clip, with their targets
        (and their class weights when ``class_weight`` is on)."""
        cfg, feat_cfg, centres, k = self.cfg, self.feat_cfg, self.centres, self.per_clip
        a = tf.ensure_shape(tf.cast(pcm_batch, tf.float32) / 32768.0, [None, cfg.clip_samples])
        # augment_audio's draws and application (no time shift), with the speed factor kept
        # to move the word spans with the resampled audio
        draws = loader.draw_audio(cfg, self.bank, tf.shape(a)[0], seed)
        audio = loader.apply_audio(a, draws, self.bank, 0)
        if draws.speed is not None:
            spans = speed_spans(spans, draws.speed, cfg.clip_samples)
        feats = features.frames(audio, feat_cfg, loader.vtlp_factors(cfg, tf.shape(a)[0], seed))
        if cfg.tempo_min is not None or cfg.time_warp:
            src, out = word_warp_points(spans, *self._warp_draws(tf.shape(a)[0], seed),
                                        feat_cfg, self.n_frames)
            feats = warp_frames(feats, src, out)
            spans = warp_spans(spans, src, out, feat_cfg, self.n_frames)
        spans = label_spans(spans, cfg.word_label_delay_ms)
        feats = features.normalize_clip(feats, feat_cfg)
        if cfg.mixstyle_prob:  # per clip, before the windows are cut
            feats = loader.mix_style(feats, cfg, feat_cfg,
                                     tf.random.experimental.stateless_fold_in(seed, 37))
        stacked = features.stack_frames(feats, feat_cfg)
        if cfg.augments_features:
            stacked = loader.spec_augment(stacked, cfg, feat_cfg,
                                          tf.random.experimental.stateless_fold_in(seed, 11))
        b = tf.shape(stacked)[0]
        pos = tf.random.stateless_uniform(
            [b, k], tf.random.experimental.stateless_fold_in(seed, 13), 0,
            tf.shape(centres)[0], tf.int32)
        x = tf.gather(stacked, pos, batch_dims=1)  # [b, k, values]
        c = tf.gather(centres, pos)  # [b, k]
        inside = (c >= spans[:, :1]) & (c < spans[:, 1:])
        y = tf.reshape(tf.where(inside, labels[:, None],
                                tf.cast(_silence_class(cfg), labels.dtype)), [-1])
        x = tf.reshape(x, [-1, tf.shape(stacked)[-1]])
        w = (None if self.class_weights is None
             else tf.gather(tf.constant(self.class_weights, tf.float32), y))
        if cfg.mixup_alpha:  # between windows of the batch, with their frame targets
            return loader.mixup(x, y, w, cfg.mixup_alpha,
                                tf.random.experimental.stateless_fold_in(seed, 41))
        if w is not None:  # Keras reads a third element as example weights
            return x, y, w
        return x, y

    def _warp_draws(self, b: tf.Tensor, seed: tf.Tensor
                    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per clip: tempo factor (1 when off), knot fraction in [0.25, 0.75] and where it
        lands (the knot moved by up to ``time_warp`` of the word, kept in [0.05, 0.95])."""
        cfg = self.cfg
        fold = tf.random.experimental.stateless_fold_in
        tempo = (tf.ones([b]) if cfg.tempo_min is None else tf.random.stateless_uniform(
            [b], fold(seed, 23), cfg.tempo_min, cfg.tempo_max))
        knot = tf.random.stateless_uniform([b], fold(seed, 29), 0.25, 0.75)
        w = float(cfg.time_warp or 0.0)
        moved = tf.clip_by_value(
            knot + tf.random.stateless_uniform([b], fold(seed, 31), -w, w), 0.05, 0.95)
        return tempo, knot, moved

    def _pipeline(self, batch_size: int, shuffle_seed: int | None, aug_seed: int
                  ) -> tf.data.Dataset:
        (pcm, labels, spans), windows = self._data, self._windows
        # shuffled indices: the order shuffling the clips themselves would give
        ds = tf.data.Dataset.range(self.y.size)
        if shuffle_seed is not None:
            ds = ds.shuffle(self.y.size, seed=shuffle_seed, reshuffle_each_iteration=False)
        ds = ds.batch(max(1, batch_size // self.per_clip))
        seeds = tf.data.Dataset.random(seed=aug_seed, rerandomize_each_iteration=False)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2)))

        def _map(index: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, ...]:
            return windows(tf.gather(pcm, index), tf.gather(labels, index),
                           tf.gather(spans, index), seed)

        return loader.sharded_prefetched(
            ds.map(_map, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))

    def epoch(self, key: int, batch_size: int, shuffle: bool = True) -> tf.data.Dataset:
        """The batches of epoch ``key``: a pure function of (data seed, key)."""
        digest = hashlib.sha1(f"{self.cfg.seed}:frames:{key}".encode()).digest()
        seed = int.from_bytes(digest[:7], "little")
        return self._pipeline(batch_size, seed if shuffle else None, seed)


__all__ = ["EVAL_STRIDE", "FrameSplit", "anchor_centres", "check_config", "clip_spans",
           "energy_span", "frame_labels", "label_spans", "speed_spans", "window_arrays",
           "warp_frames", "warp_spans", "window_class_weights", "window_count",
           "word_warp_points"]
