"""The GSC v2 loader: label modes and counts, cache, augmentation, bad-input handling."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import pipeline  # noqa: F401
from pipeline.data import features as F
from pipeline.data import loader as D
from pipeline.data.audio import read_wav, write_wav
from pipeline.errors import KwsqError

FEAT = F.FeatureConfig(kind="lfbe", num_bins=20, left_context=20, right_context=10,
                       stack_stride=3)


def _files(root: Path, split: str) -> dict[str, list[str]]:
    """word -> files of a split, straight from the list files (independent of the loader)."""
    val = set((root / "validation_list.txt").read_text().split())
    test = set((root / "testing_list.txt").read_text().split())
    out: dict[str, list[str]] = {}
    for p in sorted(root.glob("*/*.wav")):
        if p.parent.name.startswith("_"):
            continue
        rel = f"{p.parent.name}/{p.name}"
        where = "validation" if rel in val else "testing" if rel in test else "training"
        if where == split:
            out.setdefault(p.parent.name, []).append(rel)
    return out


@pytest.fixture(scope="module")
def cfg12(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> D.DataConfig:
    """12-class config whose feature cache is shared by this module's tests."""
    cache = tmp_path_factory.mktemp("cache12")
    return D.DataConfig(path=str(tiny_corpus), label_mode="12", cache_dir=str(cache))


def test_class_names_per_label_mode(tiny_corpus: Path) -> None:
    assert D.class_names(D.DataConfig(path=str(tiny_corpus))) == [
        "_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off",
        "stop", "go"]
    assert len(D.class_names(D.DataConfig(path=str(tiny_corpus), label_mode="35"))) == 35
    wake = D.DataConfig(path=str(tiny_corpus), label_mode="wake", keyword="marvin")
    assert D.class_names(wake) == ["_other_", "marvin"]


@pytest.mark.parametrize("split", D.SPLITS)
def test_twelve_class_counts_follow_gsc_proportions(tiny_corpus: Path, cfg12: D.DataConfig,
                                                     split: str) -> None:
    files = _files(tiny_corpus, split)
    _, y = D.arrays(cfg12, FEAT, split)
    counts = np.bincount(y, minlength=12)
    known = sum(len(files.get(w, [])) for w in D.COMMANDS)
    others = sum(len(v) for w, v in files.items() if w not in D.COMMANDS)
    assert list(counts[2:]) == [len(files[w]) for w in D.COMMANDS]
    assert counts[0] == math.ceil(0.1 * known)  # _silence_
    assert counts[1] == min(others, math.ceil(0.1 * known))  # _unknown_


def test_wake_mode_is_keyword_against_everything(tiny_corpus: Path, tmp_path: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), label_mode="wake", keyword="marvin",
                       cache_dir=str(tmp_path))
    files = _files(tiny_corpus, "training")
    words = sum(len(v) for v in files.values())
    _, y = D.arrays(cfg, FEAT, "training")
    assert int(np.sum(y == 1)) == len(files["marvin"])
    assert int(np.sum(y == 0)) == words - len(files["marvin"]) + math.ceil(0.1 * words)


def test_35_class_mode_refuses_a_corpus_without_all_words(tiny_corpus: Path,
                                                           tmp_path: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), label_mode="35", cache_dir=str(tmp_path))
    with pytest.raises(KwsqError, match="needs all 35 word folders.*backward"):
        D.arrays(cfg, FEAT, "training")


def test_arrays_are_features_of_the_listed_files(tiny_corpus: Path, cfg12: D.DataConfig) -> None:
    x, y = D.arrays(cfg12, FEAT, "validation")
    meta = D.metadata(cfg12, FEAT, "validation")
    assert x.shape == (len(y), 620) and x.dtype == np.float32 and y.dtype == np.int32
    names = D.class_names(cfg12)
    row = next(i for i, m in enumerate(meta) if m["word"] == "yes")
    audio, _ = read_wav(tiny_corpus / meta[row]["file"])
    np.testing.assert_allclose(x[row], F.compute(audio, FEAT).numpy(), atol=1e-5)
    assert names[y[row]] == "yes"
    silence = [i for i, m in enumerate(meta) if m["word"] == "_silence_"]
    assert silence and all(y[i] == 0 for i in silence)


