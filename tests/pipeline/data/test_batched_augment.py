"""The batched augmentation (one vectorized pass per batch) against a plain per-clip numpy
reference given the same random draws, the draws' distributions, the frames-only path of
stacked features, and the epoch pipeline against its per-batch definition."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import features, loader

N = 16000


def _bank(rng: np.random.Generator) -> tuple[list[np.ndarray], tuple]:
    noises = [0.05 * rng.standard_normal(N + 3000).astype(np.float32),
              0.3 * rng.standard_normal(3 * N).astype(np.float32)]
    return noises, loader._noise_bank(noises, N)


def _numpy_eq(clip: np.ndarray, tilt: float, peak_db: float, peak_oct: float, hp: float,
              lp: float) -> np.ndarray:
    """The random EQ of one clip, written out with numpy's FFT."""
    f = np.linspace(0.0, 8000.0, N // 2 + 1)
    octave = np.log2(np.maximum(f, 20.0) / 1000.0)
    gain_db = tilt * np.clip(octave, -3.0, 3.0)
    gain_db += peak_db * np.exp(-0.5 * ((octave - peak_oct) / 0.5) ** 2)
    fc = np.maximum(f, 1.0)
    gain_db -= 12.0 * (np.maximum(np.log2(hp / fc), 0.0) + np.maximum(np.log2(fc / lp), 0.0))
    out = np.fft.irfft(np.fft.rfft(clip.astype(np.float64)) * 10 ** (gain_db / 20.0), n=N)
    rms_in = np.sqrt(np.mean(clip.astype(np.float64) ** 2) + 1e-12)
    return out * rms_in / np.sqrt(np.mean(out**2) + 1e-12)


def _resample(clip: np.ndarray, factor: np.float32) -> np.ndarray:
    """Linear interpolation at ``c + (j - c) * factor`` (c the centre), 0 outside the clip.
    Positions in float32 like the pipeline's (their rounding, ~1e-3 samples at 8,000, is
    part of the method), the rest in float64."""
    c = np.float32((N - 1) / 2.0)
    pos = (c + (np.arange(N, dtype=np.float32) - c) * np.float32(factor)).astype(np.float64)
    return np.where((pos >= 0) & (pos <= N - 1), np.interp(pos, np.arange(N), clip), 0.0)


def _numpy_augment(audio: np.ndarray, d: loader.AudioDraws, flat: np.ndarray) -> np.ndarray:
    """augment_audio, one clip at a time, from the draws (float64 numpy)."""
    out = np.zeros_like(audio, np.float64)
    for r, clip in enumerate(audio.astype(np.float64)):
        if d.speed is not None:
            clip = _resample(clip, d.speed.numpy()[r])
        k = int(d.shift.numpy()[r])
        moved = np.zeros(N)
        if k >= 0:
            moved[k:] = clip[: N - k]
        else:
            moved[:k] = clip[-k:]
        x = moved * 10 ** (float(d.gain_db.numpy()[r]) / 20.0)
        if d.noise_on.numpy()[r]:
            first = int(d.noise_first.numpy()[r])
            chunk = flat[first : first + N].astype(np.float64)
            p_sig = max(np.mean(x**2), 0.01)
            p_noise = np.mean(chunk**2) + 1e-12
            x = x + chunk * np.sqrt(p_sig / (p_noise * 10 ** (float(d.snr_db.numpy()[r]) / 10)))
        if d.eq is not None and d.eq.on.numpy()[r]:
            x = _numpy_eq(x, *(float(t.numpy()[r]) for t in (
                d.eq.tilt_db, d.eq.peak_db, d.eq.peak_octave, d.eq.highpass_hz,
                d.eq.lowpass_hz)))
        out[r] = np.clip(x, -1.0, 1.0)
    return out


OPTIONS = {
    "defaults": {},
    "speed": {"speed_min": 0.85, "speed_max": 1.15, "noise_prob": 0.5},
    "all": {"speed_min": 0.85, "speed_max": 1.15, "noise_prob": 0.5, "filter_prob": 0.5,
            "snr_min_db": 5.0},
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_batched_audio_augmentation_equals_the_per_clip_reference(name):
    rng = np.random.default_rng(3)
    noises, bank = _bank(rng)
    # a tone burst (so speed and EQ act on something), one near-silent clip (the -20 dBFS
    # noise reference), one loud clip (clipping)
    t = np.arange(N) / 16000.0
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.abs(t - 0.5) < 0.3)
             + 0.02 * rng.standard_normal((12, N))).astype(np.float32)
    audio[1] *= 1e-3
    audio[2] *= 4.0
    cfg = loader.DataConfig("unused", **OPTIONS[name])
    seed = tf.constant([11, 12], tf.int64)
    d = loader.draw_audio(cfg, bank, 12, seed)
    got = loader.augment_audio(tf.constant(audio), cfg, bank, seed).numpy()
    np.testing.assert_allclose(got, _numpy_augment(audio, d, np.concatenate(noises)),
                               atol=2e-5)
    # the draws were not all trivial: some clips with noise (and at p = 0.5 some without)
    assert 0 < int(np.sum(d.noise_on.numpy())) < (12 if cfg.noise_prob <= 0.5 else 13)
    if d.eq is not None:
        assert 0 < int(np.sum(d.eq.on.numpy())) < 12


