"""Cortex-M55 (kernels/mve) convolutions with small receptive fields, against TFLite
Micro under QEMU.

Layers with at most 16 values per receptive field and a multiple of four filters take
kernels/mve/mve_conv_pix.c: four output pixels per vector, one requantization per
channel for the four, four channels narrowed into one word scatter. Its three ways to
the sums each get models here: 1x1 on 1-4 input channels (channels of four pixels in
int32 lanes, weights as scalars), 1x1 on 5-16 (one dot product per pixel, read from the
input) and 17 (past the path), and other windows of 5-16 values (3x3 on one channel,
5x3, 4x4, 2x3 on two channels, strides, dilation, same and valid padding; each window
gathered from zero-point padded rows, a 40x30 map in several chunks of rows) and 18
(past it). Filter counts on and off multiples
of four (the others fall back), pixel counts that leave a last block of 1-3 pixels,
per-tensor and per-channel weights, ReLU, ReLU6 and no activation (both clamps), and
layers with one channel in five at an effective scale of 0.75 (shift 0: the path needs
right shifts and must fall back). Each model runs several inputs in one firmware, so the
records the path keeps in persistent memory are reused after the first inference.
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
    ((3, 3, 13), 12, 1, "linear", False),
    ((7, 5, 16), 8, 1, "relu", True),
    ((4, 6, 17), 16, 1, "relu", False),
    ((5, 5, 4), 6, 1, "relu", False),
    ((3, 5, 2), 1, 1, "linear", False),
]

# (input h, w, c), filters, kernel, strides, dilation, padding, activation, per-tensor
WINDOWS = [
    ((10, 10, 1), 8, 3, 1, 1, "same", "relu", False),
    ((11, 9, 1), 12, 3, 2, 1, "valid", "linear", False),
    ((9, 13, 1), 4, (5, 3), 1, 1, "same", "relu6", True),
    ((12, 7, 1), 16, 4, (2, 1), 1, "same", "relu", False),
    ((8, 9, 2), 20, (2, 3), 1, 1, "valid", "relu", False),
    ((13, 11, 1), 8, 3, 1, 2, "same", "linear", False),
    ((6, 31, 1), 36, (3, 2), 1, 1, "same", "relu", False),
    ((9, 8, 2), 8, 3, 1, 1, "same", "relu", False),
    ((7, 7, 1), 10, 3, 1, 1, "same", "relu", False),
    ((40, 30, 1), 8, 3, 1, 1, "same", "relu", False),
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


def window_models() -> list[tuple[bytes, str]]:
    """One convolution per model (the WINDOWS table) after a 1x1 layer on the input."""
    import tf_keras as keras

    L = keras.layers
    out = []
    for i, (shape, filters, k, stride, dil, pad, act, per_tensor) in enumerate(WINDOWS):
        keras.utils.set_random_seed(400 + i)
        inp = keras.Input(shape, batch_size=1)
        x = L.Conv2D(shape[2], 1, activation="relu")(inp)
        x = L.Conv2D(filters, k, strides=stride, dilation_rate=dil, padding=pad, activation=act)(x)
        model = keras.Model(inp, x)
        desc = (f"{shape} {k} s{stride} d{dil} {pad} -> {filters} {act}"
                + (" per-tensor" if per_tensor else ""))
        out.append((convert_int8(model, shape, 410 + i, per_tensor=per_tensor), desc))
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
    """1x1 on 1-4 input channels (lanes), 5-16 (dots from the input) and 17 (past the
    path), filter counts on and off multiples of four, strides, block tails, clamps."""
    assert_m55_matches_tflm(pointwise_models(), 2, 17, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_pointwise_with_unshifted_channels_falls_back_exactly(tmp_path: Path) -> None:
    """A channel with shift 0 turns the path down (its -1 before the rounding shift
    would be wrong there); the fallback gives TFLite Micro's bytes."""
    models = [(_unshifted_conv(data, 1), desc + ", every 5th channel unshifted")
              for data, desc in pointwise_models()[3:5]]
    assert_m55_matches_tflm(models, 2, 19, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_small_windows_match_tflite_micro(tmp_path: Path) -> None:
    """Windows of 5-16 values (columns from zero-point padded rows) and 18 (past the
    path): strides, dilation, padding, block tails, clamps."""
    assert_m55_matches_tflm(window_models(), 2, 23, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_small_window_with_unshifted_channels_falls_back_exactly(tmp_path: Path) -> None:
    """The column way turns a layer with a shift-0 channel down too."""
    data, desc = window_models()[0]
    assert_m55_matches_tflm([(_unshifted_conv(data, 1), desc + ", every 5th channel unshifted")],
                            2, 29, tmp_path)


# Per-op instructions of kwsq bench's two smallest general-shapes models on m55/mve
# (seed-0 input, op-list firmware, as the bench's general-shapes section takes them), with
# 1 % of room for the runtime's own per-op code; session 8 had the 1x1 layer of dm4 at
# 42,751, tiny's 3x3 at 10,715 and its 1x1 at 10,094, the pools at 3,277 and 908.
SMALL_MODEL_OPS = {
    "dm4_32x20x1_k5x5s2": {"CONV_2D": [16_423], "AVERAGE_POOL_2D": [2_264]},
    "tiny10x10_c8": {"CONV_2D": [4_095, 3_927], "AVERAGE_POOL_2D": [678]},
}


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("name", sorted(SMALL_MODEL_OPS))
def test_small_general_models_conv_and_pool_instructions(tmp_path: Path, name: str) -> None:
    """The four-pixel conv path and the pool's run sums on the two models they were built
    for: bit-exact with TFLite Micro and within 1 % of the instruction counts above
    (QEMU -icount is deterministic)."""
    from pipeline.device import general_shapes as gs
    from pipeline.device.bench import model_input_specs, random_inputs
    from pipeline.device.targets import run_on_target
    from pipeline.tflite.verify import run_tflm

    (path,) = gs.ensure_models(tmp_path, say=lambda _: None, specs=[gs.find(name)])
    x = random_inputs(model_input_specs(path), 1, 0)
    run = run_on_target(path, x, "m55", kernels="mve", op_list=True)
    expected = run_tflm(path.read_bytes(), x[0]).reshape(-1)
    assert np.array_equal(run.outputs[0].reshape(-1), expected)
    for op, bounds in SMALL_MODEL_OPS[name].items():
        counts = [n for o, n in run.op_instructions if o == op]
        assert len(counts) == len(bounds), (op, counts)
        for n, bound in zip(counts, bounds, strict=True):
            assert n <= bound * 1.01, f"{name} {op}: {n:,} instructions, bound {bound:,} + 1 %"
