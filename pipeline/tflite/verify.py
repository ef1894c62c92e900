"""``kwsq verify``: does the .tflite compute what the trained Keras model computes?

Runs the test split through three implementations: the Keras QAT model (the training
graph with fake quantization), LiteRT (TFLite's optimized kernels) and TFLite Micro
(the reference kernels a microcontroller runs, and the bit-exactness reference for
``tflm_port/``). Reports argmax agreement with Keras, the output differences in units
of the output tensor's quantization step (LSB), and each one's accuracy; the figures go
into the run's ``metrics.json`` under ``"tflite"``. LiteRT and TFLM are expected to
differ by a few LSB (docs/design.md, conversion facts), so both are compared to Keras separately and
to each other.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import console
from pipeline.errors import KwsqError
from pipeline.tflite import schema as tfs
from pipeline.train.runs import Run

CHUNK = 256  # LiteRT batch per invoke


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder with a converted model (kwsq convert)")
    p.add_argument("--tflite", help="model to verify (default: the run's model.tflite)")
    p.add_argument("--max-samples", type=int, default=0,
                   help="verify on the first N test samples only (default: all)")


@dataclass
class IOSpec:
    """How to feed and read a .tflite's single input and output."""

    input_type: int
    input_scale: float
    input_zero_point: int
    output_type: int
    output_scale: float
    output_zero_point: int
    output_lsb: float | None  # quantization step of the model's output values, if quantized


def io_spec(model_bytes: bytes) -> IOSpec:
    model = tfs.load(model_bytes)
    if len(model.subgraphs) != 1:
        raise KwsqError("only single-subgraph models can be verified")
    sg = model.subgraphs[0]
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        raise KwsqError("verify expects a model with one input and one output")
    tin, tout = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    qin, qout = tfs.quant(tin), tfs.quant(tout)
    lsb = float(qout.scales[0]) if qout is not None else None
    if lsb is None:  # float output: the step of the int8 tensor a DEQUANTIZE reads, if any
        for op in sg.operators:
            if tfs.op_name(model, op) == "DEQUANTIZE" and sg.outputs[0] in list(op.outputs):
                q = tfs.quant(sg.tensors[op.inputs[0]])
                lsb = float(q.scales[0]) if q is not None else None
    return IOSpec(
        int(tin.type), float(qin.scales[0]) if qin else 1.0,
        int(qin.zero_points[0]) if qin else 0,
        int(tout.type), float(qout.scales[0]) if qout else 1.0,
        int(qout.zero_points[0]) if qout else 0, lsb)


def quantize_input(x: np.ndarray, spec: IOSpec) -> np.ndarray:
    if spec.input_type == tfs.TensorType.FLOAT32:
        return x.astype(np.float32)
    ranges = {tfs.TensorType.INT8: np.int8, tfs.TensorType.INT16: np.int16}
    if spec.input_type not in ranges:
        raise KwsqError(f"unsupported model input type {tfs.TYPE_NAMES.get(spec.input_type)}")
    info = np.iinfo(ranges[spec.input_type])
    q = np.round(x / spec.input_scale) + spec.input_zero_point
    return np.clip(q, info.min, info.max).astype(ranges[spec.input_type])


def dequantize_output(y: np.ndarray, spec: IOSpec) -> np.ndarray:
    if spec.output_type == tfs.TensorType.FLOAT32:
        return y.astype(np.float32)
    return ((y.astype(np.float32) - spec.output_zero_point) * spec.output_scale).astype(np.float32)


