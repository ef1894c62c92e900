"""The report's figures (matplotlib, Agg backend, PNG): DET curves, confusion matrix,
accuracy and AUC against model bytes, training curves.

Each function takes plain data (lists, dicts from metrics.json and curves.json) and a
destination path, so the same figures serve ``kwsq report`` and ``make paper``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, dest: Path) -> Path:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return dest


@dataclass
class DetLine:
    label: str
    fa_per_hour: Sequence[float]
    miss_rate: Sequence[float]
    style: str = "-"
    spread: tuple[Sequence[float], Sequence[float]] | None = None  # (low, high) miss rate
    color: str | None = None  # matplotlib's cycle when None


def step_points(fa: Sequence[float], miss: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The operating curve (lowest miss rate at <= f FA/h) as knots, FA/h ascending."""
    fa = np.asarray(fa, np.float64)
    miss = np.asarray(miss, np.float64)
    order = np.argsort(fa, kind="stable")
    fa, miss = fa[order], np.minimum.accumulate(miss[order])
    knots, first = np.unique(fa, return_index=True)
    last = np.r_[first[1:], fa.size] - 1
    return knots, miss[last]


def det_figure(lines: Sequence[DetLine], dest: Path, title: str,
               fa_range: tuple[float, float] = (0.1, 1000.0),
               auc_range: tuple[float, float] | None = None) -> Path:
    """Miss rate against false accepts per hour (log axis), one step curve per line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    lo = fa_range[0]
    lowest = 100.0
    for line in lines:
        fa, miss = step_points(line.fa_per_hour, line.miss_rate)
        fa = np.maximum(fa, lo)  # 0 FA/h drawn at the left edge of the log axis
        # the sweep stops past the AUC range: the curve ends at its last measured point
        x, y = fa, miss
        ax.step(x, 100 * y, where="post", linestyle=line.style, label=line.label, lw=1.6,
                color=line.color)
        if y.size:
            lowest = min(lowest, 100 * float(y.min()))
        if line.spread is not None:
            ax.fill_between(np.maximum(np.asarray(line.fa_per_hour, float), lo),
                            100 * np.asarray(line.spread[0]), 100 * np.asarray(line.spread[1]),
                            step="post", alpha=0.15)
    if auc_range:
        ax.axvspan(max(auc_range[0], lo), auc_range[1], color="0.95", zorder=0,
                   label=f"AUC range {auc_range[0]:g}-{auc_range[1]:g} FA/h")
    for f in (0.1, 0.5, 1.0):
        ax.axvline(f, color="0.6", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(*fa_range)
    ax.set_ylim(max(0.0, 10 * np.floor(lowest / 10) - 10), 100.5)
    ax.set_xlabel("false accepts per hour (log)")
    ax.set_ylabel("miss rate (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, dest)


def confusion_figure(matrix: Sequence[Sequence[int]], names: Sequence[str], dest: Path,
                     title: str) -> Path:
    """Row-normalized confusion matrix with the counts written in the cells."""
    plt = _plt()
    m = np.asarray(matrix, np.float64)
    rows = m.sum(1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    fig, ax = plt.subplots(figsize=(0.5 * len(names) + 2.5, 0.5 * len(names) + 2))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    return _save(fig, dest)


def size_figure(points: Sequence[dict[str, Any]], dest: Path, title: str) -> Path:
    """Clip accuracy and DET AUC against model bytes: one labelled point per model."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    fig.subplots_adjust(wspace=0.3)
    for ax, key, ylabel in ((axes[0], "accuracy", "clip accuracy (%)"),
                            (axes[1], "auc", "DET AUC (mean miss rate, %)")):
        for p in points:
            if p.get(key) is None or not p.get("bytes"):
                continue
            ax.scatter(p["bytes"] / 1024, 100 * p[key], s=25)
            ax.annotate(p["label"], (p["bytes"] / 1024, 100 * p[key]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel("model size (KiB, .tflite)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return _save(fig, dest)


def training_figure(history: dict[str, list[dict[str, float]]], dest: Path, title: str
                    ) -> Path:
    """Loss and accuracy per epoch, stages one after the other on a shared epoch axis."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    offset = 0
    for stage, rows in history.items():
        if not rows:
            continue
        ep = offset + np.asarray([r["epoch"] for r in rows])
        for key, ax, style in (("loss", a1, "-"), ("accuracy", a2, "-"),
                               ("val_accuracy", a2, "--")):
            vals = [r.get(key) for r in rows]
            if any(v is not None for v in vals):
                ax.plot(ep, [np.nan if v is None else v for v in vals], style,
                        label=f"{stage} {key}")
        offset = int(ep.max())
        a1.axvline(offset + 0.5, color="0.8", lw=0.6)
    a1.set_xlabel("epoch")
    a1.set_ylabel("training loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    for ax in (a1, a2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, dest)
