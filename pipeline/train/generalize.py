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

A model trained on frame-level targets (``--window frames31``: the low-bit QAT paper's
31 consecutive frames, 0.31 s) sees only part of a clip at a time. It is scored the way it
is deployed, by sliding its window over the whole clip (:func:`clip_predictions`): every
window position's posteriors, smoothed over time as the streaming detector smooths them,
and the clip's class is the word class whose smoothed posterior peaks highest, or silence
when no word class reaches :data:`DETECT_THRESHOLD`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
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
# Frame-target models: the class of windows outside any word (_silence_ in label mode 12,
# _other_ in wake mode), and the smoothed posterior a word class must reach somewhere in a
# clip for the clip to be that word (0.5: the class is then the window's top class).
SILENCE_CLASS = 0
DETECT_THRESHOLD = 0.5
CLIP_CHUNK = 128  # clips whose window posteriors are computed per call


def add_arguments(p: argparse.ArgumentParser) -> None:
    training.add_arguments(p)
    p.add_argument("--families",
                   help="families to leave out in turn, comma-separated (default: every "
                        "family in the corpus's speakers.csv)")
    p.add_argument("--extra-test", action="append", default=[], metavar="DIR",
                   help="another corpus (GSC layout) whose testing split every fold's model "
                        "is scored on, e.g. a 'kwsq synth --families piper' corpus; repeatable "
                        "(default: none)")
    p.add_argument("--wake-threshold", default=None, metavar="T",
                   help="label mode wake: the keyword's decision threshold reported beside "
                        "0.5, a number (e.g. 0.9) or fa=RATE: the lowest threshold that "
                        "accepts at most RATE of the validation split's other clips "
                        "(default: fa=0.05)")
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


@functools.lru_cache(maxsize=4)
def _stacker(feat_cfg: Any) -> Any:
    import tensorflow as tf

    from pipeline.data import features

    return tf.function(lambda a: features.stack_frames(
        features.normalize_clip(features.frames(a, feat_cfg), feat_cfg), feat_cfg))


def window_posteriors(model, pcm: Any, feat_cfg: Any) -> Any:
    """The model's posteriors at every stacked-window position of each clip:
    ``pcm [clips, samples]`` (int16) -> ``[clips, windows, classes]``."""
    import numpy as np
    import tensorflow as tf

    fn = _stacker(feat_cfg)
    out = []
    for i in range(0, len(pcm), CLIP_CHUNK):
        part = np.asarray(pcm[i : i + CLIP_CHUNK], np.float32) / 32768.0
        padded = np.zeros((CLIP_CHUNK, part.shape[-1]), np.float32)  # one shape: one trace
        padded[: len(part)] = part
        stacked = fn(tf.constant(padded)).numpy()[: len(part)]  # [clips, windows, values]
        probs = model.predict(stacked.reshape(-1, stacked.shape[-1]), batch_size=2048,
                              verbose=0)
        out.append(probs.reshape(stacked.shape[0], stacked.shape[1], -1))
    return np.concatenate(out)


def clip_predictions(posteriors: Any, smooth_frames: int,
                     threshold: float = DETECT_THRESHOLD) -> Any:
    """Clip classes from window posteriors ``[clips, windows, classes]``: each class's
    posterior smoothed over ``smooth_frames`` positions (the streaming detector's
    :func:`pipeline.evaluate.det.smooth`), its peak over
    the clip, and the word class (not :data:`SILENCE_CLASS`) with the highest peak, or
    :data:`SILENCE_CLASS` when that peak is below ``threshold``."""
    import numpy as np

    from pipeline.evaluate.det import smooth

    peak = smooth(posteriors, smooth_frames, axis=1).max(axis=1)  # [clips, classes]
    words = np.delete(peak, SILENCE_CLASS, axis=1)
    best = np.argmax(words, axis=1)
    best = best + (best >= SILENCE_CLASS)  # back to class indices
    return np.where(peak[np.arange(len(best)), best] >= threshold, best, SILENCE_CLASS)