def test_metadata_marks_human_voice_speakers(cfg12: D.DataConfig) -> None:
    meta = D.metadata(cfg12, FEAT, "training")
    words = [m for m in meta if m["file"]]
    assert {m["family"] for m in words} == {"espeak", "flite", "festival"}
    assert all(m["human"] == (m["family"] in ("flite", "festival")) for m in words)


def test_second_call_reads_the_cache(tiny_corpus: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), cache_dir=str(tmp_path))
    x1, y1 = D.arrays(cfg, FEAT, "testing")
    assert list(tmp_path.glob("testing-*.npz"))

    def _no_reload(*args: object, **kwargs: object) -> None:
        raise AssertionError("audio decoded again although the features are cached")

    monkeypatch.setattr(D, "load_audio", _no_reload)
    x2, y2 = D.arrays(cfg, FEAT, "testing")
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_cache_key_changes_with_any_setting(cfg12: D.DataConfig) -> None:
    base = D.cache_key(cfg12, FEAT, "training")
    other_data = D.DataConfig(path=cfg12.path, unknown_fraction=0.2)
    other_feat = F.FeatureConfig(kind="lfbe", num_bins=40)
    assert D.cache_key(other_data, FEAT, "training") != base
    assert D.cache_key(cfg12, other_feat, "training") != base
    assert D.cache_key(cfg12, FEAT, "testing") != base


def _bank(noise: np.ndarray) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    return D._noise_bank([noise], 16000)


def test_noise_is_mixed_at_the_drawn_snr(tiny_corpus: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), noise_prob=1.0, snr_min_db=10.0,
                       snr_max_db=10.0, time_shift_ms=0.0, gain_min_db=0.0, gain_max_db=0.0)
    rng = np.random.default_rng(0)
    clean = (0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)[None, :]
             * rng.uniform(0.5, 1.0, (4, 1))).astype(np.float32)
    noise = 0.1 * rng.standard_normal(48000).astype(np.float32)
    mixed = D.augment_audio(clean, cfg, _bank(noise), tf.constant([1, 2], tf.int64)).numpy()
    added = mixed - clean
    snr = 10 * np.log10(np.mean(clean**2, axis=1) / np.mean(added**2, axis=1))
    np.testing.assert_allclose(snr, 10.0, atol=0.05)


def test_time_shift_moves_the_signal_and_fills_zeros(tiny_corpus: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), noise_prob=0.0, time_shift_ms=100.0,
                       gain_min_db=0.0, gain_max_db=0.0)
    clean = np.random.default_rng(1).uniform(0.1, 0.5, (8, 16000)).astype(np.float32)
    out = D.augment_audio(clean, cfg, _bank(np.ones(16000, np.float32)),
                          tf.constant([3, 4], tf.int64)).numpy()
    shifts = []
    for a, b in zip(clean, out, strict=True):
        k = next(k for k in range(-1600, 1601)
                 if np.array_equal(b[max(k, 0) : 16000 + min(k, 0)],
                                   a[max(-k, 0) : 16000 - max(k, 0)]))
        zeros = b[:k] if k > 0 else b[16000 + k :]
        assert not zeros.any()
        shifts.append(k)
    assert len(set(shifts)) > 1  # each clip gets its own shift


def test_gain_scales_the_clip(tiny_corpus: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), noise_prob=0.0, time_shift_ms=0.0,
                       gain_min_db=-6.0, gain_max_db=6.0)
    clean = np.full((16, 16000), 0.1, np.float32)
    out = D.augment_audio(clean, cfg, _bank(np.ones(16000, np.float32)),
                          tf.constant([5, 6], tf.int64)).numpy()
    gain_db = 20 * np.log10(out[:, 0] / 0.1)
    assert np.all(np.abs(gain_db) <= 6.0 + 1e-4) and np.ptp(gain_db) > 3.0
    np.testing.assert_allclose(out, out[:, :1] * np.ones((1, 16000)), rtol=1e-6)


