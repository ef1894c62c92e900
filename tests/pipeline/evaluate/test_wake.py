"""Wake-word threshold: picked at a false-accept rate on scores, recall and false accepts per
clip, and the sliding-window keyword score against the clip rule of ``kwsq generalize``."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import KwsqError
from pipeline.evaluate import wake
from pipeline.train import generalize as G


def test_threshold_accepts_at_most_the_stated_share_of_other_clips() -> None:
    """Against brute force over every candidate threshold: the picked one lets at most
    rate x n other clips through and is the lowest that does (ties counted together)."""
    rng = np.random.default_rng(0)
    for scores in (rng.uniform(size=997), np.round(rng.uniform(size=400), 1),
                   rng.beta(0.3, 0.3, size=50), rng.uniform(size=300).astype(np.float32)):
        for rate in (0.0, 0.013, 0.05, 0.5, 0.999):
            t = wake.threshold_at_false_accepts(scores, rate)
            assert np.mean(scores >= t) <= rate + 1e-12
            assert np.mean(scores >= float(t)) <= rate + 1e-12  # as read back from JSON
            lower = [c for c in np.unique(scores) if c < t and np.mean(scores >= c) <= rate]
            assert not lower
    assert wake.threshold_at_false_accepts([0.2, 0.4], 1.0) == 0.0
    with pytest.raises(KwsqError, match="no non-keyword"):
        wake.threshold_at_false_accepts([], 0.05)


def test_rates_count_recall_and_false_accepts_per_clip() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 2])  # 2: a third class counts as "other"
    scores = np.array([0.95, 0.6, 0.3, 0.92, 0.1, 0.5, 0.2, 0.7])
    r = wake.rates(scores, y, 0.5)
    assert r["recall"] == pytest.approx(2 / 3) and r["false_accepts"] == pytest.approx(3 / 5)
    assert (r["keyword_clips"], r["other_clips"]) == (3, 5)
    r = wake.rates(scores, y, 0.93)
    assert r["recall"] == pytest.approx(1 / 3) and r["false_accepts"] == 0.0


def test_window_score_at_a_threshold_is_the_sliding_window_clip_rule() -> None:
    """A clip is the keyword under generalize.clip_predictions at threshold t exactly when
    its smoothed peak keyword score is >= t (two classes: _other_, keyword)."""
    rng = np.random.default_rng(3)
    p1 = rng.beta(0.5, 2.0, size=(300, 70))
    post = np.stack([1 - p1, p1], axis=-1)
    scores = wake.window_keyword_scores(post, 10)
    # causal mean over the last 10 positions (fewer at the start), its peak per clip
    want = np.array([max(c[max(0, t - 9) : t + 1].mean() for t in range(70)) for c in p1])
    np.testing.assert_allclose(scores, want, atol=1e-9)
    for t in (0.2, 0.35, 0.5):
        np.testing.assert_array_equal(G.clip_predictions(post, 10, t) == 1, scores >= t)


def test_threshold_option_parses_values_and_false_accept_rates() -> None:
    assert wake.WakeThreshold.parse("0.9") == wake.WakeThreshold(value=0.9)
    assert wake.WakeThreshold.parse("fa=0.05") == wake.WakeThreshold(false_accepts=0.05)
    assert "5 % false accepts" in wake.WakeThreshold.parse("fa=0.05").describe()
    for bad in ("1.5", "0", "fa=1", "fa=x", "high"):
        with pytest.raises(KwsqError, match="bad wake threshold"):
            wake.WakeThreshold.parse(bad)


def test_wake_table_lists_both_operating_points() -> None:
    pt = {"threshold": 0.9, "recall": 0.95, "false_accepts": 0.076, "keyword_clips": 40,
          "other_clips": 1940}
    row = {"left_out": "flite", "wake": {
        "threshold": 0.9, "rule": "fixed 0.9",
        "sets": {"left_out": {"default": {**pt, "recall": 1.0, "false_accepts": 0.479},
                              "picked": pt}}}}
    md = G.wake_markdown([row, {"left_out": "espeak"}])
    assert "| left_out | 100.0 % / 47.9 % (40 / 1940 clips) | 95.0 % / 7.6 % " in md
    assert "at 0.900 (fixed 0.9)" in md and "espeak" not in md
