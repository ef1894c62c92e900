"""``kwsq report RUN``: a run's headline figures as a table, printed and saved as report.md.

Every number comes from the run's own ``metrics.json`` (written by train and
convert), so a report can always be traced back to the run that produced it.
"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.atomic import write_text
from pipeline.errors import KwsqError
from pipeline.train.runs import Run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder, e.g. runs/demo")


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.2f}%"


def summary_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    tfl = metrics.get("tflite", {})
    scheme = metrics.get("scheme", "?")
    rows = [
        ("model / scheme", f"{metrics.get('model', '?')} / {scheme}"),
        ("parameters", str(metrics.get("parameters", "-"))),
        ("test examples", str(metrics.get("test_examples", "-"))),
        ("float test accuracy (Keras)", _pct(metrics.get("float_test_accuracy"))),
    ]
    if "naive_test_accuracy" in metrics:
        rows.append((f"naive {scheme} accuracy (no QAT)", _pct(metrics["naive_test_accuracy"])))
    if "qat_test_accuracy" in metrics:
        rows.append((f"QAT {scheme} accuracy (Keras)", _pct(metrics["qat_test_accuracy"])))
    if tfl:
        rows += [
            (f"{scheme} .tflite accuracy (LiteRT)", _pct(tfl.get("litert_accuracy"))),
            (f"{scheme} .tflite accuracy (TFLite Micro)", _pct(tfl.get("tflm_accuracy"))),
            ("argmax agreement Keras vs LiteRT", _pct(tfl.get("litert_agreement"))),
            ("argmax agreement Keras vs TFLite Micro", _pct(tfl.get("tflm_agreement"))),
            ("argmax agreement LiteRT vs TFLite Micro", _pct(tfl.get("litert_tflm_agreement"))),
            ("max output difference LiteRT vs TFLM (LSB)",
             str(tfl.get("litert_tflm_max_lsb", "-"))),
            ("kwsq C runtime bit-exact with TFLM", _pct(tfl.get("kwsq_runtime_bitexact"))),
            ("kwsq C runtime arena bytes", str(tfl.get("kwsq_runtime_arena_bytes", "-"))),
            (".tflite bytes", str(tfl.get("model_bytes", "-"))),
        ]
        if "relative_size" in tfl:
            rows.append(("size relative to float .tflite", f"{tfl['relative_size']:.2f}"))
    return rows


def markdown(rows: list[tuple[str, str]], title: str) -> str:
    width = max(len(k) for k, _ in rows)
    lines = [f"# {title}", "", f"| {'figure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|---|"]
    lines += [f"| {k.ljust(width)} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    r = Run(args.run).require()
    metrics = r.read_metrics()
    if not metrics:
        raise KwsqError(f"{r.path} has no metrics.json yet: train it first")
    text = markdown(summary_rows(metrics), f"kwsq run {r.path.name}")
    write_text(r.path / "report.md", text)
    print(text, end="")
    print(f"(written to {r.path / 'report.md'})")
    return 0
