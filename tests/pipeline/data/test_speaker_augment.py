"""Speaker augmentation (VTLP filterbank warp, tempo) and mean-variance normalization, checked
against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import features, loader
from pipeline.errors import KwsqError


def _numpy_warp(f: np.ndarray, alpha: float, boundary: float, nyquist: float) -> np.ndarray:
    """Jaitly and Hinton's piecewise-linear warp, written out per frequency."""
    knee = boundary * min(alpha, 1.0) / alpha
    out = np.empty_like(f)
    for i, hz in enumerate(f):
        if hz <= knee:
            out[i] = alpha * hz
        else:  # the line through (knee, alpha * knee) and (nyquist, nyquist)
            out[i] = alpha * knee + (hz - knee) * (nyquist - alpha * knee) / (nyquist - knee)
    return out


def _numpy_warped_mel(cfg: features.FeatureConfig, alpha: float, boundary: float = 4800.0
                      ) -> np.ndarray:
    nyquist = cfg.sample_rate / 2
    hz = np.linspace(0.0, nyquist, cfg.fft_length // 2 + 1)
    mel = 1127.0 * np.log(1.0 + _numpy_warp(hz, alpha, boundary, nyquist) / 700.0)
    edges = np.linspace(1127.0 * np.log(1.0 + cfg.lower_hz / 700.0),
                        1127.0 * np.log(1.0 + cfg.upper_hz / 700.0), cfg.num_bins + 2)
    w = np.zeros((hz.size, cfg.num_bins))
    for m in range(cfg.num_bins):
        lo, c, hi = edges[m : m + 3]
        for k in range(1, hz.size):  # the DC bin feeds no filter
            if lo < mel[k] <= c:
                w[k, m] = (mel[k] - lo) / (c - lo)
            elif c < mel[k] < hi:
                w[k, m] = (hi - mel[k]) / (hi - c)
    return w


@pytest.mark.parametrize("cfg", [features.mlperf_tiny_mfcc(), features.FeatureConfig()],
                         ids=["mfcc", "lfbe"])
def test_warped_filterbank_matches_numpy_and_is_the_plain_one_at_alpha_1(cfg):
    alphas = [0.85, 1.0, 1.15]
    got = features.warped_mel_matrix(cfg, tf.constant(alphas)).numpy()
    assert got.shape == (3, cfg.fft_length // 2 + 1, cfg.num_bins)
    for i, a in enumerate(alphas):
        np.testing.assert_allclose(got[i], _numpy_warped_mel(cfg, a), atol=2e-4)
    np.testing.assert_allclose(got[1], features.mel_matrix(cfg).numpy(), atol=1e-5)


def test_warp_keeps_the_ends_and_is_continuous_and_increasing():
    hz = np.linspace(0, 8000, 2001, dtype=np.float32)
    for a in (0.8, 0.9, 1.1, 1.2):
        w = features.vtlp_warp(hz, tf.constant([a]), 4800.0, 8000.0).numpy()[0]
        np.testing.assert_allclose(w, _numpy_warp(hz, a, 4800.0, 8000.0), rtol=1e-5, atol=1e-2)
        assert w[0] == 0 and abs(w[-1] - 8000.0) < 1e-2
        # increasing, no jump at the knee (both slopes are under 1.5 for these factors)
        assert np.all(np.diff(w) > 0) and np.max(np.diff(w)) < 4 * 1.5
        assert abs(w[400] - a * hz[400]) < 1e-2  # 1.6 kHz: below the knee


def test_a_warped_tone_lands_in_the_filter_of_alpha_times_its_frequency():
    cfg = features.FeatureConfig()  # LFBE, 40 bins up to 7.6 kHz: narrow filters at 1 kHz
    t = np.arange(16000) / 16000.0

    def tone(hz):
        return np.sin(2 * np.pi * hz * t).astype(np.float32)[None, :]

    warped = features.mel_energies(tone(1000.0), cfg, tf.constant([1.15])).numpy()[0]
    moved = features.mel_energies(tone(1150.0), cfg).numpy()[0]
    plain = features.mel_energies(tone(1000.0), cfg).numpy()[0]
    assert np.argmax(warped.mean(0)) == np.argmax(moved.mean(0))
    assert np.argmax(warped.mean(0)) > np.argmax(plain.mean(0))
    # the plain path is untouched by the option: warp None == the tf.signal matrix
    np.testing.assert_allclose(
        features.compute(tone(1000.0), cfg, tf.constant([1.0])).numpy(),
        features.compute(tone(1000.0), cfg).numpy(), rtol=1e-4, atol=1e-4)


def test_vtlp_config_is_off_by_default_and_draws_one_factor_per_clip():
    assert "vtlp_min" not in loader.DataConfig("x").to_dict()
    assert loader.vtlp_factors(loader.DataConfig("x"), 4, tf.constant([1, 2])) is None
    cfg = loader.DataConfig("x", vtlp_min=0.9, vtlp_max=1.1)
    assert cfg.to_dict()["vtlp_max"] == 1.1
    f = loader.vtlp_factors(cfg, 500, tf.constant([1, 2], tf.int64)).numpy()
    assert f.shape == (500,) and 0.9 <= f.min() < 0.92 and 1.08 < f.max() <= 1.1
    for bad in ({"vtlp_min": 0.9}, {"vtlp_min": 1.1, "vtlp_max": 0.9},
                {"vtlp_min": 0.3, "vtlp_max": 1.0}):
        with pytest.raises(KwsqError, match="vtlp"):
            loader.DataConfig("x", **bad)


def test_tempo_perturbation_resamples_frames_like_numpy_interp():
    cfg = loader.DataConfig("x", tempo_min=0.7, tempo_max=1.3)
    feat_cfg = features.mlperf_tiny_mfcc()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 49, 10)).astype(np.float32)
    seed = tf.constant([7, 8], tf.int64)
    out = loader.tempo_perturb(tf.constant(x), cfg, feat_cfg, seed).numpy()
    factors = tf.random.stateless_uniform([16, 1], seed, 0.7, 1.3).numpy()[:, 0]
    assert factors.min() < 0.8 and factors.max() > 1.2
    t = np.arange(49, dtype=np.float64)
    for i, f in enumerate(factors):
        pos = np.clip(24.0 + (t - 24.0) * f, 0, 48)
        want = np.stack([np.interp(pos, t, x[i, :, c]) for c in range(10)], axis=1)
        np.testing.assert_allclose(out[i], want, atol=1e-4)  # float32 positions
    # stacked inputs are frames x coefficients too; the option is off by default
    flat = loader.tempo_perturb(tf.constant(x.reshape(16, -1)), cfg, feat_cfg, seed).numpy()
    np.testing.assert_allclose(flat.reshape(16, 49, 10), out, atol=1e-6)
    assert "tempo_min" not in loader.DataConfig("x").to_dict()
    for bad in ({"tempo_max": 1.1}, {"tempo_min": 1.2, "tempo_max": 1.1},
                {"tempo_min": 0.4, "tempo_max": 1.1}):
        with pytest.raises(KwsqError, match="tempo"):
            loader.DataConfig("x", **bad)