def _clip_accuracy(model, data_cfg, feat_cfg, split: str, classes: list[str]
                   ) -> tuple[float, dict[str, float], int]:
    """Accuracy per clip of a frame-target model (sliding window, :func:`clip_predictions`)."""
    import numpy as np

    from pipeline.data import loader as data_mod
    from pipeline.evaluate.det import SMOOTH_SECONDS, window_frames

    pcm, y = data_mod.cached_audio(data_cfg, split)
    pred = clip_predictions(window_posteriors(model, pcm, feat_cfg),
                            window_frames(SMOOTH_SECONDS, feat_cfg.hop_ms / 1000.0))
    per = {c: float(np.mean(pred[y == i] == i)) for i, c in enumerate(classes)
           if np.any(y == i)}
    return float(np.mean(pred == y)), per, int(len(y))


def clip_test_accuracy(model, data_cfg, feat_cfg) -> float:
    """A frame-target model's accuracy per clip on the test split (``kwsq train``)."""
    from pipeline.data import loader as data_mod

    return _clip_accuracy(model, data_cfg, feat_cfg, "testing",
                          data_mod.class_names(data_cfg))[0]


def _keyword_scores(model, cfg, feat_cfg, split: str, frames: bool) -> tuple[Any, Any]:
    """Wake mode: each clip's keyword score (posterior, or its smoothed peak over the
    window positions for a frame-target model) and the clips' labels."""
    from pipeline.data import loader as data_mod
    from pipeline.evaluate import wake
    from pipeline.evaluate.det import SMOOTH_SECONDS, window_frames

    if frames:
        pcm, y = data_mod.cached_audio(cfg, split)
        post = window_posteriors(model, pcm, feat_cfg)
        return wake.window_keyword_scores(
            post, window_frames(SMOOTH_SECONDS, feat_cfg.hop_ms / 1000.0)), y
    x, y = data_mod.arrays(cfg, feat_cfg, split)
    return wake.clip_keyword_scores(model.predict(x, batch_size=500, verbose=0)), y


def wake_operating_points(model, data_cfg, feat_cfg, sets: dict[str, tuple[Any, str]],
                          frames: bool, choice: Any) -> dict[str, Any]:
    """Keyword recall and false accepts per clip on each of ``sets`` (name -> (data config,
    split)) at the default threshold 0.5 and at ``choice`` (a
    :class:`pipeline.evaluate.wake.WakeThreshold`; one picked at a false-accept rate is
    picked on ``data_cfg``'s validation split)."""
    from pipeline.evaluate import wake

    if choice.value is not None:
        threshold = float(choice.value)
    else:
        scores, y = _keyword_scores(model, data_cfg, feat_cfg, "validation", frames)
        threshold = wake.threshold_at_false_accepts(scores[y != 1], float(choice.false_accepts))
    out: dict[str, Any] = {"threshold": threshold, "rule": choice.describe(), "sets": {}}
    for name, (cfg, split) in sets.items():
        scores, y = _keyword_scores(model, cfg, feat_cfg, split, frames)
        out["sets"][name] = {"default": wake.rates(scores, y, wake.DEFAULT_THRESHOLD),
                             "picked": wake.rates(scores, y, threshold)}
    return out


