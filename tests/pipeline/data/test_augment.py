"""Cross-family splits, SpecAugment, random filtering, per-clip normalization, audio cache."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from pipeline.data import features, loader
from pipeline.data.gsc import speaker_of, split_files
from pipeline.errors import KwsqError


def _families(corpus) -> dict[str, str]:
    with (corpus / "speakers.csv").open(newline="") as f:
        return {row["hash"]: row["family"] for row in csv.DictReader(f)}


def test_holdout_split_is_every_clip_of_the_family_and_only_there(tiny_corpus):
    fam = _families(tiny_corpus)
    cfg = loader.DataConfig(str(tiny_corpus), label_mode="wake", keyword="marvin",
                            silence_fraction=0.0, holdout_family="flite")
    held = loader.load_audio(cfg, loader.HOLDOUT)[2]
    expected = sorted(rel for split in split_files(tiny_corpus).values()
                      for rels in split.values() for rel in rels
                      if fam[speaker_of(rel)] == "flite")
    assert sorted(m["file"] for m in held) == expected
    for split in ("training", "validation", "testing"):
        meta = loader.load_audio(cfg, split)[2]
        assert meta and all(fam[m["speaker"]] != "flite" for m in meta)


def test_holdout_needs_a_family_the_corpus_has(tiny_corpus):
    cfg = loader.DataConfig(str(tiny_corpus), holdout_family="marsian")
    with pytest.raises(KwsqError, match="no speakers of family 'marsian'"):
        loader.load_audio(cfg, "training")
    with pytest.raises(KwsqError, match="needs a holdout_family"):
        loader.load_audio(loader.DataConfig(str(tiny_corpus)), loader.HOLDOUT)


def test_cached_audio_is_the_loaded_audio_as_pcm(tiny_corpus, tmp_path):
    cfg = loader.DataConfig(str(tiny_corpus), cache_dir=str(tmp_path))
    audio, y, _, _ = loader.load_audio(cfg, "validation")
    pcm, y2 = loader.cached_audio(cfg, "validation")
    assert list(tmp_path.glob("validation-audio-*.npz"))
    pcm_again, _ = loader.cached_audio(cfg, "validation")  # from the cache file
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(pcm, pcm_again)
    np.testing.assert_allclose(pcm / 32768.0, audio, atol=1 / 32768.0)


def test_spec_augment_masks_whole_frames_and_bins_with_the_example_mean():
    feat_cfg = features.FeatureConfig(num_bins=20)
    cfg = loader.DataConfig("unused", time_masks=2, time_mask_max=8, freq_masks=1,
                            freq_mask_max=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 98, 20)).astype(np.float32) + 5.0
    out = loader.spec_augment(tf.constant(x), cfg, feat_cfg,
                              tf.constant([1, 2], tf.int64)).numpy()
    changed = out != x
    for i in range(16):
        mean = x[i].mean()
        np.testing.assert_allclose(out[i][changed[i]], mean, rtol=1e-5)
        rows = changed[i].all(axis=1)  # masked frames: every bin
        cols = changed[i].all(axis=0)  # masked bins: every frame
        assert rows.sum() <= 16 and cols.sum() <= 3
        # nothing is masked outside those whole rows and columns
        assert not (changed[i] & ~rows[:, None] & ~cols[None, :]).any()
    assert changed.any(axis=(1, 2)).sum() >= 12  # most examples got a mask


def test_spec_augment_on_stacked_inputs_masks_frames_of_the_stack():
    feat_cfg = features.FeatureConfig(num_bins=20, left_context=20, right_context=10,
                                      stack_stride=3)
    cfg = loader.DataConfig("unused", time_masks=1, time_mask_max=5)
    x = np.arange(4 * 620, dtype=np.float32).reshape(4, 620)
    out = loader.spec_augment(tf.constant(x), cfg, feat_cfg,
                              tf.constant([3, 4], tf.int64)).numpy()
    changed = (out != x).reshape(4, 31, 20)
    for i in range(4):
        frames = changed[i].any(axis=1)
        assert (changed[i][frames]).all()  # whole frames of 20 bins
        if frames.any():  # one contiguous run of at most 5 frames
            idx = np.flatnonzero(frames)
            assert idx[-1] - idx[0] + 1 == idx.size <= 5


def _band_db(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1 / 16000)
    return 10 * np.log10(spec[:, (f >= lo) & (f < hi)].mean(axis=1))


def test_random_filter_keeps_the_level_and_changes_the_colour():
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((64, 16000))).astype(np.float32)
    cfg = loader.DataConfig("unused", filter_prob=1.0, filter_max_db=12.0)
    y = loader.random_filter(tf.constant(x), cfg, tf.constant([5, 6], tf.int64)).numpy()
    np.testing.assert_allclose(np.sqrt((y**2).mean(1)), np.sqrt((x**2).mean(1)), rtol=1e-3)
    # each clip's spectrum balance moved, by different amounts
    tilt_in = _band_db(x, 3000, 3400) - _band_db(x, 500, 900)
    tilt_out = _band_db(y, 3000, 3400) - _band_db(y, 500, 900)
    moved = np.abs(tilt_out - tilt_in)
    assert np.median(moved) > 1.0 and moved.std() > 1.0
    # a band limit: nothing in the filtered clips is louder above 7.9 kHz than the input
    assert (_band_db(y, 7900, 8000) <= _band_db(x, 7900, 8000) + 3.0).all()


def test_random_filter_probability_picks_about_that_share_of_clips():
    rng = np.random.default_rng(2)
    x = (0.1 * rng.standard_normal((200, 4000))).astype(np.float32)
    cfg = loader.DataConfig("unused", filter_prob=0.5)
    y = loader.random_filter(tf.constant(x), cfg, tf.constant([7, 8], tf.int64)).numpy()
    filtered = (np.abs(y - x).max(axis=1) > 1e-6).sum()
    assert 70 <= filtered <= 130  # binomial(200, 0.5) within 4.2 standard deviations


@pytest.mark.parametrize("mode", ["utterance", "channel"])
def test_per_clip_normalization_removes_the_mean_and_a_gain(mode):
    rng = np.random.default_rng(3)
    audio = (0.05 * rng.standard_normal((3, 16000))).astype(np.float32)
    cfg = features.FeatureConfig(num_bins=40, normalize=mode)
    out = features.compute(audio, cfg).numpy()
    axis = (1, 2) if mode == "utterance" else 1
    np.testing.assert_allclose(out.mean(axis=axis), 0.0, atol=1e-4)
    # a gain is a constant on log-mel energies: normalization removes it
    loud = features.compute(audio * 4.0, cfg).numpy()
    np.testing.assert_allclose(loud, out, atol=2e-3)
    # against the fixed front-end computed independently of the option
    fixed = features.compute(audio, dataclasses.replace(cfg, normalize="fixed")).numpy()
    ref = fixed - fixed.mean(axis=axis, keepdims=True)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_channel_normalization_removes_a_fixed_channel_colouring():
    rng = np.random.default_rng(4)
    audio = (0.05 * rng.standard_normal((2, 16000))).astype(np.float32)
    # a fixed EQ: half the amplitude above 2 kHz
    spec = np.fft.rfft(audio, axis=1)
    spec[:, np.fft.rfftfreq(16000, 1 / 16000) > 2000] *= 0.5
    coloured = np.fft.irfft(spec, 16000, axis=1).astype(np.float32)
    plain = features.FeatureConfig(num_bins=40)
    cmn = features.FeatureConfig(num_bins=40, normalize="channel")
    gap_plain = np.abs(features.compute(coloured, plain) - features.compute(audio, plain))
    gap_cmn = np.abs(features.compute(coloured, cmn) - features.compute(audio, cmn))
    assert float(np.mean(gap_cmn)) < 0.25 * float(np.mean(gap_plain))


def test_feature_and_data_configs_keep_their_old_keys_when_options_are_off():
    assert "normalize" not in features.FeatureConfig().to_dict()
    assert features.FeatureConfig(normalize="channel").to_dict()["normalize"] == "channel"
    assert "holdout_family" not in loader.DataConfig("x").deterministic_dict()
    with pytest.raises(KwsqError, match="normalization"):
        features.FeatureConfig(normalize="pcen")


def test_balanced_class_weights_give_every_class_the_same_total(tiny_corpus, tmp_path):
    cfg = loader.DataConfig(str(tiny_corpus), label_mode="wake", keyword="marvin",
                            class_weight="balanced", cache_dir=str(tmp_path))
    split = loader.AugmentedSplit(cfg, features.mlperf_tiny_mfcc(), "training")
    counts = np.bincount(split.y, minlength=2)
    assert 0 < counts[1] < counts[0]  # the keyword is the rare class
    totals = np.zeros(2)
    for _x, y, w in split.epoch(0, 16):
        y, w = y.numpy(), w.numpy()
        np.testing.assert_allclose(w, counts.sum() / (2 * counts[y]), rtol=1e-6)
        np.add.at(totals, y, w)
    np.testing.assert_allclose(totals, [counts.sum() / 2] * 2, rtol=1e-5)
    # without the option the batches are (x, y) as before
    plain = loader.AugmentedSplit(dataclasses.replace(cfg, class_weight=None),
                                  features.mlperf_tiny_mfcc(), "training")
    assert len(next(iter(plain.epoch(0, 16)))) == 2
    assert "class_weight" not in dataclasses.replace(cfg, class_weight=None).to_dict()
    with pytest.raises(KwsqError, match="class_weight"):
        loader.DataConfig("x", class_weight="inverse")


def test_balanced_weights_skip_absent_classes():
    np.testing.assert_allclose(loader.balanced_weights(np.array([0, 0, 0, 2]), 3),
                               [4 / 6, 0.0, 2.0])


def test_speed_perturbation_scales_frequencies_by_the_factor():
    cfg = loader.DataConfig("x", speed_min=1.12, speed_max=1.12)
    t = np.arange(16000) / 16000.0
    tone = np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)[None, :]
    out = loader.speed_perturb(tf.constant(tone), cfg, tf.constant([3, 4], tf.int64)).numpy()[0]
    inside = out[800:-800]  # 1.12x reads past both ends: the edges are zero
    assert np.all(out[:800] == 0) and np.all(out[-800:] == 0)
    spectrum = np.abs(np.fft.rfft(inside * np.hanning(inside.size)))
    peak_hz = np.argmax(spectrum) * 16000.0 / inside.size
    assert abs(peak_hz - 1120.0) < 5.0
    # the centre sample stays put; a factor range gives one factor per clip
    ramp = np.tile(np.linspace(-1, 1, 16001, dtype=np.float32)[:16000], (64, 1))
    cfg = loader.DataConfig("x", speed_min=0.9, speed_max=1.1)
    out = loader.speed_perturb(tf.constant(ramp), cfg, tf.constant([5, 6], tf.int64)).numpy()
    slopes = (out[:, 9000] - out[:, 7000]) / (ramp[0, 9000] - ramp[0, 7000])
    assert 0.9 <= slopes.min() < 0.95 and 1.05 < slopes.max() <= 1.1
    with pytest.raises(KwsqError, match="speed"):
        loader.DataConfig("x", speed_min=1.1, speed_max=0.9)


def test_data_config_from_dict_checks_keys_and_types_like_a_run_config(tmp_path):
    assert loader.DataConfig.from_dict({"path": tmp_path}).path == str(tmp_path)
    with pytest.raises(KwsqError, match=r"unknown key 'noise' in \[data\]"):
        loader.DataConfig.from_dict({"path": "x", "noise": 0.5})
    with pytest.raises(KwsqError, match=r"\[data\]: noise_prob must be a number"):
        loader.DataConfig.from_dict({"path": "x", "noise_prob": "high"})