def test_channel_variance_normalization_matches_numpy_and_ignores_gain_and_scale():
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(4, 49, 10)).astype(np.float32)
    x[3] = 5.0  # a constant clip: the floor keeps it at 0, not NaN
    cfg = features.FeatureConfig(kind="mfcc", window_ms=30.0, hop_ms=20.0,
                                 normalize="channel_var")
    got = features.normalize_clip(tf.constant(x), cfg).numpy()
    centred = x - x.mean(axis=1, keepdims=True)
    want = centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-2)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.all(got[3] == 0)
    # an offset and a per-coefficient scale (a channel's colouring and dynamics) vanish
    moved = features.normalize_clip(tf.constant(x[:3] * 2.5 + 7.0), cfg).numpy()
    np.testing.assert_allclose(moved, got[:3], atol=1e-4)
    assert cfg.to_dict()["normalize"] == "channel_var"


def test_ds_cnn_cross_preset_is_the_measured_recipe_and_trains(tiny_corpus, tmp_path):
    """The preset resolves to the recipe of docs/data.md's final cross-family table, a config
    file's [features] still wins over it, and one epoch of it trains (VTLP, tempo and the
    masks in the augmented pipeline)."""
    import argparse

    from pipeline.cli import main as kwsq
    from pipeline.train import training

    p = argparse.ArgumentParser()
    training.add_arguments(p)
    args = p.parse_args(["--run", str(tmp_path / "r"), "--data", str(tiny_corpus),
                         "--preset", "ds_cnn_cross"])
    config = training.resolve_config(args)
    assert config.model == "ds_cnn" and config.batch_size == 50
    assert [(st.name, st.epochs, st.decay_rest) for st in config.stages] == [
        ("float", 60, 1.05)]
    assert config.features["normalize"] == "channel"
    d = config.data
    assert (d["vtlp_min"], d["vtlp_max"], d["tempo_min"], d["tempo_max"]) == (
        0.85, 1.15, 0.7, 1.3)
    assert (d["time_masks"], d["time_mask_max"], d["freq_masks"], d["freq_mask_max"]) == (
        2, 4, 1, 2)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[features]\nnormalize = "fixed"\n')
    args = p.parse_args(["--run", str(tmp_path / "r"), "--data", str(tiny_corpus),
                         "--preset", "ds_cnn_cross", "--config", str(cfg)])
    assert "normalize" not in training.resolve_config(args).features
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(tmp_path / "t"),
                 "--preset", "ds_cnn_cross", "--float-epochs", "1", "--batch-size", "32"]) == 0
