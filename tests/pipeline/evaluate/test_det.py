"""DET rules on synthetic posterior streams whose hits, misses and false accepts are known."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import KwsqError
from pipeline.evaluate import det

HOP = 0.01
SECONDS = 1800.0  # half an hour: FA/h = 2 x false accepts


def spikes(spec: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """A posterior stream that is 0 except single-frame spikes ``(time, height)``."""
    n = int(round(SECONDS / HOP))
    times = (np.arange(n) + 1) * HOP
    p = np.zeros(n)
    for t, h in spec:
        p[int(round(t / HOP)) - 1] = h
    return p, times


# keyword "yes": five events; spikes chosen so every rule matters (see test bodies)
YES_EVENTS = np.array([[10, 10.5], [100, 100.6], [200, 200.5], [300, 300.5], [400, 401.5]])
YES_SPIKES = [(11.0, 0.9), (101.2, 0.6), (300.8, 0.95), (301.3, 0.8), (302.0, 0.7),
              (400.2, 0.9), (401.8, 0.9), (500.0, 0.85), (600.0, 0.5), (700.0, 0.3)]
NO_EVENTS = np.array([[50, 50.5]])
NO_SPIKES = [(51.0, 0.7), (11.0, 0.95)]  # the second one during a "yes": a false accept
RULES = det.Rules(smooth_seconds=0.0, refractory_seconds=1.0, tol_before_seconds=0.0,
                  tol_after_seconds=1.0, auc_fa_min=0.0, auc_fa_max=10.0)


def test_smooth_is_a_causal_moving_mean() -> None:
    p = np.array([0.0, 3.0, 6.0, 3.0, 0.0])
    assert det.smooth(p, 2).tolist() == [0.0, 1.5, 4.5, 4.5, 1.5]
    rng = np.random.default_rng(0)
    q = rng.random(50)
    ref = [q[max(0, t - 6): t + 1].mean() for t in range(50)]
    np.testing.assert_allclose(det.smooth(q, 7), ref, rtol=1e-12)
    assert det.smooth(q, 1).tolist() == q.tolist()
    assert det.window_frames(0.1, 0.01) == 10 and det.window_frames(0.0, 0.01) == 1
    with pytest.raises(KwsqError):
        det.smooth(q, 0)


def test_peaks_first_frame_of_a_flat_top() -> None:
    s = np.array([0, 1, 1, 0.5, 2, 2, 3, 0])
    assert det.peaks(s).tolist() == [1, 4, 6]
    assert det.peaks(np.array([5.0, 1.0])).tolist() == [0]
    assert det.peaks(np.array([1.0, 5.0])).tolist() == [1]


def test_detect_threshold_and_refractory() -> None:
    p, times = spikes(YES_SPIKES)
    got = times[det.detect(p, times, 0.75, 1.0)]
    # 301.3 (0.8) falls 0.5 s after the 300.8 detection: suppressed
    np.testing.assert_allclose(got, [11.0, 300.8, 400.2, 401.8, 500.0])
    got = times[det.detect(p, times, 0.6, 1.0)]
    np.testing.assert_allclose(got, [11.0, 101.2, 300.8, 302.0, 400.2, 401.8, 500.0])
    # a dropped peak does not restart the refractory time: 0 .. 0.6 .. 1.2 -> 0 and 1.2
    p2 = np.array([0.9, 0, 0, 0.9, 0, 0, 0.9])
    t2 = np.arange(7) * 0.2
    assert det.detect(p2, t2, 0.5, 1.0).tolist() == [0, 6]


def test_refractory_compares_as_the_c_detector_at_an_exact_gap() -> None:
    """Rule 3 as tflm_port/apps/detector/detector.c computes it, t >= last + refractory in
    float64: window ends of 124,640 and 140,640 samples are 1 s apart by that test but
    0.9999999999999991 s by t - last (found by test_detector's C-vs-Python comparison)."""
    times = np.array([124640, 132640, 140640, 145440]) / 16000.0
    assert times[2] - times[0] < 1.0 <= times[2] - times[0] + 1e-12
    assert det.refractory(times, 1.0).tolist() == [0, 2]
    # the same comparison drops what C drops
    c_kept = []
    last = -np.inf
    for i, t in enumerate(times.tolist()):
        if not t < last + 1.0:  # detector.c: dropped when t < last + refractory
            c_kept.append(i)
            last = t
    assert det.refractory(times, 1.0).tolist() == c_kept
    assert det.refractory(np.array([0.0, 0.99]), 1.0).tolist() == [0]


def test_match_hits_duplicates_false_accepts() -> None:
    m = det.match(np.array([11.0, 300.8, 400.2, 401.8, 500.0]), YES_EVENTS, 0.0, 1.0)
    assert (m.hits, m.misses, m.false_accepts, m.duplicates) == (3, 2, 1, 1)
    assert m.hit_events.tolist() == [True, False, False, True, True]
    # tolerance before the start: 9.9 covers [10, 10.5] only with tol_before >= 0.1
    assert det.match(np.array([9.9]), YES_EVENTS, 0.0, 1.0).false_accepts == 1
    assert det.match(np.array([9.9]), YES_EVENTS, 0.2, 1.0).hits == 1
    # overlapping windows: the earliest event not yet hit gets the detection
    m = det.match(np.array([1.2, 1.3]), np.array([[0.0, 0.5], [1.0, 1.5]]), 0.0, 1.0)
    assert (m.hits, m.duplicates, m.false_accepts) == (2, 0, 0)


def _sweep() -> det.Sweep:
    w = det.window_frames(RULES.smooth_seconds, HOP)
    items = []
    for name, spec, events in (("yes", YES_SPIKES, YES_EVENTS), ("no", NO_SPIKES, NO_EVENTS)):
        p, times = spikes(spec)
        items.append(det.keyword_scores(name, [p], [times], [events], [SECONDS], w))
    return det.sweep(items, SECONDS / 3600, RULES, stop_fa_per_hour=1e9)


def test_sweep_per_keyword_curve_known_by_hand() -> None:
    s = _sweep()
    yes = s.keywords["yes"]
    points = {round(float(t), 2): (round(float(m), 6), float(f))
              for t, m, f in zip(yes.thresholds, yes.miss_rate, yes.fa_per_hour, strict=True)}
    # threshold: (miss rate, false accepts per hour); 5 events, half an hour
    assert points[0.95] == (0.8, 0.0)
    assert points[0.9] == (0.4, 0.0)  # 11.0, 300.8, 400.2 hit; 401.8 duplicate
    assert points[0.85] == (0.4, 2.0)  # + 500.0 false accept
    assert points[0.8] == (0.4, 2.0)  # 301.3 suppressed by refractory
    assert points[0.7] == (0.4, 4.0)  # + 302.0: after the tolerance of [300, 300.5]
    assert points[0.6] == (0.2, 4.0)  # + 101.2 hit
    assert points[0.5] == (0.2, 6.0)
    assert points[0.3] == (0.2, 8.0)
    assert np.isinf(yes.thresholds[0]) and yes.miss_rate[0] == 1 and yes.fa_per_hour[0] == 0
    assert yes.miss_at(1.0) == 0.4 and yes.miss_at(0.1) == 0.4 and yes.miss_at(4.0) == 0.2
    # miss(f) = 0.4 on [0, 4), 0.2 on [4, 10]
    assert det.auc(yes, 0.0, 10.0) == pytest.approx((0.4 * 4 + 0.2 * 6) / 10)


def test_sweep_pooled_uses_one_threshold_for_all_keywords() -> None:
    s = _sweep()
    pooled = s.pooled
    at = {round(float(t), 2): (float(m), float(f))
          for t, m, f in zip(pooled.thresholds, pooled.miss_rate, pooled.fa_per_hour,
                                         strict=True)}
    # 0.9: yes 3 hits, no: its 0.95 spike is a false accept -> 3 misses of 6, 1 FA
    assert at[0.9] == (pytest.approx(3 / 6), 2.0)
    # 0.7: yes 3 hits 2 FA (500, 302); no: 1 hit 1 FA -> 2 misses of 6, 3 FA
    assert at[0.7] == (pytest.approx(2 / 6), 6.0)
    assert pooled.events == 6 and pooled.hours == 0.5


def test_auc_on_curves_of_known_area() -> None:
    def curve(fa: list[float], miss: list[float]) -> det.Curve:
        return det.Curve(np.arange(len(fa))[::-1].astype(float), np.array(miss),
                         np.array(fa), 10, 1.0)

    c = curve([0, 1, 2, 5], [0.9, 0.5, 0.3, 0.1])
    assert det.auc(c, 0, 10) == pytest.approx((0.9 + 0.5 + 0.3 * 3 + 0.1 * 5) / 10)
    # nothing below 2 FA/h: miss rate 1 there
    c = curve([2, 4], [0.5, 0.2])
    assert det.auc(c, 1, 6) == pytest.approx((1.0 + 0.5 * 2 + 0.2 * 2) / 5)
    # a worse point at a higher FA/h does not raise the operating curve
    c = curve([0, 3, 3, 6], [0.6, 0.4, 0.5, 0.45])
    assert det.auc(c, 0, 8) == pytest.approx((0.6 * 3 + 0.4 * 5) / 8)
    # independent numeric integration of miss_at
    rng = np.random.default_rng(1)
    fa = np.sort(rng.uniform(0, 12, 30))
    c = curve(list(fa), list(np.sort(rng.uniform(0, 1, 30))[::-1]))
    grid = np.linspace(0.5, 9.5, 200001)
    ref = np.mean([c.miss_at(f) for f in grid[::50]])
    assert det.auc(c, 0.5, 9.5) == pytest.approx(ref, abs=2e-3)
    with pytest.raises(KwsqError):
        det.auc(c, 5, 5)


def _reference_match(d: np.ndarray, ev: np.ndarray, tb: float, ta: float) -> tuple:
    """Rule 4 written out literally, one detection and one event at a time."""
    order = sorted(range(len(ev)), key=lambda i: (ev[i][0], i))
    hit = {i: False for i in order}
    fa = dup = 0
    for t in sorted(d):
        covered = [i for i in order if ev[i][0] - tb <= t <= ev[i][1] + ta]
        free = [i for i in covered if not hit[i]]
        if free:
            hit[free[0]] = True
        elif covered:
            dup += 1
        else:
            fa += 1
    return sum(hit.values()), fa, dup, [hit[i] for i in range(len(ev))]


@pytest.mark.parametrize("spacing", [3.0, 0.8])  # disjoint windows, then overlapping ones
def test_match_agrees_with_the_literal_rule(spacing: float) -> None:
    rng = np.random.default_rng(int(spacing * 10))
    for _ in range(50):
        starts = np.cumsum(rng.uniform(spacing, spacing + 2, 12))
        ev = np.stack([starts, starts + rng.uniform(0.2, 0.9, 12)], 1)
        d = rng.uniform(0, starts[-1] + 3, int(rng.integers(0, 30)))
        m = det.match(d, ev, 0.1, 1.0)
        hits, fa, dup, flags = _reference_match(d, ev, 0.1, 1.0)
        assert (m.hits, m.false_accepts, m.duplicates) == (hits, fa, dup)
        assert m.hit_events.tolist() == flags
