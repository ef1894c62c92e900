"""The dsp depthwise paths for any shape give exactly TFLite Micro's results.

Two paths are checked here (the 3x3 stride-1 planes path has its own tests in
test_kernels_dsp.py):

kernels/dsp/dsp_dw_mult.c widens each output row's window rows into int16
slots (dilation phases, padding, column chunks when a row does not fit the
stack budget), pairs the weights of four output channels per tap pair (zero
lanes for a multiplier that is not a multiple of 4, a zero weight closing an
odd filter row, bands of 8 pairs for wide rows, weights paired per group
when all of them do not fit), runs one pixel per pass (several per call when
the stride is a multiple of the dilation) and requantizes per channel in
three output stages. The models here are built so that each of those cases
occurs: Keras DEPTHWISE_CONV_2D layers with multipliers 2..8 converted by the
TF converter, checked on the host (the portable stand-ins of the DSP
instructions) and under QEMU on the Cortex-M4 (the assembly), bit-exact
with tflite_micro.

kernels/dsp/dsp_dw_any.c computes depth multiplier 1 layers of any filter
size, stride, dilation and padding, and multipliers > 1 on several input
channels: input widened into int16 planes per band of output rows (1, 2 or 4
channels a block, so channel counts leave tails), dilation phases and pixel
classes (stride and dilation sharing no factor), four pixels of one channel
per pass (a generic block entered at the right depth, bands of 8 pairs for
wide filter rows, and an LDM form for stride 2 with at most two pairs a row),
the output stage fused into the pass (whole int8 range) or separate (relu6,
left shifts), bands limited to the overlap spill when the output overlaps
the input, and packed int4 weights unpacked while pairing. Randomized
shapes (strides 1-3, filters 1x1..7x7, non-square, dilation 1-3, same/valid,
1-21 channels, multipliers 1/2/3/4/8 on 1-6 input channels, per-tensor and
per-channel) run on the host, overlapped and not, and a set of them under
QEMU on the Cortex-M4.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import (
    assert_same_outputs,
    check_host,
    convert_int8,
    random_inputs,
    tflm_run,
)

from pipeline.paths import PORT_DIR

ANY_FIXED = [
    # (input h, w, c), (kernel, (stride h, stride w), padding, multiplier, dilation,
    # activation, bias), per-tensor, why
    ((16, 16, 24), ((3, 3), (2, 2), "same", 1, 1, "relu", True), False,
     "3x3 stride 2, 24 channels: the LDM form, six 4-channel blocks"),
    ((13, 11, 7), ((3, 3), (2, 2), "valid", 1, 1, None, True), True,
     "3x3 stride 2 valid, 7 channels (a 4-, a 2- and a 1-channel block)"),
    ((11, 11, 16), ((5, 5), (2, 2), "same", 1, 1, "relu6", True), False,
     "5x5 stride 2: three pairs a row (generic block), relu6 (separate stage)"),
    ((12, 12, 5), ((7, 7), (3, 3), "same", 1, 1, None, False), False,
     "7x7 stride 3, no bias"),
    ((9, 40, 3), ((1, 19), (1, 1), "same", 1, 1, None, True), True,
     "1x19: 10 pairs a row, two bands of pairs"),
    ((30, 6, 6), ((7, 1), (1, 1), "valid", 1, 1, "relu", True), False, "7x1 stride 1"),
    ((10, 12, 7), ((3, 2), (1, 1), "same", 1, 2, None, True), False,
     "dilation 2: two phases, two pixel classes"),
    ((14, 15, 3), ((3, 3), (1, 1), "same", 2, 3, "relu", True), True,
     "dilation 3, multiplier 2 on 3 channels"),
    ((20, 20, 16), ((3, 3), (1, 1), "same", 2, 1, "relu", True), False,
     "multiplier 2 on 16 channels (general5's dm2 layer)"),
    ((9, 9, 6), ((4, 3), (2, 2), "same", 3, 1, None, True), True, "multiplier 3, stride 2"),
    ((6, 150, 4), ((3, 3), (2, 1), "same", 1, 1, None, True), False,
     "150 output pixels a row: chunks of a row"),
    ((60, 9, 9), ((5, 3), (1, 1), "same", 1, 1, "relu", True), False,
     "60 rows of 9 channels: bands of rows"),
    ((5, 5, 4), ((2, 2), (1, 1), "valid", 8, 1, None, True), False, "multiplier 8, 4x4 map"),
    ((1, 9, 21), ((1, 3), (1, 2), "same", 1, 1, None, True), True, "one row, 21 channels"),
]
N_ANY_RANDOM = 16


def _any_layers(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple:
    h, w, _ = shape
    kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dil = int(rng.integers(1, 4)) if sh == sw == 1 and rng.random() < 0.4 else 1
    fits = h >= (kh - 1) * dil + 1 and w >= (kw - 1) * dil + 1
    pad = str(rng.choice(["same", "valid"])) if fits else "same"
    mult = int(rng.choice([1, 1, 1, 2, 3, 4, 8]))
    act = rng.choice([None, "relu", "relu6"])
    return ((kh, kw), (sh, sw), pad, mult, dil, act, bool(rng.random() < 0.8))


def dw_any_model(seed: int, pointwise_first: bool = False) -> tuple[bytes, str]:
    """One depthwise layer as int8 TFLite, and its description. Seeds below
    len(ANY_FIXED) are the fixed cases; later ones draw the input (1-21
    channels, 1-6 with a multiplier > 1), filter (1x1..7x7), strides 1-3 per
    axis, dilation (stride 1), padding, multiplier, activation and bias. Odd
    random seeds are per tensor. `pointwise_first`: a 1x1 convolution first, so
    that the layer's input is an intermediate tensor (overlapped plans)."""
    import tf_keras as keras

    keras.utils.set_random_seed(5000 + seed)
    if seed < len(ANY_FIXED):
        shape, spec, per_tensor, why = ANY_FIXED[seed]
    else:
        rng = np.random.default_rng(5000 + seed)
        c = int(rng.integers(1, 22))
        shape = (int(rng.integers(1, 19)), int(rng.integers(1, 19)), c)
        spec = _any_layers(rng, shape)
        if spec[3] > 1:
            shape = (shape[0], shape[1], 1 + c % 6)
        per_tensor, why = seed % 2 == 1, "random"
    inp = keras.Input(shape, batch_size=1)
    x = keras.layers.Conv2D(shape[2], 1)(inp) if pointwise_first else inp
    kernel, strides, padding, mult, dil, act, bias = spec
    x = keras.layers.DepthwiseConv2D(
        kernel, strides=strides, padding=padding, depth_multiplier=mult, dilation_rate=dil,
        activation=act, use_bias=bias,
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))(x)
    if pointwise_first:
        x = keras.layers.Conv2D(3, 1)(x)
    desc = (f"{why}: in {'x'.join(map(str, shape))}; dw {kernel[0]}x{kernel[1]}/s{strides[0]},"
            f"{strides[1]}/d{dil}/{padding}/m{mult}/{act}/{'bias' if bias else 'nobias'}"
            f"{' (pointwise first)' if pointwise_first else ''} -> {tuple(x.shape[1:])}; "
            f"{'per-tensor' if per_tensor else 'per-channel'}")
    model = keras.Model(inp, x)
    return convert_int8(model, shape, seed=seed, per_tensor=per_tensor), desc


