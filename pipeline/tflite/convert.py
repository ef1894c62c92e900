"""``kwsq convert``: a trained run -> the .tflite a microcontroller runs, checked and exported.

Three conversions, chosen by the run's quantization scheme:

* integer (``int8``, ``w4a8``, ``w4-8``, ``tanh-*``, ``fxp*``): TF's converter turns the QAT
  model into a full-integer graph (int8 activations, int8 or float I/O), with a
  representative dataset from the training split (required even for QAT models);
* hybrid (``dyn-*``): the converter's dynamic-range mode on the float graph holding the
  trained weights: float activations, int8 weights, inputs quantized per row at run time;
* float (``float``): a plain float32 .tflite.

Then the flatbuffer post-pass (``pipeline.tflite.postpass``) puts every trained weight grid
back (k-bit levels, per-channel scales on FULLY_CONNECTED, packed INT4, power-of-two
scales), the result is written atomically with a C array for firmware, a size table in
the spirit of the low-bit QAT paper's Table 1 is measured, and ``kwsq verify`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import write_bytes
from pipeline.errors import KwsqError
from pipeline.tflite import postpass
from pipeline.tflite import schema as tfs
from pipeline.train.runs import Run

REPRESENTATIVE_SAMPLES = 200
SIZE_VARIANTS = ("float", "16bit", "8bit", "4-8bit", "4bit")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="trained run folder, e.g. runs/demo")
    p.add_argument("--out", help="output .tflite (default: RUN/model.tflite)")
    p.add_argument("--float-io", action="store_true",
                   help="float32 input and output, QUANTIZE/DEQUANTIZE at the edges "
                   "(default: off, integer I/O)")
    p.add_argument("--representative-samples", type=int, default=REPRESENTATIVE_SAMPLES,
                   help="training samples used to calibrate ops without trained ranges "
                   f"(default: {REPRESENTATIVE_SAMPLES})")
    p.add_argument("--no-verify", action="store_true", help="skip kwsq verify (default: verify)")
    p.add_argument("--no-size-table", action="store_true",
                   help="skip the 16/8/4-8/4-bit size table, which converts the model 4 more "
                   "times (default: make it)")
    p.add_argument("--max-samples", type=int, default=0,
                   help="verify on the first N test samples only (default: all)")


def conversion_kind(scheme: str) -> str:
    """``float``, ``hybrid``, ``integer`` or ``keras`` (no .tflite form): how a scheme's
    models are converted."""
    import quant_configs

    return quant_configs.get_scheme(scheme).conversion


def activation_bits(scheme: str) -> int:
    import quant_configs

    return int(quant_configs.get_scheme(scheme).activation_bits or 8)


def _converter(model):
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model)


def _convert(converter, what: str) -> bytes:
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError/ValueError with MLIR text
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "error" in line.lower()), first[0] if first
                      else type(exc).__name__)
        raise KwsqError(f"the TFLite converter failed on the {what} model: {detail}") from exc


def convert_float(model, float16: bool = False) -> bytes:
    """A float32 .tflite (or float16 weights, the closest TFLite has to "16 bit")."""
    import tensorflow as tf

    converter = _converter(model)
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return _convert(converter, "float16" if float16 else "float")


def convert_integer(model, representative: np.ndarray, float_io: bool = False,
                    activation_bits: int = 8, per_channel: bool = True) -> bytes:
    """Full-integer conversion of a QAT or float model: int8 activations (TFLITE_BUILTINS_INT8),
    or int16 activations with int8 weights (TFLite's 16x8 mode) for ``activation_bits=16``;
    ``per_channel=False`` asks for one weight scale per tensor (the converter's default is one
    per output channel)."""
    import tensorflow as tf

    if len(representative) == 0:
        raise KwsqError("the representative dataset is empty")
    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rep = np.asarray(representative, np.float32)

    def samples():
        for i in range(len(rep)):
            yield [rep[i : i + 1]]

    converter.representative_dataset = samples
    if activation_bits == 16:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io_type = tf.int16
    elif activation_bits == 8:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8
    else:
        raise KwsqError(f"TFLite has no {activation_bits}-bit activation mode (8 or 16)")
    if not float_io:
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
    if not per_channel:
        converter._experimental_disable_per_channel = True
    return _convert(converter, "quantized")


def convert_hybrid(float_model) -> bytes:
    """Dynamic-range conversion: int8 weights, float activations (hybrid kernels)."""
    import tensorflow as tf

    converter = _converter(float_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return _convert(converter, "dynamic-range")


def float_graph_with(qat_model, float_model, layers: dict[str, postpass.LayerWeights]):
    """``float_model`` carrying the QAT model's trained weights, kernels on their grids."""
    import quant_configs

    quant_configs.copy_float_weights(qat_model, float_model)
    for name, lw in layers.items():
        layer = float_model.get_layer(name)
        values = layer.get_weights()
        values[0] = (lw.levels.astype(np.float64) * lw.scales).astype(np.float32)
        layer.set_weights(values)
    return float_model


class _OnGridQuantizer:
    """Stands in for a scheme's weight quantizer during conversion.

    The kernel it sees already holds the trained grid values, so it only has to give
    the converter the fake-quant op it recognizes as "quantize this weight"; the 8-bit
    per-tensor grid the converter derives from it is replaced by the post-pass.
    """

    def __init__(self, peak: float) -> None:
        self.peak = max(float(peak), 1e-12)

    def __call__(self, inputs, training, weights, **kwargs):
        import tensorflow as tf

        return tf.quantization.fake_quant_with_min_max_vars(
            inputs, -self.peak, self.peak, num_bits=8, narrow_range=True)


@contextlib.contextmanager
def frozen_weights(qat_model, layers: dict[str, postpass.LayerWeights]) -> Iterator[None]:
    """Temporarily put each kernel on its grid behind a plain fake-quant op.

    Scheme quantizers built from ordinary ops (one-bit sign, per-column Dense grids,
    tanh squashing) are not always folded by the converter, which then leaves weight
    arithmetic (e.g. SELECT_V2) in the integer graph; a constant on the grid behind a
    fake-quant converts the same way for every scheme. The model is restored on exit.
    """
    saved = []
    try:
        for layer in qat_model.layers:
            inner = getattr(layer, "layer", layer)
            weight_vars = getattr(layer, "_weight_vars", None)
            if inner.name not in layers or not weight_vars:
                continue
            lw = layers[inner.name]
            for i, (var, quantizer, qvars) in enumerate(weight_vars):
                if var.name.split("/")[-1].split(":")[0] not in ("kernel", "depthwise_kernel"):
                    continue
                saved.append((weight_vars, i, (var, quantizer, qvars), var.numpy()))
                values = (lw.levels.astype(np.float64) * lw.scales).astype(np.float32)
                var.assign(values)
                weight_vars[i] = (var, _OnGridQuantizer(np.abs(values).max()), qvars)
        yield
    finally:
        for weight_vars, i, entry, value in reversed(saved):
            weight_vars[i] = entry
            entry[0].assign(value)


def convert_qat(qat_model, scheme: str, representative: np.ndarray, float_model=None,
                float_io: bool = False) -> bytes:
    """Convert a trained model of ``scheme`` and restore its trained weight grids."""
    import quant_configs

    kind = conversion_kind(scheme)
    if kind == "float":
        return convert_float(qat_model)
    if kind == "keras":
        raise KwsqError(f"scheme {scheme} has no .tflite form (TFLite has no 16-bit weight "
                        "kernels); its figures are Keras-only and its size is 16-bit storage")
    if float_model is not None:
        float_model = quant_configs.fold_batchnorm(float_model)
    layers = postpass.trained_weights(qat_model)
    if kind == "hybrid":
        if float_model is None:
            raise KwsqError(f"scheme {scheme} needs the float model graph for hybrid conversion")
        raw = convert_hybrid(float_graph_with(qat_model, float_model, layers))
    else:
        if activation_bits(scheme) == 16:
            # TFLite's 16x8 mode wants symmetric int16 activations (zero point 0), which
            # min/max QAT ranges are not: calibrate the float graph holding the trained
            # weights instead (16-bit steps make the range choice immaterial).
            if float_model is None:
                raise KwsqError(f"scheme {scheme} needs the float model graph for 16x8 "
                                "conversion")
            raw = convert_integer(float_graph_with(qat_model, float_model, layers),
                                  representative, float_io, 16)
        else:
            from quant_configs.quantizers import fake_quant_only

            with frozen_weights(qat_model, layers), fake_quant_only():
                raw = convert_integer(qat_model, representative, float_io)
    model = tfs.load(raw)
    postpass.apply_grids(model, layers, hybrid=kind == "hybrid")
    return tfs.dump(model)


# ------------------------------------------------------------------------- size table


def naive_layers(float_model, bits: dict[str, int]) -> dict[str, postpass.LayerWeights]:
    """Per-tensor symmetric grids of the given widths on a float model's kernels."""
    out = {}
    for layer in float_model.layers:
        if layer.name not in bits or not layer.weights:
            continue
        w = np.asarray(layer.get_weights()[0], np.float64)
        q = max(1, 2 ** (bits[layer.name] - 1) - 1)
        s = max(float(np.abs(w).max()), 1e-12) / q
        out[layer.name] = postpass.LayerWeights(
            layer.name, np.clip(np.round(w / s), -q, q).astype(np.int8), np.float64(s),
            bits[layer.name])
    return out


def scheme_weight_bits(float_model, scheme: str) -> dict[str, int]:
    """Weight bits per layer that ``scheme`` assigns to ``float_model``."""
    import quant_configs

    qat = quant_configs.quantize_model(float_model, scheme, "all")
    return {name: int(g.bits) for name, g in quant_configs.weight_grids(qat).items()}


def size_table(float_model, representative: np.ndarray) -> dict[str, Any]:
    """Bytes of real .tflite files of one architecture at 32/16/8/4-8/4 bits, and ratios.

    The integer rows are one full-integer conversion of the float model whose kernels the
    post-pass re-grids per tensor at 8 bits, then at the bits of schemes ``w4-8`` and
    ``w4a8`` (naively rounded: only the size matters here), so they differ only in weight
    storage, as in the low-bit QAT paper's Table 1; 16 bit is float16 weights (TFLite has no int16
    weights).
    """
    import quant_configs

    # Batch-norm folded first, as before QAT: otherwise the converter folds it itself and
    # names the fused weight tensor after the batch-norm, so no layer's grid finds it.
    float_model = quant_configs.fold_batchnorm(float_model)
    sizes = {
        "float": len(convert_float(float_model)),
        "16bit": len(convert_float(float_model, float16=True)),
    }
    int8 = convert_integer(float_model, representative)
    for variant, scheme in (("8bit", "int8"), ("4-8bit", "w4-8"), ("4bit", "w4a8")):
        try:
            quant_configs.check_applicable(scheme, float_model)
        except KwsqError:  # no layer has the mixed scheme's role: no 4-8 row for this model
            continue
        model = tfs.load(int8)
        grids = naive_layers(float_model, scheme_weight_bits(float_model, scheme))
        postpass.apply_grids(model, grids, check=False)
        sizes[variant] = len(tfs.dump(model))
    return {
        "bytes": sizes,
        "relative": {k: round(v / sizes["float"], 3) for k, v in sizes.items()},
    }


def format_size_table(table: dict[str, Any]) -> str:
    variants = [k for k in SIZE_VARIANTS if k in table["bytes"]]
    head = "".join(f"{k:>9}" for k in variants)
    size = "".join(f"{table['bytes'][k]:>9}" for k in variants)
    rel = "".join(f"{table['relative'][k]:>9.2f}" for k in variants)
    return f"model size   {head}\n  bytes      {size}\n  relative   {rel}"


# ------------------------------------------------------------------------------- runs


@dataclass
class ConvertOptions:
    out: Path | None = None
    float_io: bool = False
    representative_samples: int = REPRESENTATIVE_SAMPLES
    verify: bool = True
    size_table: bool = True
    max_samples: int = 0


def representative_data(run: Run, samples: int) -> np.ndarray:
    """Evenly spaced training samples (deterministic)."""
    from pipeline.tflite.verify import split_arrays

    x, _ = split_arrays(run, "training")
    idx = np.linspace(0, len(x) - 1, num=min(samples, len(x))).round().astype(int)
    return x[np.unique(idx)]


def float_model_of(run: Run, qat_model):
    """The run's float model graph (float.h5, else rebuilt from the model registry)."""
    import tf_keras as keras

    if run.float_model_path.is_file():
        return keras.models.load_model(run.float_model_path, compile=False)
    import models

    cfg = run.read_config()
    return models.builder(cfg.model)(
        input_shape=tuple(qat_model.input_shape[1:]),
        num_classes=int(qat_model.output_shape[-1]), **cfg.model_params)


def _check_writable(out: Path) -> None:
    if out.is_dir():
        raise KwsqError(f"output {out} is a directory")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise KwsqError(f"cannot write {out}: {parent} is not a writable directory")


def convert_run(run: Run, options: ConvertOptions | None = None, log=print) -> dict[str, Any]:
    """Convert, post-pass, write .tflite + C array, size table and verification."""
    from pipeline.tflite import export_c, export_frontend

    options = options or ConvertOptions()
    run.require_model()
    cfg = run.read_config()
    out = Path(options.out) if options.out else run.tflite_path
    _check_writable(out)  # fail before minutes of conversion, not after
    qat_model = run.load_model()
    rep = representative_data(run, options.representative_samples)
    float_model = float_model_of(run, qat_model)
    data = convert_qat(qat_model, cfg.scheme, rep, float_model, options.float_io)
    write_bytes(out, data)
    header, source = export_c.write_c_array(
        data, out.with_suffix(".h"), description=f"{cfg.model} / {cfg.scheme} from {run.path}")
    ops = export_c.write_op_list(data, out.with_name(out.stem + "_ops.c"),
                                 description=f"{cfg.model} / {cfg.scheme} from {run.path}")
    frontend = export_frontend.export_run_frontend(run, data, out)
    log(f"wrote {out} ({len(data)} bytes), {header.name}, {source.name}, {ops.name}, "
        f"{frontend.name}")
    if conversion_kind(cfg.scheme) == "integer":
        # proven accumulator bounds per layer, for narrow-accumulator kernels
        import json

        from pipeline.atomic import write_text
        from pipeline.tflite import accumulators

        accum = out.with_suffix(".accum.json")
        write_text(accum, json.dumps(accumulators.bounds(data), indent=1) + "\n")
    metrics: dict[str, Any] = {
        "scheme": cfg.scheme,
        "conversion": conversion_kind(cfg.scheme),
        "float_io": options.float_io,
        "model_bytes": len(data),
        "path": str(out),
    }
    if options.size_table:
        table = size_table(float_model, rep)
        metrics["size_table"] = table
        metrics["relative_size"] = round(len(data) / table["bytes"]["float"], 3)
        log(format_size_table(table))
        log(f"  this run ({cfg.scheme}): {len(data)} bytes, "
            f"{metrics['relative_size']:.2f} of float")
    if out.resolve() == run.tflite_path.resolve():  # another --out is not the run's model
        run.update_metrics({"tflite": metrics})
    if options.verify:
        from pipeline.tflite.verify import verify_run

        metrics.update(verify_run(run, out, options.max_samples, log=log,
                                  keras_model=qat_model))
    return metrics


def run(args: argparse.Namespace) -> int:
    convert_run(Run(args.run), ConvertOptions(
        out=Path(args.out) if args.out else None, float_io=args.float_io,
        representative_samples=args.representative_samples, verify=not args.no_verify,
        size_table=not args.no_size_table, max_samples=args.max_samples))
    return 0
