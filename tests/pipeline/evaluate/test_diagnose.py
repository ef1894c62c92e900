"""The stream diagnosis tables, on hand-made posteriors whose shares are known."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate import diagnose


def test_event_table_shares_by_snr() -> None:
    clip = np.array([0.95, 0.6, 0.2, 0.85])
    stream = np.array([0.4, 0.92, 0.1, 0.81])
    snr = np.array([3.0, 7.0, 8.0, 25.0])
    rows = diagnose.event_table(clip, stream, snr, thresholds=(0.5, 0.9))
    assert [r["snr_db"] for r in rows] == [[-np.inf, 5.0], [5.0, 10.0], [20.0, np.inf]]
    assert [r["events"] for r in rows] == [1, 2, 1]
    low, mid, high = rows
    assert (low["clip>=0.9"], low["stream>=0.9"], low["stream>=0.5"]) == (1.0, 0.0, 0.0)
    assert (mid["clip>=0.5"], mid["stream>=0.5"], mid["stream>=0.9"]) == (0.5, 0.5, 0.5)
    assert (high["clip>=0.9"], high["stream>=0.5"]) == (0.0, 1.0)


def test_false_accepts_per_hour_of_each_segment_kind() -> None:
    found = [(0.5, "words")] * 6 + [(0.9, "words")] * 2 + [(0.5, "noise")]
    out = diagnose.fa_by_segment(found, {"words": 1800.0, "noise": 7200.0, "silence": 360.0})
    assert out["words"]["fa_per_hour>=0.5"] == pytest.approx(12.0)
    assert out["words"]["fa_per_hour>=0.9"] == pytest.approx(4.0)
    assert out["noise"]["fa_per_hour>=0.5"] == pytest.approx(0.5)
    assert out["silence"]["fa_per_hour>=0.8"] == 0.0 and out["silence"]["hours"] == 0.1
