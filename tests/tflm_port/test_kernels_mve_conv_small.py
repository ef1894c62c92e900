"""Cortex-M55 (kernels/mve) convolutions with few input channels, against TFLite Micro
under QEMU.

1x1 layers on 1-8 input channels with a multiple of four filters take the pixels-in-lanes
path (kernels/mve/mve_conv_pix.c: one gather per input channel of four pixels, weights
as scalars, four channels narrowed into one word scatter); the models here cover every
input-channel count of it and one past its limit, filter counts that are and are not
multiples of four (the others fall back), strides 1 and 2 (the contiguous block loop and
the per-block copy), pixel counts that leave a last block of 1-3 pixels, per-tensor and
per-channel weights, ReLU, ReLU6 and no activation (both clamps), and a layer with one
channel in five at an effective scale of 0.75 (shift 0: the path requires right shifts
and must fall back). Each model runs several inputs in one firmware, so the records the
path keeps in persistent memory are reused after the first inference.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import assert_m55_matches_tflm, convert_int8

from pipeline.tflite import schema as ts

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")

# (input h, w, c), filters, strides, activation, per-tensor
POINTWISE = [
    ((5, 7, 1), 4, 1, "relu", False),
    ((6, 5, 2), 8, 2, "linear", False),
    ((4, 9, 3), 12, 1, "linear", True),
    ((7, 3, 4), 32, 1, "relu", False),
    ((3, 11, 5), 20, 1, "relu6", False),
    ((5, 5, 6), 16, (2, 1), "linear", False),
    ((9, 2, 7), 40, 1, "relu", True),
    ((4, 4, 8), 8, 1, "relu", False),
    ((6, 3, 8), 36, 2, "relu6", False),
    ((5, 4, 9), 16, 1, "relu", False),
    ((5, 5, 4), 6, 1, "relu", False),
    ((3, 5, 2), 1, 1, "linear", False),
]


def pointwise_models() -> list[tuple[bytes, str]]:
    """One 1x1 convolution per model (the POINTWISE table), after a 1x1 layer on the input
    so that its input has a nonzero zero point from calibration."""
    import tf_keras as keras

    L = keras.layers
    out = []
    for i, (shape, filters, stride, act, per_tensor) in enumerate(POINTWISE):
        keras.utils.set_random_seed(300 + i)
        inp = keras.Input(shape, batch_size=1)
        x = L.Conv2D(shape[2], 1, activation="relu")(inp)
        x = L.Conv2D(filters, 1, strides=stride, activation=act)(x)
        model = keras.Model(inp, x)
        desc = (f"{shape} 1x1 -> {filters} s{stride} {act}" + (" per-tensor" if per_tensor else ""))
        out.append((convert_int8(model, shape, 310 + i, per_tensor=per_tensor), desc))
    return out


def _unshifted_conv(model: bytes, index: int) -> bytes:
    """Every 5th output channel of CONV_2D `index` at an effective scale of 0.75 (a
    multiplier and no shift), the others kept (right shifts)."""
    m = ts.load(model)
    sg, op = list(ts.operators(m, "CONV_2D"))[index]
    x, w, y = (sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]])
    scales = np.array(w.quantization.scale, dtype=np.float32)
    scales[::5] = 0.75 * float(y.quantization.scale[0]) / float(x.quantization.scale[0])
    w.quantization.scale = scales
    return ts.dump(m)


@pytest.mark.qemu
@needs_qemu
def test_mve_pointwise_few_channels_match_tflite_micro(tmp_path: Path) -> None:
    """Every input-channel count of the pixels-in-lanes path (and 9, past it), filter
    counts on and off multiples of four, strides, block tails, both clamps."""
    assert_m55_matches_tflm(pointwise_models(), 2, 17, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_pointwise_with_unshifted_channels_falls_back_exactly(tmp_path: Path) -> None:
    """A channel with shift 0 turns the path down (its -1 before the rounding shift
    would be wrong there); the fallback gives TFLite Micro's bytes."""
    models = [(_unshifted_conv(data, 1), desc + ", every 5th channel unshifted")
              for data, desc in pointwise_models()[3:5]]
    assert_m55_matches_tflm(models, 2, 19, tmp_path)
