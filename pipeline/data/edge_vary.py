"""Word-edge variation: training words with other onsets and offsets (``[data] edge_vary``).

docs/data.md (session 7, "Which part of the word misleads the model?") found that the
ds_cnn model trusts the EDGES of a word: espeak-ng's onset of "left" sounds to it like the
real voices' "y" of "yes", its long tail of "no" like the end of "go". Hiding an edge at
training (``edge_mask``) did not help. This lever keeps the edge and varies it: for each
training example, independently at the word's onset and at its offset with probability
``edge_vary``, the outer ``edge_vary_min..edge_vary_max`` of the word (``r``):

* gets a gain ramp: ``G`` dB at the word's boundary fading linearly to 0 dB at the inner
  end of the region (``G`` uniform in ``edge_gain_min_db..edge_gain_max_db``: a softer or
  harder attack, a weaker or stronger release);
* gets a spectral tilt with the same ramp: ``T`` dB per octave around 1 kHz (``T`` uniform
  in ``+-edge_tilt_db``: a darker or brighter consonant);
* is stretched in time by ``s`` (log-uniform in ``edge_stretch_min..edge_stretch_max``),
  the rest of the word unchanged: the region ends (onset) or starts (offset) where it did
  and the silence outside the word moves by ``(s - 1) r`` of the word.

Written here, not with audiomentations (installed): its ``GainTransition``, ``TimeStretch``
and shelf / EQ filters act on a whole clip or on a randomly placed stretch of it, not on a
given part of the word, and run per clip in numpy, outside kwsq's batched ``tf.data`` graph
(each would need a ``tf.numpy_function`` per example, serialized on the GIL; its
``TimeStretch`` is a phase vocoder over the whole clip). On the log-mel frames the same
changes are a few tensor operations per batch: a gain of ``G`` dB adds
``power ln(10) G / 20`` to every log-mel bin of a frame (exact for frames well above the log
floor), a tilt adds that times ``log2(f / 1 kHz)`` per bin; both go through the front-end's
linear DCT (:func:`feature_delta`), and the clip normalization removes the delta's own
mean. A time stretch on frames keeps pitch and formants (a resampled audio region would
move them). The word is found on the features, as ``edge_mask`` finds it
(:func:`pipeline.data.loader.word_frames`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from pipeline.data import features
from pipeline.errors import KwsqError

EDGES = 2  # onset, offset


@dataclass(frozen=True)
class EdgeDraws:
    """The random choices for a batch of ``b`` examples; each ``[b, 2]`` (onset, offset)."""

    on: tf.Tensor  # bool
    fraction: tf.Tensor  # of the word's frames
    gain_db: tf.Tensor
    tilt_db: tf.Tensor  # dB per octave around 1 kHz
    stretch: tf.Tensor  # > 1: the region lasts longer


def check(feat_cfg: features.FeatureConfig) -> None:
    """Gains add to log-mel bins: log compression, and a normalization the delta survives."""
    if feat_cfg.compression != "log" or feat_cfg.normalize == "channel_var":
        raise KwsqError("edge_vary needs compression = \"log\" and a normalization other "
                        "than \"channel_var\" (its gains are added to the log-mel bins)")


def draw(cfg: Any, batch: Any, seed: tf.Tensor) -> EdgeDraws:
    """``cfg`` is the run's :class:`pipeline.data.loader.DataConfig`."""
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)
    shape = [batch, EDGES]
    lo, hi = math.log(cfg.edge_stretch_min), math.log(cfg.edge_stretch_max)
    return EdgeDraws(
        on=tf.random.stateless_uniform(shape, s[0]) < cfg.edge_vary,
        fraction=tf.random.stateless_uniform(shape, s[1], cfg.edge_vary_min, cfg.edge_vary_max),
        gain_db=tf.random.stateless_uniform(shape, s[2], cfg.edge_gain_min_db,
                                            cfg.edge_gain_max_db),
        tilt_db=tf.random.stateless_uniform(shape, s[3], -cfg.edge_tilt_db, cfg.edge_tilt_db),
        stretch=tf.exp(tf.random.stateless_uniform(shape, s[4], lo, hi)))


def mel_centres_hz(feat_cfg: features.FeatureConfig) -> tf.Tensor:
    """Centre frequency of each mel band (HTK mel, bands evenly spaced as tf.signal's)."""
    lo = 1127.0 * math.log1p(feat_cfg.lower_hz / 700.0)
    hi = 1127.0 * math.log1p(feat_cfg.upper_hz / 700.0)
    mel = tf.linspace(lo, hi, feat_cfg.num_bins + 2)[1:-1]
    return 700.0 * (tf.exp(tf.cast(mel, tf.float32) / 1127.0) - 1.0)


def feature_delta(log_mel_delta: tf.Tensor, feat_cfg: features.FeatureConfig) -> tf.Tensor:
    """What adding ``log_mel_delta`` ``[..., bins]`` to the log mel adds to the features
    before clip normalization (the front-end after the log is linear: DCT, scale)."""
    d = log_mel_delta
    if feat_cfg.kind == "mfcc":
        d = tf.signal.mfccs_from_log_mel_spectrograms(d)[..., : feat_cfg.num_mfcc]
    return d / feat_cfg.norm_scale