def test_augmented_dataset_differs_from_clean_features(cfg12: D.DataConfig) -> None:
    clean = next(iter(D.dataset(cfg12, FEAT, "validation", 8, augment=False, shuffle=False)))
    noisy = next(iter(D.dataset(cfg12, FEAT, "validation", 8, augment=True, shuffle=False)))
    np.testing.assert_array_equal(clean[1].numpy(), noisy[1].numpy())
    assert clean[0].shape == noisy[0].shape == (8, 620)
    assert np.mean(np.abs(clean[0].numpy() - noisy[0].numpy())) > 0.05


def test_corrupt_and_wrong_rate_wavs_are_counted_not_fatal(
        tiny_corpus: Path, tmp_path: Path, copy_corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = copy_corpus(tiny_corpus, tmp_path / "corpus")
    files = _files(corpus, "testing")
    broken, slow = corpus / files["yes"][0], corpus / files["no"][0]
    broken.write_bytes(b"RIFF\x00\x00not a wave file at all")
    write_wav(slow, np.zeros(8000, np.float32), rate=8000)
    cfg = D.DataConfig(path=str(corpus), cache_dir=str(tmp_path / "cache"))
    _, y, _, report = D.load_audio(cfg, "testing")
    assert [r.split(":")[0] for r in report.unreadable] == [files["yes"][0]]
    assert [r.split(":")[0] for r in report.wrong_rate] == [files["no"][0]]
    assert report.per_class["yes"] == len(files["yes"]) - 1
    assert "skipped 2 WAV files (1 unreadable, 1 not 16000 Hz)" in capsys.readouterr().err
    assert len(D.arrays(cfg, FEAT, "testing")[1]) == len(y)


def test_non_layout_folder_gives_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    with pytest.raises(KwsqError) as exc:
        D.check_layout(tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg
    for missing in ("_background_noise_/", "validation_list.txt", "testing_list.txt",
                    "word folders no up down"):
        assert missing in msg
    with pytest.raises(KwsqError, match="is not a folder"):
        D.check_layout(tmp_path / "nowhere")


def test_real_gsc_style_folder_without_speaker_table_loads(tiny_corpus: Path,
                                                            tmp_path: Path, copy_corpus) -> None:
    corpus = copy_corpus(tiny_corpus, tmp_path / "gsc")
    (corpus / "speakers.csv").unlink()
    (corpus / "kwsq_synth.json").unlink()
    shutil.rmtree(corpus / "marvin")  # GSC words missing from a folder are just absent
    cfg = D.DataConfig(path=str(corpus), cache_dir=str(tmp_path / "cache"))
    x, y = D.arrays(cfg, FEAT, "training")
    assert len(x) == len(y) > 0
    assert all(m["family"] == "" for m in D.metadata(cfg, FEAT, "training"))


def test_config_round_trips_and_rejects_bad_modes(tiny_corpus: Path) -> None:
    cfg = D.DataConfig(path=str(tiny_corpus), label_mode="wake", keyword="yes", seed=3)
    assert D.DataConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(KwsqError, match="needs a keyword"):
        D.DataConfig(path=".", label_mode="wake")
    with pytest.raises(KwsqError, match="unknown label mode"):
        D.DataConfig(path=".", label_mode="20")


def test_a_held_out_family_hears_no_babble_made_of_the_corpus_speech(tiny_corpus: Path) -> None:
    """kwsq synth's babble is made of every family's training clips: a cross-family fold must
    neither mix it in nor draw silence from it (the left-out family's voices are in it)."""
    from pipeline.data.gsc import NOISE_DIR

    babble, _ = read_wav(tiny_corpus / NOISE_DIR / "babble.wav")
    every = D.run_noises(D.DataConfig(path=str(tiny_corpus)))
    fold = D.run_noises(D.DataConfig(path=str(tiny_corpus), holdout_family="espeak"))
    assert any(n.shape == babble.shape and np.array_equal(n, babble) for n in every)
    assert not any(n.shape == babble.shape and np.array_equal(n, babble) for n in fold)
    assert len(fold) == len(every) - 1


def _numpy_warp_positions(rates: np.ndarray, phase: float, t: int) -> np.ndarray:
    """The warp written out frame by frame: step j (frame j -> j + 1) lies in piece
    floor((j + 0.5) / (t - 1) * k + phase) and advances the input by that piece's rate;
    the steps are scaled to sum to t - 1."""
    k = rates.size - 1
    inc = np.array([rates[min(int(math.floor((j + 0.5) / (t - 1) * k + phase)), k)]
                    for j in range(t - 1)], np.float64)
    inc *= (t - 1) / inc.sum()
    return np.concatenate([[0.0], np.cumsum(inc)])


def test_segment_warp_stretches_pieces_by_their_own_factor() -> None:
    """The non-uniform warp against a numpy reference with the same draws: pieces move by
    different factors (not a uniform stretch), the clip keeps its length and end frames,
    factors stay in [1 / warp_max, warp_max], and the option is off by default."""
    cfg = D.DataConfig("x", warp_segments=6, warp_max=1.6)
    feat = F.mlperf_tiny_mfcc()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 49, 10)).astype(np.float32)
    seed = tf.constant([5, 9], tf.int64)
    out = D.segment_warp(tf.constant(x), cfg, feat, seed).numpy()
    s = tf.random.experimental.stateless_split(seed, 2)
    rates = np.exp(tf.random.stateless_uniform([32, 7], s[0], -math.log(1.6),
                                               math.log(1.6)).numpy())
    phase = tf.random.stateless_uniform([32], s[1]).numpy()
    assert rates.min() < 1 / 1.5 and rates.max() > 1.5
    t = np.arange(49, dtype=np.float64)
    for i in range(32):
        pos = _numpy_warp_positions(rates[i].astype(np.float64), float(phase[i]), 49)
        assert pos[0] == 0 and abs(pos[-1] - 48) < 1e-9 and np.all(np.diff(pos) > 0)
        local = np.diff(pos)
        assert local.max() / local.min() > 1.2  # not a uniform stretch
        want = np.stack([np.interp(pos, t, x[i, :, c]) for c in range(10)], axis=1)
        np.testing.assert_allclose(out[i], want, atol=2e-4)
    # a ramp read back gives the positions: first and last frames are kept
    ramp = np.broadcast_to(t[None, :, None], (4, 49, 10)).astype(np.float32)
    got = D.segment_warp(tf.constant(ramp), cfg, feat, seed).numpy()[:, :, 0]
    np.testing.assert_allclose(got[:, [0, -1]], [[0, 48]] * 4, atol=1e-4)
    # stacked inputs are frames x coefficients too
    flat = D.segment_warp(tf.constant(x.reshape(32, -1)), cfg, feat, seed).numpy()
    np.testing.assert_allclose(flat.reshape(32, 49, 10), out, atol=1e-6)
    assert "warp_segments" not in D.DataConfig("x").to_dict()
    assert D.DataConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"warp_segments": -1}, {"warp_segments": 4, "warp_max": 0.9},
                {"warp_segments": 4, "targets": "frames"}):
        with pytest.raises(KwsqError, match="warp_segments"):
            D.DataConfig("x", **bad)


