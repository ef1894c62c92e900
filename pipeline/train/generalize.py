"""``kwsq generalize``: the cross-family test (leave one engine family out).

A test split of held-out *speakers* of the same speech engines stops measuring anything
once a model has learned the engines: the models of kwsq's issue 14 reached 93-98% there
and about 60% on a voice from another engine. This command measures what a user speaking
to the model meets: for each engine family of the corpus (``speakers.csv``), it trains on
all the other families and tests on every clip of the one left out, and it puts the
in-distribution figure (the usual test split, without that family) beside it. Optional
extra test corpora (``--extra-test DIR``, e.g. a ``kwsq synth --families piper`` corpus of
neural voices that no training corpus contains) are scored by every fold's model.

Each fold is an ordinary run folder ``<run>/leave_out_<family>/`` (resumable like
``kwsq train``); the table goes to ``<run>/generalize.json``, ``<run>/generalize.md`` and
``<run>/metrics.json`` (key ``generalize``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.errors import KwsqError
from pipeline.train import training
from pipeline.train.runs import Run

ALL = "none"  # the fold that leaves nothing out (a model trained on every family)


def add_arguments(p: argparse.ArgumentParser) -> None:
    training.add_arguments(p)
    p.add_argument("--families",
                   help="families to leave out in turn, comma-separated (default: every "
                        "family in the corpus's speakers.csv)")
    p.add_argument("--extra-test", action="append", default=[], metavar="DIR",
                   help="another corpus (GSC layout) whose testing split every fold's model "
                        "is scored on, e.g. a 'kwsq synth --families piper' corpus; repeatable "
                        "(default: none)")
    p.add_argument("--with-all", action="store_true",
                   help="also train one model on every family (in-distribution reference; "
                        "default: off)")


def corpus_families(path: str) -> list[str]:
    from pipeline.data.gsc import speaker_table

    table = speaker_table(path)
    families = sorted({row.get("family", "") for row in table.values()} - {""})
    if len(families) < 2:
        raise KwsqError(f"{path} needs speakers of at least two engine families in "
                        "speakers.csv for a cross-family test (a kwsq synth corpus has them)")
    return families


def _accuracy_per_class(model, x, y, classes: list[str]) -> tuple[float, dict[str, float]]:
    import numpy as np

    pred = np.argmax(model.predict(x, batch_size=500, verbose=0), axis=-1)
    per = {c: float(np.mean(pred[y == i] == i)) for i, c in enumerate(classes)
           if np.any(y == i)}
    return float(np.mean(pred == y)), per


def evaluate_fold(run: Run, family: str, extra: list[str]) -> dict[str, Any]:
    """Scores of a trained fold: in-distribution test, the left-out family, extra corpora."""
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig

    config = run.read_config()
    data_cfg = data_mod.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    classes = data_mod.class_names(data_cfg)
    model = run.load_model()
    metrics = run.read_metrics()
    out: dict[str, Any] = {
        "left_out": family,
        "in_distribution": metrics["test_accuracy"],
        "in_distribution_float": metrics.get("float_test_accuracy"),
        "test_examples": metrics.get("test_examples"),
    }
    if family != ALL:
        x, y = data_mod.arrays(data_cfg, feat_cfg, data_mod.HOLDOUT)
        out["left_out_accuracy"], out["left_out_per_class"] = _accuracy_per_class(
            model, x, y, classes)
        out["left_out_examples"] = int(len(y))
    for path in extra:
        cfg = dataclasses.replace(data_cfg, path=str(path), holdout_family=None)
        x, y = data_mod.arrays(cfg, feat_cfg, "testing")
        acc, per = _accuracy_per_class(model, x, y, classes)
        out.setdefault("extra", {})[str(path)] = {"accuracy": acc, "per_class": per,
                                                  "examples": int(len(y))}
    return out


def table_markdown(rows: list[dict[str, Any]], title: str) -> str:
    extras = sorted({p for r in rows for p in r.get("extra", {})})
    head = ["left out", "accuracy on the left-out family", "worst classes",
            "in-distribution test (other families)"] + [f"{Path(p).name} (extra test)"
                                                         for p in extras]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for r in rows:
        if r["left_out"] == ALL:
            cells = ["nothing (all families)", "-", "-"]
        else:
            worst = sorted(r["left_out_per_class"].items(), key=lambda kv: kv[1])[:3]
            cells = [r["left_out"], f"{100 * r['left_out_accuracy']:.1f}% "
                     f"({r['left_out_examples']} clips)",
                     ", ".join(f"{c} {100 * a:.0f}%" for c, a in worst)]
        cells.append(f"{100 * r['in_distribution']:.1f}%")
        cells += [f"{100 * r['extra'][p]['accuracy']:.1f}%" if p in r.get("extra", {})
                  else "-" for p in extras]
        lines.append("| " + " | ".join(cells) + " |")
    folds = [r for r in rows if r["left_out"] != ALL]
    if folds:
        worst = min(folds, key=lambda r: r["left_out_accuracy"])
        lines += ["", f"Cross-family accuracy (worst left-out family): "
                  f"{100 * worst['left_out_accuracy']:.1f}% ({worst['left_out']}); "
                  f"mean {100 * sum(r['left_out_accuracy'] for r in folds) / len(folds):.1f}%."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if not args.data or not Path(args.data).is_dir():
        raise KwsqError(f"dataset path {args.data} does not exist (make one with kwsq synth)")
    from pipeline.data import loader as data_mod

    data_mod.check_layout(args.data)
    for path in args.extra_test:
        data_mod.check_layout(path)
    present = corpus_families(args.data)
    families = ([f.strip() for f in args.families.split(",") if f.strip()]
                if args.families else present)
    for f in families:
        if f not in present:
            raise KwsqError(f"family '{f}' is not in {args.data} (it has {', '.join(present)})")
    parent = Run(args.run)
    parent.path.mkdir(parents=True, exist_ok=True)
    folds = families + ([ALL] if args.with_all else [])
    rows = []
    t0 = time.monotonic()
    for i, family in enumerate(folds, 1):
        sub = parent.path / ("all_families" if family == ALL else f"leave_out_{family}")
        fold_run = Run(sub)
        print(f"generalize: [{i}/{len(folds)}] leave out {family} -> {sub}", file=sys.stderr)
        done = fold_run.exists() and "test_accuracy" in fold_run.read_metrics()
        if args.fresh or not done:
            resume = fold_run.exists() and not args.fresh
            if resume:
                config = fold_run.read_config()
            else:
                sub_args = argparse.Namespace(**{**vars(args), "run": str(sub)})
                config = training.resolve_config(sub_args)
                if family != ALL:
                    config.data["holdout_family"] = family
            training.train(config, fold_run, new=not resume)
        row = evaluate_fold(fold_run, family, args.extra_test)
        rows.append(row)
        if family != ALL:
            print(f"generalize: left out {family}: {100 * row['left_out_accuracy']:.1f}% "
                  f"(in-distribution {100 * row['in_distribution']:.1f}%)", file=sys.stderr)
    config = Run(parent.path / ("all_families" if folds[0] == ALL else
                                 f"leave_out_{folds[0]}")).read_config()
    title = (f"Cross-family test: {config.model} / {config.scheme}, "
             f"{config.data.get('label_mode', '12')} classes, {Path(args.data).name}")
    result = {"data": str(args.data), "model": config.model, "scheme": config.scheme,
              "label_mode": config.data.get("label_mode"), "folds": rows,
              "seconds": round(time.monotonic() - t0, 1)}
    write_text(parent.path / "generalize.json", json.dumps(result, indent=2) + "\n")
    md = table_markdown(rows, title)
    write_text(parent.path / "generalize.md", md)
    parent.update_metrics({"generalize": result})
    print(md)
    return 0