def strided_dilated_model(stride: int, dil: int) -> tuple[bytes, str]:
    """A depthwise layer with both a stride and a dilation (the TF converter
    writes none: a stride-1 dilated layer whose options and output shape are
    then set to the stride), 11 channels."""
    import tf_keras as keras

    from pipeline.tflite import schema

    keras.utils.set_random_seed(77)
    shape = (17, 19, 11)
    inp = keras.Input(shape, batch_size=1)
    out = keras.layers.DepthwiseConv2D(
        3, padding="same", dilation_rate=dil,
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))(inp)
    m = schema.load(convert_int8(keras.Model(inp, out), shape, seed=77))
    sg = m.subgraphs[0]
    op = sg.operators[0]
    assert schema.op_name(m, op) == "DEPTHWISE_CONV_2D"
    op.builtinOptions.strideW = op.builtinOptions.strideH = stride
    t = sg.tensors[op.outputs[0]]
    t.shape = np.array([1, -(-shape[0] // stride), -(-shape[1] // stride), shape[2]], np.int32)
    return schema.dump(m), f"3x3 stride {stride} dilation {dil}, 11 channels (options edited)"

# (input h, w, c), layers as (kernel, strides, padding, multiplier, dilation, activation, bias),
# per-tensor weights, what the case is there for.
FIXED_CASES = [
    ((49, 40, 1), [((10, 8), (2, 2), "same", 8, 1, "relu", True)], False,
     "one input channel, multiplier 8, stride 2 (micro_speech's layer)"),
    ((6, 33, 1), [((2, 19), (1, 1), "valid", 3, 1, None, True)], True,
     "19-tap rows: two bands of pairs, an odd row end; multiplier 3"),
    ((12, 14, 2), [((3, 3), (1, 1), "same", 2, 2, "relu6", True),
                   ((2, 3), (1, 1), "same", 2, 1, None, True)], False,
     "dilation 2 (phases, pixel by pixel), then four input channels"),
    ((9, 11, 3), [((4, 3), (2, 2), "valid", 5, 1, None, False)], True,
     "three input channels, multiplier 5 (a one-channel group), no bias"),
    ((5, 70, 1), [((3, 4), (1, 1), "same", 4, 1, "relu", True)], False,
     "70 output pixels per row: chunks of 32"),
    ((7, 9, 6), [((5, 5), (1, 1), "same", 8, 1, None, True)], True,
     "six input channels x 8: weights paired per group, not once"),
    ((20, 60, 1), [((16, 9), (3, 3), "same", 2, 1, "relu6", True)], False,
     "16 filter rows: slots past the stack budget, smaller chunks"),
    ((9, 1, 2), [((3, 1), (2, 1), "same", 6, 1, None, True)], True,
     "one-pixel-wide rows, one-tap filter rows, multiplier 6"),
    ((8, 10, 1), [((3, 3), (1, 1), "same", 3, 3, "relu", True)], False,
     "dilation 3: three phases"),
]
N_RANDOM = 4


def _layer(keras, spec):
    kernel, strides, padding, mult, dil, act, bias = spec
    # random biases (Keras starts them at 0, which would hide bias mistakes)
    return keras.layers.DepthwiseConv2D(
        kernel, strides=strides, padding=padding, depth_multiplier=mult, dilation_rate=dil,
        activation=act, use_bias=bias, bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))


def _random_layers(rng: np.random.Generator, h: int, w: int) -> list[tuple]:
    layers = []
    for _ in range(int(rng.integers(1, 3))):
        kh, kw = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        stride = int(rng.integers(1, 4))
        dil = int(rng.integers(1, 4)) if stride == 1 else 1
        fits = h >= (kh - 1) * dil + 1 and w >= (kw - 1) * dil + 1
        pad = str(rng.choice(["same", "valid"])) if fits else "same"
        act = rng.choice([None, "relu", "relu6"])
        layers.append(((kh, kw), (stride, stride), pad, int(rng.integers(2, 9)), dil, act,
                       bool(rng.random() < 0.8)))
        if pad == "valid":
            h, w = h - (kh - 1) * dil, w - (kw - 1) * dil
        h, w = -(-h // stride), -(-w // stride)
    return layers


def dw_mult_model(seed: int) -> tuple[bytes, str]:
    """One depthwise network with multipliers > 1 as int8 TFLite, and its description.

    Seeds below len(FIXED_CASES) are the fixed cases above; later seeds draw
    sizes, filters (1-6 taps each way), strides 1-3, dilation 1-3 (stride 1),
    padding, multipliers 2-8, activations and bias at random. Odd random seeds
    are quantized per tensor.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(3000 + seed)
    if seed < len(FIXED_CASES):
        shape, layers, per_tensor, why = FIXED_CASES[seed]
    else:
        rng = np.random.default_rng(3000 + seed)
        shape = (int(rng.integers(3, 17)), int(rng.integers(3, 17)), int(rng.integers(1, 4)))
        layers = _random_layers(rng, shape[0], shape[1])
        per_tensor, why = seed % 2 == 1, "random"
    inp = keras.Input(shape, batch_size=1)
    x = inp
    desc = [f"{why}: in {'x'.join(map(str, shape))}"]
    for spec in layers:
        x = _layer(keras, spec)(x)
        kernel, strides, padding, mult, dil, act, bias = spec
        desc.append(f"dw {kernel[0]}x{kernel[1]}/s{strides[0]},{strides[1]}/d{dil}/{padding}"
                    f"/m{mult}/{act}/{'bias' if bias else 'nobias'} -> {tuple(x.shape[1:])}")
    desc.append("per-tensor" if per_tensor else "per-channel")
    model = keras.Model(inp, x)
    return convert_int8(model, shape, seed=seed, per_tensor=per_tensor), "; ".join(desc)


def rescaled_first_channel_weights(model: bytes, factor: float) -> bytes:
    """The model with the weight scale of output channel 0 of every per-channel
    DEPTHWISE_CONV_2D multiplied by `factor`: x2^-20 gives that channel a right
    shift past 22, where the folded rounding constant would overflow (the layer
    must take the general output stage)."""
    from pipeline.tflite import schema

    m = schema.load(model)
    for sg, op in schema.operators(m, "DEPTHWISE_CONV_2D"):
        t = sg.tensors[op.inputs[1]]
        q = schema.quant(t)
        if q.per_channel:
            scales = q.scales.copy()
            scales[0] *= factor
            schema.set_quant(t, scales, q.zero_points, q.axis)
    return schema.dump(m)


@pytest.fixture(scope="module")
def dw_models() -> list[tuple[bytes, str]]:
    from test_kernels_dsp import rescaled_depthwise_outputs

    models = [dw_mult_model(seed) for seed in range(len(FIXED_CASES) + N_RANDOM)]
    rescaled = [(rescaled_depthwise_outputs(m, f), f"{d}; output scale x{f:g}")
                for m, d in (models[0], models[2]) for f in (1 / 64, 4.0)]
    tiny = [(rescaled_first_channel_weights(models[0][0], 2.0**-20),
             f"{models[0][1]}; channel 0 weight scale x2^-20")]
    return models + rescaled + tiny


@pytest.fixture(scope="module")
def dsp_cli() -> Path:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and a C compiler")
    build = "build/host-dsp"
    subprocess.run(["make", "-s", "-C", str(PORT_DIR), "KERNELS=dsp", f"BUILD={build}",
                    f"{build}/kwsq-run"], check=True, capture_output=True)
    return PORT_DIR / build / "kwsq-run"


def test_dsp_depthwise_multiplier_path_on_the_host_matches_tflite_micro(
        dsp_cli: Path, dw_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, dw_models, 6, 13, tmp_path)


def test_dw_models_cover_the_cases_the_kernel_special_cases(
        dw_models: list[tuple[bytes, str]]) -> None:
    """The generator really produces what the module docstring claims to cover."""
    from pipeline.tflite import schema

    text = " ".join(d for _, d in dw_models)
    for needle in ("/d2/", "/d3/", "/s2,2/", "/s3,3/", "/s2,1/", "same", "valid", "/m3/", "/m5/",
                   "/m8/", "nobias", "per-tensor", "per-channel"):
        assert needle in text, needle
    # the converter keeps each layer one DEPTHWISE_CONV_2D with its multiplier and dilation,
    # and the three output stages occur: an effective scale >= 1/2 (no right shift: the
    # general requantization), relu6 clamping below 127, and the whole int8 range
    seen, general, clamped, full = set(), False, False, False
    for model, _ in dw_models:
        m = schema.load(model)
        sg = m.subgraphs[0]
        for op in sg.operators:
            assert schema.op_name(m, op) == "DEPTHWISE_CONV_2D", schema.op_name(m, op)
            opts = op.builtinOptions
            seen.add((opts.depthMultiplier, opts.dilationWFactor))
            qi, qw, qo = (schema.quant(sg.tensors[i])
                          for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
            general |= bool((qi.scales[0] * qw.scales / qo.scales[0] >= 0.5).any())
            act_max = qo.zero_points[0] + round(6.0 / qo.scales[0])
            clamped |= opts.fusedActivationFunction == 3 and act_max < 127
            full |= opts.fusedActivationFunction in (0, 1)
    assert {d for _, d in seen} >= {1, 2, 3} and {m for m, _ in seen} >= {2, 3, 5, 6, 8}, seen
    assert general and clamped and full


def _assert_m4_dsp_matches_tflm(model: bytes, n_random: int, seed: int, tmp: Path, desc: str,
                                op_list: bool = False) -> None:
    """The model on m4/dsp (the whole runtime, or only its ops) against TFLite Micro on
    n_random seeded inputs."""
    from pipeline.device.targets import run_on_target

    xs = random_inputs(model, n_random, seed=seed)
    path = tmp / "model.tflite"
    path.write_bytes(model)
    run = run_on_target(path, np.stack(xs), "m4", kernels="dsp", op_list=op_list)
    assert_same_outputs(list(run.outputs[0]), tflm_run(model, xs), desc)


_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")


@pytest.mark.qemu
@needs_qemu
def test_dsp_depthwise_multiplier_path_under_qemu_m4_matches_tflite_micro(
        dw_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    for model, desc in dw_models:
        _assert_m4_dsp_matches_tflm(model, 3, 8, tmp_path, f"{desc} m4/dsp")


@pytest.fixture(scope="module")
def any_models() -> list[tuple[bytes, str]]:
    from test_kernels_dsp_s4 import to_int4

    models = [dw_any_model(seed) for seed in range(len(ANY_FIXED) + N_ANY_RANDOM)]
    models += [strided_dilated_model(2, 3), strided_dilated_model(3, 2)]
    # packed int4 weights: multiplier 1 with an odd channel count, and a multiplier 2
    models += [(to_int4(models[i][0], i), models[i][1] + "; int4") for i in (1, 8, 3)]
    return models


def test_dsp_depthwise_any_path_on_the_host_matches_tflite_micro(
        dsp_cli: Path, any_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, any_models, 4, 17, tmp_path)


def test_any_models_cover_the_shapes_the_path_special_cases(
        any_models: list[tuple[bytes, str]]) -> None:
    """Strides 1-3, kernels up to 7, non-square, dilation, both paddings, multipliers
    1..8 with several input channels, per-tensor and per-channel, int4."""
    from pipeline.tflite import schema

    seen = set()
    for model, _ in any_models:
        m = schema.load(model)
        sg = m.subgraphs[0]
        for op in sg.operators:
            if schema.op_name(m, op) != "DEPTHWISE_CONV_2D":
                continue
            o = op.builtinOptions
            f = sg.tensors[op.inputs[1]]
            in_c = int(sg.tensors[op.inputs[0]].shape[3])
            seen.add(("stride", o.strideW))
            seen.add(("stride", o.strideH))
            seen.add(("dil", o.dilationWFactor))
            seen.add(("kw", int(f.shape[2])))
            seen.add(("square", int(f.shape[1]) == int(f.shape[2])))
            seen.add(("mult-ch", o.depthMultiplier, in_c > 1))
            seen.add(("pad", o.padding))
            seen.add(("stride+dil", o.strideW > 1 and o.dilationWFactor > 1))
            seen.add(("int4", f.type == schema.TensorType.INT4))
            seen.add(("tail", in_c % 4))
    want = {("stride", 1), ("stride", 2), ("stride", 3), ("dil", 2), ("dil", 3), ("kw", 1),
            ("kw", 7), ("square", False), ("pad", 0), ("pad", 1), ("stride+dil", True),
            ("int4", True), ("tail", 1), ("tail", 2), ("tail", 3), ("tail", 0)}
    want |= {("mult-ch", k, True) for k in (1, 2, 3, 8)}
    assert want <= seen, want - seen
    text = " ".join(d for _, d in any_models)
    assert "per-tensor" in text and "per-channel" in text


@pytest.fixture(scope="module")
def dsp_cli_always_overlap() -> Path:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and a C compiler")
    build = "build/host-dsp-always_overlap"
    subprocess.run(["make", "-s", "-C", str(PORT_DIR), "KERNELS=dsp", f"BUILD={build}",
                    "EXTRA_CFLAGS=-DKWSQ_ALWAYS_OVERLAP", f"{build}/kwsq-run"], check=True,
                   capture_output=True)
    return PORT_DIR / build / "kwsq-run"


def test_dsp_depthwise_any_path_overlapped_matches_tflite_micro(
        dsp_cli_always_overlap: Path, tmp_path: Path) -> None:
    """With a 1x1 convolution first, the depthwise layer's output may overlap its
    input; built to place every overlap the planner grants, the bands stay within the
    spill kwsq_overlap.h states and no input is overwritten before it is read."""
    seeds = (0, 2, 4, 6, 8, 10, 11, 12, 13, *range(len(ANY_FIXED), len(ANY_FIXED) + 6))
    models = [dw_any_model(seed, pointwise_first=True) for seed in seeds]
    check_host(dsp_cli_always_overlap, models, 3, 19, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_dsp_depthwise_any_path_under_qemu_m4_matches_tflite_micro(
        any_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    picks = [0, 1, 2, 4, 6, 7, 8, 10, len(ANY_FIXED), len(ANY_FIXED) + 1, len(any_models) - 5,
             len(any_models) - 3]
    for i in picks:
        model, desc = any_models[i]
        _assert_m4_dsp_matches_tflm(model, 2, 9, tmp_path, f"{desc} m4/dsp")


# 3x3 stride-1 layers the planes path (dsp_dw3x3.c) takes in bands: (input shape, depthwise
# layers as (activation, bias), per tensor, why). A 1x1 convolution comes first, so that the
# depthwise input is an intermediate tensor the planner may overwrite in place.
BAND_CASES = [
    ((40, 36, 3), [("relu", True), (None, False)], False,
     "in place, bands of output lines, blocks of two channels"),
    ((1, 300, 2), [("relu6", True)], True,
     "a 300-pixel line: pixel groups along the other axis, bands of 62 lines"),
    ((9, 260, 2), [(None, True), ("relu", True)], False,
     "260-pixel lines: groups along the 9-pixel axis, a tail of one, bands"),
]


def dw3x3_band_model(case: int) -> tuple[bytes, str]:
    """A chain of 3x3 stride-1 `same` depthwise layers after a 1x1 convolution, int8."""
    import tf_keras as keras

    shape, layers, per_tensor, why = BAND_CASES[case]
    keras.utils.set_random_seed(7000 + case)
    inp = keras.Input(shape, batch_size=1)
    x = keras.layers.Conv2D(shape[2] * 2, 1)(inp)
    for act, bias in layers:
        x = keras.layers.DepthwiseConv2D(
            3, padding="same", activation=act, use_bias=bias,
            bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))(x)
    x = keras.layers.Conv2D(2, 1)(x)
    desc = (f"{why}: in {'x'.join(map(str, shape))}; pw; "
            + "; ".join(f"dw 3x3/same/{a}/{'bias' if b else 'nobias'}" for a, b in layers)
            + f"; pw -> {tuple(x.shape[1:])}; {'per-tensor' if per_tensor else 'per-channel'}")
    return convert_int8(keras.Model(inp, x), shape, seed=7000 + case, per_tensor=per_tensor), desc


@pytest.fixture(scope="module")
def band_models() -> list[tuple[bytes, str]]:
    return [dw3x3_band_model(i) for i in range(len(BAND_CASES))]


def test_dsp_depthwise_3x3_bands_on_the_host_match_tflite_micro(
        dsp_cli: Path, band_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, band_models, 3, 23, tmp_path)


def test_op_list_classes_of_the_3x3_band_models() -> None:
    """Every depthwise layer of the band models is of class DW_3X3 (the planes path alone
    computes them in a model-selective build); a 3x3 layer with both output sides past
    KWSQ_DW_3X3_SIDE, or any other multiplier-1 shape, is DW_DM1_ANY."""
    from pipeline.tflite import export_c

    for i in range(len(BAND_CASES)):
        has = export_c.model_variants(dw3x3_band_model(i)[0])
        assert has["DW_3X3"] and not has["DW_DM1_ANY"], (i, has)
    assert export_c.DW_3X3_SIDE == 252
    kernels_h = (PORT_DIR / "include" / "kwsq_kernels.h").read_text()
    assert "#define KWSQ_DW_3X3_SIDE 252\n" in kernels_h
    has = export_c.model_variants(dw_any_model(0)[0])
    assert has["DW_DM1_ANY"] and has["DW_DM1"], has


@pytest.mark.qemu
@needs_qemu
def test_dsp_depthwise_3x3_bands_op_list_under_qemu_m4_match_tflite_micro(
        band_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    """The op-list build (only the DW_3X3 path linked: no per-pixel fallback) runs the
    in-place and banded layers bit-exact."""
    for model, desc in band_models:
        _assert_m4_dsp_matches_tflm(model, 2, 9, tmp_path, f"{desc} m4/dsp op list", op_list=True)


# 3x3 layers with a stride of 2 (dsp_dw3x3.c's stride-2 pass): (input shape, strides, padding,
# activation, bias, per tensor). Output lines of 1..20 pixels (groups of four, tails of one to
# three, a pass of two), strides (2, 1) and (1, 2), bands of lines, channel tails of 1..3.
S2_CASES = [
    ((16, 16, 24), (2, 2), "same", "relu", True, False),
    ((17, 13, 7), (2, 2), "valid", None, True, False),
    ((25, 5, 5), (2, 1), "same", None, False, False),
    ((9, 30, 3), (1, 2), "same", "relu", True, True),
    ((40, 60, 2), (2, 2), "same", None, True, False),
    ((11, 11, 1), (2, 2), "same", "relu", True, False),
    ((3, 3, 4), (2, 2), "valid", None, True, False),
    ((7, 5, 9), (2, 2), "same", None, True, True),
]


def dw3x3_s2_model(case: int) -> tuple[bytes, str]:
    """One 3x3 depthwise layer with a stride of 2 on the graph input (never overlapped), int8."""
    import tf_keras as keras

    shape, strides, pad, act, bias, per_tensor = S2_CASES[case]
    keras.utils.set_random_seed(7100 + case)
    inp = keras.Input(shape, batch_size=1)
    x = keras.layers.DepthwiseConv2D(
        3, strides=strides, padding=pad, activation=act, use_bias=bias,
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.3))(inp)
    desc = (f"in {'x'.join(map(str, shape))}; dw 3x3/s{strides[0]},{strides[1]}/{pad}/{act}/"
            f"{'bias' if bias else 'nobias'} -> {tuple(x.shape[1:])}; "
            f"{'per-tensor' if per_tensor else 'per-channel'}")
    return convert_int8(keras.Model(inp, x), shape, seed=7100 + case, per_tensor=per_tensor), desc


@pytest.fixture(scope="module")
def s2_models() -> list[tuple[bytes, str]]:
    from test_kernels_dsp_s4 import to_int4

    models = [dw3x3_s2_model(i) for i in range(len(S2_CASES))]
    return models + [(to_int4(models[1][0], 1), models[1][1] + "; int4")]


def test_dsp_depthwise_3x3_stride2_on_the_host_matches_tflite_micro(
        dsp_cli: Path, s2_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, s2_models, 3, 29, tmp_path)


def test_s2_models_take_the_stride2_pass(s2_models: list[tuple[bytes, str]]) -> None:
    """The pass runs only on the short output stage with the whole int8 range: every layer
    here has it (ReLU or no activation, right shifts of 1..22)."""
    from pipeline.tflite import schema

    for model, desc in s2_models:
        m = schema.load(model)
        sg = m.subgraphs[0]
        op = sg.operators[0]
        assert op.builtinOptions.fusedActivationFunction in (0, 1), desc
        qi, qw, qo = (schema.quant(sg.tensors[i])
                      for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
        eff = qi.scales[0] * qw.scales / qo.scales[0]
        assert ((eff < 0.5) & (eff >= 2.0**-22)).all(), desc


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("op_list", [False, True])
def test_dsp_depthwise_3x3_stride2_under_qemu_m4_matches_tflite_micro(
        s2_models: list[tuple[bytes, str]], op_list: bool, tmp_path: Path) -> None:
    for model, desc in s2_models:
        _assert_m4_dsp_matches_tflm(model, 2, 9, tmp_path, f"{desc} m4/dsp", op_list=op_list)
