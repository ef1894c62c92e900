"""Clip-level scores: accuracy, per-class accuracy and the confusion matrix.

The clips are a split of the run's own corpus or of any folder in the Speech Commands
layout, loaded with the run's label mode and feature front-end, so a trained run can be
measured on another data set with one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import KwsqError
from pipeline.evaluate.backends import Scorer
from pipeline.train.runs import Run


def clip_arrays(run: Run, data: str | Path | None = None, split: str = "testing"
                ) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """Features, labels, class names and the data folder, as the run's config says."""
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig

    cfg = run.read_config()
    d = dict(cfg.data)
    if data is not None:
        if not Path(data).exists():
            raise KwsqError(f"dataset path {data} does not exist")
        d["path"] = str(data)
    data_cfg = loader.DataConfig.from_dict(d)
    feat_cfg = FeatureConfig.from_dict(cfg.features)
    x, y = loader.arrays(data_cfg, feat_cfg, split)
    return np.asarray(x, np.float32), np.asarray(y), loader.class_names(data_cfg), data_cfg.path


def confusion(y: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    """``[true, predicted]`` counts."""
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (np.asarray(y, np.int64), np.asarray(pred, np.int64)), 1)
    return m


def clip_scores(probs: np.ndarray, y: np.ndarray, names: list[str]) -> dict[str, Any]:
    if probs.shape[1] != len(names):
        raise KwsqError(f"the model has {probs.shape[1]} outputs but the label mode has "
                        f"{len(names)} classes")
    pred = probs.argmax(1)
    m = confusion(y, pred, len(names))
    totals = m.sum(1)
    per_class = {n: (float(m[i, i] / totals[i]) if totals[i] else None)
                 for i, n in enumerate(names)}
    return {"examples": int(len(y)), "accuracy": float(np.mean(pred == y)),
            "per_class_accuracy": per_class, "confusion": m.tolist()}


def evaluate_clips(scorers: list[Scorer], x: np.ndarray, y: np.ndarray, names: list[str],
                   log=print) -> dict[str, dict[str, Any]]:
    out = {}
    for s in scorers:
        out[s.name] = clip_scores(s.score(x), y, names)
        log(f"eval: {s.name:7s} clips: accuracy {100 * out[s.name]['accuracy']:.2f}% "
            f"on {len(y)} clips")
    return out
