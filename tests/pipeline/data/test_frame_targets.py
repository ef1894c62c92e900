"""Frame-level targets (the paper's 31-consecutive-frame window): labels, spans, batches."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import pipeline  # noqa: F401
from pipeline.corpus.synth import write_alignments
from pipeline.data import features as F
from pipeline.data import frame_targets as T
from pipeline.data import loader as D
from pipeline.data.audio import write_wav
from pipeline.data.gsc import COMMANDS, WORDS
from pipeline.errors import KwsqError

FEAT31 = F.FeatureConfig(kind="lfbe", num_bins=20, left_context=20, right_context=10,
                         stack_stride=1)
L = 20
BINS = 20


def test_labels_of_a_constructed_clip_by_hand() -> None:
    # 25 ms / 10 ms frames: frame f's centre sample is 160 f + 200. Window t's anchor frame
    # is t + 20. Word [5000, 8000): anchors 30 (centre 5000) .. 48 (7880) are inside,
    # 29 (4840) and 49 (8040) are not, so windows t = 10 .. 28 carry the word's label.
    labels = T.frame_labels(7, (5000, 8000), 0, FEAT31, 16000)
    assert labels.shape == (68,)  # 98 frames, 31-frame window
    assert labels.tolist() == [0] * 10 + [7] * 19 + [0] * 39
    # a silence example: no span, silence everywhere
    assert T.frame_labels(3, T.NO_SPAN, 0, FEAT31, 16000).tolist() == [0] * 68
    # a word over the whole clip: every window
    assert set(T.frame_labels(4, (0, 16000), 0, FEAT31, 16000).tolist()) == {4}


def test_energy_detector_finds_a_burst_in_noise() -> None:
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(16000) * 10 ** (-60 / 20)).astype(np.float32)
    clip[4800:9600] += (rng.standard_normal(4800) * 0.2).astype(np.float32)
    clip[12000:12016] += 0.3  # a click (quieter than the word) far from it is left out
    start, end = T.energy_span(clip)
    assert abs(start - 4800) <= 320 and abs(end - 9600) <= 320  # within 20 ms


# ----------------------------------------------------------------------------- a constructed corpus

SPANS = {c: (1600 + 700 * i, 6400 + 800 * i) for i, c in enumerate(COMMANDS)}


def _burst_clip(span: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clip = np.zeros(16000, np.float32)
    clip[span[0]:span[1]] = (rng.standard_normal(span[1] - span[0]) * 0.2).astype(np.float32)
    return clip


@pytest.fixture(scope="module")
def burst_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clip per command (a noise burst at a known span; digital silence around it),
    all in training; a copy of each in validation. ``alignments.csv`` lists every clip but
    the validation clip of 'go', which takes the energy detector's span."""
    root = tmp_path_factory.mktemp("frames") / "corpus"
    rows = {}
    val = []
    for i, word in enumerate(COMMANDS):
        for rep, name in enumerate(("train", "val")):
            rel = f"{word}/{name}0000_nohash_{rep}.wav"
            write_wav(root / rel, _burst_clip(SPANS[word], 10 * i + rep))
            if name == "val":
                val.append(rel)
            if not (word == "go" and name == "val"):
                rows[rel] = SPANS[word]
    write_alignments(root, rows)
    (root / "validation_list.txt").write_text("".join(f"{r}\n" for r in val))
    (root / "testing_list.txt").write_text("")
    rng = np.random.default_rng(1)
    write_wav(root / "_background_noise_" / "white.wav",
              (rng.standard_normal(32000) * 0.1).astype(np.float32))
    return root


def _cfg(root: Path, tmp: Path) -> D.DataConfig:
    return D.DataConfig(path=str(root), silence_fraction=0.0, unknown_fraction=0.0,
                        noise_prob=0.0, gain_min_db=0.0, gain_max_db=0.0, targets="frames",
                        frame_windows=6, cache_dir=str(tmp))


def _anchor_loud(x: np.ndarray, frame: int = L) -> np.ndarray:
    """Whether frame ``frame`` of each stacked row holds the burst (silence is ~-1.8)."""
    return x[:, frame * BINS:(frame + 1) * BINS].mean(axis=1) > 0.0


