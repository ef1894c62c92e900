"""svd_dnn's cross-family recipe: word centring (``[data] centre``) and the preset.

Checked against numpy written here: the centroid of a burst of known span, the shift as a
zero-filled slice, and the loader's clips against the recorded clips shifted by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401
from pipeline.data import centre as C
from pipeline.data import loader as D
from pipeline.errors import KwsqError


def _burst(n: int, start: int, stop: int, seed: int = 0, floor: float = 1e-3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = floor * rng.standard_normal(n)
    t = np.arange(stop - start)
    x[start:stop] += 0.5 * np.sin(2 * np.pi * 440 * t / 16000)
    return x.astype(np.float32)


@pytest.mark.parametrize("start,stop", [(1000, 5000), (9000, 15000), (6000, 10000)])
def test_centroid_of_a_burst_is_its_middle(start: int, stop: int) -> None:
    c = C.energy_centroid(_burst(16000, start, stop)[None])
    assert abs(c[0] - (start + stop) / 2) <= C.FRAME


def test_centroid_matches_a_numpy_reference_on_random_envelopes() -> None:
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((5, 16000)) * rng.uniform(0, 1, (5, 1)) * np.repeat(
        rng.uniform(0, 1, (5, 100)) ** 4, 160, axis=1)
    for row, got in zip(audio, C.energy_centroid(audio), strict=True):
        e = np.array([np.sum(row[i * 160:(i + 1) * 160] ** 2) for i in range(100)])
        e = np.clip(e - np.median(e), 0, None)
        want = np.sum(e * (np.arange(100) * 160 + 80)) / np.sum(e)
        assert got == pytest.approx(want, rel=1e-9)


def test_centre_clips_is_a_zero_filled_shift_to_the_middle() -> None:
    clips = np.stack([_burst(16000, 500, 4500, 0), _burst(16000, 10000, 15500, 1),
                      _burst(16000, 6000, 10000, 2)])
    out = C.centre_clips(clips)
    assert out.dtype == clips.dtype and out.shape == clips.shape
    for before, after in zip(clips, out, strict=True):
        shift = int(np.round(8000 - C.energy_centroid(before[None])[0]))
        want = np.zeros_like(before)
        if shift >= 0:
            want[shift:] = before[:16000 - shift]
        else:
            want[:shift] = before[-shift:]
        np.testing.assert_array_equal(after, want)
        assert abs(C.energy_centroid(after[None])[0] - 8000) <= C.FRAME


def test_flat_and_empty_clips_stay_put() -> None:
    flat = np.zeros((2, 16000), np.float32)
    flat[1] = 0.1
    np.testing.assert_array_equal(C.centre_clips(flat), flat)
    assert C.energy_centroid(np.zeros((1, 100)))[0] == 50.0


def test_config_checks_and_cache_key(tiny_corpus: Path) -> None:
    base = D.DataConfig(path=str(tiny_corpus))
    centred = D.DataConfig(path=str(tiny_corpus), centre="energy")
    assert "centre" not in base.to_dict() and "centre" not in base.deterministic_dict()
    assert centred.deterministic_dict()["centre"] == "energy"
    assert D.cache_key(base, None, "training") != D.cache_key(centred, None, "training")
    with pytest.raises(KwsqError, match="unknown centre 'peak'"):
        D.DataConfig(path=str(tiny_corpus), centre="peak")
    with pytest.raises(KwsqError, match="targets"):
        D.DataConfig(path=str(tiny_corpus), centre="energy", targets="frames")


def test_loader_centres_word_clips_not_silence(tiny_corpus: Path, tmp_path: Path) -> None:
    plain = D.DataConfig(path=str(tiny_corpus), cache_dir=str(tmp_path))
    centred = D.DataConfig(path=str(tiny_corpus), cache_dir=str(tmp_path), centre="energy")
    x0, y0, meta, _ = D.load_audio(plain, "training")
    x1, y1, _, _ = D.load_audio(centred, "training")
    np.testing.assert_array_equal(y0, y1)
    words = np.array([m["file"] != "" for m in meta])
    assert words.any() and (~words).any()
    np.testing.assert_array_equal(x1[~words], x0[~words])
    np.testing.assert_array_equal(x1[words], C.centre_clips(x0[words]))
    assert np.all(np.abs(C.energy_centroid(x1[words]) - 8000) <= C.FRAME)


class _CountingSplit:
    """A stand-in augmented split: epoch k's examples are (k * 100 + i) with label i % 3."""

    def __init__(self, n: int = 10, weights: bool = False):
        self.n, self.weights, self.calls = n, weights, []
        self.cfg = D.DataConfig(path=".")

    def batches(self, batch_size: int) -> int:
        return -(-self.n // batch_size)

    def __len__(self) -> int:
        return self.n

    def epoch(self, key: int, batch_size: int, shuffle: bool = True):
        import tensorflow as tf

        self.calls.append(key)
        x = (key * 100 + np.arange(self.n, dtype=np.float32))[:, None]
        cols = (x, np.arange(self.n) % 3) + ((np.full(self.n, 0.5, np.float32),)
                                            if self.weights else ())
        return tf.data.Dataset.from_tensor_slices(cols).batch(batch_size)


def _served(ds) -> list[np.ndarray]:
    cols = [np.concatenate(c) for c in zip(*[tuple(t.numpy() for t in b) for b in ds],
                                           strict=True)]
    return cols


@pytest.mark.parametrize("weights", [False, True])
def test_copied_split_runs_the_pipeline_copies_times(weights: bool) -> None:
    from pipeline.train.training import CopiedSplit

    inner = _CountingSplit(weights=weights)
    split = CopiedSplit(inner, 3)
    assert len(split) == 10 and split.batches(4) == 3
    served = {key: _served(split.epoch(key, 4)) for key in range(8)}
    assert sorted(inner.calls) == [0, 1, 2]  # each copy made once, whatever the epoch count
    for key, cols in served.items():
        x, y = cols[0][:, 0], cols[1]
        # a permutation of copy key % 3, labels travelling with their examples
        np.testing.assert_array_equal(np.sort(x), (key % 3) * 100 + np.arange(10))
        np.testing.assert_array_equal(y, (x - (key % 3) * 100).astype(int) % 3)
        assert len(cols) == (3 if weights else 2)
    assert not np.array_equal(served[0][0], served[3][0])  # same copy, another order
    again = CopiedSplit(_CountingSplit(weights=weights), 3)
    np.testing.assert_array_equal(_served(again.epoch(5, 4))[0], served[5][0])  # resumable
    unshuffled = _served(CopiedSplit(_CountingSplit(), 3).epoch(4, 4, shuffle=False))[0]
    np.testing.assert_array_equal(unshuffled[:, 0], 100 + np.arange(10))


def test_augment_copies_config_key() -> None:
    from pipeline.train.runs import RunConfig

    assert "augment_copies" not in RunConfig(name="r").to_dict()
    assert RunConfig(name="r", augment_copies=4).to_dict()["augment_copies"] == 4
    with pytest.raises(KwsqError, match="augment_copies must be >= 0"):
        RunConfig(name="r", augment_copies=-1)


def test_svd_cross_preset_resolves(tiny_corpus: Path, tmp_path: Path) -> None:
    import argparse

    from pipeline.train import training

    p = argparse.ArgumentParser()
    training.add_arguments(p)
    args = p.parse_args(["--run", str(tmp_path / "r"), "--data", str(tiny_corpus),
                         "--preset", "svd_cross"])
    config = training.resolve_config(args)
    assert config.model == "svd_dnn" and config.augment_copies == 16
    assert config.data["centre"] == "energy" and config.batch_size == 32
    assert [st.name for st in config.stages] == ["float"]
    assert config.to_dict()["augment_copies"] == 16


def test_training_with_copies_resumes_to_the_same_weights(tiny_corpus: Path,
                                                          tmp_path: Path) -> None:
    """kwsq train with augment_copies and centring, stopped after 2 of 3 epochs and resumed:
    the copies are remade identically, so the weights equal an uninterrupted run's."""
    from pipeline.cli import main as kwsq
    from pipeline.train.runs import Run

    cfg = tmp_path / "c.toml"
    cfg.write_text("float_epochs = 3\naugment_copies = 2\n[data]\ncentre = \"energy\"\n")
    common = ["--data", str(tiny_corpus), "--preset", "smoke", "--scheme", "float",
              "--config", str(cfg)]
    assert kwsq(["train", "--run", str(tmp_path / "a"), *common]) == 0
    assert kwsq(["train", "--run", str(tmp_path / "b"), *common,
                 "--stop-after-epoch", "2"]) == 0
    assert kwsq(["train", "--run", str(tmp_path / "b")]) == 0
    straight, resumed = Run(tmp_path / "a"), Run(tmp_path / "b")
    assert resumed.read_config().augment_copies == 2
    for x, y in zip(straight.load_model().get_weights(), resumed.load_model().get_weights(),
                    strict=True):
        np.testing.assert_array_equal(x, y)
