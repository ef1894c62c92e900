"""Anchor models with rewritten quantization parameters, for paths the
converter does not produce by default: power-of-two scales (the shift-only
requantization path) and per-channel FULLY_CONNECTED weights. TFLite Micro is
still the reference for every output."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_refs import anchor_bytes, kwsq_run, random_inputs, tflm_run

from pipeline.tflite import schema as ts


def _pow2(scales: np.ndarray) -> np.ndarray:
    return np.exp2(np.round(np.log2(np.asarray(scales, dtype=np.float64)))).astype(np.float32)


def _assert_bit_exact(model: bytes, count: int = 40) -> None:
    xs = random_inputs(model, count, seed=21)
    ours, ref = kwsq_run(model, xs), tflm_run(model, xs)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert np.array_equal(a, b), f"sample {i}: {a.ravel()[:16]} != {b.ravel()[:16]}"
    assert len({o.tobytes() for o in ref}) > 1


@pytest.mark.parametrize("name", ["hello_world_int8", "mlperf_tiny_kws_ds_cnn_int8"])
def test_power_of_two_scales_are_bit_exact(name: str) -> None:
    m = ts.load(anchor_bytes(name))
    changed = 0
    for t in m.subgraphs[0].tensors:
        q = t.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            continue
        if t.type == ts.TensorType.INT32:  # biases: scale = input * weight scale
            continue
        # SOFTMAX output keeps its fixed 1/256 (already a power of two).
        q.scale = _pow2(q.scale)
        changed += 1
    # Bias scales follow input * weight, like the converter writes them.
    for op in m.subgraphs[0].operators:
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            sg = m.subgraphs[0]
            x, w, b = (sg.tensors[i] for i in op.inputs[:3])
            b.quantization.scale = (x.quantization.scale[0] * np.asarray(w.quantization.scale)
                                    ).astype(np.float32)
    assert changed > 5
    _assert_bit_exact(ts.dump(m))


def test_per_channel_fully_connected_weights_are_bit_exact() -> None:
    m = ts.load(anchor_bytes("hello_world_int8"))
    sg = m.subgraphs[0]
    fc = sg.operators[1]
    w, b = sg.tensors[fc.inputs[1]], sg.tensors[fc.inputs[2]]
    rows = w.shape[0]
    base = float(w.quantization.scale[0])
    w.quantization.scale = (base * np.linspace(0.5, 1.5, rows)).astype(np.float32)
    w.quantization.zeroPoint = np.zeros(rows, dtype=np.int64)
    w.quantization.quantizedDimension = 0
    x_scale = sg.tensors[fc.inputs[0]].quantization.scale[0]
    b.quantization.scale = (x_scale * w.quantization.scale).astype(np.float32)
    b.quantization.zeroPoint = np.zeros(rows, dtype=np.int64)
    _assert_bit_exact(ts.dump(m))
