"""``kwsq report RUN [--with RUN2 ...]``: a run's figures as report.md with PNG plots.

Every number comes from the runs' own files: ``metrics.json`` (train, convert, verify,
eval), ``eval/curves.json`` (DET curves from ``kwsq eval``), ``checkpoints/state.json``
(per-epoch training figures), benchmark JSON written by ``kwsq bench --out`` into the
run folder (``bench*.json``) or ``runs/bench/``, and the cross-family table of ``kwsq
generalize`` (``generalize.json`` / metrics ``generalize``) of the run, or of the parent
when the run is one of its folds. The cross-family figure comes first: a test split of
held-out speakers of the training voices overstates what a user meets. A report can always
be traced back to the runs that produced it. ``--with`` adds other runs (the same model at
another scheme) to the model table, the DET figure and the size figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.errors import KwsqError
from pipeline.train.runs import Run

DEPLOYED_ORDER = ("kwsq", "tflm", "litert", "qat", "float")
M4_CLOCK_HZ = 120e6  # the m4 target's typical clock (pipeline/device/targets.py)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder, e.g. runs/demo")
    p.add_argument("--with", dest="others", nargs="*", default=[], metavar="RUN",
                   help="more runs to show beside it, e.g. the same model at another scheme "
                   "(default: none)")
    p.add_argument("--no-plots", action="store_true",
                   help="tables only (default: tables and PNG figures)")


def _pct(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * float(value):.{digits}f}%"


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


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def markdown(rows: list[tuple[str, str]], title: str) -> str:
    return f"# {title}\n\n" + table(["figure", "value"], [[k, v] for k, v in rows])


# ----------------------------------------------------------------------------- gathering

GENERALIZE_FOLDS = ("leave_out_", "all_families")


def generalization(run: Run) -> tuple[Path, dict[str, Any]] | None:
    """The ``kwsq generalize`` result of ``run`` (its own, or its parent's when the run is
    one of the folds), with the folder it belongs to; None when there is none."""
    places = [run.path]
    if run.path.name.startswith(GENERALIZE_FOLDS):
        places.append(run.path.parent)
    for folder in places:
        g = Run(folder).read_metrics().get("generalize") if (folder / "metrics.json").is_file() \
            else None
        if g is None and (folder / "generalize.json").is_file():
            g = json.loads((folder / "generalize.json").read_text())
        if isinstance(g, dict) and g.get("folds"):
            return folder, g
    return None


def cross_family_line(g: dict[str, Any]) -> str:
    """The headline: accuracy on voices of an engine family the model never heard."""
    folds = [r for r in g["folds"] if r.get("left_out_accuracy") is not None]
    if not folds:
        return ""
    worst = min(folds, key=lambda r: r["left_out_accuracy"])
    mean = sum(r["left_out_accuracy"] for r in folds) / len(folds)
    ind = sum(r["in_distribution"] for r in folds) / len(folds)
    text = (f"**Cross-family accuracy: {100 * mean:.1f}%** (mean over {len(folds)} left-out "
            f"engine families; worst {100 * worst['left_out_accuracy']:.1f}%, "
            f"{worst['left_out']}), against {100 * ind:.1f}% on the same folds' "
            "in-distribution test split")
    extras: dict[str, list[float]] = {}
    for r in folds:
        for path, e in r.get("extra", {}).items():
            extras.setdefault(Path(path).name, []).append(e["accuracy"])
    for name, accs in sorted(extras.items()):
        text += f"; {100 * sum(accs) / len(accs):.1f}% on the extra test corpus {name}"
    return text + (f" ({g.get('model', '?')} / {g.get('scheme', '?')}, "
                   f"{g.get('label_mode') or 12} classes, trained on {g.get('data', '?')}).\n")


def generalize_section(folder: Path, g: dict[str, Any]) -> str:
    from pipeline.train.generalize import table_markdown, wake_markdown

    title = (f"Cross-family test (kwsq generalize, {folder.name}): {g.get('model', '?')} / "
             f"{g.get('scheme', '?')}")
    body = table_markdown(g["folds"], title) + wake_markdown(g["folds"])
    return "\n#" + body  # one level below the report's title

def model_rows(run: Run) -> list[dict[str, Any]]:
    """One row per evaluated model of a run (from metrics.json's "eval")."""
    m = run.read_metrics()
    ev = m.get("eval", {})
    scheme = m.get("scheme", "?")
    out = []
    order = ["float", "qat", "litert", "tflm", "kwsq"]
    items = sorted(ev.get("models", {}).items(),
                   key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    for name, r in items:
        s = r.get("streams", {})
        p = s.get("pooled", {})
        out.append({
            "run": run.path.name, "backend": name, "label": r.get("label", name),
            "scheme": "float" if name == "float" else scheme,
            "bytes": r.get("model_bytes"),
            "accuracy": r.get("clips", {}).get("accuracy"),
            "auc": p.get("auc"), "relative_auc": s.get("relative_auc"),
            "miss_1": p.get("miss_at_1_fa_per_hour"), "miss_05": p.get("miss_at_0.5_fa_per_hour"),
            "miss_01": p.get("miss_at_0.1_fa_per_hour"),
        })
    return out


def curves(run: Run) -> dict[str, Any]:
    path = run.path / "eval" / "curves.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def bench_rows(run: Run, extra: list[Path] | None = None) -> list[dict[str, Any]]:
    """``kwsq bench --out`` rows of this run's .tflite (named after the run folder, same
    bytes) from the run's bench*.json, ``extra`` files and runs/bench/*.json."""
    tfl = run.tflite_path
    if not tfl.is_file():
        return []
    size = tfl.stat().st_size
    files = sorted(run.path.glob("bench*.json")) + list(extra or [])
    shared = run.path.parent / "bench"
    if shared.is_dir():
        files += sorted(shared.glob("*.json"))
    rows, seen = [], set()
    for f in files:
        try:
            data = json.loads(Path(f).read_text())
        except (ValueError, OSError):
            continue
        for r in data if isinstance(data, list) else [data]:
            if not isinstance(r, dict) or "instructions" not in r:
                continue
            named = r.get("model") in (run.path.name, "model.tflite", str(tfl))
            key = (r.get("target"), r.get("kernels"))
            if named and r.get("model_bytes") == size and key not in seen:
                seen.add(key)
                rows.append({**r, "source": str(f)})
    return rows


def _forked_from(run: Run, base: Run) -> bool:
    """True when ``run`` started from ``base``'s float stage (the same float model)."""
    if not run.state_path.is_file():
        return False
    src = json.loads(run.state_path.read_text()).get("forked_from")
    return src is not None and Path(src).resolve() == base.path.resolve()


def history(run: Run) -> dict[str, list[dict[str, float]]]:
    if not run.state_path.is_file():
        return {}
    return json.loads(run.state_path.read_text()).get("history", {})


# ----------------------------------------------------------------------------- writing

def _f(v: Any, fmt: str = "{:.4f}") -> str:
    return "-" if v is None else fmt.format(v)


def models_table(rows: list[dict[str, Any]]) -> str:
    head = ["run", "model", "scheme", "bytes", "clip acc.", "miss @1 FA/h", "miss @0.5 FA/h",
            "miss @0.1 FA/h", "AUC", "rel. AUC"]
    body = [[r["run"], r["label"], r["scheme"], _f(r["bytes"], "{:,}"), _pct(r["accuracy"]),
             _pct(r["miss_1"], 1), _pct(r["miss_05"], 1), _pct(r["miss_01"], 1),
             _f(r["auc"]), _f(r["relative_auc"], "{:.3f}")] for r in rows]
    return table(head, body)


def bench_table(rows: list[dict[str, Any]]) -> str:
    head = ["run", "target", "kernels", "instructions / inference", "est. ms", "arena B",
            "stack B", "runtime code B", "firmware flash B", "model B"]
    body = []
    for r in rows:
        ms = r.get("estimated_ms")
        if ms is None and r.get("target") == "m4":
            ms = r["instructions"] / M4_CLOCK_HZ * 1000
        body.append([r["run"], r.get("target", "?"), r.get("kernels", "?"),
                     f"{r['instructions']:,}", _f(ms, "{:.2f}"), f"{r.get('arena_bytes', 0):,}",
                     f"{r.get('stack_bytes', 0):,}", f"{r.get('runtime_code_bytes', 0):,}",
                     f"{r.get('firmware_flash_bytes', 0):,}", f"{r.get('model_bytes', 0):,}"])
    return table(head, body)


def _deployed(ev: dict[str, Any]) -> str | None:
    for name in DEPLOYED_ORDER:
        if "clips" in ev.get("models", {}).get(name, {}):
            return name
    return None


def write_report(run: Run, others: list[Run], plots_on: bool = True) -> str:
    from pipeline.evaluate import plots

    metrics = run.read_metrics()
    if not metrics:
        raise KwsqError(f"{run.path} has no metrics.json yet: train it first")
    runs = [run, *others]
    fig_dir = run.path / "figures"
    gen = generalization(run)
    parts = [f"# kwsq run {run.path.name}\n\n"]
    if gen:
        parts.append(cross_family_line(gen[1]) + "\n")
    if "model" in metrics or len(metrics) > 1 or not gen:
        parts.append(table(["figure", "value"], [[k, v] for k, v in summary_rows(metrics)]))
    if gen:
        parts.append(generalize_section(*gen))
    rows = [r for x in runs for r in model_rows(x)
            if not (x is not run and r["backend"] == "float" and _forked_from(x, run))]
    ev = metrics.get("eval", {})
    if rows:
        parts.append("\n## Models: clip accuracy and streaming detection\n\n")
        st = ev.get("streams")
        if st:
            rules = ev.get("rules", {})
            parts.append(
                f"Streams: {st['files']} recordings, {st['hours']:.2f} hours "
                f"({st.get('negative_hours', 0):.2f} h without any keyword), "
                f"{st['keyword_events']} keyword utterances of {len(st['keywords'])} "
                f"keyword(s) ({', '.join(st['keywords'])}). A new model input every "
                f"{1000 * st['hop_seconds']:.0f} ms; posteriors smoothed over "
                f"{rules.get('smooth_seconds')} s, repeats suppressed for "
                f"{rules.get('refractory_seconds')} s, a detection is a hit from "
                f"{rules.get('tol_before_seconds')} s before a keyword starts to "
                f"{rules.get('tol_after_seconds')} s after it ends. Miss rates are pooled "
                f"over keywords at one threshold; AUC is the mean miss rate over "
                f"{rules.get('auc_fa_range', ['?', '?'])[0]}-"
                f"{rules.get('auc_fa_range', ['?', '?'])[1]} false accepts per hour; "
                "relative AUC divides by the same run's float model (above 1: worse). "
                f"With {st['hours']:.2f} h of audio, 1 false accept is "
                f"{1 / max(st['hours'], 1e-9):.2f} FA/h: rates below that mean none.\n\n")
        parts.append(models_table(rows))
    shared_bench = sorted({f for x in runs for f in x.path.glob("bench*.json")})
    bench = [{**b, "run": x.path.name} for x in runs for b in bench_rows(x, shared_bench)]
    if bench:
        parts.append("\n## Microcontroller cost (kwsq bench under QEMU, exact instruction "
                     "counts)\n\n")
        parts.append(bench_table(bench))
        parts.append("\nEstimated ms: instructions at one per cycle at the target's typical "
                     "clock (120 MHz for the Cortex-M4), a lower bound (docs/design.md).\n")
    if plots_on:
        figs = []
        lines = []
        for x in runs:
            c = curves(x)
            for name, cur in c.items():
                label = x.read_metrics().get("eval", {}).get("models", {}).get(name, {}).get(
                    "label", name)
                style = "-" if name in ("float", "kwsq") else ("--" if name == "qat" else ":")
                if x is not run and name == "float" and _forked_from(x, run):
                    continue  # the same float model as the first run's
                lines.append(plots.DetLine(f"{x.path.name}: {label}",
                                           cur["pooled"]["fa_per_hour"],
                                           cur["pooled"]["miss_rate"], style))
        if lines:
            auc_range = tuple(ev.get("rules", {}).get("auc_fa_range", (0, 10)))
            figs.append(("DET curves, pooled over keywords", plots.det_figure(
                lines, fig_dir / "det.png", f"DET: {', '.join(x.path.name for x in runs)}",
                auc_range=auc_range)))
            dep = _deployed(ev)
            kw = curves(run).get(dep or "", {}).get("keywords", {})
            if kw:
                figs.append((f"DET per keyword ({dep})", plots.det_figure(
                    [plots.DetLine(k, v["fa_per_hour"], v["miss_rate"]) for k, v in kw.items()],
                    fig_dir / "det_keywords.png", f"DET per keyword, {run.path.name} ({dep})")))
        dep = _deployed(ev)
        if dep:
            c = ev["models"][dep]["clips"]
            figs.append((f"Confusion matrix ({ev['models'][dep].get('label', dep)})",
                         plots.confusion_figure(
                             c["confusion"], ev.get("classes", []), fig_dir / "confusion.png",
                             f"{run.path.name}: {ev['models'][dep].get('label', dep)}, "
                             f"accuracy {100 * c['accuracy']:.2f}%")))
        if rows:
            pts = [{"label": f"{r['run']} {r['backend']}", "bytes": r["bytes"],
                    "accuracy": r["accuracy"], "auc": r["auc"]} for r in rows]
            if any(p["bytes"] for p in pts):
                figs.append(("Accuracy and AUC against model bytes", plots.size_figure(
                    pts, fig_dir / "size.png", "clip accuracy and DET AUC vs .tflite bytes")))
        hist = history(run)
        if hist:
            figs.append(("Training curves", plots.training_figure(
                hist, fig_dir / "training.png", f"{run.path.name}: training")))
        if figs:
            parts.append("\n## Figures\n")
            for caption, path in figs:
                parts.append(f"\n### {caption}\n\n![{caption}]({path.relative_to(run.path)})\n")
    text = "".join(parts)
    write_text(run.path / "report.md", text)
    return text


def run(args: argparse.Namespace) -> int:
    r = Run(args.run)
    if not (r.path / "generalize.json").is_file():  # a kwsq generalize folder has no config
        r.require()
    others = [Run(o).require() for o in args.others]
    text = write_report(r, others, not args.no_plots)
    print(text, end="")
    print(f"(written to {r.path / 'report.md'})")
    return 0
