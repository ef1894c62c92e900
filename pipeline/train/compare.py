"""Naive vs QAT for several schemes on one shared float model: the papers' tables.

``python -m pipeline.train.compare --data DIR --model svd_dnn --schemes w4a8,dyn-w4 ...``
trains one float model, folds its batch-norm, then for each scheme measures the scheme
applied naively (calibrated, not trained) and after QAT: Keras test accuracy (for dynamic
schemes with and without the per-frame input quantization at Keras inference), the
converted .tflite's LiteRT accuracy, Keras-vs-LiteRT argmax agreement and largest output
difference, and the .tflite size. One float model for all rows, so the rows differ only
in quantization, as in the low-bit QAT paper's Tables 1 and 2. Results go to a JSON file
and a Markdown table. Integer rows also report the largest proven accumulator bound
(``pipeline/tflite/accumulators.py``); ``--save-dir DIR`` keeps each QAT row's
``DIR/<scheme>/model.tflite`` and its ``model.accum.json`` (per-operator bounds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import write_text
from pipeline.errors import KwsqError


def set_dynamic_inference(model, on: bool) -> int:
    """Turn the per-frame input quantization of every dynamic quantizer on or off at
    inference; returns how many quantizers were switched."""
    from quant_configs.quantizers import DynamicRangeQuantizer

    count = 0
    for layer in model.layers:
        found = [getattr(layer, "quantizer", None)]
        config = getattr(layer, "quantize_config", None)
        if config is not None:
            found += [getattr(config, "output", None), getattr(config, "activation", None)]
        for q in found:
            if isinstance(q, DynamicRangeQuantizer):
                q.at_inference = on
                count += 1
    return count


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    from pipeline.tflite.verify import keras_outputs

    return float(np.mean(keras_outputs(model, x).argmax(1) == y))


def measure(model, scheme: str, float_graph, rep: np.ndarray, x: np.ndarray,
            y: np.ndarray, save: Path | None = None) -> dict[str, Any]:
    """Keras and LiteRT figures of one (naive or QAT) model; ``save``: a folder to keep
    its .tflite (and accumulator bounds) in."""
    import quant_configs
    from pipeline.tflite import convert, verify

    row: dict[str, Any] = {}
    dynamic = set_dynamic_inference(model, True)
    row["keras_accuracy"] = _accuracy(model, x, y)
    if dynamic:
        set_dynamic_inference(model, False)
        row["keras_accuracy_float_inputs"] = _accuracy(model, x, y)
        set_dynamic_inference(model, True)
    if quant_configs.get_scheme(scheme).conversion == "keras":
        row["note"] = "no .tflite form"
        return row
    data = convert.convert_qat(model, scheme, rep, float_graph)
    c = verify.compare(data, model, x, y)
    row.update(litert_accuracy=c.litert_accuracy, litert_agreement=c.litert_agreement,
               litert_max_abs=c.litert_max_abs, tflite_bytes=len(data))
    accum = None
    if quant_configs.get_scheme(scheme).conversion == "integer":
        from pipeline.tflite.accumulators import bounds

        accum = bounds(data)
        row["max_partial_sum_bound"] = max(
            (op["partial_sum_bound"] for op in accum["operators"]), default=None)
    if save is not None:
        from pipeline.atomic import write_bytes

        write_bytes(save / "model.tflite", data)
        if accum is not None:
            write_text(save / "model.accum.json", json.dumps(accum, indent=1) + "\n")
    return row


def run_table(data: str, model_name: str, schemes: list[str], float_epochs: int,
              qat_epochs: int, seed: int = 0, log=print, save_dir: str | None = None,
              naive: bool = True) -> dict[str, Any]:
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig, input_shape
    from pipeline.train.presets import PRESETS

    keras.utils.set_random_seed(seed)
    demo = PRESETS["demo"]
    data_cfg = loader.DataConfig.from_dict({**demo.get("data", {}), "path": data})
    feat_cfg = FeatureConfig.from_dict(dict(getattr(models.module(model_name), "FEATURES", {})))
    x_tr, y_tr = loader.arrays(data_cfg, feat_cfg, "training")
    x_te, y_te = loader.arrays(data_cfg, feat_cfg, "testing")
    classes = len(loader.class_names(data_cfg))
    build = models.builder(model_name)
    for scheme in schemes:
        quant_configs.check_applicable(scheme, build(input_shape(feat_cfg), classes))
    float_model = build(input_shape(feat_cfg), classes)
    float_model.compile(keras.optimizers.Adam(float(demo["learning_rate"])),
                        "sparse_categorical_crossentropy")
    t0 = time.monotonic()
    float_model.fit(x_tr, y_tr, epochs=float_epochs, batch_size=100, verbose=0,
                    callbacks=[keras.callbacks.LearningRateScheduler(
                        lambda e: float(demo["learning_rate"]) / 1.1**e)])
    out: dict[str, Any] = {"model": model_name, "data": data, "float_epochs": float_epochs,
                           "qat_epochs": qat_epochs, "test_examples": int(len(y_te)),
                           "float_accuracy": _accuracy(float_model, x_te, y_te), "rows": {}}
    log(f"float {out['float_accuracy']:.4f} ({time.monotonic() - t0:.0f} s)")
    float_model = quant_configs.fold_batchnorm(float_model)
    rep = x_tr[np.linspace(0, len(x_tr) - 1, 200).astype(int)]
    weights = float_model.get_weights()
    for scheme in schemes:
        graph = build(input_shape(feat_cfg), classes)
        float_model.set_weights(weights)
        row = {}
        if naive:
            calibrated = quant_configs.quantize_model(float_model, scheme, "all")
            quant_configs.calibrate(calibrated, [x_tr[i:i + 100] for i in range(0, 2000, 100)])
            row["naive"] = measure(calibrated, scheme, graph, rep, x_te, y_te)
        qat = float_model
        for stage in quant_configs.get_scheme(scheme).stages:
            if qat is not float_model:
                quant_configs.copy_float_weights(qat, float_model)
            qat = quant_configs.quantize_model(float_model, scheme, stage)
            qat.compile(keras.optimizers.Adam(float(demo["qat_learning_rate"])),
                        "sparse_categorical_crossentropy")
            qat.fit(x_tr, y_tr, epochs=qat_epochs, batch_size=100, verbose=0,
                    callbacks=[keras.callbacks.LearningRateScheduler(
                        lambda e: float(demo["qat_learning_rate"]) / 1.2**e)])
        row["qat"] = measure(qat, scheme, graph, rep, x_te, y_te,
                             Path(save_dir) / scheme if save_dir else None)
        out["rows"][scheme] = row
        log(f"{scheme}: {json.dumps(row)}")
    return out


def markdown(table: dict[str, Any]) -> str:
    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}"

    lines = [
        f"{table['model']} on {table['data']} ({table['test_examples']} test clips), float "
        f"{pct(table['float_accuracy'])}% after {table['float_epochs']} epochs; QAT "
        f"{table['qat_epochs']} epochs per stage",
        "",
        "| scheme | phase | Keras acc % | Keras acc, float inputs % | LiteRT acc % | "
        "agreement % | max abs diff | .tflite bytes | max accumulator bound |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scheme, row in table["rows"].items():
        for phase in ("naive", "qat"):
            if phase not in row:
                continue
            r = row[phase]
            lines.append(
                f"| {scheme} | {phase} | {pct(r['keras_accuracy'])} | "
                f"{pct(r.get('keras_accuracy_float_inputs'))} | {pct(r.get('litert_accuracy'))} "
                f"| {pct(r.get('litert_agreement'))} | "
                f"{r['litert_max_abs']:.2g} | {r['tflite_bytes']} | "
                f"{r.get('max_partial_sum_bound', 'n/a')} |" if "tflite_bytes" in r else
                f"| {scheme} | {phase} | {pct(r['keras_accuracy'])} | "
                f"{pct(r.get('keras_accuracy_float_inputs'))} | n/a | n/a | n/a | n/a | n/a |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.train.compare", description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="svd_dnn")
    p.add_argument("--schemes", default="w4a8,dyn-w4-sym,dyn-w4,dyn-w4-8")
    p.add_argument("--float-epochs", type=int, default=20)
    p.add_argument("--qat-epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output JSON (a .md table is written beside)")
    p.add_argument("--save-dir", help="keep each QAT row's DIR/<scheme>/model.tflite and "
                   "model.accum.json (default: not kept)")
    p.add_argument("--no-naive", action="store_true", help="QAT rows only (default: both)")
    args = p.parse_args(argv)
    if not Path(args.data).is_dir():
        raise KwsqError(f"dataset {args.data} does not exist")
    table = run_table(args.data, args.model, args.schemes.split(","), args.float_epochs,
                      args.qat_epochs, args.seed, save_dir=args.save_dir,
                      naive=not args.no_naive)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, json.dumps(table, indent=2) + "\n")
    write_text(out.with_suffix(".md"), markdown(table))
    print(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
