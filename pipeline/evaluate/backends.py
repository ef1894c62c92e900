"""One interface for every way kwsq can run a model: features in, class posteriors out.

Clip and streaming evaluation call a :class:`Scorer` and nothing else, so the curves of
the float Keras model, the QAT Keras model and the .tflite on LiteRT, TFLite Micro and
kwsq's own C runtime differ only by the model and its arithmetic. The .tflite scorers
quantize the float features with the model's input parameters and dequantize its
outputs exactly as ``kwsq verify`` does.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import KwsqError
from pipeline.train.runs import Run

# backend names, in report order
KERAS_FLOAT = "float"
KERAS_QAT = "qat"
LITERT = "litert"
TFLM = "tflm"
KWSQ = "kwsq"
ALL = (KERAS_FLOAT, KERAS_QAT, LITERT, TFLM, KWSQ)
LABELS = {KERAS_FLOAT: "float (Keras)", KERAS_QAT: "QAT (Keras)", LITERT: ".tflite on LiteRT",
          TFLM: ".tflite on TFLite Micro", KWSQ: ".tflite on kwsq C runtime"}


@dataclass
class Scorer:
    """``score(x)``: float features ``[n, *input_shape]`` -> posteriors ``[n, classes]``."""

    name: str
    label: str
    score: Callable[[np.ndarray], np.ndarray]
    model_bytes: int | None  # bytes of the deployable file this scorer stands for
    path: str


def keras_scorer(name: str, model, path: Path, model_bytes: int | None) -> Scorer:
    def score(x: np.ndarray, batch: int = 2048) -> np.ndarray:
        outs = [np.asarray(model(x[i: i + batch], training=False))
                for i in range(0, len(x), batch)]
        return np.concatenate(outs).reshape(len(x), -1) if outs else np.zeros((0, 0))

    return Scorer(name, LABELS.get(name, name), score, model_bytes, str(path))


def tflite_scorer(name: str, path: Path) -> Scorer:
    """LiteRT, TFLite Micro or kwsq's C runtime on a .tflite file."""
    from pipeline.tflite import verify

    data = Path(path).read_bytes()
    spec = verify.io_spec(data)

    if name == LITERT:
        def raw(xq: np.ndarray) -> np.ndarray:
            return verify.run_litert(data, xq)
    elif name == TFLM:
        if verify.hybrid_ops(data):
            raise KwsqError(f"{path}: TFLite Micro has no hybrid kernels")

        def raw(xq: np.ndarray) -> np.ndarray:
            return verify.run_tflm(data, xq)
    elif name == KWSQ:
        raw = _kwsq_runner(data)
    else:
        raise KwsqError(f"unknown .tflite backend '{name}'")

    def score(x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, 0), np.float32)
        xq = verify.quantize_input(np.asarray(x, np.float32), spec)
        return verify.dequantize_output(raw(xq), spec).reshape(len(x), -1)

    return Scorer(name, LABELS[name], score, len(data), str(path))


def _kwsq_runner(data: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """kwsq's runtime over a batch with one ctypes copy in and out per sample."""
    from pipeline.device.runtime import Runtime

    rt = Runtime(data)
    din, dout = rt.input_details()[0], rt.output_details()[0]

    def raw(xq: np.ndarray) -> np.ndarray:
        xs = np.ascontiguousarray(xq.reshape(len(xq), -1).astype(din.dtype, copy=False))
        if xs.shape[1] * xs.itemsize != din.bytes:
            raise KwsqError(f"kwsq runtime input needs {din.bytes} bytes per sample, "
                            f"got {xs.shape[1] * xs.itemsize}")
        out = np.empty((len(xs), dout.bytes // np.dtype(dout.dtype).itemsize), dout.dtype)
        src = rt._view("input", 0).data  # tensor buffers stay put after allocation
        dst = rt._view("output", 0).data
        for i in range(len(xs)):
            ctypes.memmove(src, xs[i].ctypes.data, din.bytes)
            rt.invoke()
            ctypes.memmove(out[i].ctypes.data, dst, dout.bytes)
        return out

    return raw


def run_scorers(run: Run, names: tuple[str, ...] = ALL, log=print) -> list[Scorer]:
    """The run's models on the requested backends; those a run lacks are skipped with a line."""
    import tf_keras as keras  # noqa: F401  (legacy Keras before quant_configs loads models)

    import quant_configs

    cfg = run.read_config()
    metrics = run.read_metrics()
    tfl = metrics.get("tflite", {})
    float_bytes = tfl.get("size_table", {}).get("bytes", {}).get("float")
    out: list[Scorer] = []
    for name in names:
        if name not in ALL:
            raise KwsqError(f"unknown backend '{name}'; expected some of {', '.join(ALL)}")
        if name == KERAS_FLOAT:
            path = run.float_model_path if run.float_model_path.is_file() else None
            if cfg.scheme == "float":
                path = run.require_model()
            if path is None:
                log(f"eval: {run.path} has no float.keras: float model skipped")
                continue
            out.append(keras_scorer(name, quant_configs.load_model(path), path, float_bytes))
        elif name == KERAS_QAT:
            if cfg.scheme == "float":
                continue
            path = run.require_model()
            out.append(keras_scorer(name, quant_configs.load_model(path), path,
                                    tfl.get("model_bytes")))
        else:
            if not run.tflite_path.is_file():
                log(f"eval: {run.path} has no model.tflite: {name} skipped "
                    f"(convert it with kwsq convert {run.path})")
                continue
            try:
                out.append(tflite_scorer(name, run.tflite_path))
            except KwsqError as exc:
                log(f"eval: {name} skipped: {exc}")
    if not out:
        raise KwsqError(f"{run.path} has no model to evaluate")
    return out
