"""The streaming path, fed test clips laid end to end, reproduces the clip posteriors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.audio import write_wav
from pipeline.errors import KwsqError


def _clips(corpus: Path, n: int) -> np.ndarray:
    from pipeline.data.loader import DataConfig, load_audio

    audio, _, meta, _ = load_audio(DataConfig(path=str(corpus)), "testing")
    words = [i for i, m in enumerate(meta) if m["file"]][:n]  # WAV clips, not made silence
    return audio[words]


def _stream(tmp: Path, clips: np.ndarray) -> Path:
    folder = tmp / "streams"
    write_wav(folder / "s.wav", clips.reshape(-1))
    (folder / "s.json").write_text(json.dumps({"events": []}))
    return folder


@pytest.mark.parametrize("model_name, clip_window, normalize",
                         [("svd_dnn", None, "fixed"), ("cnn", 0, "fixed"),
                          ("svd_dnn", None, "channel"), ("cnn", 0, "utterance"),
                          ("svd_dnn", None, "utterance"), ("cnn", 0, "channel_var")])
def test_streaming_matches_clip_posteriors(tiny_corpus: Path, tmp_path: Path, model_name: str,
                                           clip_window: int | None, normalize: str) -> None:
    import tf_keras as keras

    import models
    from pipeline.data import features
    from pipeline.evaluate import backends, streaming

    keras.utils.set_random_seed(3)
    cfg = features.FeatureConfig.from_dict({**models.module(model_name).FEATURES,
                                            "normalize": normalize})
    model = models.builder(model_name)(features.input_shape(cfg), 12)
    clips = _clips(tiny_corpus, 12)
    ref = np.asarray(model(features.compute_numpy(clips, cfg), training=False))
    scorer = backends.keras_scorer("float", model, Path("-"), None)
    recs = streaming.find_recordings(_stream(tmp_path, clips))
    sp = streaming.posteriors(recs, [scorer], cfg, {str(c): c for c in range(12)},
                              log=lambda _m: None)
    win = streaming.windowing(cfg)
    frames_per_clip = 16000 // cfg.hop_samples
    first = features.clip_window_start(cfg) if clip_window is None else clip_window
    if normalize != "fixed":  # the window is the clip (the stacked input inside it)
        first = 0
    starts = np.arange(len(clips)) * frames_per_clip + first
    assert np.all(starts % win.hop_frames == 0)
    got = sp.posteriors["float"][0][starts // win.hop_frames]
    np.testing.assert_allclose(got, ref, atol=2e-6)
    # the window's time is when its audio is complete: inside clip j, at most its end
    t = sp.times[0][starts // win.hop_frames]
    assert np.all(t <= (np.arange(len(clips)) + 1) * 1.0 + 1e-9)
    assert np.all(t > (np.arange(len(clips)) + 0.9))
    # and the positions in between are different inputs: posteriors move
    nxt = starts[:-1] // win.hop_frames + 1
    assert not np.allclose(sp.posteriors["float"][0][nxt], got[:-1])


def test_streaming_litert_float_file_matches_keras(tiny_corpus: Path, tmp_path: Path) -> None:
    """Same path, another backend: a float .tflite on LiteRT gives the Keras posteriors."""
    import tf_keras as keras

    import models
    from pipeline.data import features
    from pipeline.evaluate import backends, streaming
    from pipeline.tflite.convert import convert_float

    keras.utils.set_random_seed(4)
    cfg = features.FeatureConfig.from_dict(models.module("svd_dnn").FEATURES)
    model = models.builder("svd_dnn")(features.input_shape(cfg), 12)
    path = tmp_path / "f.tflite"
    path.write_bytes(convert_float(model))
    recs = streaming.find_recordings(_stream(tmp_path, _clips(tiny_corpus, 3)))
    cols = {"a": 2, "b": 5}
    sp = streaming.posteriors(recs, [backends.keras_scorer("float", model, Path("-"), None),
                                     backends.tflite_scorer("litert", path)],
                              cfg, cols, log=lambda _m: None)
    np.testing.assert_allclose(sp.posteriors["litert"][0], sp.posteriors["float"][0], atol=1e-5)
    assert sp.posteriors["float"][0].shape == (len(sp.times[0]), 2)


def test_recordings_need_ground_truth(tmp_path: Path) -> None:
    from pipeline.evaluate import streaming

    with pytest.raises(KwsqError, match="not a folder"):
        streaming.find_recordings(tmp_path / "none")
    write_wav(tmp_path / "a.wav", np.zeros(1600, np.float32))
    with pytest.raises(KwsqError, match="no ground truth"):
        streaming.find_recordings(tmp_path)
    (tmp_path / "a.json").write_text('{"events": [{"word": "yes", "start": 2, "end": 1}]}')
    with pytest.raises(KwsqError, match="not a valid ground truth"):
        streaming.find_recordings(tmp_path)