def _chain_without_and_with(corpus: Path, pcm: tf.Tensor, seed: tf.Tensor, **option: Any
                            ) -> tuple[np.ndarray, np.ndarray, D.DataConfig, F.FeatureConfig]:
    """The augmented training chain's MLPerf MFCCs of ``pcm``, every other augmentation off,
    without and with ``option`` (same seed, same audio), the option's config and the
    feature config."""
    feat = F.mlperf_tiny_mfcc()
    quiet = {"noise_prob": 0.0, "time_shift_ms": 0.0, "gain_min_db": 0.0, "gain_max_db": 0.0}
    plain = D.DataConfig(str(corpus), **quiet)
    on = D.DataConfig(str(corpus), **option, **quiet)
    bank = D._noise_bank(D.run_noises(plain), plain.clip_samples)
    return (D.augmented_features(pcm, seed, plain, feat, bank).numpy(),
            D.augmented_features(pcm, seed, on, feat, bank).numpy(), on, feat)


def test_augmented_features_apply_the_segment_warp(tiny_corpus: Path) -> None:
    """The training chain warps when warp_segments is set, and only then (same seed, same
    audio, every other augmentation off)."""
    pcm = tf.constant(np.random.default_rng(0).integers(-3000, 3000, (4, 16000), np.int16))
    seed = tf.constant([1, 2], tf.int64)
    a, b, warped, feat = _chain_without_and_with(tiny_corpus, pcm, seed, warp_segments=6)
    want = D.segment_warp(tf.constant(a), warped, feat,
                       tf.random.experimental.stateless_fold_in(seed, 23)).numpy()
    np.testing.assert_allclose(b, want, atol=1e-4)
    assert np.abs(b - a).max() > 0.1


