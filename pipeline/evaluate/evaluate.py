"""``kwsq eval RUN``: clip accuracy and streaming DET for every model of a run.

Clips: accuracy, per-class accuracy and confusion matrix of the float Keras model, the
QAT Keras model and the .tflite on LiteRT, TFLite Micro and kwsq's C runtime, on the
run's test split or any Speech Commands folder (``--data``).

Streams: the same models over long recordings (``--streams``, default ``DATA/streams``),
one code path for all of them (:mod:`pipeline.evaluate.streaming`); the detection rules
and the DET figures are :mod:`pipeline.evaluate.det`'s. Results go into the run's
``metrics.json`` under ``"eval"`` (``"eval_other"`` keyed by folder for another data set),
the full curves into ``RUN/eval/curves.json`` for ``kwsq report``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.errors import KwsqError
from pipeline.evaluate import backends, det
from pipeline.train.runs import Run

STREAM_BACKENDS = (backends.KERAS_FLOAT, backends.KERAS_QAT, backends.LITERT, backends.KWSQ)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="trained (and converted) run folder, e.g. runs/demo")
    p.add_argument("--data", help="Speech Commands folder to score instead of the run's own "
                   "(default: the run's corpus)")
    p.add_argument("--split", default="testing", choices=["training", "validation", "testing"],
                   help="clips to score (default: testing)")
    p.add_argument("--streams", help="folder of WAV streams with JSON ground truth "
                   "(default: DATA/streams; format in docs/streams.md)")
    p.add_argument("--no-streams", action="store_true",
                   help="score clips only (default: clips and streams)")
    p.add_argument("--no-clips", action="store_true",
                   help="score streams only (default: clips and streams)")
    p.add_argument("--backends", default=",".join(backends.ALL),
                   help="models to score on clips (default: all of "
                   f"{','.join(backends.ALL)})")
    p.add_argument("--stream-backends", default=",".join(STREAM_BACKENDS),
                   help="models to run over the streams (default: "
                   f"{','.join(STREAM_BACKENDS)}; tflm is slow: one Python call per window)")
    p.add_argument("--label-mode", choices=["run", "wake"], default="run",
                   help="wake: DET of a single keyword (--keyword), as a wake-word engine "
                   "(default: run, every keyword the run has)")
    p.add_argument("--keyword", help="the wake word for --label-mode wake (default: the "
                   "keyword of a run trained in wake mode)")
    p.add_argument("--keywords", help="comma-separated keywords to score on streams "
                   "(default: the streams' keywords the model has classes for)")
    p.add_argument("--smooth", type=float, default=det.SMOOTH_SECONDS,
                   help=f"posterior smoothing window, seconds (default {det.SMOOTH_SECONDS})")
    p.add_argument("--refractory", type=float, default=det.REFRACTORY_SECONDS,
                   help=f"suppress repeats for this long, seconds "
                   f"(default {det.REFRACTORY_SECONDS})")
    p.add_argument("--tolerance-before", type=float, default=det.TOL_BEFORE_SECONDS,
                   help="a hit may come this long before the word starts (default 0)")
    p.add_argument("--tolerance-after", type=float, default=det.TOL_AFTER_SECONDS,
                   help=f"a hit may come this long after the word ends "
                   f"(default {det.TOL_AFTER_SECONDS}: about one input window)")
    p.add_argument("--auc-range", type=float, nargs=2, metavar=("MIN", "MAX"),
                   default=list(det.AUC_FA_RANGE), help="AUC range in false accepts per hour "
                   f"(default {det.AUC_FA_RANGE[0]:g} {det.AUC_FA_RANGE[1]:g})")
    p.add_argument("--conv-hop", type=float, default=None,
                   help="seconds between inputs of models on whole clips (default 0.1); "
                   "stacked-frame DNNs always get a new input every frame")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in backends.ALL]
    if bad:
        raise KwsqError(f"unknown backend {', '.join(bad)}; expected some of "
                        f"{', '.join(backends.ALL)}")
    return names


def keyword_columns(classes: list[str], label_mode: str, keyword: str | None,
                    wanted: list[str] | None, stream_keywords: list[str]) -> dict[str, int]:
    """Which posterior column scores which keyword."""
    if label_mode == "wake":
        if classes[0] == "_other_" and len(classes) == 2:  # a run trained as a wake word
            kw = keyword or classes[1]
            if kw != classes[1]:
                raise KwsqError(f"the run was trained for '{classes[1]}', not '{kw}'")
            return {kw: 1}
        if not keyword:
            raise KwsqError("--label-mode wake needs --keyword for a multi-class run")
        if keyword not in classes:
            raise KwsqError(f"the run has no class '{keyword}'")
        return {keyword: classes.index(keyword)}
    if classes[0] == "_other_" and len(classes) == 2:
        return {classes[1]: 1}
    words = wanted or stream_keywords
    cols = {w: classes.index(w) for w in words if w in classes}
    if not cols:
        raise KwsqError(f"none of the keywords {', '.join(words)} is a class of the model")
    return cols


def evaluate_run(run: Run, args: argparse.Namespace, log=print) -> dict[str, Any]:
    from pipeline.data.features import FeatureConfig
    from pipeline.evaluate import clips, streaming

    run.require_model()
    cfg = run.read_config()
    rules = det.Rules(args.smooth, args.refractory, args.tolerance_before,
                      args.tolerance_after, args.auc_range[0], args.auc_range[1])
    want = set(() if args.no_clips else _names(args.backends))
    stream_want = set(() if args.no_streams else _names(args.stream_backends))
    order = [n for n in backends.ALL if n in want | stream_want]
    t0 = time.monotonic()
    result: dict[str, Any] = {"models": {}, "rules": rules.to_dict()}
    data_path = args.data or cfg.data.get("path")
    result["data"] = str(data_path)
    curves: dict[str, Any] = {}
    if stream_want:  # bad stream settings fail before minutes of clip scoring
        folder = Path(args.streams) if args.streams else Path(data_path) / "streams"
        recs = streaming.find_recordings(folder)
        classes = run.read_metrics().get("classes")
        if not classes:
            from pipeline.data import loader

            classes = loader.class_names(loader.DataConfig.from_dict(cfg.data))
        stream_kw = list(dict.fromkeys(
            k for r in recs for k in r.truth.get("keywords", [])))
        if not stream_kw:
            from pipeline.data.gsc import COMMANDS

            stream_kw = list(COMMANDS)
        wanted = [w.strip() for w in args.keywords.split(",")] if args.keywords else None
        cols = keyword_columns(classes, args.label_mode, args.keyword, wanted, stream_kw)
    scorers = backends.run_scorers(run, tuple(order), log=log)
    for s in scorers:
        result["models"][s.name] = {"label": s.label, "path": s.path,
                                    "model_bytes": s.model_bytes}
    if want:
        x, y, names, _ = clips.clip_arrays(run, args.data, args.split)
        result["classes"] = names
        result["split"] = args.split
        for name, r in clips.evaluate_clips([s for s in scorers if s.name in want],
                                            x, y, names, log).items():
            result["models"][name]["clips"] = r
    if stream_want:
        feat = FeatureConfig.from_dict(cfg.features)
        conv_hop = streaming.CONV_HOP_SECONDS if args.conv_hop is None else args.conv_hop
        if conv_hop <= 0:
            raise KwsqError("--conv-hop must be > 0 seconds")
        sc = [s for s in scorers if s.name in stream_want]
        sp = streaming.posteriors(recs, sc, feat, cols,
                                  int(cfg.data.get("clip_samples", 16000)), conv_hop, log)
        events = sum(len(streaming.keyword_events(r, k)) for r in recs for k in cols)
        result["streams"] = {
            "folder": str(folder), "files": len(recs), "hours": round(sp.hours, 4),
            "keyword_events": events, "keywords": list(cols), "label_mode": args.label_mode,
            "hop_seconds": sp.hop_seconds, "conv_hop_seconds": conv_hop,
            "negative_hours": round(sum(
                d for r, d in zip(recs, sp.durations, strict=True)
                if not any(e["word"] in cols for e in r.events)) / 3600, 4),
        }
        for s in sc:
            sw = streaming.sweep(sp, s.name, rules)
            summ = streaming.summary(sw, rules)
            result["models"][s.name]["streams"] = summ
            curves[s.name] = {"pooled": sw.pooled.to_dict(),
                              "keywords": {k: c.to_dict() for k, c in sw.keywords.items()}}
            log(streaming.log_line(s.name, summ))
        ref = result["models"].get(backends.KERAS_FLOAT, {}).get("streams")
        for s in sc:
            summ = result["models"][s.name]["streams"]
            summ["relative_auc"] = (summ["pooled"]["auc"] / ref["pooled"]["auc"]
                                    if ref and ref["pooled"]["auc"] > 0 else None)
    result["seconds"] = round(time.monotonic() - t0, 1)
    if args.data:
        other = run.read_metrics().get("eval_other", {})
        other[str(args.data)] = result
        run.update_metrics({"eval_other": other})
    else:
        run.update_metrics({"eval": result})
        if curves:
            write_text(run.path / "eval" / "curves.json", json.dumps(curves) + "\n")
    return result


def run(args: argparse.Namespace) -> int:
    r = Run(args.run)
    result = evaluate_run(r, args)
    rows = []
    for name, m in result["models"].items():
        c = m.get("clips", {})
        s = m.get("streams", {})
        p = s.get("pooled", {})
        rel = s.get("relative_auc")
        rows.append(f"  {name:7s} acc {100 * c['accuracy']:6.2f}%" if c else f"  {name:7s}"
                    + " " * 12)
        if p:
            rows[-1] += (f"  miss@1FA/h {100 * p['miss_at_1_fa_per_hour']:5.1f}%  "
                         f"AUC {p['auc']:.4f}  rel. AUC "
                         f"{'-' if rel is None else f'{rel:.3f}'}")
    print(f"eval: {r.path} ({result['seconds']:.0f} s)")
    print("\n".join(rows))
    print(f"eval: written to {r.metrics_path}")
    return 0
