"""[data] edge_vary: gain ramp, spectral tilt and time stretch at the word's onset / offset."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

from pipeline.data import edge_vary as E
from pipeline.data import features as F
from pipeline.data import loader as D
from pipeline.errors import KwsqError


def _mfcc_channel() -> F.FeatureConfig:
    return dataclasses.replace(F.mlperf_tiny_mfcc(), normalize="channel")


def _numpy_edge_vary(x: np.ndarray, d: dict, feat: F.FeatureConfig) -> np.ndarray:
    """The edge variation written out per example: word bounds from the first coefficient
    (a quarter of the way from the median to the loudest frame), log-mel deltas in dB
    through scipy's DCT-II, the ramps, the clip normalization, then the stretch as a
    piecewise-linear map through its knots (np.interp) read by linear interpolation."""
    b, t, c = x.shape
    n = feat.num_bins
    mel = np.linspace(1127 * np.log1p(feat.lower_hz / 700), 1127 * np.log1p(feat.upper_hz / 700),
                      n + 2)[1:-1]
    octave = np.log2(700 * (np.exp(mel / 1127) - 1) / 1000)
    out = np.zeros_like(x)
    frames = np.arange(t, dtype=np.float64)
    for i in range(b):
        e = x[i, :, 0]
        word = np.flatnonzero(e >= np.sort(e)[t // 2] + 0.25 * (e.max() - np.sort(e)[t // 2]))
        first, last = float(word[0]), float(word[-1])
        w = d["fraction"][i] * (last - first + 1)
        y = x[i].astype(np.float64)
        for k, edge in enumerate((first, last)):
            if not d["on"][i, k]:
                continue
            db = d["gain_db"][i, k] + d["tilt_db"][i, k] * octave  # per mel band
            log_mel = feat.power * np.log(10) / 20 * db
            coeffs = scipy.fft.dct(log_mel, type=2)[:c] / np.sqrt(2 * n) / feat.norm_scale
            ramp = np.clip(1 - np.abs(frames - edge) / w[k], 0, 1)
            ramp[(frames < first) | (frames > last)] = 0
            delta = ramp[:, None] * coeffs[None, :]
            y += delta - delta.mean(axis=0)
        s = np.where(d["on"][i], d["stretch"][i], 1.0)
        a, bb = first + w[0], last - w[1]
        big = 1000.0
        out_knots = [a - s[0] * w[0] - big, a - s[0] * w[0], a, bb, bb + s[1] * w[1],
                     bb + s[1] * w[1] + big]
        in_knots = [first - big, first, a, bb, last, last + big]
        pos = np.clip(np.interp(frames, out_knots, in_knots), 0, t - 1)
        out[i] = np.stack([np.interp(pos, frames, y[:, j]) for j in range(c)], axis=1)
    return out


def _words(b: int, t: int, c: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.2, size=(b, t, c)).astype(np.float32)
    for i in range(b):  # a loud word: high first coefficient
        start, length = rng.integers(3, 15), rng.integers(12, 28)
        x[i, start : start + length, 0] += 10.0
    return x


def test_edge_vary_matches_a_numpy_reference():
    cfg = D.DataConfig("x", edge_vary=0.7)
    feat = _mfcc_channel()
    x = _words(48, 49, 10, 5)
    d = E.draw(cfg, 48, tf.constant([7, 8], tf.int64))
    got = E.apply(tf.constant(x), d, feat).numpy()
    draws = {k: v.numpy() for k, v in dataclasses.asdict(d).items()}
    assert 0 < draws["on"].mean() < 1  # some edges varied, some not
    np.testing.assert_allclose(got, _numpy_edge_vary(x, draws, feat), atol=2e-4)
    changed = np.abs(got - x).max(axis=(1, 2)) > 1e-3
    np.testing.assert_array_equal(changed, draws["on"].any(axis=1))  # off: untouched


def test_stretch_moves_only_the_edge_region_and_the_silence_beyond():
    """An onset stretched by 2: frames from the region's inner end on stay where they were;
    the word's first frame moves earlier by the region's width."""
    feat = _mfcc_channel()
    x = np.zeros((1, 49, 10), np.float32)
    x[0, 20:40, 0] = 10.0
    x[0, :, 1] = np.arange(49)  # a clock: which input frame each output frame reads
    d = E.EdgeDraws(on=tf.constant([[True, False]]), fraction=tf.constant([[0.25, 0.1]]),
                    gain_db=tf.zeros([1, 2]), tilt_db=tf.zeros([1, 2]),
                    stretch=tf.constant([[2.0, 1.0]]))
    clock = E.apply(tf.constant(x), d, feat).numpy()[0, :, 1]
    np.testing.assert_allclose(clock[25:], np.arange(25, 49), atol=1e-5)  # a = 20 + 5
    np.testing.assert_allclose(clock[15:25], 20 + (np.arange(15, 25) - 15) / 2, atol=1e-5)
    np.testing.assert_allclose(clock[5:15], np.arange(5, 15) + 5, atol=1e-5)


def test_a_gain_in_db_is_what_the_front_end_computes():
    """feature_delta of the log-mel gain equals the change of the real front-end's
    (unnormalized) MFCC when the clip is made louder by that many dB."""
    feat = F.mlperf_tiny_mfcc()
    rng = np.random.default_rng(2)
    audio = (0.1 * rng.normal(size=(1, 16000))).astype(np.float32)
    gain_db = -9.0
    diff = (F.frames(audio * 10 ** (gain_db / 20), feat) - F.frames(audio, feat)).numpy()
    want = E.feature_delta(tf.fill([feat.num_bins], feat.power * np.log(10) / 20 * gain_db),
                           feat).numpy()
    np.testing.assert_allclose(diff[0], np.broadcast_to(want, diff[0].shape), atol=1e-3)


def test_mel_centres_are_the_peaks_of_the_filterbank():
    feat = dataclasses.replace(F.mlperf_tiny_mfcc(), num_bins=40)
    fft_hz = np.linspace(0, feat.sample_rate / 2, feat.fft_length // 2 + 1)
    peaks = fft_hz[np.argmax(F.mel_matrix(feat).numpy(), axis=0)]
    step = fft_hz[1]
    np.testing.assert_allclose(E.mel_centres_hz(feat).numpy(), peaks, atol=step)


def test_edge_vary_options_are_checked_and_left_out_when_off():
    assert not set(D.EDGE_VARY_KEYS) & set(D.DataConfig("x").to_dict())
    assert set(D.EDGE_VARY_KEYS) <= set(D.DataConfig("x", edge_vary=0.5).to_dict())
    for bad in ({"edge_vary": 1.5}, {"edge_vary": 0.5, "edge_vary_max": 0.6},
                {"edge_vary": 0.5, "edge_stretch_min": 2.0}):
        with pytest.raises(KwsqError, match="edge_vary"):
            D.DataConfig("x", **bad)
    with pytest.raises(KwsqError, match="edge_vary"):
        E.check(dataclasses.replace(_mfcc_channel(), normalize="channel_var"))


def test_augmented_features_apply_the_edge_variation(tiny_corpus: Path) -> None:
    """The training chain varies the word edges when edge_vary is set, and only then."""
    feat = _mfcc_channel()
    quiet = {"noise_prob": 0.0, "time_shift_ms": 0.0, "gain_min_db": 0.0, "gain_max_db": 0.0}
    plain = D.DataConfig(str(tiny_corpus), **quiet)
    on = D.DataConfig(str(tiny_corpus), edge_vary=1.0, **quiet)
    bank = D._noise_bank(D.run_noises(plain), plain.clip_samples)
    pcm, _ = D.cached_audio(plain, "training")
    pcm = tf.constant(pcm[:8])
    seed = tf.constant([1, 2], tf.int64)
    a = D.augmented_features(pcm, seed, plain, feat, bank).numpy()
    b = D.augmented_features(pcm, seed, on, feat, bank).numpy()
    want = E.edge_vary(tf.constant(a), on, feat,
                       tf.random.experimental.stateless_fold_in(seed, 43)).numpy()
    np.testing.assert_allclose(b, want, atol=1e-4)
    assert np.abs(b - a).max() > 0.1