def test_speed_perturb_alone_equals_the_reference_resampling():
    rng = np.random.default_rng(4)
    audio = rng.standard_normal((6, N)).astype(np.float32)
    cfg = loader.DataConfig("unused", speed_min=0.8, speed_max=1.2)
    seed = tf.constant([1, 5], tf.int64)
    factor = tf.random.stateless_uniform([6], seed, 0.8, 1.2).numpy()
    got = loader.speed_perturb(tf.constant(audio), cfg, seed).numpy()
    for r in range(6):
        np.testing.assert_allclose(got[r], _resample(audio[r].astype(np.float64), factor[r]),
                                   atol=1e-5)


def test_random_filter_alone_equals_the_numpy_eq_on_the_chosen_clips():
    rng = np.random.default_rng(5)
    audio = (0.1 * rng.standard_normal((10, N))).astype(np.float32)
    cfg = loader.DataConfig("unused", filter_prob=0.5)
    seed = tf.constant([8, 9], tf.int64)
    d = loader.draw_eq(cfg, 10, seed)
    got = loader.random_filter(tf.constant(audio), cfg, seed).numpy()
    on = d.on.numpy()
    assert 0 < on.sum() < 10
    for r in range(10):
        want = (_numpy_eq(audio[r], *(float(t.numpy()[r]) for t in (
            d.tilt_db, d.peak_db, d.peak_octave, d.highpass_hz, d.lowpass_hz)))
            if on[r] else audio[r])
        np.testing.assert_allclose(got[r], want, atol=2e-6)


def test_draws_follow_the_configured_distributions():
    rng = np.random.default_rng(6)
    noises, bank = _bank(rng)
    cfg = loader.DataConfig("unused", noise_prob=0.3, filter_prob=0.6, speed_min=0.9,
                            speed_max=1.2, snr_min_db=2.0, snr_max_db=12.0,
                            gain_min_db=-3.0, gain_max_db=5.0, time_shift_ms=50.0)
    b = 4000
    d = loader.draw_audio(cfg, bank, b, tf.constant([2, 3], tf.int64))
    shift = d.shift.numpy()
    assert shift.min() == -800 and shift.max() == 800  # 50 ms, both ends reachable
    assert abs(shift.mean()) < 3 * 462 / math.sqrt(b)  # sd of U{-800..800} is ~462

    def uniform(x: np.ndarray, lo: float, hi: float) -> None:
        assert lo <= x.min() and x.max() <= hi
        # mean and spread of a uniform distribution, within 4 standard errors
        assert abs(x.mean() - (lo + hi) / 2) < 4 * (hi - lo) / math.sqrt(12 * b)
        assert abs(x.std() - (hi - lo) / math.sqrt(12)) < 0.05 * (hi - lo)

    uniform(d.gain_db.numpy(), -3.0, 5.0)
    uniform(d.speed.numpy(), 0.9, 1.2)
    uniform(d.snr_db.numpy(), 2.0, 12.0)
    uniform(d.eq.peak_db.numpy(), -10.0, 10.0)
    uniform(d.eq.highpass_hz.numpy(), 20.0, 300.0)
    uniform(d.eq.lowpass_hz.numpy(), 3400.0, 8000.0)

    def share(on: np.ndarray, p: float) -> None:
        assert abs(on.mean() - p) < 4 * math.sqrt(p * (1 - p) / b)

    share(d.noise_on.numpy(), 0.3)
    share(d.eq.on.numpy(), 0.6)
    # every noise chunk lies inside one file; both files are used
    first = d.noise_first.numpy()
    ends = np.cumsum([n.size for n in noises])
    starts = ends - [n.size for n in noises]
    inside = [(s <= first) & (first + N <= e) for s, e in zip(starts, ends, strict=True)]
    assert np.all(inside[0] | inside[1]) and inside[0].any() and inside[1].any()
    # off options draw nothing
    plain = loader.draw_audio(loader.DataConfig("unused"), bank, 8, tf.constant([1, 1]))
    assert plain.speed is None and plain.eq is None


