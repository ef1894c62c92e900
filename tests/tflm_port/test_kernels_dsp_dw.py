"""The dsp depthwise path for depth multipliers > 1 gives exactly TFLite Micro's results.

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


def rescaled_depthwise_outputs(model: bytes, factor: float) -> bytes:
    """The model with every DEPTHWISE_CONV_2D output scale multiplied by `factor`.

    x1/64 makes the effective multiplier exceed 1/2 (a left shift: the general
    requantization); x4 makes relu6 clamp below 127 (the clamped short form).
    """
    from pipeline.tflite import schema

    m = schema.load(model)
    for sg in m.subgraphs:
        for op in sg.operators:
            if schema.op_name(m, op) == "DEPTHWISE_CONV_2D":
                t = sg.tensors[op.outputs[0]]
                q = schema.quant(t)
                schema.set_quant(t, q.scales * factor, q.zero_points, q.axis)
    return schema.dump(m)


def rescaled_first_channel_weights(model: bytes, factor: float) -> bytes:
    """The model with the weight scale of output channel 0 of every per-channel
    DEPTHWISE_CONV_2D multiplied by `factor`: x2^-20 gives that channel a right
    shift past 22, where the folded rounding constant would overflow (the layer
    must take the general output stage)."""
    from pipeline.tflite import schema

    m = schema.load(model)
    for sg in m.subgraphs:
        for op in sg.operators:
            if schema.op_name(m, op) == "DEPTHWISE_CONV_2D":
                t = sg.tensors[op.inputs[1]]
                q = schema.quant(t)
                if q.per_channel:
                    scales = q.scales.copy()
                    scales[0] *= factor
                    schema.set_quant(t, scales, q.zero_points, q.axis)
    return schema.dump(m)


@pytest.fixture(scope="module")
def dw_models() -> list[tuple[bytes, str]]:
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


_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")


@pytest.mark.qemu
@needs_qemu
def test_dsp_depthwise_multiplier_path_under_qemu_m4_matches_tflite_micro(
        dw_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    from pipeline.device.targets import run_on_target

    for model, desc in dw_models:
        xs = random_inputs(model, 3, seed=8)
        ref = tflm_run(model, xs)
        path = tmp_path / "model.tflite"
        path.write_bytes(model)
        run = run_on_target(path, np.stack(xs), "m4", kernels="dsp")
        assert_same_outputs(list(run.outputs[0]), ref, f"{desc} m4/dsp")
