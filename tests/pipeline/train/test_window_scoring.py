"""Clip scores of frame-target models: the window slid over the clip, as a device runs it.

References: the streaming detector's own smoother (``pipeline.evaluate.det.smooth``), a
per-clip loop written from the rule's statement, and the clip input of ``features.compute``
(the one centred window) for the window posteriors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.evaluate import det
from pipeline.train import generalize as G


def test_smoothing_along_an_axis_is_the_streaming_smoother_on_every_clip_and_class():
    rng = np.random.default_rng(0)
    p = rng.random((5, 40, 4))
    for w in (1, 3, 10, 50):
        got = det.smooth(p, w, axis=1)
        for c in range(5):
            for k in range(4):
                np.testing.assert_allclose(got[c, :, k], det.smooth(p[c, :, k], w), atol=1e-12)


def _reference(post: np.ndarray, w: int, threshold: float) -> np.ndarray:
    out = []
    for clip in post:
        peaks = [det.smooth(clip[:, k], w).max() for k in range(clip.shape[1])]
        words = [(peaks[k], k) for k in range(clip.shape[1]) if k != G.SILENCE_CLASS]
        best_peak, best = max(words, key=lambda pk: (pk[0], -pk[1]))
        out.append(best if best_peak >= threshold else G.SILENCE_CLASS)
    return np.asarray(out)


def test_clip_predictions_follow_the_rule_on_random_posteriors():
    rng = np.random.default_rng(1)
    post = rng.dirichlet(np.full(6, 0.3), size=(50, 30))  # [clips, windows, classes]
    for w in (1, 5, 10):
        for th in (0.2, 0.5, 0.8):
            np.testing.assert_array_equal(G.clip_predictions(post, w, th),
                                          _reference(post, w, th))


def test_clip_predictions_on_made_up_clips():
    t, k = 40, 6
    post = np.zeros((4, t, k))
    post[:, :, 0] = 1.0  # silence everywhere
    post[1, 10:25, 0], post[1, 10:25, 3] = 0.1, 0.9  # a word: class 3 for 15 windows
    post[1, 30, 0], post[1, 30, 5] = 0.05, 0.95  # a one-window spike of class 5
    post[2, 10:25, 0], post[2, 10:25, 4] = 0.6, 0.4  # a weak word: class 4 at 0.4
    post[3, 5:20, 0], post[3, 5:20, 2] = 0.3, 0.7  # class 2 then class 1, stronger
    post[3, 20:35, 0], post[3, 20:35, 1] = 0.2, 0.8
    assert G.clip_predictions(post, 10).tolist() == [0, 3, 0, 1]
    # unsmoothed, the spike wins; a lower threshold lets the weak word through
    assert G.clip_predictions(post, 1).tolist() == [0, 5, 0, 1]
    assert G.clip_predictions(post, 10, threshold=0.3).tolist() == [0, 3, 4, 1]


def test_window_posteriors_slide_the_window_the_clip_input_centres(tiny_corpus, monkeypatch):
    import models
    from pipeline.data import features, frame_targets
    from pipeline.data import loader as D

    monkeypatch.setattr(G, "CLIP_CHUNK", 4)  # 6 clips: a full chunk and a padded one
    window = models.windows("svd_dnn")["frames31"]
    feat_cfg = features.FeatureConfig(**{**models.module("svd_dnn").FEATURES,
                                         **window["features"]})
    pcm, _ = D.cached_audio(D.DataConfig(path=str(tiny_corpus)), "testing")
    pcm = pcm[:6]
    model = models.builder("svd_dnn")(features.input_shape(feat_cfg), 12)
    post = G.window_posteriors(model, pcm, feat_cfg)
    assert post.shape == (6, frame_targets.window_count(feat_cfg, pcm.shape[1]), 12)
    audio = pcm.astype(np.float32) / 32768.0
    centre = model.predict(features.compute_numpy(audio, feat_cfg), verbose=0)
    start = features.clip_window_start(feat_cfg, pcm.shape[1])
    np.testing.assert_allclose(post[:, start], centre, atol=1e-5)
    # and the last position is the window ending at the clip's last frame
    n = feat_cfg.num_frames(pcm.shape[1])
    last = features.frames(audio, feat_cfg).numpy()[:, n - feat_cfg.stack_span:]
    np.testing.assert_allclose(post[:, -1], model.predict(last.reshape(6, -1), verbose=0),
                               atol=1e-5)


def test_channel_normalized_scoring_is_the_streaming_input_at_the_centre(tiny_corpus):
    # svd_frames normalizes each LFBE channel by its mean over the clip; the streaming path
    # (pipeline.evaluate.streaming, the C front-end's twin) normalizes each input over the
    # clip-long window around it: for a 1 s clip the two agree at the centre position
    import models
    from pipeline.data import features
    from pipeline.data import loader as D
    from pipeline.evaluate import streaming

    feat_cfg = features.FeatureConfig(**{**models.module("svd_dnn").FEATURES,
                                         **models.windows("svd_dnn")["frames31"]["features"],
                                         "normalize": "channel"})
    pcm, _ = D.cached_audio(D.DataConfig(path=str(tiny_corpus)), "testing")
    pcm = pcm[:3]
    model = models.builder("svd_dnn")(features.input_shape(feat_cfg), 12)
    post = G.window_posteriors(model, pcm, feat_cfg)
    start = features.clip_window_start(feat_cfg, pcm.shape[1])
    win = streaming.windowing(feat_cfg, pcm.shape[1])
    for i in range(3):
        frames = features.frames(pcm[i].astype(np.float32) / 32768.0, feat_cfg).numpy()
        x = streaming.inputs(frames, win, np.array([0]))
        np.testing.assert_allclose(post[i, start], model.predict(x, verbose=0)[0], atol=1e-5)
        # the means matter: the fixed-normalization input at the centre is far from it
        fixed = features.compute_numpy(pcm[i : i + 1].astype(np.float32) / 32768.0,
                                       features.FeatureConfig(**{**feat_cfg.to_dict(),
                                                                 "normalize": "fixed"}))
        assert np.max(np.abs(fixed - x)) > 0.1


@pytest.mark.slow
def test_generalize_scores_a_frames31_model_per_clip(tiny_corpus, tmp_path):
    from pipeline.cli import main as kwsq
    from pipeline.data import loader as D
    from pipeline.data.features import FeatureConfig
    from pipeline.evaluate.det import SMOOTH_SECONDS, window_frames
    from pipeline.train.runs import Run

    cfg = tmp_path / "copies.toml"
    cfg.write_text("augment_copies = 2\n")
    run_dir = tmp_path / "gen"
    assert kwsq(["generalize", "--data", str(tiny_corpus), "--run", str(run_dir),
                 "--preset", "smoke", "--scheme", "float", "--float-epochs", "2",
                 "--window", "frames31", "--config", str(cfg), "--families", "flite"]) == 0
    fold = json.loads((run_dir / "generalize.json").read_text())["folds"][0]
    sub = Run(run_dir / "leave_out_flite")
    metrics = sub.read_metrics()
    assert fold["scoring"] == "sliding window"
    assert fold["in_distribution_windows"] == metrics["test_accuracy"]
    assert fold["in_distribution"] == pytest.approx(metrics["clip_test_accuracy"])
    # the left-out score is per clip: one prediction per holdout clip, by the rule
    config = sub.read_config()
    data_cfg = D.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    pcm, y = D.cached_audio(data_cfg, D.HOLDOUT)
    assert fold["left_out_examples"] == len(y)
    post = G.window_posteriors(sub.load_model(), pcm, feat_cfg)
    pred = _reference(post, window_frames(SMOOTH_SECONDS, feat_cfg.hop_ms / 1000), 0.5)
    assert fold["left_out_accuracy"] == pytest.approx(float(np.mean(pred == y)))


def test_svd_frames_preset_is_the_frames31_window(tiny_corpus, tmp_path):
    """The preset gives the model's frames31 window (31 consecutive frames, frame targets)."""
    import argparse

    import models
    from pipeline.train import training

    p = argparse.ArgumentParser()
    training.add_arguments(p)
    preset = training.resolve_config(p.parse_args(
        ["--run", str(tmp_path / "a"), "--data", str(tiny_corpus), "--preset", "svd_frames"]))
    window = training.resolve_config(p.parse_args(
        ["--run", str(tmp_path / "b"), "--data", str(tiny_corpus), "--preset", "svd_frames",
         "--window", "frames31"]))
    assert preset.features == window.features and preset.data == window.data
    frames31 = models.windows("svd_dnn")["frames31"]
    assert preset.features["stack_stride"] == frames31["features"]["stack_stride"] == 1
    assert preset.features["normalize"] == "channel"  # per-channel mean over the clip
    assert preset.data["targets"] == "frames" and preset.augment_copies == 16
    # each word warped in time (tempo around its centre, a knot moved inside it)
    assert (preset.data["tempo_min"], preset.data["tempo_max"], preset.data["time_warp"]) == (
        0.7, 1.3, 0.2)
    assert [st.name for st in preset.stages] == ["float"] and preset.stages[0].epochs == 400
