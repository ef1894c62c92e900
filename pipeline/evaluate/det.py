"""Streaming detection rules and the detection error trade-off (DET): the one specification.

Every streaming figure kwsq reports (miss rate against false accepts per hour, DET area
under the curve, miss rate at 1, 0.5 and 0.1 FA/hour) comes from the small pure
functions below, and a device-side detector (the C streaming detector) must reproduce
them exactly. They work on one keyword's posterior sequence at a time.

Specification (``T`` frames, frame ``t`` has posterior ``p[t]`` and time ``time[t]`` in
seconds, strictly increasing; ``time[t]`` is the moment a device has all the audio the
model saw, i.e. the end of the input window):

1. **Smoothing** (:func:`smooth`), window ``w >= 1`` frames, causal moving mean::

       s[t] = (p[max(0, t - w + 1)] + ... + p[t]) / (t - max(0, t - w + 1) + 1)

   so the first ``w - 1`` frames average over the frames seen so far. ``w = 1`` is the
   identity. ``w`` is ``max(1, round(smooth_seconds / hop_seconds))`` (:func:`window_frames`).
2. **Peaks** (:func:`peaks`): frame ``t`` is a peak when ``s[t] > s[t - 1]`` (or ``t == 0``)
   and ``s[t] >= s[t + 1]`` (or ``t == T - 1``). On a flat top the first frame is the peak.
   A device knows frame ``t`` is a peak one frame later.
3. **Threshold and refractory suppression** (:func:`detect`): walk the peaks in time order;
   a peak with ``s[t] >= threshold`` becomes a detection unless
   ``time[t] - time[last detection] < refractory`` (seconds), in which case it is dropped
   (a dropped peak does not restart the refractory time).
4. **Matching** (:func:`match`) against the ground-truth events of the same keyword, each a
   time span ``[start, end]`` (seconds). Detections are taken in time order; a detection at
   time ``d`` *covers* event ``e`` when ``start_e - tol_before <= d <= end_e + tol_after``.
   It is a **hit** of the earliest covered event not hit yet; if it covers only events
   already hit it is a **duplicate** (neither hit nor false accept); if it covers no event,
   it is a **false accept**. Events never hit are **misses**. A detection of keyword ``k``
   during a word that is not ``k`` is a false accept of ``k``.
5. **Rates**: miss rate = misses / events; false accepts per hour = false accepts / hours of
   audio scored (all of it: keyword-bearing and negative streams). *Pooled* figures use one
   threshold for every keyword: hits, events and false accepts summed over keywords.
6. **DET curve** (:func:`sweep`): the threshold is swept from above the highest peak (no
   detection: miss rate 1, 0 FA/h) downwards. The operating curve ``miss(f)`` is the lowest
   miss rate among the thresholds whose false accepts per hour are ``<= f`` (1 if none).
   ``miss_at(f)`` is that value (the points users compare: 1, 0.5 and 0.1 FA/h; with ``H``
   hours of audio, ``f < 1/H`` means no false accept at all).
7. **AUC** (:func:`auc`): ``(1 / (f_hi - f_lo)) * integral of miss(f) df`` over
   ``[f_lo, f_hi]`` FA/hour on a linear axis: the mean miss rate over that range, between 0
   and 1, smaller is better. *Relative AUC* is a model's AUC divided by the float model's
   (as the low-bit quantization papers report it; above 1 is worse than float).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.errors import KwsqError

# Defaults, recorded with every result so a figure always states the rules it came from.
SMOOTH_SECONDS = 0.1
REFRACTORY_SECONDS = 1.0
TOL_BEFORE_SECONDS = 0.0
TOL_AFTER_SECONDS = 1.0
# Clip-trained models on the embedded corpus give curves between ~10 and a few hundred
# FA/h (docs/streams.md), so the area is taken up to 100 FA/h, where they differ; the
# operating points users compare (1, 0.5, 0.1 FA/h) are reported beside it.
AUC_FA_RANGE = (0.0, 100.0)
OPERATING_POINTS = (1.0, 0.5, 0.1)


@dataclass(frozen=True)
class Rules:
    """The streaming detection settings; every reported figure names them."""

    smooth_seconds: float = SMOOTH_SECONDS
    refractory_seconds: float = REFRACTORY_SECONDS
    tol_before_seconds: float = TOL_BEFORE_SECONDS
    tol_after_seconds: float = TOL_AFTER_SECONDS
    auc_fa_min: float = AUC_FA_RANGE[0]
    auc_fa_max: float = AUC_FA_RANGE[1]

    def __post_init__(self) -> None:
        if self.smooth_seconds < 0 or self.refractory_seconds < 0:
            raise KwsqError("smoothing and refractory times must be >= 0 seconds")
        if self.tol_before_seconds < 0 or self.tol_after_seconds < 0:
            raise KwsqError("hit tolerances must be >= 0 seconds")
        if not 0 <= self.auc_fa_min < self.auc_fa_max:
            raise KwsqError("the AUC range needs 0 <= min < max false accepts per hour")

    def to_dict(self) -> dict[str, float]:
        return {"smooth_seconds": self.smooth_seconds,
                "refractory_seconds": self.refractory_seconds,
                "tol_before_seconds": self.tol_before_seconds,
                "tol_after_seconds": self.tol_after_seconds,
                "auc_fa_range": [self.auc_fa_min, self.auc_fa_max]}


DEFAULT_RULES = Rules()


# ----------------------------------------------------------------------------- rules 1-4

def window_frames(smooth_seconds: float, hop_seconds: float) -> int:
    """Smoothing window in frames: ``max(1, round(smooth_seconds / hop_seconds))``."""
    if hop_seconds <= 0:
        raise KwsqError("the hop must be > 0 seconds")
    return max(1, int(round(smooth_seconds / hop_seconds)))


def smooth(p: np.ndarray, w: int, axis: int = -1) -> np.ndarray:
    """Causal moving mean over the last ``w`` frames (fewer at the start) along ``axis``;
    rule 1. A ``[clips, frames, classes]`` array smooths every clip and class at once."""
    if w < 1:
        raise KwsqError("the smoothing window must be >= 1 frame")
    p = np.asarray(p, np.float64)
    if w == 1 or p.size == 0:
        return p.copy()
    q = np.moveaxis(p, axis, -1)
    c = np.concatenate([np.zeros(q.shape[:-1] + (1,)), np.cumsum(q, axis=-1)], axis=-1)
    t = np.arange(q.shape[-1])
    lo = np.maximum(0, t - w + 1)
    return np.moveaxis((c[..., t + 1] - c[..., lo]) / (t + 1 - lo), -1, axis)


def peaks(s: np.ndarray) -> np.ndarray:
    """Indices of the peaks of ``s`` (rule 2), ascending."""
    s = np.asarray(s, np.float64)
    if s.size == 0:
        return np.zeros(0, np.int64)
    rise = np.ones(s.size, bool)
    rise[1:] = s[1:] > s[:-1]
    fall = np.ones(s.size, bool)
    fall[:-1] = s[:-1] >= s[1:]
    return np.flatnonzero(rise & fall)


def refractory(times: np.ndarray, seconds: float) -> np.ndarray:
    """Positions kept by refractory suppression of ascending ``times`` (rule 3's second half)."""
    kept = []
    last = -np.inf
    # ``t >= last + seconds``, not ``t - last >= seconds``: the two differ by an ulp at an
    # exact gap (7.79 s -> 8.79 s is 0.9999999999999991 s apart), and the C detector
    # (tflm_port/apps/detector/detector.c) computes this form, so both keep the same peaks.
    for i, t in enumerate(np.asarray(times, np.float64).tolist()):
        if t >= last + seconds:
            kept.append(i)
            last = t
    return np.asarray(kept, np.int64)


def detect(s: np.ndarray, times: np.ndarray, threshold: float,
           refractory_seconds: float) -> np.ndarray:
    """Frame indices of the detections in smoothed scores ``s`` at ``threshold`` (rule 3)."""
    s = np.asarray(s, np.float64)
    times = np.asarray(times, np.float64)
    if s.shape != times.shape:
        raise KwsqError("scores and times differ in length")
    cand = peaks(s)
    cand = cand[s[cand] >= threshold]
    return cand[refractory(times[cand], refractory_seconds)]


@dataclass
class Match:
    """Rule 4's outcome for one keyword at one threshold."""

    hits: int
    misses: int
    false_accepts: int
    duplicates: int
    hit_events: np.ndarray  # bool per event, in the order given

    @property
    def events(self) -> int:
        return self.hits + self.misses


def match(detections: np.ndarray, events: Sequence[tuple[float, float]],
          tol_before: float = TOL_BEFORE_SECONDS, tol_after: float = TOL_AFTER_SECONDS
          ) -> Match:
    """Hits, misses, false accepts and duplicates of detection times against event spans."""
    d = np.sort(np.asarray(detections, np.float64))
    ev = np.asarray(events, np.float64).reshape(-1, 2)
    order = np.argsort(ev[:, 0], kind="stable")
    lo = ev[order, 0] - tol_before
    hi = ev[order, 1] + tol_after
    hit = np.zeros(len(ev), bool)
    fa = dup = 0
    if len(ev) == 0 or np.all(hi[:-1] < lo[1:]):
        # Windows that do not overlap: a detection covers at most one event, and the
        # rule reduces to counting (the same outcome as the general walk below).
        idx = np.searchsorted(lo, d, side="right") - 1
        ok = idx >= 0
        ok[ok] = d[ok] <= hi[idx[ok]]
        first = np.unique(idx[ok])
        hit[first] = True
        fa, dup = int(np.sum(~ok)), int(np.sum(ok)) - first.size
        d = d[:0]
    for t in d:
        covered = np.flatnonzero((lo <= t) & (t <= hi))
        if covered.size == 0:
            fa += 1
            continue
        free = covered[~hit[covered]]
        if free.size:
            hit[free[0]] = True
        else:
            dup += 1
    hit_events = np.zeros(len(ev), bool)
    hit_events[order] = hit
    n_hit = int(hit.sum())
    return Match(n_hit, len(ev) - n_hit, fa, dup, hit_events)


# ----------------------------------------------------------------------------- rules 5-7

@dataclass
class Curve:
    """A DET curve: one point per swept threshold, thresholds descending."""

    thresholds: np.ndarray
    miss_rate: np.ndarray
    fa_per_hour: np.ndarray
    events: int
    hours: float

    def miss_at(self, fa_per_hour: float) -> float:
        """Rule 6: the lowest miss rate with at most ``fa_per_hour`` false accepts per hour."""
        ok = self.fa_per_hour <= fa_per_hour + 1e-12
        return float(self.miss_rate[ok].min()) if ok.any() else 1.0

    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """The operating curve as steps: FA/h knots ascending and the miss rate from each."""
        order = np.argsort(self.fa_per_hour, kind="stable")
        fa = self.fa_per_hour[order]
        miss = np.minimum.accumulate(self.miss_rate[order])
        knots, first = np.unique(fa, return_index=True)
        last = np.r_[first[1:], fa.size] - 1  # the best miss rate at each distinct FA/h
        return knots, miss[last]

    def to_dict(self) -> dict[str, list[float] | int | float]:
        return {"thresholds": [round(float(x), 6) for x in self.thresholds],
                "miss_rate": [round(float(x), 6) for x in self.miss_rate],
                "fa_per_hour": [round(float(x), 6) for x in self.fa_per_hour],
                "events": self.events, "hours": round(self.hours, 6)}


def auc(curve: Curve, fa_min: float = AUC_FA_RANGE[0], fa_max: float = AUC_FA_RANGE[1]
        ) -> float:
    """Rule 7: mean of the operating curve's miss rate over ``[fa_min, fa_max]`` FA/hour."""
    if not 0 <= fa_min < fa_max:
        raise KwsqError("the AUC range needs 0 <= min < max false accepts per hour")
    knots, miss = curve.envelope()
    # miss(f) is a right-continuous step: value 1 before the first knot, miss[i] on
    # [knots[i], knots[i+1]).
    edges = np.concatenate([[fa_min], np.clip(knots, fa_min, fa_max), [fa_max]])
    values = np.concatenate([[1.0], miss])
    widths = np.diff(edges)
    return float(np.sum(widths * values) / (fa_max - fa_min))


@dataclass
class KeywordScores:
    """What the sweep needs of one keyword: its peak candidates and its event spans.

    ``peak_scores``/``peak_times`` are the peaks of the smoothed posterior (rule 2) over
    all scored audio, times ascending (several recordings are placed one after the other
    with gaps longer than the refractory time and tolerances, see :func:`pool`).
    """

    name: str
    peak_scores: np.ndarray
    peak_times: np.ndarray
    events: np.ndarray  # [n, 2] start, end seconds


def threshold_grid(scores: Sequence[np.ndarray], max_points: int = 250) -> np.ndarray:
    """Thresholds to sweep, descending: every distinct peak score if there are few, else
    the highest 100 and geometrically spaced ranks below them (fine where FA/h is low)."""
    allv = np.unique(np.concatenate([np.asarray(s, np.float64) for s in scores] or [[]]))[::-1]
    if allv.size <= max_points:
        return allv
    ranks = np.unique(np.concatenate([
        np.arange(100), np.round(np.geomspace(100, allv.size - 1, max_points - 100))
    ]).astype(np.int64))
    return allv[ranks]


@dataclass
class Sweep:
    """Per keyword and pooled DET curves over one threshold grid."""

    keywords: dict[str, Curve]
    pooled: Curve


def sweep(items: Sequence[KeywordScores], hours: float, rules: Rules = Rules(),
          thresholds: np.ndarray | None = None, stop_fa_per_hour: float | None = None
          ) -> Sweep:
    """Rules 3-6 at every threshold of the grid (descending), per keyword and pooled.

    The sweep stops early once the pooled false accepts per hour exceed
    ``stop_fa_per_hour`` (default: 3 x the top of the AUC range): lower thresholds cannot
    change any reported figure and only cost time.
    """
    if hours <= 0:
        raise KwsqError("no audio to score (0 hours)")
    if thresholds is None:
        thresholds = threshold_grid([k.peak_scores for k in items])
    stop = 3 * rules.auc_fa_max if stop_fa_per_hour is None else stop_fa_per_hour
    grid = [np.inf]
    rows: dict[str, list[tuple[int, int]]] = {k.name: [(0, len(k.events))] for k in items}
    pooled = [(0, 0)]  # (misses, false accepts)
    for th in thresholds:
        tot_miss = tot_fa = 0
        for k in items:
            keep = k.peak_scores >= th
            times = k.peak_times[keep]
            det = times[refractory(times, rules.refractory_seconds)]
            m = match(det, k.events, rules.tol_before_seconds, rules.tol_after_seconds)
            rows[k.name].append((m.false_accepts, m.misses))
            tot_miss += m.misses
            tot_fa += m.false_accepts
        grid.append(float(th))
        pooled.append((tot_miss, tot_fa))
        if tot_fa / hours > stop:
            break
    g = np.asarray(grid)
    total_events = sum(len(k.events) for k in items)
    curves = {}
    for k in items:
        fa = np.asarray([r[0] for r in rows[k.name]], np.float64)
        miss = np.asarray([r[1] for r in rows[k.name]], np.float64)
        n = len(k.events)
        curves[k.name] = Curve(g, miss / n if n else np.zeros_like(miss), fa / hours, n, hours)
    p_miss = np.asarray([r[0] for r in pooled], np.float64)
    p_miss[0] = total_events
    p_fa = np.asarray([r[1] for r in pooled], np.float64)
    pooled_curve = Curve(g, p_miss / total_events if total_events else np.zeros_like(p_miss),
                         p_fa / hours, total_events, hours)
    return Sweep(curves, pooled_curve)


def summarize(curve: Curve, rules: Rules = Rules()) -> dict[str, float]:
    """AUC and the miss rates at the operating points users compare."""
    out = {"auc": auc(curve, rules.auc_fa_min, rules.auc_fa_max)}
    for f in OPERATING_POINTS:
        out[f"miss_at_{f:g}_fa_per_hour"] = curve.miss_at(f)
    return out


# ----------------------------------------------------------------------------- pooling

POOL_GAP_SECONDS = 1000.0  # between recordings: longer than any refractory time or tolerance


def keyword_scores(name: str, p: Sequence[np.ndarray], times: Sequence[np.ndarray],
                   events: Sequence[np.ndarray], durations: Sequence[float],
                   w: int) -> KeywordScores:
    """One keyword's peaks and events over several recordings laid one after another.

    ``p[i]``/``times[i]`` are recording ``i``'s raw posteriors and frame times,
    ``events[i]`` its ``[n, 2]`` spans of this keyword, ``durations[i]`` its length.
    Each recording is smoothed on its own (rule 1 restarts at its first frame).
    """
    ps, ts, evs = [], [], []
    offset = 0.0
    for pi, ti, ei, dur in zip(p, times, events, durations, strict=True):
        s = smooth(pi, w)
        pk = peaks(s)
        ps.append(s[pk])
        ts.append(np.asarray(ti, np.float64)[pk] + offset)
        evs.append(np.asarray(ei, np.float64).reshape(-1, 2) + offset)
        offset += float(dur) + POOL_GAP_SECONDS
    return KeywordScores(name, np.concatenate(ps) if ps else np.zeros(0),
                         np.concatenate(ts) if ts else np.zeros(0),
                         np.concatenate(evs) if evs else np.zeros((0, 2)))


__all__ = [
    "Rules", "window_frames", "smooth", "peaks", "refractory", "detect", "Match", "match",
    "Curve", "auc", "KeywordScores", "threshold_grid", "Sweep", "sweep", "summarize",
    "keyword_scores", "OPERATING_POINTS", "DEFAULT_RULES",
]
