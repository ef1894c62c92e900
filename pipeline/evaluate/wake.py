"""Wake-word decision threshold: keyword recall and false accepts per clip, and a threshold
picked on the validation split at a stated false-accept rate.

A wake-word model trained with class weights (``class_weight = "balanced"``, the keyword
about 1 clip in 35) puts the keyword's posterior high on many other clips: at the usual 0.5
such a model accepted half of the non-keyword clips (svd_dnn with frame targets, marvin with
flite left out: 47.9 % false accepts, 95 % recall at 0.9 with 7.6 %; docs/data.md). A device
runs the model at a threshold chosen for the false alarms its user tolerates; this module
picks it the same way, on the validation split (never the test sets), and reports both
operating points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import KwsqError

DEFAULT_THRESHOLD = 0.5
# validation clips that are not the keyword which the picked threshold may accept (per clip)
DEFAULT_FALSE_ACCEPTS = 0.05


@dataclass(frozen=True)
class WakeThreshold:
    """A fixed threshold (``value``) or one picked at a false-accept rate (``false_accepts``)."""

    value: float | None = None
    false_accepts: float | None = None

    @classmethod
    def parse(cls, text: str) -> WakeThreshold:
        """``"0.9"`` (fixed) or ``"fa=0.05"`` (picked on the validation split)."""
        try:
            if text.startswith("fa="):
                rate = float(text[3:])
                if not 0.0 <= rate < 1.0:
                    raise ValueError
                return cls(false_accepts=rate)
            value = float(text)
            if not 0.0 < value <= 1.0:
                raise ValueError
            return cls(value=value)
        except ValueError:
            raise KwsqError(f"bad wake threshold '{text}': expected a number in (0, 1] or "
                            "fa=RATE with RATE in [0, 1) (e.g. 0.9 or fa=0.05)") from None

    def describe(self) -> str:
        if self.value is not None:
            return f"fixed {self.value:g}"
        rate = 100 * float(self.false_accepts)
        return f"picked on the validation split at {rate:g} % false accepts"


def threshold_at_false_accepts(negative_scores: Any, rate: float) -> float:
    """The lowest threshold at which at most ``rate`` of ``negative_scores`` (keyword scores
    of clips that are not the keyword) reach it (a clip is accepted when score >= threshold)."""
    s = np.asarray(negative_scores)
    # the next value above in the scores' own precision (float32 posteriors compared with a
    # float64 threshold that rounds back to the score would accept it)
    s = np.sort(s.astype(s.dtype if s.dtype.kind == "f" else np.float64).ravel())[::-1]
    if s.size == 0:
        raise KwsqError("no non-keyword clips to pick a wake threshold on")
    allowed = int(np.floor(rate * s.size + 1e-9))  # false accepts allowed
    if allowed >= s.size:
        return 0.0
    return float(np.nextafter(s[allowed], np.inf))  # the (allowed+1)-th highest is rejected


def rates(scores: Any, y: Any, threshold: float, keyword: int = 1) -> dict[str, float]:
    """Keyword recall and false accepts (share of the other clips accepted) per clip."""
    scores, y = np.asarray(scores), np.asarray(y)
    accept = scores >= threshold
    pos, neg = y == keyword, y != keyword
    return {"threshold": float(threshold),
            "recall": float(accept[pos].mean()) if pos.any() else float("nan"),
            "false_accepts": float(accept[neg].mean()) if neg.any() else float("nan"),
            "keyword_clips": int(pos.sum()), "other_clips": int(neg.sum())}


def clip_keyword_scores(probs: Any, keyword: int = 1) -> np.ndarray:
    """Whole-clip models: the keyword's posterior ``[clips, classes] -> [clips]``."""
    return np.asarray(probs)[:, keyword]


def window_keyword_scores(posteriors: Any, smooth_frames: int, keyword: int = 1) -> np.ndarray:
    """Frame-target models: the keyword's posterior smoothed over ``smooth_frames`` window
    positions (as the streaming detector smooths it), its peak over the clip
    ``[clips, windows, classes] -> [clips]``; the same decision as the sliding-window clip
    rule at that threshold."""
    from pipeline.evaluate.det import smooth

    return smooth(np.asarray(posteriors)[..., keyword], smooth_frames, axis=1).max(axis=1)


__all__ = ["DEFAULT_FALSE_ACCEPTS", "DEFAULT_THRESHOLD", "WakeThreshold",
           "clip_keyword_scores", "rates", "threshold_at_false_accepts",
           "window_keyword_scores"]