def test_edge_mask_hides_the_start_or_the_end_of_the_word() -> None:
    """Against a numpy reference with the same draws: the masked frames are a run at the
    word's first or last frame (the word found from its energy), of at most edge_mask of the
    word, filled with the example's mean; frames outside the word are never touched."""
    cfg = D.DataConfig("x", edge_mask=0.5)
    feat = F.mlperf_tiny_mfcc()
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 0.2, size=(64, 49, 10)).astype(np.float32)
    starts = rng.integers(2, 20, 64)
    lengths = rng.integers(8, 25, 64)
    for i in range(64):  # a loud word: high first coefficient
        x[i, starts[i] : starts[i] + lengths[i], 0] += 10.0
    seed = tf.constant([3, 4], tf.int64)
    out = D.edge_mask(tf.constant(x), cfg, feat, seed).numpy()
    s = tf.random.experimental.stateless_split(seed, 2)
    frac = tf.random.stateless_uniform([64], s[0], 0.0, 0.5).numpy()
    at_end = tf.random.stateless_uniform([64], s[1]).numpy() < 0.5
    ends = 0
    for i in range(64):
        first, last = starts[i], starts[i] + lengths[i] - 1
        width = int(np.round(frac[i] * lengths[i]))
        lo = last + 1 - width if at_end[i] else first
        want = x[i].copy()
        want[lo : lo + width] = x[i].mean()
        np.testing.assert_allclose(out[i], want, atol=1e-5)
        ends += bool(at_end[i] and width)
    assert 10 < ends < 54 and (out != x).any(axis=2).sum() > 64 * 3
    assert "edge_mask" not in D.DataConfig("x").to_dict()
    for bad in ({"edge_mask": 1.0}, {"edge_mask": 0.3, "targets": "frames"}):
        with pytest.raises(KwsqError, match="edge_mask"):
            D.DataConfig("x", **bad)


def _np_mix_statistics(x: np.ndarray, lam: np.ndarray, partner: np.ndarray,
                       on: np.ndarray) -> np.ndarray:
    """Frequency-wise MixStyle in numpy: per example and channel, the mean and standard
    deviation over time (variance + 1e-6) mixed with the partner's."""
    mu = x.mean(axis=1, keepdims=True)
    sd = np.sqrt(x.var(axis=1, keepdims=True) + 1e-6)
    lam3 = lam[:, None, None]
    out = (x - mu) / sd * (lam3 * sd + (1 - lam3) * sd[partner]) + (
        lam3 * mu + (1 - lam3) * mu[partner])
    return np.where(on[:, None, None], out, x)


