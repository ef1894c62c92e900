"""Proven accumulator bounds of a converted integer model, for narrow-accumulator kernels.

The fixed-point QAT paper lets inference use low-bit accumulators because the trained
weights and activations bound every partial sum. For each FULLY_CONNECTED, CONV_2D and
DEPTHWISE_CONV_2D operator this module computes, from the flatbuffer alone, the largest
absolute value any partial sum of ``sum_i w_i * (x_i - z_x)`` can reach over all
possible int8 inputs. With ``x_i - z_x`` in ``[-(z_x + 128), 127 - z_x]``, ``P`` the sum of
a channel's positive weights and ``N`` the sum of its negative weights' magnitudes, it is
``max(P (127 - z_x) + N (z_x + 128), P (z_x + 128) + N (127 - z_x))``: reached by the
input that gives every product the same sign (so the bound is tight), and no partial
sum of a subset of the terms exceeds it. The same with the bias added is reported too. A kernel may
accumulate in 16 bits where ``partial_sum_bound <= 32767``.

Side-file format (``<model>.accum.json``, written by ``kwsq convert`` beside the .tflite)::

    {"format": "kwsq-accumulator-bounds/1",
     "operators": [{"index": 3, "op": "FULLY_CONNECTED", "weights": "<tensor name>",
                    "input_zero_point": -128, "partial_sum_bound": 20320,
                    "with_bias_bound": 20871, "bits": 16, "fits_int16": true}, ...]}

``index`` is the operator's position in subgraph 0; ``bits`` the signed width that holds
``with_bias_bound``; bounds are per operator (the maximum over its output channels).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.tflite import schema as tfs

FORMAT = "kwsq-accumulator-bounds/1"
OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def _channel_sums(op: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sum of positive weights, sum of |negative weights|) per output channel."""
    a = w.astype(np.int64)
    if op == "DEPTHWISE_CONV_2D":  # [1, kh, kw, channels]
        a = a.reshape(-1, a.shape[-1]).T
    else:  # [out, ...]
        a = a.reshape(a.shape[0], -1)
    return np.clip(a, 0, None).sum(axis=1), np.clip(-a, 0, None).sum(axis=1)


def bounds(model_bytes: bytes) -> dict[str, Any]:
    """The side-file content for an integer model (operators with float inputs skipped)."""
    model = tfs.load(model_bytes)
    sg = model.subgraphs[0]
    out = []
    for index, op in enumerate(sg.operators):
        name = tfs.op_name(model, op)
        inputs = [int(i) for i in op.inputs]
        if name not in OPS or len(inputs) < 2:
            continue
        x, w = sg.tensors[inputs[0]], sg.tensors[inputs[1]]
        xq = tfs.quant(x)
        if x.type != tfs.TensorType.INT8 or xq is None or not tfs.is_constant(model, w):
            continue
        z = int(xq.zero_points[0])
        hi, lo = 127 - z, z + 128
        pos, neg = _channel_sums(name, tfs.tensor_values(model, w))
        partial = np.maximum(pos * hi + neg * lo, pos * lo + neg * hi)
        total = partial.copy()
        if len(inputs) > 2 and inputs[2] >= 0:
            total = partial + np.abs(tfs.tensor_values(model, sg.tensors[inputs[2]])
                                     .astype(np.int64)).reshape(-1)
        bound = int(total.max())
        out.append({
            "index": index, "op": name, "weights": tfs.tensor_name(w),
            "input_zero_point": z, "partial_sum_bound": int(partial.max()),
            "with_bias_bound": bound, "bits": math.ceil(math.log2(bound + 1)) + 1,
            "fits_int16": bound <= 32767,
        })
    return {"format": FORMAT, "operators": out}
