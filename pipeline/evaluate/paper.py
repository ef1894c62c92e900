"""``make paper``: the papers' comparisons as streaming DET tables and figures.

Three experiments, each cell the mean and spread over several training seeds, every cell
naming the run folders it came from:

* ``lowbit`` (*Low-Bit Quantization and Quantization-Aware Training for Small-Footprint
  Keyword Spotting*, on the 50K SVD DNN): Table 1, the float model quantized *naively*
  (calibrated, not trained) at 16 (float16 weights), 8, 4-8 and 4 bits: relative DET AUC
  and model size; Table 2, 4-8 and 4 bit naive against QAT; and the DET figure.
* ``tanh`` (*sub-8-bit quantization-aware training for streaming keyword spotting*, the 250K
  DNN): tanh-squashed against linear weight quantization at 1, 4, 5 and 8 bits (the linear
  bit widths the scheme table has), as a table and DET figure.
* ``fxp`` (*fixed-point quantization-aware training for on-device keyword spotting*):
  fxp8 and fxp4 against float on the conv models, 12 classes.

How: per (model, seed) one float run (``RUNS/<model>-s<seed>-float``) is trained; each
QAT scheme forks it (:func:`fork_run`: same float checkpoint, only the QAT stages are
trained, ``RUNS/<model>-s<seed>-<scheme>``), as the papers fine-tune a trained float
model. Naive models are the float model with the scheme applied and calibrated. All
models run over the same streams with the same code as ``kwsq eval`` (Keras QAT graphs by
default; ``--deployed`` also converts each QAT run and scores the .tflite on kwsq's C
runtime), and relative AUC divides by the same seed's float AUC.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import write_bytes, write_text
from pipeline.errors import KwsqError
from pipeline.train.runs import Run, RunConfig, StageConfig


@dataclass(frozen=True)
class Scale:
    """How big a ``make paper`` run is."""

    seeds: int
    float_epochs: int
    qat_epochs: int
    stream_minutes: float  # keyword-bearing stream minutes; negatives are twice that
    note: str


SCALES = {
    "full": Scale(3, 40, 6, 150.0, "the demo's training schedule, 7.5 h of streams"),
    "small": Scale(3, 12, 3, 30.0, "short training, 1.5 h of streams"),
    "smoke": Scale(2, 1, 1, 1.0, "seconds; for tests only"),
}

EXPERIMENTS: dict[str, dict[str, Any]] = {
    # The low-bit papers quantize dynamically: per-column weight grids, per-frame 8-bit (16-bit
    # for the 16-bit row) min-max quantization of each weight layer's input. dyn-w16 has no
    # .tflite form: every row here is scored as a Keras graph (docs/references.md).
    "lowbit": {"models": ["svd_dnn"], "qat": ["dyn-w4-8", "dyn-w4"], "reference": "dyn-w8",
               "naive": ["dyn-w16", "dyn-w8", "dyn-w4-8", "dyn-w4"]},
    # tanh against linear weights with the same two QAT stages (weights only, then + 8-bit
    # activations), so the two differ only by the weight transform.
    "tanh": {"models": ["dnn250k"], "qat": ["tanh-w1", "tanh-w4", "tanh-w5", "tanh-w8",
                                            "lin-w1", "lin-w4", "lin-w5", "lin-w8"],
             "naive": []},
    "fxp": {"models": ["cnn", "ds_cnn"], "qat": ["fxp8", "fxp4"], "naive": []},
}
# The low-bit quantization paper's own figures (its Tables 1 and 2), printed beside ours.
PAPER_RELATIVE_AUC = {"naive 16": 1.0003, "naive 8": 1.0094, "naive 4-8": 1.1684,
                      "naive 4": 2.2159, "qat 4-8": 1.0213, "qat 4": 1.4103}
PAPER_RELATIVE_SIZE = {"naive 16": 0.65, "naive 8": 0.35, "naive 4-8": 0.32, "naive 4": 0.20}
DISCUSSION = "discussion.md"  # hand-written comparison with the papers, appended if present
# Weight storage at each scheme's bits (convert.size_table: real .tflite files re-gridded at
# 16/8/4-8/4 bits, 4-bit packed), as the low-bit paper's Table 1 counts model size.
SIZE_KEY = {"16bit": "16bit", "int8": "8bit", "w4-8": "4-8bit", "w4a8": "4bit",
            "dyn-w16": "16bit", "dyn-w8": "8bit", "dyn-w4-8": "4-8bit", "dyn-w4": "4bit",
            "dyn-w4-sym": "4bit", "float": "float"}


def linear_twin(bits: int):
    """The scheme ``lin-w<bits>``: linear weights at ``bits`` with the tanh schemes' two QAT
    stages, the sub-8-bit streaming paper's linear baseline (``int8``/``w4a8`` train one
    stage and have no 1- or 5-bit twin)."""
    import quant_configs

    return quant_configs.get_scheme(f"lin-w{bits}")



# ----------------------------------------------------------------------------- runs

def fork_run(src: str | Path, dst: str | Path, scheme: str, qat_epochs: int | None = None,
             qat_learning_rate: float | None = None) -> Run:
    """A new run that starts from ``src``'s trained float stage and trains ``scheme``'s QAT.

    The float checkpoint and float.keras are copied and marked done in the new run's
    state, so ``kwsq train --run DST`` only trains the QAT stages (same float model, as
    the papers fine-tune one trained float network per comparison).
    """
    import quant_configs
    from pipeline.train.training import stages_for

    src_run = Run(src).require()
    cfg = src_run.read_config()
    if not cfg.stages or cfg.stages[0].name != "float":
        raise KwsqError(f"{src_run.path} has no float stage to start from")
    state_path = src_run.state_path
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    ckpt_name = state.get("checkpoint", {}).get("0")
    ckpt_files = sorted(state_path.parent.glob(ckpt_name + ".*")) if ckpt_name else []
    if 0 not in state.get("completed", []) or not ckpt_files:
        raise KwsqError(f"{src_run.path} has not finished its float stage yet")
    scheme_spec = quant_configs.get_scheme(scheme)
    qat = [s for s in cfg.stages[1:]]
    epochs = qat_epochs if qat_epochs is not None else (qat[0].epochs if qat else 6)
    lr = qat_learning_rate if qat_learning_rate is not None else (
        qat[0].learning_rate if qat else 5e-4)
    f = cfg.stages[0]
    new_stages = [f] + stages_for(scheme_spec.stages, {
        "float_epochs": f.epochs, "learning_rate": f.learning_rate, "qat_epochs": epochs,
        "qat_learning_rate": lr})[1:]
    dst_run = Run(dst)
    if dst_run.exists():
        return dst_run  # resumable: an existing fork is continued by kwsq train
    new = RunConfig.from_dict({**cfg.to_dict(), "name": dst_run.path.name, "scheme": scheme,
                               "stages": [vars(s) for s in new_stages]})
    dst_run.write_config(new)
    dst_run.state_path.parent.mkdir(parents=True, exist_ok=True)
    for p in ckpt_files:  # the float stage's checkpoint (weights and optimizer state)
        shutil.copy2(p, dst_run.state_path.parent / p.name)
    if src_run.float_model_path.is_file():
        shutil.copy2(src_run.float_model_path, dst_run.float_model_path)
    fork_state = {"completed": [0], "epoch": {"0": state.get("epoch", {}).get("0", f.epochs)},
                  "checkpoint": {"0": ckpt_name},
                  "history": {k: v for k, v in state.get("history", {}).items()
                              if k.startswith("0_")}, "forked_from": str(src_run.path)}
    write_text(dst_run.state_path, json.dumps(fork_state, indent=1))
    return dst_run


def _train(run: Run, log) -> None:
    from pipeline.train.training import train

    state = json.loads(run.state_path.read_text()) if run.state_path.is_file() else {}
    cfg = run.read_config()
    if len(state.get("completed", [])) == len(cfg.stages) and run.model_path.is_file():
        log(f"paper: {run.path} already trained")
        return
    t0 = time.monotonic()
    train(cfg, run, log=lambda m: log(f"paper: {run.path.name}: {m}"), new=False)
    log(f"paper: trained {run.path} in {time.monotonic() - t0:.0f} s")


def base_run(runs: Path, model: str, seed: int, data: Path, scale: Scale) -> Run:
    """The float run of one (model, seed): the demo preset's settings, the scale's epochs."""
    from argparse import Namespace

    from pipeline.train.training import resolve_config

    run = Run(runs / f"{model}-s{seed}-float")
    if run.exists():
        return run
    ns = Namespace(data=str(data), run=str(run.path), preset="demo", config=None, model=model,
                   scheme="float", float_epochs=scale.float_epochs, qat_epochs=scale.qat_epochs,
                   batch_size=None, seed=seed, label_mode=None, keyword=None, strategy=None,
                   no_naive=True, fresh=False)
    cfg = resolve_config(ns)
    cfg.stages = [StageConfig(**vars(cfg.stages[0]))]
    run.write_config(cfg)
    return run


# ----------------------------------------------------------------------------- scoring

@dataclass
class Cell:
    """One model of one seed: where it came from and what it scored."""

    experiment: str
    model: str
    variant: str  # "float", "naive <scheme>", "qat <scheme>"
    seed: int
    run: str
    bytes: int | None = None
    accuracy: float | None = None
    auc: float | None = None
    relative_auc: float | None = None
    miss_1: float | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)


def _naive_scorers(run: Run, schemes: list[str], log) -> list:
    """The float model with each scheme applied and calibrated (no training), as Keras
    scorers; "16bit" is the float16-weight .tflite on LiteRT."""
    import quant_configs
    from pipeline.evaluate import backends
    from pipeline.tflite import convert
    from pipeline.tflite.verify import split_arrays

    float_model = quant_configs.load_model(run.float_model_path)
    x, _ = split_arrays(run, "training")
    idx = np.linspace(0, len(x) - 1, num=min(2000, len(x))).round().astype(int)
    calib = x[np.unique(idx)]
    metrics = run.read_metrics()
    if "size_table" not in metrics:  # the real .tflite bytes at 32/16/8/4-8/4 bits
        metrics = run.update_metrics({"size_table": convert.size_table(float_model, calib[:500])})
    sizes = metrics["size_table"]["bytes"]
    out = []
    for scheme in schemes:
        if scheme == "16bit":
            path = run.path / "naive_16bit.tflite"
            if not path.is_file():
                write_bytes(path, convert.convert_float(float_model, float16=True))
            s = backends.tflite_scorer(backends.LITERT, path)
        else:
            naive = quant_configs.quantize_model(float_model, scheme, "all")
            quant_configs.calibrate(naive, [calib[i: i + 100] for i in range(0, len(calib), 100)])
            s = backends.keras_scorer("qat", naive, run.float_model_path, None)
        s.model_bytes = sizes.get(SIZE_KEY.get(scheme, ""))
        s.name = f"naive {scheme}"
        out.append(s)
    log(f"paper: naive models of {run.path.name}: {', '.join(schemes)}")
    return out


def score(run: Run, scorers: list, recs, rules, log) -> dict[str, dict[str, Any]]:
    """Clip accuracy and pooled streaming DET of each scorer (``kwsq eval``'s code)."""
    from pipeline.data.features import FeatureConfig
    from pipeline.data.gsc import COMMANDS
    from pipeline.evaluate import clips, streaming

    cfg = run.read_config()
    x, y, names, _ = clips.clip_arrays(run)
    cols = {w: names.index(w) for w in COMMANDS if w in names}
    sp = streaming.posteriors(recs, scorers, FeatureConfig.from_dict(cfg.features), cols,
                              log=lambda m: None)
    out = {}
    for s in scorers:
        sw = streaming.sweep(sp, s.name, rules)
        summ = streaming.summary(sw, rules)["pooled"]
        out[s.name] = {"accuracy": clips.clip_scores(s.score(x), y, names)["accuracy"],
                       "auc": summ["auc"], "miss_1": summ["miss_at_1_fa_per_hour"],
                       "bytes": s.model_bytes,
                       "curve": {"fa_per_hour": sw.pooled.fa_per_hour.tolist(),
                                 "miss_rate": sw.pooled.miss_rate.tolist()}}
    log(f"paper: scored {run.path.name}: " + ", ".join(
        f"{k} AUC {v['auc']:.4f}" for k, v in out.items()))
    return out


# ----------------------------------------------------------------------------- driver

def load_results(out: Path) -> dict[str, Any]:
    """``OUT/results.json`` with one metadata entry per experiment (older files, with one
    scale for all, are read as that scale for each experiment they list)."""
    path = out / "results.json"
    if not path.is_file():
        return {"meta": {}, "cells": []}
    res = json.loads(path.read_text())
    if "meta" not in res:
        keys = ("scale", "data", "runs", "stream_hours", "rules", "minutes", "skipped")
        res = {"meta": {e: {k: res.get(k) for k in keys} for e in res.get("experiments", [])},
               "cells": res.get("cells", [])}
    return res


def run_paper(data: Path, runs: Path, out: Path, scale: Scale, experiments: list[str],
              deployed: bool = False, log=print) -> dict[str, Any]:
    """Train and score ``experiments``; their cells replace the same experiments' cells in
    ``OUT/results.json`` (written after every seed, so an interrupted run keeps what it
    scored) and ``OUT/report.md`` is rewritten from all experiments there."""
    import quant_configs
    from pipeline.corpus import streams as streams_mod
    from pipeline.evaluate import backends, det, streaming

    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    stream_dir = data / "streams"
    if not any(stream_dir.glob("stream_*.wav")):
        log(f"paper: making {scale.stream_minutes:g} + {2 * scale.stream_minutes:g} minutes "
            f"of streams in {stream_dir}")
        streams_mod.make_streams(data, minutes=scale.stream_minutes, progress=False)
    recs = streaming.find_recordings(stream_dir)
    hours = sum(_seconds(r) for r in recs) / 3600
    rules = det.DEFAULT_RULES
    result = load_results(out)
    for exp in experiments:
        old = [c for c in result["cells"] if c["experiment"] == exp]
        old_meta = result["meta"].get(exp, {})
        result["cells"] = [c for c in result["cells"] if c["experiment"] != exp]
        t_start = time.monotonic()
        spec = EXPERIMENTS[exp]
        skipped: list[str] = []
        meta = {"scale": vars(scale), "data": str(data), "runs": str(runs),
                "stream_hours": hours, "rules": rules.to_dict(), "minutes": 0.0,
                "skipped": skipped, "complete": False}
        result["meta"][exp] = meta
        same = (old_meta.get("rules") == rules.to_dict() and old_meta.get("runs") == str(runs)
                and old_meta.get("data") == str(data) and old_meta.get("stream_hours") == hours)
        minutes_before = 0.0

        def add(cell: Cell) -> None:
            result["cells"].append(vars(cell))

        for seed in range(scale.seeds):
            for model in spec["models"]:
                # resume: a (model, seed) scored before with the same rules, runs and streams
                want = ({"float"} | {f"naive {s}" for s in spec["naive"]}
                        | {f"qat {s}" for s in spec["qat"] if s in quant_configs.SCHEMES})
                prev = [c for c in old if c["model"] == model and c["seed"] == seed]
                if same and prev and want <= {c["variant"] for c in prev} and all(
                        Path(c["run"]).is_dir() for c in prev) and (
                        not deployed or any(c["variant"].endswith(" on kwsq") for c in prev)):
                    result["cells"].extend(prev)
                    minutes_before = float(old_meta.get("minutes") or 0.0)
                    meta["seeds_done"] = seed + 1
                    log(f"paper: {exp} {model} seed {seed} scored before: kept")
                    continue
                base = base_run(runs, model, seed, data, scale)
                _train(base, log)
                scorers = backends.run_scorers(base, (backends.KERAS_FLOAT,), log=log)
                if spec["naive"]:
                    scorers += _naive_scorers(base, spec["naive"], log)
                    scorers[0].model_bytes = base.read_metrics()["size_table"]["bytes"]["float"]
                res = score(base, scorers, recs, rules, log)
                ref_auc = res["float"]["auc"]
                for name, r in res.items():
                    add(Cell(exp, model, name, seed, str(base.path), r["bytes"], r["accuracy"],
                             r["auc"], r["auc"] / ref_auc if ref_auc > 0 else None,
                             r["miss_1"], r["curve"]))
                for scheme in spec["qat"]:
                    if scheme not in quant_configs.SCHEMES:
                        note = f"{exp}: scheme {scheme} is not in the scheme table: not run"
                        if note not in skipped:
                            skipped.append(note)
                        continue
                    fork = fork_run(base.path, runs / f"{model}-s{seed}-{scheme}", scheme,
                                    scale.qat_epochs)
                    _train(fork, log)
                    names: tuple[str, ...] = (backends.KERAS_QAT,)
                    if deployed and quant_configs.get_scheme(scheme).conversion != "keras":
                        from pipeline.tflite.convert import ConvertOptions, convert_run

                        if not fork.tflite_path.is_file():
                            convert_run(fork, ConvertOptions(size_table=False),
                                        log=lambda m: None)
                        names += (backends.KWSQ,)
                    sc = backends.run_scorers(fork, names, log=log)
                    sizes = base.read_metrics().get("size_table", {}).get("bytes", {})
                    for s in sc:
                        s.name = f"qat {scheme}" if s.name == "qat" else f"{scheme} on kwsq"
                        if s.model_bytes is None:  # not converted: its naive twin's storage
                            s.model_bytes = sizes.get(SIZE_KEY.get(scheme, ""))
                    for name, r in score(fork, sc, recs, rules, log).items():
                        add(Cell(exp, model, name, seed, str(fork.path), r["bytes"],
                                 r["accuracy"], r["auc"],
                                 r["auc"] / ref_auc if ref_auc > 0 else None, r["miss_1"],
                                 r["curve"]))
                meta["minutes"] = round(minutes_before + (time.monotonic() - t_start) / 60, 1)
                meta["seeds_done"] = seed + 1
                write_text(out / "results.json", json.dumps(result) + "\n")
                log(f"paper: {exp} {model} seed {seed} done, {meta['minutes']} min so far")
        meta["complete"] = True
        meta["minutes"] = round(minutes_before + (time.monotonic() - t_start) / 60, 1)
        write_text(out / "results.json", json.dumps(result) + "\n")
    write_text(out / "report.md", paper_report(result, out))
    log(f"paper: wrote {out / 'report.md'}")
    return result


def _seconds(rec) -> float:
    from pipeline.data.audio import read_wav

    if "seconds" in rec.truth:
        return float(rec.truth["seconds"])
    audio, rate = read_wav(rec.wav)
    return audio.size / rate


# ----------------------------------------------------------------------------- report

def _agg(cells: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    vals = [c[key] for c in cells if c.get(key) is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


def _ms(v: tuple[float | None, float | None], fmt: str = "{:.3f}") -> str:
    m, s = v
    return "-" if m is None else f"{fmt.format(m)} ± {fmt.format(s)}"


def _group(cells: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    g: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in cells:
        g.setdefault((c["experiment"], c["model"], c["variant"]), []).append(c)
    return g


def paper_report(result: dict[str, Any], out: Path) -> str:
    from pipeline.evaluate import plots
    from pipeline.evaluate.report import table

    # a QAT model not converted stores its weights as its naive twin does: same bytes
    naive_bytes = {(c["experiment"], c["model"], c["seed"], c["variant"][6:]): c["bytes"]
                   for c in result["cells"] if c["variant"].startswith("naive ")}
    for c in result["cells"]:
        if c.get("bytes") is None and c["variant"].startswith("qat "):
            c["bytes"] = naive_bytes.get((c["experiment"], c["model"], c["seed"],
                                          c["variant"][4:]))
    # clip error relative to the same seed's float model: a second figure with headroom
    # where the DET AUC has little (see ceiling below)
    float_acc = {(c["experiment"], c["model"], c["seed"]): c["accuracy"]
                 for c in result["cells"] if c["variant"] == "float"}
    for c in result["cells"]:
        fa = float_acc.get((c["experiment"], c["model"], c["seed"]))
        c["relative_error"] = ((1 - c["accuracy"]) / (1 - fa) if fa is not None and fa < 1
                               and c.get("accuracy") is not None else None)
    groups = _group(result["cells"])
    metas = result.get("meta", {})
    rules = next(iter(metas.values()))["rules"] if metas else {"auc_fa_range": [0, 100]}
    parts = [
        "# kwsq: the papers' comparisons on streaming audio\n\n",
        "Cells are mean ± standard deviation over training seeds; relative AUC divides each "
        "model's DET AUC by the float AUC of the same seed (above 1: worse than float). AUC "
        f"is the mean miss rate over {rules['auc_fa_range'][0]:g}-"
        f"{rules['auc_fa_range'][1]:g} false accepts per hour, pooled over the 10 command "
        "keywords (rules: `pipeline/evaluate/det.py`, `docs/streams.md`). Run folders are "
        "`<model>-s<seed>-float` and `<model>-s<seed>-<scheme>` under each experiment's "
        "runs folder. Each experiment states its own scale and wall time.\n",
    ]

    def scale_line(exp: str) -> str:
        m = metas.get(exp)
        if not m:
            return ""
        f_auc = [c["auc"] for c in result["cells"] if c["experiment"] == exp
                 and c["variant"] == "float" and c.get("auc")]
        ceiling = (f" Highest relative AUC any model could reach here (every keyword missed): "
                   f"1 / float AUC = {len(f_auc) / sum(f_auc):.2f}." if f_auc else "")
        sc = m["scale"]
        done = m.get("seeds_done", sc["seeds"])
        state = "" if m.get("complete", True) else (
            f" **Interrupted after {done} of {sc['seeds']} seeds.**")
        skipped = "".join(f" {n}." for n in m.get("skipped") or [])
        return (f"Scale: {sc['seeds']} training seeds, {sc['float_epochs']} float epochs, "
                f"{sc['qat_epochs']} QAT epoch(s) per QAT stage ({sc['note']}); "
                f"{m['stream_hours']:.2f} hours of streams from `{m['data']}`; runs under "
                f"`{m['runs']}`; wall time {m['minutes']} min on this machine (2 cores shared "
                f"with other jobs).{state}{skipped}{ceiling}\n\n")

    def rows_for(exp: str, model: str, variants: list[str], paper: bool = False
                 ) -> list[list[str]]:
        rows = []
        for v in variants:
            cs = groups.get((exp, model, v))
            if not cs:
                continue
            fl = groups.get((exp, model, "float"), [])
            fbytes = _agg(fl, "bytes")[0]
            rel_size = (f"{_agg(cs, 'bytes')[0] / fbytes:.2f}" if fbytes and
                        _agg(cs, "bytes")[0] else "-")
            row = [v, _ms(_agg(cs, "relative_auc")), _ms(_agg(cs, "auc"), "{:.4f}"),
                   _ms(_agg(cs, "miss_1"), "{:.3f}"), _ms(_agg(cs, "accuracy")),
                   _ms(_agg(cs, "relative_error"), "{:.2f}"),
                   _ms(_agg(cs, "bytes"), "{:.0f}"), rel_size]
            if paper:
                key = _paper_key(v)
                row += [str(PAPER_RELATIVE_AUC.get(key, "-")),
                        str(PAPER_RELATIVE_SIZE.get(key, "-"))]
            row.append(", ".join(sorted({Path(c["run"]).name for c in cs})))
            rows.append(row)
        return rows

    head = ["model", "relative AUC", "AUC", "miss @1 FA/h", "clip accuracy",
            "rel. clip error", "bytes", "rel. size", "runs"]
    head_p = head[:-1] + ["paper: rel. AUC", "paper: rel. size", "runs"]
    figs = []
    for exp in [e for e in EXPERIMENTS if e in metas or any(k[0] == e for k in groups)]:
        for model in EXPERIMENTS[exp]["models"]:
            variants = sorted({k[2] for k in groups if k[0] == exp and k[1] == model},
                              key=lambda v: (v != "float", v))
            if not variants:
                continue
            if exp == "lowbit":
                parts.append(f"\n## Low-bit quantization paper ({model})\n\n"
                             + scale_line(exp) +
                             "Table 1: the float model quantized naively (no QAT).\n\n")
                t1 = ["float"] + [v for v in variants if v.startswith("naive ")]
                t1.sort(key=lambda v: LOWBIT_ORDER.index(_paper_key(v))
                        if _paper_key(v) in LOWBIT_ORDER else -1)
                parts.append(table(head_p, rows_for(exp, model, t1, True)))
                parts.append("\nTable 2: 4-8 and 4 bit, naive against QAT.\n\n")
                t2 = [f"{k} {s}" for s in ("dyn-w4-8", "dyn-w4", "w4-8", "w4a8")
                      for k in ("naive", "qat")]
                parts.append(table(head_p, rows_for(exp, model, t2, True)))
            else:
                title = {"tanh": "Sub-8-bit streaming paper: tanh vs linear weights",
                         "fxp": "Fixed-point paper: fxp8 and fxp4 vs float"}[exp]
                parts.append(f"\n## {title} ({model})\n\n" + scale_line(exp))
                parts.append(table(head, rows_for(exp, model, variants)))
            lines = []
            for v in variants:
                cs = groups[(exp, model, v)]
                fa, miss = _mean_curve(cs)
                style, color = ("-", "black") if v == "float" else ("--", None)
                bits = "".join(ch for ch in v.rsplit("-w", 1)[-1] if ch.isdigit())
                if exp == "tanh" and v != "float" and bits:  # one colour per bit width
                    style = "-" if "tanh" in v else "--"
                    color = {"1": "C3", "4": "C0", "5": "C2", "8": "C1"}.get(bits)
                lines.append(plots.DetLine(f"{v} (n={len(cs)})", fa, miss, style,
                                           color=color))
            path = plots.det_figure(lines, out / "figures" / f"det_{exp}_{model}.png",
                                    f"{exp}: {model}, mean over seeds",
                                    auc_range=tuple(rules["auc_fa_range"]))
            figs.append(path)
            parts.append(f"\n![DET {exp} {model}](figures/{path.name})\n")
    notes = out / DISCUSSION
    if notes.is_file():
        parts.append("\n" + notes.read_text())
    return "".join(parts)


# The paper's rows by bit width; the static schemes of older results map to the same rows.
_ROW = {"dyn-w16": "16", "16bit": "16", "dyn-w8": "8", "int8": "8", "dyn-w4-8": "4-8",
        "w4-8": "4-8", "dyn-w4": "4", "w4a8": "4"}
LOWBIT_ORDER = ["naive 16", "naive 8", "naive 4-8", "naive 4", "qat 4-8", "qat 4"]


def _paper_key(variant: str) -> str:
    kind, _, scheme = variant.partition(" ")
    return f"{kind} {_ROW[scheme]}" if scheme in _ROW else variant


def _mean_curve(cells: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' operating curves averaged on a common FA/h grid (for the figures only)."""
    from pipeline.evaluate.plots import step_points

    grid = np.unique(np.concatenate([np.asarray(c["curve"]["fa_per_hour"]) for c in cells]))
    ys = []
    for c in cells:
        knots, miss = step_points(c["curve"]["fa_per_hour"], c["curve"]["miss_rate"])
        i = np.searchsorted(knots, grid, side="right") - 1
        ys.append(np.where(i >= 0, miss[np.maximum(i, 0)], 1.0))
    return grid, np.mean(ys, axis=0)


# ----------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.evaluate.paper",
                                description="the papers' comparisons (make paper), or fork a run")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fork", help="a new run from a trained run's float stage")
    f.add_argument("src")
    f.add_argument("dst")
    f.add_argument("--scheme", required=True)
    f.add_argument("--qat-epochs", type=int)
    r = sub.add_parser("run", help="train, evaluate and write docs/paper/report.md")
    r.add_argument("--data", default="data/kwsq_full")
    r.add_argument("--runs", default="runs/paper")
    r.add_argument("--out", default="docs/paper")
    r.add_argument("--scale", choices=sorted(SCALES), default="full")
    r.add_argument("--seeds", type=int, help="override the scale's seed count")
    r.add_argument("--float-epochs", type=int, help="override the scale's float epochs")
    r.add_argument("--qat-epochs", type=int, help="override the scale's QAT epochs per stage")
    r.add_argument("--experiments", default="lowbit,tanh,fxp")
    r.add_argument("--deployed", action="store_true",
                   help="also convert every QAT run and score the .tflite on kwsq's runtime")
    rep = sub.add_parser("report", help="rewrite OUT/report.md from OUT/results.json")
    rep.add_argument("--out", default="docs/paper")
    args = p.parse_args(argv)
    if args.cmd == "report":
        out = Path(args.out)
        if not (out / "results.json").is_file():
            print(f"paper: error: {out / 'results.json'} does not exist (make paper first)",
                  file=sys.stderr)
            return 2
        write_text(out / "report.md", paper_report(load_results(out), out))
        print(f"paper: wrote {out / 'report.md'}")
        return 0
    from pipeline import console

    with console.session():  # library and C++ log lines go to the log, not the terminal
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    try:
        if args.cmd == "fork":
            run = fork_run(args.src, args.dst, args.scheme, args.qat_epochs)
            print(f"paper: {run.path} starts from {args.src}'s float stage; "
                  f"train it with kwsq train --run {run.path}")
            return 0
        scale = SCALES[args.scale]
        if args.seeds or args.float_epochs or args.qat_epochs:
            scale = Scale(args.seeds or scale.seeds, args.float_epochs or scale.float_epochs,
                          args.qat_epochs or scale.qat_epochs, scale.stream_minutes,
                          f"{scale.note}; reduced from the {args.scale} scale")
        exps = [e.strip() for e in args.experiments.split(",") if e.strip()]
        bad = [e for e in exps if e not in EXPERIMENTS]
        if bad:
            raise KwsqError(f"unknown experiment {', '.join(bad)}; expected some of "
                            f"{', '.join(EXPERIMENTS)}")
        from pipeline.data.gsc import check_layout

        check_layout(args.data)
        run_paper(Path(args.data), Path(args.runs), Path(args.out), scale, exps, args.deployed)
        return 0
    except KwsqError as exc:
        print(f"paper: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