def evaluate_fold(run: Run, family: str, extra: list[str], wake_threshold: Any = None
                  ) -> dict[str, Any]:
    """Scores of a trained fold: in-distribution test, the left-out family, extra corpora.

    A frame-target model is scored per clip by sliding its window (:func:`clip_predictions`);
    its per-window test accuracy is kept as ``in_distribution_windows``. In wake mode the
    keyword's recall and false accepts per clip are added at 0.5 and at ``wake_threshold``
    (:class:`pipeline.evaluate.wake.WakeThreshold`; default: picked on the validation
    split at 5 % false accepts).
    """
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig

    config = run.read_config()
    data_cfg = data_mod.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    classes = data_mod.class_names(data_cfg)
    model = run.load_model()
    metrics = run.read_metrics()
    frames = data_cfg.targets == "frames"

    def score(cfg, split):
        if frames:
            return _clip_accuracy(model, cfg, feat_cfg, split, classes)
        x, y = data_mod.arrays(cfg, feat_cfg, split)
        return (*_accuracy_per_class(model, x, y, classes), int(len(y)))

    out: dict[str, Any] = {
        "left_out": family,
        "in_distribution": metrics["test_accuracy"],
        "in_distribution_float": metrics.get("float_test_accuracy"),
        "test_examples": metrics.get("test_examples"),
    }
    if frames:
        acc, _, n = score(data_cfg, "testing")
        out.update(in_distribution=acc, test_examples=n, scoring="sliding window",
                   in_distribution_windows=metrics["test_accuracy"])
    if family != ALL:
        (out["left_out_accuracy"], out["left_out_per_class"],
         out["left_out_examples"]) = score(data_cfg, data_mod.HOLDOUT)
    sets = {"in_distribution": (data_cfg, "testing")}
    if family != ALL:
        sets["left_out"] = (data_cfg, data_mod.HOLDOUT)
    for path in extra:
        cfg = dataclasses.replace(data_cfg, path=str(path), holdout_family=None)
        acc, per, n = score(cfg, "testing")
        out.setdefault("extra", {})[str(path)] = {"accuracy": acc, "per_class": per,
                                                  "examples": n}
        sets[str(path)] = (cfg, "testing")
    if data_cfg.label_mode == "wake":
        from pipeline.evaluate.wake import DEFAULT_FALSE_ACCEPTS, WakeThreshold

        choice = wake_threshold or WakeThreshold(false_accepts=DEFAULT_FALSE_ACCEPTS)
        out["wake"] = wake_operating_points(model, data_cfg, feat_cfg, sets, frames, choice)
    return out


def wake_markdown(rows: list[dict[str, Any]]) -> str:
    """The wake-word rows' recall / false accepts at 0.5 and at the picked threshold."""
    lines = []
    for r in rows:
        w = r.get("wake")
        if not w:
            continue
        lines += ["", f"Wake word, left out {r['left_out']}: keyword recall / false accepts "
                  f"per clip at 0.5 and at {w['threshold']:.3f} ({w['rule']}):", "",
                  "| set | at 0.5 | at the picked threshold |", "|---|---|---|"]
        for name, v in w["sets"].items():
            cells = [f"{100 * v[k]['recall']:.1f} % / {100 * v[k]['false_accepts']:.1f} % "
                     f"({v[k]['keyword_clips']} / {v[k]['other_clips']} clips)"
                     for k in ("default", "picked")]
            label = name if name in ("in_distribution", "left_out") else Path(name).name
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + ("\n" if lines else "")


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
    from pipeline.evaluate.wake import WakeThreshold

    wake_threshold = (WakeThreshold.parse(args.wake_threshold)
                      if getattr(args, "wake_threshold", None) else None)
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
        row = evaluate_fold(fold_run, family, args.extra_test, wake_threshold)
        rows.append(row)
        if family != ALL:
            print(f"generalize: left out {family}: {100 * row['left_out_accuracy']:.1f}% "
                  f"(in-distribution {100 * row['in_distribution']:.1f}%)", file=sys.stderr)
    config = Run(parent.path / ("all_families" if folds[0] == ALL else
                                 f"leave_out_{folds[0]}")).read_config()
    title = (f"Cross-family test: {config.model} / {config.scheme}, "
             f"{config.data.get('label_mode', '12')} classes, {Path(args.data).name}"
             + (", frame targets, clips scored by sliding the window"
                if config.data.get("targets") == "frames" else ""))
    result = {"data": str(args.data), "model": config.model, "scheme": config.scheme,
              "label_mode": config.data.get("label_mode"), "folds": rows,
              "seconds": round(time.monotonic() - t0, 1)}
    write_text(parent.path / "generalize.json", json.dumps(result, indent=2) + "\n")
    md = table_markdown(rows, title) + wake_markdown(rows)
    write_text(parent.path / "generalize.md", md)
    parent.update_metrics({"generalize": result})
    print(md)
    return 0