@pytest.mark.parametrize("kind", ["lfbe", "mfcc"])
def test_stacked_features_computed_on_the_window_frames_only_equal_all_frames_picked(kind):
    cfg = features.FeatureConfig(kind=kind, num_bins=20, left_context=20, right_context=10,
                                 stack_stride=3)
    audio = tf.constant(0.1 * np.random.default_rng(7).standard_normal((5, N)), tf.float32)
    warp = tf.constant([0.9, 1.0, 1.1, 0.95, 1.05])
    for w in (None, warp):
        every = features.frames(audio, cfg, w).numpy()
        start = features.clip_window_start(cfg)
        want = every[:, start : start + cfg.stack_span : cfg.stack_stride].reshape(5, -1)
        np.testing.assert_allclose(features.compute(audio, cfg, w).numpy(), want, atol=1e-5)
    # per-clip normalization still sees every frame of the clip
    norm = dataclasses.replace(cfg, normalize="channel")
    every = features.normalize_clip(features.frames(audio, norm), norm).numpy()
    want = every[:, start : start + cfg.stack_span : cfg.stack_stride].reshape(5, -1)
    np.testing.assert_allclose(features.compute(audio, norm).numpy(), want, atol=1e-5)


EVERY_OPTION = {"filter_prob": 0.5, "speed_min": 0.9, "speed_max": 1.1, "vtlp_min": 0.9,
                "vtlp_max": 1.1, "tempo_min": 0.9, "tempo_max": 1.1, "time_masks": 1,
                "freq_masks": 1}
SVD_FEATURES = features.FeatureConfig(num_bins=20, left_context=20, right_context=10,
                                      stack_stride=3)


@pytest.mark.parametrize(("options", "feat_cfg"), [
    (EVERY_OPTION, features.mlperf_tiny_mfcc()), ({}, SVD_FEATURES)],
    ids=["all-mfcc", "defaults-stacked"])
def test_epoch_batches_are_the_batched_augmentation_of_consecutive_clips(
        tiny_corpus, tmp_path, options, feat_cfg):
    cfg = loader.DataConfig(str(tiny_corpus), cache_dir=str(tmp_path), class_weight="balanced",
                            **options)
    split = loader.AugmentedSplit(cfg, feat_cfg, "training")
    batches = list(split.epoch(4, 16, shuffle=False))
    assert len(batches) == split.batches(16)
    seeds = list(tf.data.Dataset.random(seed=loader._epoch_seed(cfg.seed, 4)).batch(2)
                 .take(len(batches)))
    for i, (x, y, w) in enumerate(batches):
        rows = slice(16 * i, 16 * (i + 1))
        want = loader.augmented_features(tf.constant(split.pcm[rows]), seeds[i], cfg, feat_cfg,
                                         split.bank)
        # graph vs eager float order: a few MFCC of near-floor log energies move by ~1e-4;
        # another clip or another seed would move every value by ~1
        diff = np.abs(x.numpy() - want.numpy())
        assert diff.max() < 2e-3 and diff.mean() < 1e-5
        np.testing.assert_array_equal(y.numpy(), split.y[rows])
        np.testing.assert_allclose(w.numpy(), split.class_weights[split.y[rows]])
    # shuffled epochs: a pure function of the key, a permutation of the split
    one = np.concatenate([b[1].numpy() for b in split.epoch(5, 16)])
    again = np.concatenate([b[1].numpy() for b in split.epoch(5, 16)])
    np.testing.assert_array_equal(one, again)
    np.testing.assert_array_equal(np.sort(one), np.sort(split.y))