def _assert_windows_labelled_where_the_burst_is(cfg: D.DataConfig) -> None:
    """Four epochs of training windows: every word-labelled window's anchor frame holds the
    (moved) burst, and a silence-labelled one holds it only at the burst's edge."""
    split = T.FrameSplit(cfg, FEAT31, "training")
    xs, ys = zip(*[(x.numpy(), y.numpy()) for k in range(4) for x, y in split.epoch(k, 12)],
                 strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    loud = _anchor_loud(x)
    edge = ~_anchor_loud(x, L - 2) | ~_anchor_loud(x, L + 2)
    assert np.all(loud[y != 0])
    assert np.all(~loud[y == 0] | edge[y == 0])
    assert np.mean(loud[y == 0]) < 0.05 and np.mean(y != 0) > 0.2


def test_validation_windows_follow_the_recorded_spans(burst_corpus: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    cfg = _cfg(burst_corpus, tmp_path)
    x, y = T.window_arrays(cfg, FEAT31, "validation", stride=1)
    assert "1 of 10 clips have no recorded word boundaries" in capsys.readouterr().err
    names = D.class_names(cfg)
    assert x.shape == (10 * 68, 31 * BINS) and y.shape == (680,)
    for i, word in enumerate(COMMANDS):  # load order: the commands in COMMANDS order
        rows = slice(68 * i, 68 * (i + 1))
        want = T.frame_labels(names.index(word), SPANS[word], 0, FEAT31, 16000)
        got = y[rows]
        if word == "go":  # energy detector: within two frames at each edge
            assert np.sum(got != want) <= 4
        else:
            np.testing.assert_array_equal(got, want)
        # the features agree: the anchor frame holds the burst wherever the label is the word
        assert np.all(_anchor_loud(x[rows])[got != 0])


def test_training_batches_label_each_window_by_its_anchor_frame(burst_corpus: Path,
                                                                tmp_path: Path) -> None:
    cfg = _cfg(burst_corpus, tmp_path)
    split = T.FrameSplit(cfg, FEAT31, "training")
    assert len(split) == 60 and split.batches(12) == 5  # 2 clips (12 windows) per batch
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in split.epoch(0, 12)], strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (60, 620) and set(np.unique(y)) <= set(range(12))
    loud = _anchor_loud(x)
    assert np.all(loud[y != 0])  # a word label only where the anchor frame is the burst
    # silence labels: anchor frame quiet, or at the burst's edge (a frame two away is quiet)
    edge = ~_anchor_loud(x, L - 2) | ~_anchor_loud(x, L + 2)
    assert np.all(~loud[y == 0] | edge[y == 0])
    assert 0 < np.mean(y != 0) < 1
    # the same key gives the same batches (resumable epochs)
    again = np.concatenate([b.numpy() for _, b in split.epoch(0, 12)])
    np.testing.assert_array_equal(again, y)


def test_speed_perturbation_moves_the_spans_with_the_audio() -> None:
    # a burst at a known span, resampled by speed_perturb: the moved span (speed_spans) is
    # where the resampled audio is non-zero, to the sample (linear interpolation reaches
    # one sample further on each side)
    import tensorflow as tf

    spans = np.array([[1600, 6400], [5000, 9000], [9000, 15000], [7000, 7900]], np.int64)
    clips = np.stack([_burst_clip(tuple(s), i) for i, s in enumerate(spans)])
    cfg = D.DataConfig(path="x", speed_min=0.6, speed_max=1.5)
    seed = tf.constant([3, 4], tf.int64)
    out = D.speed_perturb(tf.constant(clips), cfg, seed).numpy()
    factor = tf.random.stateless_uniform([4], seed, 0.6, 1.5).numpy()
    assert factor.min() < 0.9 and factor.max() > 1.1  # both directions are exercised
    moved = T.speed_spans(tf.constant(spans), tf.constant(factor), 16000).numpy()
    for row, (start, end) in zip(out, moved, strict=True):
        loud = np.flatnonzero(row != 0.0)
        assert abs(loud[0] - start) <= 1 and abs(loud[-1] + 1 - end) <= 1
    # silence examples keep no span
    assert T.speed_spans(tf.constant([list(T.NO_SPAN)], tf.int64), tf.constant([1.3]),
                         16000).numpy().tolist() == [list(T.NO_SPAN)]


def test_speed_perturbed_batches_label_the_moved_word(burst_corpus: Path,
                                                      tmp_path: Path) -> None:
    # strong speed perturbation moves the bursts by up to ~190 ms: a window is labelled
    # with the word exactly where its anchor frame holds the (moved) burst
    cfg = dataclasses.replace(_cfg(burst_corpus, tmp_path), speed_min=0.6, speed_max=1.5)
    _assert_windows_labelled_where_the_burst_is(cfg)


def test_word_warp_moves_the_word_its_knot_and_its_span() -> None:
    # a burst whose first half is loud and second half quiet (both far above the digital
    # silence around it): after the warp the word lasts L / tempo frames around its centre,
    # the loud/quiet boundary (the knot at 0.5) lands at fraction `moved` of the new word,
    # and the moved span (warp_spans) covers exactly the frames that hold the burst
    import tensorflow as tf

    spans = np.array([[3200, 9600], [1600, 12800], [8000, 15000], [400, 5000]], np.int64)
    clips = []
    for i, (a, b) in enumerate(spans):
        clip = _burst_clip((a, b), i)
        clip[(a + b) // 2 : b] *= 0.1
        clips.append(clip)
    feats = F.frames(tf.constant(np.stack(clips)), FEAT31)  # [4, 98, 20]
    tempo = tf.constant([0.7, 1.4, 1.0, 0.8])
    knot = tf.constant([0.5, 0.5, 0.5, 0.5])
    moved = tf.constant([0.7, 0.35, 0.5, 0.5])
    src, out = T.word_warp_points(tf.constant(spans), tempo, knot, moved, FEAT31, 98)
    warped = T.warp_frames(feats, src, out).numpy().mean(axis=2)
    new = T.warp_spans(tf.constant(spans), src, out, FEAT31, 98).numpy()
    centres = T.anchor_centres(FEAT31, 16000)[0] - L * 160 + 160 * np.arange(98)
    was = [(centres >= a) & (centres < b) for a, b in spans]
    for i, (a2, b2) in enumerate(new):
        loud = warped[i] > -1.0  # silence is ~-1.8, the quiet half ~0.4, the loud ~1.1
        inside = (centres >= a2) & (centres < b2)
        assert np.all(loud[inside])  # every frame labelled with the word holds it
        # loud frames outside the span: only the burst's edge frames (a window overlapping
        # the burst in part), spread by the warp around the word
        outside = np.flatnonzero(loud & ~inside)
        first, last = np.flatnonzero(inside)[[0, -1]]
        assert np.all((outside < first) & (outside >= first - 4)
                      | (outside > last) & (outside <= last + 4))
        assert abs(inside.sum() - was[i].sum() / float(tempo[i])) <= 1.5
        # the knot: the loud half takes `moved` of the warped word
        assert abs(np.sum(warped[i][inside] > 0.75) / inside.sum() - float(moved[i])) < 0.06
    np.testing.assert_array_equal(new[2], spans[2])  # tempo 1, knot unmoved: identity
    # silence examples: identity warp, no span
    s2, o2 = T.word_warp_points(tf.constant([list(T.NO_SPAN)], tf.int64), tf.constant([0.7]),
                                tf.constant([0.5]), tf.constant([0.8]), FEAT31, 98)
    np.testing.assert_allclose(T.warp_frames(feats[:1], s2, o2).numpy(), feats[:1].numpy())
    assert T.warp_spans(tf.constant([list(T.NO_SPAN)], tf.int64), s2, o2, FEAT31,
                        98).numpy().tolist() == [list(T.NO_SPAN)]


def test_warped_batches_label_the_warped_word(burst_corpus: Path, tmp_path: Path) -> None:
    # strong tempo (0.6-1.5) and time warp (0.3) with frame targets: a window carries the
    # word exactly where its anchor frame holds the warped burst
    cfg = dataclasses.replace(_cfg(burst_corpus, tmp_path), tempo_min=0.6, tempo_max=1.5,
                              time_warp=0.3)
    _assert_windows_labelled_where_the_burst_is(cfg)
    with pytest.raises(KwsqError, match="time_warp"):
        D.DataConfig(path="x", time_warp=0.2)
    with pytest.raises(KwsqError, match="time_warp"):
        dataclasses.replace(cfg, time_warp=0.7)


def test_word_label_delay_labels_windows_that_heard_the_onset(burst_corpus: Path,
                                                              tmp_path: Path) -> None:
    # word_label_delay_ms 150: a window is labelled with the word only when its anchor frame
    # and the frame 14 hops (140 ms) before it both hold the burst; windows anchored on the
    # burst's first 150 ms are silence (the frame 17 hops before is quiet there)
    cfg = dataclasses.replace(_cfg(burst_corpus, tmp_path), word_label_delay_ms=150.0)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for k in range(2)
                   for x, y in T.FrameSplit(cfg, FEAT31, "training").epoch(k, 12)], strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    loud, before = _anchor_loud(x), _anchor_loud(x, L - 14)
    assert np.all(loud[y != 0] & before[y != 0])
    onset_or_end = ~_anchor_loud(x, L - 17) | ~_anchor_loud(x, L + 2)
    assert np.all(~loud[y == 0] | onset_or_end[y == 0])
    assert np.sum(loud & (y == 0) & ~_anchor_loud(x, L - 17)) > 5  # the onsets are there
    # validation windows follow the same rule; the start moves by at most half the word
    xv, yv = T.window_arrays(cfg, FEAT31, "validation", stride=1)
    assert np.all(_anchor_loud(xv, L - 14)[yv != 0])
    np.testing.assert_array_equal(
        T.label_spans(np.array([[1000, 9000], [1000, 3000], list(T.NO_SPAN)]), 150.0).numpy(),
        [[3400, 9000], [2000, 3000], list(T.NO_SPAN)])
    with pytest.raises(KwsqError, match="word_label_delay_ms"):
        D.DataConfig(path="x", word_label_delay_ms=100.0)


def test_balanced_window_weights_give_every_class_the_same_total(burst_corpus: Path,
                                                                 tmp_path: Path) -> None:
    cfg = dataclasses.replace(_cfg(burst_corpus, tmp_path), class_weight="balanced")
    split = T.FrameSplit(cfg, FEAT31, "training")
    names = D.class_names(cfg)
    # reference: every window position of every clip labelled by frame_labels, one by one
    targets = np.concatenate([T.frame_labels(names.index(w), SPANS[w], 0, FEAT31, 16000)
                              for w in COMMANDS])
    totals = np.bincount(targets, weights=split.class_weights[targets], minlength=12)
    present = np.bincount(targets, minlength=12) > 0
    assert present.sum() == 11  # silence + the 10 commands (no unknown clips)
    np.testing.assert_allclose(totals[present], targets.size / 11, rtol=1e-5)
    assert np.all(split.class_weights[~present] == 0)
    assert split.class_weights[0] < 0.5 < 1.5 < split.class_weights[1:][present[1:]].min()
    # the batches carry each window's class weight
    for _, y, w in split.epoch(0, 12):
        np.testing.assert_array_equal(w.numpy(), split.class_weights[y.numpy()])


def test_35_words_with_frame_targets_get_a_silence_class(tmp_path: Path) -> None:
    # one burst clip per word of the 35; label mode 35 with frame targets: 36 classes,
    # _silence_ first (the windows outside each word), every word one class higher
    root = tmp_path / "corpus35"
    spans = {w: (1600 + 200 * i, 8000 + 100 * i) for i, w in enumerate(WORDS)}
    for i, w in enumerate(WORDS):
        write_wav(root / w / "train0000_nohash_0.wav", _burst_clip(spans[w], i))
    write_alignments(root, {f"{w}/train0000_nohash_0.wav": spans[w] for w in WORDS})
    (root / "validation_list.txt").write_text("")
    (root / "testing_list.txt").write_text("")
    write_wav(root / "_background_noise_" / "white.wav", np.zeros(32000, np.float32))
    cfg = D.DataConfig(path=str(root), label_mode="35", targets="frames",
                       cache_dir=str(tmp_path / "cache"))
    names = D.class_names(cfg)
    assert names == ["_silence_", *WORDS]
    assert D.class_names(dataclasses.replace(cfg, targets=None)) == list(WORDS)
    assert D.cache_key(cfg, None, "training") != D.cache_key(
        dataclasses.replace(cfg, targets=None), None, "training")  # labels differ
    x, y = T.window_arrays(cfg, FEAT31, "training", stride=1)
    assert y.shape == (35 * 68,)
    for i, w in enumerate(WORDS):  # load order: WORDS order
        got = y[68 * i : 68 * (i + 1)]
        assert set(got.tolist()) == {0, WORDS.index(w) + 1}
        np.testing.assert_array_equal(got, T.frame_labels(WORDS.index(w) + 1, spans[w], 0,
                                                          FEAT31, 16000))
    assert np.all(_anchor_loud(x)[y != 0])


def test_frame_targets_refuse_what_cannot_work(burst_corpus: Path, tmp_path: Path) -> None:
    cfg = _cfg(burst_corpus, tmp_path)
    with pytest.raises(KwsqError, match="stacked-frame window"):
        T.check_config(cfg, F.FeatureConfig(kind="lfbe", num_bins=20))
    with pytest.raises(KwsqError, match="unknown targets"):
        D.DataConfig(path=str(burst_corpus), targets="words")
    with pytest.raises(KwsqError, match="frame_windows"):
        D.DataConfig(path=str(burst_corpus), frame_windows=4)
    assert "targets" not in D.DataConfig(path="x", targets="clip").to_dict()