def run_litert(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Raw model outputs (stored type) from LiteRT, batched."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interp = Interpreter(model_content=model_bytes, num_threads=1)
    except Exception as exc:  # LiteRT raises ValueError/RuntimeError with its own message
        raise KwsqError(f"LiteRT cannot load the model: {exc}") from exc
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    outputs = []
    try:
        for start in console.progress(range(0, len(x), CHUNK), desc="verify: LiteRT",
                                      unit="batch"):
            chunk = x[start : start + CHUNK]
            interp.resize_tensor_input(inp["index"], [len(chunk), *inp["shape"][1:]])
            interp.allocate_tensors()
            interp.set_tensor(inp["index"], chunk)
            interp.invoke()
            outputs.append(interp.get_tensor(out["index"]).reshape(len(chunk), -1).copy())
    except (RuntimeError, ValueError):
        # Graphs with a batch size baked into RESHAPE shapes cannot be batched: one by one.
        interp.resize_tensor_input(inp["index"], list(inp["shape"]))
        interp.allocate_tensors()
        outputs = []
        for sample in console.progress(x, desc="verify: LiteRT", unit="sample"):
            interp.set_tensor(inp["index"], sample.reshape(inp["shape"]))
            interp.invoke()
            outputs.append(interp.get_tensor(out["index"]).reshape(1, -1).copy())
    return np.concatenate(outputs).reshape(len(x), -1)


def run_tflm(model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """Raw model outputs from the TFLite Micro reference interpreter, one sample at a time."""
    from tflite_micro import runtime

    try:
        interp = runtime.Interpreter.from_bytes(
            model_bytes, arena_size=max(10 * len(model_bytes), 1 << 18))
    except Exception as exc:  # TFLM raises RuntimeError naming the failing op
        raise KwsqError(f"TFLite Micro cannot load the model: {exc}") from exc
    shape = tuple(interp.get_input_details(0)["shape"])
    outputs = []
    for sample in console.progress(x, desc="verify: TFLite Micro", unit="sample"):
        interp.set_input(sample.reshape(shape), 0)
        interp.invoke()
        outputs.append(np.asarray(interp.get_output(0)).reshape(-1).copy())
    return np.stack(outputs)


def keras_outputs(model: Any, x: np.ndarray, batch: int = 500) -> np.ndarray:
    # A direct call, not predict(): no tf.function tracing, which costs more than the
    # arithmetic for these small models.
    outs = [np.asarray(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)]
    return np.concatenate(outs).reshape(len(x), -1)


@dataclass
class Comparison:
    """Keras QAT vs LiteRT vs TFLite Micro on one data set."""

    samples: int
    keras_accuracy: float
    litert_accuracy: float
    tflm_accuracy: float | None  # None: TFLite Micro cannot run the model (hybrid ops)
    litert_agreement: float  # argmax agreement with Keras
    tflm_agreement: float | None
    litert_tflm_agreement: float | None
    litert_max_abs: float  # |LiteRT - Keras| on dequantized outputs
    tflm_max_abs: float | None
    litert_max_lsb: float | None  # the same in output quantization steps
    litert_mean_lsb: float | None
    tflm_max_lsb: float | None
    tflm_mean_lsb: float | None
    litert_tflm_max_lsb: float | None  # LiteRT vs TFLM, bit-level
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(model_bytes: bytes, keras_model: Any, x: np.ndarray, y: np.ndarray) -> Comparison:
    """Run ``x`` through Keras, LiteRT and TFLM and compare outputs and accuracies."""
    if len(x) == 0:
        raise KwsqError("no samples to verify on")
    spec = io_spec(model_bytes)
    xq = quantize_input(np.asarray(x, np.float32), spec)
    ref = keras_outputs(keras_model, x)
    lite = dequantize_output(run_litert(model_bytes, xq), spec)
    hybrid = hybrid_ops(model_bytes)
    if hybrid:
        # TFLite Micro has no hybrid kernels (float input, integer weights): it refuses
        # the model at allocation. LiteRT is then the only reference; kwsq's own runtime
        # (tflm_port) implements hybrid FULLY_CONNECTED and is checked against LiteRT.
        micro = None
    else:
        micro = dequantize_output(run_tflm(model_bytes, xq), spec)
    if lite.shape != ref.shape or (micro is not None and micro.shape != ref.shape):
        raise KwsqError(f"output shapes differ: Keras {ref.shape}, LiteRT {lite.shape}, "
                        f"TFLM {None if micro is None else micro.shape}")
    arg = {k: v.argmax(1) for k, v in (("keras", ref), ("litert", lite), ("tflm", micro))
           if v is not None}

    def lsb(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
        if spec.output_lsb is None:
            return None, None
        d = np.abs(a - b) / spec.output_lsb
        return float(d.max()), float(d.mean())

    l_max, l_mean = lsb(lite, ref)
    if micro is None:
        return Comparison(
            samples=len(x),
            keras_accuracy=float(np.mean(arg["keras"] == y)),
            litert_accuracy=float(np.mean(arg["litert"] == y)),
            tflm_accuracy=None, litert_agreement=float(np.mean(arg["litert"] == arg["keras"])),
            tflm_agreement=None, litert_tflm_agreement=None,
            litert_max_abs=float(np.abs(lite - ref).max()), tflm_max_abs=None,
            litert_max_lsb=l_max, litert_mean_lsb=l_mean, tflm_max_lsb=None,
            tflm_mean_lsb=None, litert_tflm_max_lsb=None,
            note=f"hybrid operators ({', '.join(hybrid)}): TFLite Micro has no hybrid kernels",
        )
    t_max, t_mean = lsb(micro, ref)
    return Comparison(
        samples=len(x),
        keras_accuracy=float(np.mean(arg["keras"] == y)),
        litert_accuracy=float(np.mean(arg["litert"] == y)),
        tflm_accuracy=float(np.mean(arg["tflm"] == y)),
        litert_agreement=float(np.mean(arg["litert"] == arg["keras"])),
        tflm_agreement=float(np.mean(arg["tflm"] == arg["keras"])),
        litert_tflm_agreement=float(np.mean(arg["litert"] == arg["tflm"])),
        litert_max_abs=float(np.abs(lite - ref).max()),
        tflm_max_abs=float(np.abs(micro - ref).max()),
        litert_max_lsb=l_max, litert_mean_lsb=l_mean,
        tflm_max_lsb=t_max, tflm_mean_lsb=t_mean,
        litert_tflm_max_lsb=lsb(lite, micro)[0],
    )


def hybrid_ops(model_bytes: bytes) -> list[str]:
    """Operators computing on float activations with integer weights (dynamic range)."""
    model = tfs.load(model_bytes)
    found = []
    for sg in model.subgraphs:
        for op in sg.operators:
            inputs = [int(i) for i in op.inputs]
            if len(inputs) < 2 or inputs[0] < 0 or inputs[1] < 0:
                continue
            a, w = sg.tensors[inputs[0]], sg.tensors[inputs[1]]
            if (a.type == tfs.TensorType.FLOAT32 and tfs.is_constant(model, w)
                    and w.type in (tfs.TensorType.INT8, tfs.TensorType.INT4)):
                found.append(tfs.op_name(model, op))
    return sorted(set(found))


def test_arrays(run: Run, max_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The run's test split, as the run's config describes its data and features."""
    return split_arrays(run, "testing", max_samples)


def split_arrays(run: Run, split: str, max_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig

    cfg = run.read_config()
    data_cfg = data_mod.DataConfig.from_dict(cfg.data)
    feat_cfg = FeatureConfig.from_dict(cfg.features)
    x, y = data_mod.arrays(data_cfg, feat_cfg, split)
    if len(x) == 0:
        raise KwsqError(f"the {split} split of {data_cfg.path} "
                        "is empty")
    if max_samples:
        x, y = x[:max_samples], y[:max_samples]
    return np.asarray(x, np.float32), np.asarray(y)


def verify_run(run: Run, tflite_path: Path | None = None, max_samples: int = 0,
               log=print, keras_model: Any = None) -> dict[str, Any]:
    """Compare a .tflite with the run's Keras model; the run's own model.tflite's figures
    are recorded in metrics.json under ``"tflite"`` (another file's are only returned)."""
    run.require_model()
    path = Path(tflite_path) if tflite_path else run.tflite_path
    if not path.is_file():
        raise KwsqError(f"{path} does not exist; convert the run first (kwsq convert {run.path})")
    model_bytes = path.read_bytes()
    x, y = test_arrays(run, max_samples)
    if keras_model is None:
        keras_model = run.load_model()
    result = compare(model_bytes, keras_model, x, y).to_dict()
    result["model_bytes"] = len(model_bytes)
    result.update(check_kwsq_runtime(model_bytes, x))
    # the accuracy of the integer model as a microcontroller computes it (TFLM), else LiteRT
    result["int8_test_accuracy"] = (result["tflm_accuracy"] if result["tflm_accuracy"]
                                    is not None else result["litert_accuracy"])
    if path.resolve() == run.tflite_path.resolve():  # only the run's own model is recorded
        metrics = run.read_metrics().get("tflite", {})
        metrics.update(result)
        run.update_metrics({"tflite": metrics})
    log(format_comparison(result))
    return result


def check_kwsq_runtime(model_bytes: bytes, x: np.ndarray) -> dict[str, Any]:
    """kwsq's own C runtime (tflm_port) on the same inputs: bit-exact with TFLite Micro?

    Hybrid models have no TFLM reference; there the runtime is compared with LiteRT and
    only the largest absolute difference is reported. A missing C compiler is not a
    verification failure: the figures are then absent with a note.
    """
    from pipeline.device.runtime import Runtime

    spec = io_spec(model_bytes)
    xq = quantize_input(x, spec)
    try:
        rt = Runtime(model_bytes)
        ours = rt.run_batch([xq])[0].reshape(len(x), -1)
    except KwsqError as exc:
        return {"kwsq_runtime_note": str(exc)}
    if hybrid_ops(model_bytes):
        ref = run_litert(model_bytes, xq)
        return {"kwsq_runtime_vs": "litert", "kwsq_runtime_arena_bytes": rt.arena_used_bytes,
                "kwsq_runtime_max_abs": float(np.abs(ours.astype(np.float64) - ref).max())}
    ref = run_tflm(model_bytes, xq)
    equal = np.all(ours == ref, axis=1)
    return {"kwsq_runtime_vs": "tflm", "kwsq_runtime_arena_bytes": rt.arena_used_bytes,
            "kwsq_runtime_bitexact": float(np.mean(equal)),
            "kwsq_runtime_max_lsb_vs_tflm": int(np.abs(ours.astype(np.int64) - ref).max())}


def format_comparison(r: dict[str, Any]) -> str:
    def f(v: float | None, digits: int = 2) -> str:
        return "n/a" if v is None else f"{v:.{digits}f}"

    return "\n".join([
        f"verify on {r['samples']} test samples",
        f"  accuracy   keras {r['keras_accuracy']:.4f}  litert {r['litert_accuracy']:.4f}  "
        f"tflm {f(r['tflm_accuracy'], 4)}",
        f"  agreement  litert {r['litert_agreement']:.4f}  tflm {f(r['tflm_agreement'], 4)}  "
        f"litert-vs-tflm {f(r['litert_tflm_agreement'], 4)}",
        f"  LSB diff   litert max {f(r['litert_max_lsb'])} mean {f(r['litert_mean_lsb'])}  "
        f"tflm max {f(r['tflm_max_lsb'])} mean {f(r['tflm_mean_lsb'])}  "
        f"litert-vs-tflm max {f(r['litert_tflm_max_lsb'])}",
    ] + ([f"  note: {r['note']}"] if r.get("note") else []) + [_runtime_line(r)])


def _runtime_line(r: dict[str, Any]) -> str:
    if "kwsq_runtime_bitexact" in r:
        return (f"  kwsq C runtime: bit-exact with TFLM on {100 * r['kwsq_runtime_bitexact']:.2f}% "
                f"of samples (max {r['kwsq_runtime_max_lsb_vs_tflm']} LSB), "
                f"arena {r['kwsq_runtime_arena_bytes']} B")
    if "kwsq_runtime_max_abs" in r:
        return (f"  kwsq C runtime vs LiteRT (hybrid): max |diff| {r['kwsq_runtime_max_abs']:.3g}, "
                f"arena {r['kwsq_runtime_arena_bytes']} B")
    return f"  kwsq C runtime: not checked ({r.get('kwsq_runtime_note', 'unavailable')})"


def run(args: argparse.Namespace) -> int:
    verify_run(Run(args.run), Path(args.tflite) if args.tflite else None, args.max_samples)
    return 0