def test_mixstyle_mixes_each_channels_mean_and_spread_with_a_partner() -> None:
    """Against numpy with the same draws: the mixed examples carry lam x (their own mean and
    standard deviation per channel over time) + (1 - lam) x (the partner's), with their own
    normalized shape; the others pass unchanged; about mixstyle_prob of them are mixed; the
    stacked layout gives the same result; config keys only when on."""
    feat = F.FeatureConfig(kind="lfbe", num_bins=20)
    cfg = D.DataConfig("x", mixstyle_prob=0.4, mixstyle_alpha=0.3)
    rng = np.random.default_rng(5)
    # per-example channel levels and spreads, as different voices/channels would give
    x = (rng.normal(0, 1, (200, 49, 20)) * rng.uniform(0.2, 3, (200, 1, 20))
         + rng.normal(0, 5, (200, 1, 20))).astype(np.float32)
    seed = tf.constant([7, 8], tf.int64)
    out = D.mix_style(tf.constant(x), cfg, feat, seed).numpy()
    s = tf.random.experimental.stateless_split(seed, 3)
    on = tf.random.stateless_uniform([200], s[0]).numpy() < 0.4
    lam = D.beta_draws(200, 0.3, s[1]).numpy()
    partner = D.partners(200, s[2]).numpy()
    assert sorted(partner) == list(range(200))
    np.testing.assert_allclose(out, _np_mix_statistics(x, lam, partner, on), rtol=1e-4,
                               atol=1e-3)
    # the statistics moved to the mix, the shape (correlation with the input) stayed
    mixed = on & (partner != np.arange(200)) & (np.abs(lam - 0.5) < 0.45)
    want_mu = lam[:, None] * x.mean(1) + (1 - lam[:, None]) * x.mean(1)[partner]
    np.testing.assert_allclose(out.mean(1)[mixed], want_mu[mixed], atol=1e-3)
    assert np.abs(out.mean(1) - x.mean(1))[mixed].mean() > 1.0
    corr = [np.corrcoef(out[i, :, 3], x[i, :, 3])[0, 1] for i in np.flatnonzero(mixed)]
    assert min(corr) > 0.999
    np.testing.assert_array_equal(out[~on], x[~on])
    assert 50 < on.sum() < 110
    flat = D.mix_style(tf.constant(x.reshape(200, -1)), cfg, feat, seed).numpy()
    np.testing.assert_allclose(flat, out.reshape(200, -1), atol=1e-5)
    assert "mixstyle_prob" not in D.DataConfig("x").to_dict()
    assert D.DataConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"mixstyle_prob": 1.5}, {"mixstyle_prob": 0.5, "mixstyle_alpha": 0.0}):
        with pytest.raises(KwsqError, match="mixstyle"):
            D.DataConfig("x", **bad)


def test_beta_draws_follow_the_beta_distribution() -> None:
    """Mean 1/2 and variance 1 / (4 (2 alpha + 1)) of Beta(alpha, alpha), in [0, 1]."""
    for alpha in (0.2, 1.0):
        lam = D.beta_draws(40000, alpha, tf.constant([1, 2], tf.int64)).numpy()
        assert lam.min() >= 0 and lam.max() <= 1
        assert abs(lam.mean() - 0.5) < 0.01
        assert abs(lam.var() - 1 / (4 * (2 * alpha + 1))) < 0.01


def _assert_mixup_of(plain: tuple[np.ndarray, ...], mixed: tuple[np.ndarray, ...]) -> None:
    """``mixed`` = mixup of the unmixed batch ``plain`` (x, y[, w]): rows i and n + i share
    one input lam x_i + (1 - lam) x_p; their labels are y_i and y_p, their weights
    2 lam w_i and 2 (1 - lam) w_p; the partners p form a permutation. p and lam are found
    from the outputs, not from the implementation's draws."""
    x, y = plain[0].reshape(len(plain[0]), -1), plain[1]
    w = plain[2] if len(plain) > 2 else np.ones(len(y), np.float32)
    xm, ym, wm = mixed[0].reshape(len(mixed[0]), -1), mixed[1], mixed[2]
    n = len(y)
    assert len(ym) == 2 * n
    np.testing.assert_array_equal(xm[:n], xm[n:])
    np.testing.assert_array_equal(ym[:n], y)
    found = []
    for i in range(n):
        lam = wm[i] / (2 * w[i])
        cands = [p for p in range(n) if y[p] == ym[n + i]
                 and abs(wm[n + i] - 2 * (1 - lam) * w[p]) < 1e-4 * max(1.0, w[p])]
        err = [np.abs(xm[i] - (lam * x[i] + (1 - lam) * x[p])).max() for p in cands]
        assert err and min(err) < 1e-3 * max(1.0, np.abs(x).max())
        found.append(cands[int(np.argmin(err))])
    # a permutation (equal rows, e.g. silent windows, are interchangeable partners)
    canon = [next(q for q in range(n) if y[q] == y[p] and w[q] == w[p]
                  and np.array_equal(x[q], x[p])) for p in range(n)]
    assert sorted(canon[p] for p in found) == sorted(canon)


