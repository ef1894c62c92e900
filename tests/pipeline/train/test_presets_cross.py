"""Cross-family presets carry the measured training-side levers (MixStyle): the keys reach the
run's data config, and the training split built from it mixes the examples' statistics (the
behaviour itself is tested against numpy in tests/pipeline/data/test_data.py)."""

from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

from pipeline.data import features as F
from pipeline.data import loader as D
from pipeline.train import training


def _config(tiny_corpus, tmp_path, preset: str) -> training.RunConfig:
    p = argparse.ArgumentParser()
    training.add_arguments(p)
    return training.resolve_config(p.parse_args(
        ["--run", str(tmp_path / "r"), "--data", str(tiny_corpus), "--preset", preset]))


def test_ds_cnn_cross_mixes_the_feature_statistics(tiny_corpus, tmp_path):
    config = _config(tiny_corpus, tmp_path, "ds_cnn_cross")
    data = D.DataConfig.from_dict(config.data)
    assert (data.mixstyle_prob, data.mixstyle_alpha) == (0.4, 0.3)
    feat = F.FeatureConfig.from_dict(config.features)
    quiet = {"noise_prob": 0.0, "filter_prob": 0.0, "time_shift_ms": 0.0, "gain_min_db": 0.0,
             "gain_max_db": 0.0, "time_masks": 0, "freq_masks": 0}
    on = D.DataConfig.from_dict({**config.data, **quiet})
    off = D.DataConfig.from_dict({**config.data, **quiet, "mixstyle_prob": 0.0})
    rng = np.random.default_rng(0)
    pcm = tf.constant((rng.normal(0, 1, (32, 16000)) * rng.uniform(300, 6000, (32, 1))
                       ).astype(np.int16))
    seed = tf.constant([9, 9], tf.int64)
    bank = D._noise_bank(D.run_noises(on), on.clip_samples)
    a = D.augmented_features(pcm, seed, off, feat, bank).numpy()
    b = D.augmented_features(pcm, seed, on, feat, bank).numpy()
    changed = np.abs(b - a).max(axis=(1, 2)) > 1e-3
    assert 3 <= changed.sum() <= 25  # about 40 % of 32 (a partner may be itself)