def word_bounds(x: tf.Tensor, feat_cfg: features.FeatureConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """First and last word frame ``[b]`` (float) of ``x`` ``[b, t, c]``."""
    from pipeline.data.loader import word_frames

    word = word_frames(x, feat_cfg)
    t = tf.shape(x)[1]
    pos = tf.range(t)[None, :]
    first = tf.reduce_min(tf.where(word, pos, t), axis=1)
    last = tf.reduce_max(tf.where(word, pos, -1), axis=1)
    last = tf.maximum(last, first)  # no word frame at all: an empty region at the end
    return tf.cast(tf.minimum(first, t - 1), tf.float32), tf.cast(tf.minimum(last, t - 1),
                                                                  tf.float32)


def stretch_positions(first: tf.Tensor, last: tf.Tensor, width: tf.Tensor,
                      stretch: tf.Tensor, frames: Any) -> tf.Tensor:
    """Input frame read by every output frame ``[b, frames]``: the onset region
    ``[first, first + w0]`` becomes ``s0 w0`` frames ending at ``first + w0``, the offset
    region ``[last - w1, last]`` becomes ``s1 w1`` frames starting at ``last - w1``; the
    word between is unchanged and everything outside moves with its edge (slope 1).
    ``width``, ``stretch`` ``[b, 2]``; an edge that is off has stretch 1."""
    t = tf.cast(tf.range(frames), tf.float32)[None, :]
    w0, w1 = width[:, :1], width[:, 1:]
    s0, s1 = stretch[:, :1], stretch[:, 1:]
    a = first[:, None] + w0  # onset anchor: stays
    b = last[:, None] - w1  # offset anchor: stays
    onset = tf.where(t >= a - s0 * w0, a - (a - t) / s0, t + (s0 - 1.0) * w0)
    offset = tf.where(t <= b + s1 * w1, b + (t - b) / s1, t - (s1 - 1.0) * w1)
    pos = tf.where(t < a, onset, tf.where(t > b, offset, t))
    return tf.clip_by_value(pos, 0.0, tf.cast(frames, tf.float32) - 1.0)


def ramps(first: tf.Tensor, last: tf.Tensor, width: tf.Tensor, frames: Any) -> tf.Tensor:
    """``[b, frames, 2]``: 1 at the word's boundary falling linearly to 0 at ``width``
    frames inside it (onset, offset), 0 outside the region and outside the word."""
    t = tf.cast(tf.range(frames), tf.float32)[None, :]
    w = tf.maximum(width, 1e-6)
    onset = tf.where(t >= first[:, None], tf.nn.relu(1.0 - (t - first[:, None]) / w[:, :1]), 0.0)
    offset = tf.where(t <= last[:, None], tf.nn.relu(1.0 - (last[:, None] - t) / w[:, 1:]), 0.0)
    return tf.stack([onset, offset], axis=2)


def apply(x: tf.Tensor, d: EdgeDraws, feat_cfg: features.FeatureConfig) -> tf.Tensor:
    """The edge variation of ``x`` ``[b, t, c]`` (per-frame features) with draws ``d``."""
    from pipeline.data.loader import interpolate_frames

    t = tf.shape(x)[1]
    first, last = word_bounds(x, feat_cfg)
    on = tf.cast(d.on, tf.float32)
    width = d.fraction * (last - first + 1.0)[:, None]  # [b, 2], frames
    # gain and tilt: log-mel deltas per edge [b, 2, bins], through the DCT, ramped in time
    octave = tf.math.log(tf.maximum(mel_centres_hz(feat_cfg), 1.0) / 1000.0) / math.log(2.0)
    nat = feat_cfg.power * math.log(10.0) / 20.0  # dB of amplitude -> log of |X|^power
    per_bin = nat * on[:, :, None] * (d.gain_db[:, :, None]
                                      + d.tilt_db[:, :, None] * octave[None, None, :])
    delta = tf.einsum("btk,bkc->btc", ramps(first, last, width, t),
                      feature_delta(per_bin, feat_cfg))
    if feat_cfg.normalize == "channel":
        delta -= tf.reduce_mean(delta, axis=1, keepdims=True)
    elif feat_cfg.normalize == "utterance":
        delta -= tf.reduce_mean(delta, axis=[1, 2], keepdims=True)
    stretch = tf.where(d.on, d.stretch, 1.0)
    return interpolate_frames(x + delta, stretch_positions(first, last, width, stretch, t))


def edge_vary(feats: tf.Tensor, cfg: Any, feat_cfg: features.FeatureConfig,
              seed: tf.Tensor) -> tf.Tensor:
    """:func:`apply` with draws from ``seed``; works on ``[b, frames, coeffs]`` and on
    stacked inputs ``[b, frames * coeffs]``."""
    shape = tf.shape(feats)
    x = tf.reshape(feats, [shape[0], -1, feat_cfg.coefficients])
    return tf.reshape(apply(x, draw(cfg, tf.shape(x)[0], seed), feat_cfg), shape)