def test_mixup_serves_each_mixed_input_with_both_labels(tiny_corpus: Path) -> None:
    """The training batches with mixup_alpha are the batches without it, mixed in pairs
    (checked from the outputs), with the class weights carried into the pair's weights."""
    feat = F.mlperf_tiny_mfcc()
    on = D.DataConfig(str(tiny_corpus), mixup_alpha=0.4, class_weight="balanced")
    off = D.DataConfig(str(tiny_corpus), class_weight="balanced")
    a = [t.numpy() for t in next(iter(D.AugmentedSplit(off, feat, "training").epoch(3, 16)))]
    b = [t.numpy() for t in next(iter(D.AugmentedSplit(on, feat, "training").epoch(3, 16)))]
    _assert_mixup_of(tuple(a), tuple(b))
    lam = b[2][:16] / (2 * a[2])
    assert np.all((lam >= 0) & (lam <= 1)) and np.ptp(lam) > 0.2
    assert "mixup_alpha" not in off.to_dict() and on.to_dict()["mixup_alpha"] == 0.4
    with pytest.raises(KwsqError, match="mixup_alpha"):
        D.DataConfig("x", mixup_alpha=-1.0)


def test_mixup_rows_train_on_the_mixed_soft_target() -> None:
    """Keras's sparse cross-entropy over the two weighted rows equals the cross-entropy with
    the soft target lam onehot(y_i) + (1 - lam) onehot(y_p) (mixup's loss)."""
    import tf_keras as keras

    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = rng.integers(0, 12, 32).astype(np.int32)
    probs = tf.nn.softmax(rng.normal(size=(32, 12)).astype(np.float32)).numpy()
    xm, ym, wm = (t.numpy() for t in D.mixup(tf.constant(x), tf.constant(y), None, 0.3,
                                             tf.constant([5, 6], tf.int64)))
    # the partner of row i from its inputs (x has no two equal rows)
    lam = wm[:32] / 2
    soft = np.zeros((32, 12), np.float32)
    for i in range(32):
        p = int(np.argmin([np.abs(xm[i] - (lam[i] * x[i] + (1 - lam[i]) * x[j])).max()
                           for j in range(32)]))
        soft[i, y[i]] += lam[i]
        soft[i, y[p]] += 1 - lam[i]
    sparse = keras.losses.SparseCategoricalCrossentropy()(
        ym, np.concatenate([probs, probs]), sample_weight=wm).numpy()
    dense = keras.losses.CategoricalCrossentropy()(soft, probs).numpy()
    assert abs(sparse - dense) < 1e-4 * dense


def test_frame_targets_mix_windows_and_clip_statistics(tiny_corpus: Path) -> None:
    """Frame targets: mixup pairs the batch's windows with their frame labels (checked from
    the outputs as for clip targets); MixStyle changes the windows and nothing else (same
    labels, same positions)."""
    from pipeline.data import frame_targets as T

    feat = F.FeatureConfig(kind="lfbe", num_bins=20, left_context=20, right_context=10,
                           stack_stride=1, normalize="channel")
    base = D.DataConfig(str(tiny_corpus), targets="frames", noise_prob=0.0)
    runs = {name: [t.numpy() for t in next(iter(T.FrameSplit(
        D.DataConfig(**{**base.to_dict(), **extra}), feat, "training").epoch(2, 64)))]
        for name, extra in (("off", {}), ("mixup", {"mixup_alpha": 0.4}),
                            ("mixstyle", {"mixstyle_prob": 1.0}))}
    _assert_mixup_of(tuple(runs["off"]), tuple(runs["mixup"]))
    np.testing.assert_array_equal(runs["mixstyle"][1], runs["off"][1])
    assert np.abs(runs["mixstyle"][0] - runs["off"][0]).max() > 0.1


def test_augmented_features_apply_mixstyle_only_when_on(tiny_corpus: Path) -> None:
    """The training chain with mixstyle_prob is the chain without it followed by
    :func:`loader.mix_style` (same seed, same audio); off, nothing is mixed."""
    rng = np.random.default_rng(1)
    pcm = tf.constant((rng.normal(0, 1, (8, 16000)) * rng.uniform(300, 6000, (8, 1))
                       ).astype(np.int16))
    seed = tf.constant([4, 2], tf.int64)
    a, b, mixed, feat = _chain_without_and_with(tiny_corpus, pcm, seed, mixstyle_prob=1.0)
    want = D.mix_style(tf.constant(a), mixed, feat,
                       tf.random.experimental.stateless_fold_in(seed, 37)).numpy()
    np.testing.assert_allclose(b, want, atol=1e-4)
    assert np.abs(b - a).max() > 0.1
