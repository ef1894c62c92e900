"""The optimized kernel folders give exactly the reference results.

kernels/dsp (Cortex-M4/M7 DSP extension) and kernels/mve (Cortex-M55 Helium)
replace kernels/ref function by function; every replacement must be
bit-exact with TFLite Micro. Checked three ways, cheapest first:
- on the host: the dsp folder built with its portable stand-ins for the DSP
  instructions (the same source, so the same lane orders, pairings, tails and
  requantization paths), on the anchors, the converted models of conftest
  (int8, packed int4, hybrid) and randomized Keras models the TF converter
  turns into CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with odd sizes,
  tails, padding, strides, dilation, depth multipliers, per-channel and
  per-tensor scales, and random chains of 1x1 convolutions (the pointwise
  path: pixel and channel tails, slices of the last block, stride 2),
  chains of 3x3 stride-1 depthwise layers (the planes path: both
  orientations, bands, odd channels, the three output stages), random
  AVERAGE_POOL_2D layers (four-channel 16-bit lanes, large windows) and
  random convolutions with small receptive fields (kernels 1x1 to 7x7,
  non-square, 1 to 9 input channels, strides 1 to 3, dilation, padding:
  the six-pixel path's padded groups, value-offset taps, border gathers,
  the last channel's padded row and all three output stages), and random
  chains of short FULLY_CONNECTED layers (depth 1 to 40, 1 to 40 rows,
  batches > 1: the short-depth path, its last row's tail and its stages);
- under QEMU on the real instructions: the anchors and a batch of the
  randomized models (on m4/dsp also the pointwise chains), a few inputs
  each, one firmware run per model.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import (
    ANCHORS,
    anchor_bytes,
    assert_same_outputs,
    check_host,
    cli_run,
    convert_int8,
    random_inputs,
    tflm_run,
)

from pipeline.paths import PORT_DIR

N_RANDOM_MODELS = 8
N_POINTWISE_MODELS = 6
N_DW3X3_MODELS = 6
N_POOL_MODELS = 6
N_SMALL_CONV_MODELS = 10
N_TINY_FIELD_MODELS = 8
N_SHORT_FC_MODELS = 10


def _build_cli(kernels: str) -> Path:
    """kwsq-run linked with a kernel folder, built for the host."""
    build = f"build/host-{kernels}"
    subprocess.run(
        ["make", "-s", "-C", str(PORT_DIR), f"KERNELS={kernels}", f"BUILD={build}",
         f"{build}/kwsq-run"],
        check=True, capture_output=True,
    )
    return PORT_DIR / build / "kwsq-run"


@pytest.fixture(scope="module")
def dsp_cli() -> Path:
    if shutil.which("make") is None or shutil.which("cc") is None:
        pytest.skip("needs make and a C compiler")
    return _build_cli("dsp")


def _int8_with_head(inp, x, rng: np.random.Generator, desc: list[str], shape: tuple[int, ...],
                    seed: int, salt: int) -> tuple[bytes, str]:
    """A random model's FLATTEN + FULLY_CONNECTED head, converted to int8 TFLite with
    per-tensor weights on odd seeds (calibration seed ``seed + salt``), and its description."""
    import tf_keras as keras

    out = keras.layers.Dense(int(rng.integers(3, 12)))(keras.layers.Flatten()(x))
    per_tensor = seed % 2 == 1
    desc.append("per-tensor" if per_tensor else "per-channel")
    model = convert_int8(keras.Model(inp, out), shape, seed + salt, per_tensor=per_tensor)
    return model, "; ".join(desc)


def random_conv_model(seed: int) -> tuple[bytes, str]:
    """A small Keras network of random convolutions, converted to int8 TFLite.

    Shapes, kernel sizes, strides, dilations, paddings, depth multipliers and
    channel counts are drawn so that tails (channels not a multiple of 4,
    odd pixel counts, receptive fields not a multiple of 4 or 8) and padded
    borders occur; every other model is quantized per tensor instead of per
    channel. Returns the flatbuffer and a description for messages.
    """
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    L = keras.layers
    h, w, c = int(rng.integers(5, 13)), int(rng.integers(4, 12)), int(rng.integers(1, 8))
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    for _ in range(int(rng.integers(3, 6))):
        kind = rng.choice(["conv", "dw", "pw"])
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        stride = int(rng.integers(1, 3))
        dil = int(rng.integers(1, 3)) if stride == 1 else 1
        small = min(x.shape[1], x.shape[2]) < (max(kh, kw) - 1) * dil + 2
        pad = "same" if small else str(rng.choice(["same", "valid"]))
        act = rng.choice([None, "relu", "relu6"])
        if kind == "conv":
            x = L.Conv2D(int(rng.integers(1, 11)), (kh, kw), strides=stride, dilation_rate=dil,
                         padding=pad, activation=act)(x)
        elif kind == "dw":
            x = L.DepthwiseConv2D((kh, kw), strides=stride, dilation_rate=dil, padding=pad,
                                  depth_multiplier=int(rng.integers(1, 5)), activation=act)(x)
        else:
            x = L.Conv2D(int(rng.integers(1, 17)), 1, activation=act)(x)
        desc.append(f"{kind} {kh}x{kw}/s{stride}/d{dil}/{pad} -> {tuple(x.shape[1:])}")
    return _int8_with_head(inp, x, rng, desc, (h, w, c), seed, 1)


def pointwise_chain_model() -> tuple[bytes, str]:
    """A chain of 1x1 convolutions, converted to int8 TFLite (per channel).

    Input depths 37, 21, 64 and 19 give 16-value blocks with and without a
    predicated tail (and none below 16), output channel counts not a multiple
    of 4, a stride-2 1x1 and same-size layers the planner may run in place:
    the shapes of the Helium 1x1 path that the anchors and the random
    generator (at most 16 channels) miss. Returns the flatbuffer and a
    description for messages.
    """
    import tf_keras as keras

    keras.utils.set_random_seed(5)
    L = keras.layers
    inp = keras.Input((7, 5, 37), batch_size=1)
    x = L.Conv2D(37, 1, activation="relu")(inp)
    x = L.Conv2D(21, 1, strides=2)(x)
    x = L.Conv2D(64, 1, activation="relu6")(x)
    x = L.Conv2D(64, 1, activation="relu")(x)
    x = L.Conv2D(19, 1)(x)
    x = L.Conv2D(7, 1)(x)
    model = keras.Model(inp, L.Dense(6)(L.Flatten()(x)))
    desc = "1x1 chain 7x5x37 -> 37 -> 21/s2 -> 64 -> 64 -> 19 -> 7"
    return convert_int8(model, (7, 5, 37), 6), desc


def int4_dense_model(inputs: int, units: int, depthwise: bool = False) -> bytes:
    """A 4-bit QAT dense layer (packed INT4 weights, per tensor): even input
    lengths take the widened-input paths (short rows widened once per call,
    long ones on the fly), odd ones the nibble-by-nibble path. With
    `depthwise`, a 3x3 depthwise layer on `inputs` channels (per channel) and
    a dense layer: an even channel count takes the packed int4 depthwise
    path."""
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras
    from runtime_refs import _convert

    qk = tfmot.quantization.keras

    class W4(qk.QuantizeConfig):
        def __init__(self, attr: str = "kernel", per_axis: bool = False) -> None:
            self.attr, self.per_axis = attr, per_axis

        def get_weights_and_quantizers(self, layer):
            return [(getattr(layer, self.attr), qk.quantizers.LastValueQuantizer(
                num_bits=4, symmetric=True, narrow_range=True, per_axis=self.per_axis))]

        def get_activations_and_quantizers(self, layer):
            return [(layer.activation, qk.quantizers.MovingAverageQuantizer(
                num_bits=8, symmetric=False, narrow_range=False, per_axis=False))]

        def set_quantize_weights(self, layer, quantize_weights):
            setattr(layer, self.attr, quantize_weights[0])

        def set_quantize_activations(self, layer, quantize_activations):
            layer.activation = quantize_activations[0]

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {"attr": self.attr, "per_axis": self.per_axis}

    keras.utils.set_random_seed(inputs)
    ann = qk.quantize_annotate_layer
    shape: tuple[int, ...] = (inputs,)
    layers = [ann(keras.layers.Dense(units), W4())]
    if depthwise:
        shape = (7, 6, inputs)
        layers = [ann(keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
                      W4("depthwise_kernel", per_axis=True)),
                  keras.layers.Flatten(), *layers]
    model = keras.Sequential([keras.Input(shape, batch_size=1), *layers])
    with qk.quantize_scope({"W4": W4}):
        qat = qk.quantize_apply(qk.quantize_annotate_model(model))
    rng = np.random.default_rng(inputs)
    for _ in range(4):
        qat(rng.normal(0.0, 1.5, size=(1, *shape)).astype(np.float32), training=True)
    return _convert(qat, shape, int8_io=True)


@pytest.fixture(scope="module")
def int4_dense_models() -> list[tuple[bytes, str]]:
    return [(int4_dense_model(n, u), f"int4 dense {n}->{u}") for n, u in ((40, 7), (1030, 5))] + [
        (int4_dense_model(8, 5, depthwise=True), "int4 depthwise 3x3 on 8 channels")]


def random_pointwise_model(seed: int) -> tuple[bytes, str]:
    """A chain of random 1x1 convolutions (the dsp pointwise path), int8 TFLite.

    Pixel counts that are not multiples of the six-pixel block, channel
    counts that are not multiples of 4 (the widening tail), output channel
    counts above the 32-channel slices of the last block, stride 2, every
    activation, and one layer wider than the pointwise path takes (it falls
    back to the general columns); odd seeds are quantized per tensor.
    """
    import tf_keras as keras

    rng = np.random.default_rng(1000 + seed)
    keras.utils.set_random_seed(1000 + seed)
    L = keras.layers
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 8))
    c = int(rng.choice([1, 3, 5, 7, 13, 64, 66]))
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    for i in range(int(rng.integers(2, 5))):
        cout = 350 if (seed == 2 and i == 0) else int(rng.choice([1, 2, 5, 9, 31, 33, 47, 64, 70]))
        stride = 2 if (rng.random() < 0.25 and min(x.shape[1], x.shape[2]) > 1) else 1
        act = rng.choice([None, "relu", "relu6"])
        x = L.Conv2D(cout, 1, strides=stride, activation=act, use_bias=bool(rng.random() < 0.8))(x)
        desc.append(f"pw/s{stride}/{act} -> {tuple(x.shape[1:])}")
    return _int8_with_head(inp, x, rng, desc, (h, w, c), seed, 7)


def random_dw3x3_model(seed: int) -> tuple[bytes, str]:
    """A chain of 3x3 stride-1 depthwise layers (the dsp 3x3 planes path), int8 TFLite.

    Output sizes odd and even along both axes (pixel pairs run along the
    axis that wastes fewer odd pixels, so both orientations occur), 1 x N
    outputs, odd channel counts (the one-channel block after the pairs),
    `valid` padding on larger inputs, an input whose planes exceed the stack
    budget (bands of output lines; not in place), 1x1 convolutions between
    them changing the depth, every activation (the three output stages), with
    and without bias, and one dilated padded conv in front (the gather of the
    conv path's window); odd seeds are quantized per tensor.
    """
    import tf_keras as keras

    rng = np.random.default_rng(2000 + seed)
    keras.utils.set_random_seed(2000 + seed)
    L = keras.layers
    if seed == 0:
        h, w, c = 41, 37, 3
    elif seed == 1:
        h, w, c = 1, int(rng.integers(4, 20)), int(rng.integers(1, 6))
    elif seed == 4:
        # four-channel blocks along y with an odd count of input pixels per line
        h, w, c = 9, 7, 8
    else:
        h, w = int(rng.integers(2, 16)), int(rng.integers(2, 16))
        c = int(rng.choice([1, 2, 3, 5, 8, 13]))
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    if seed == 5:
        # a dilated, padded conv: the six-pixel path gathers its window tap by tap
        x = L.Conv2D(6, 3, dilation_rate=2, padding="same", activation="relu")(x)
        desc.append(f"conv 3x3/d2/same -> {tuple(x.shape[1:])}")
    for i in range(int(rng.integers(2, 5))):
        if i > 0 and rng.random() < 0.3:
            x = L.Conv2D(int(rng.choice([1, 3, 4, 7, 16])), 1, activation="relu")(x)
            desc.append(f"pw -> {tuple(x.shape[1:])}")
            continue
        pad = "valid" if min(x.shape[1], x.shape[2]) >= 5 and rng.random() < 0.3 else "same"
        act = rng.choice([None, "relu", "relu6"])
        x = L.DepthwiseConv2D(3, padding=pad, activation=act, use_bias=bool(rng.random() < 0.8))(x)
        desc.append(f"dw3x3/{pad}/{act} -> {tuple(x.shape[1:])}")
    return _int8_with_head(inp, x, rng, desc, (h, w, c), seed, 17)


def random_pool_model(seed: int) -> tuple[bytes, str]:
    """Random AVERAGE_POOL_2D layers (the dsp four-channel path), int8 TFLite.

    Channel counts with and without a tail past the four-channel blocks,
    `same` padding (border windows with fewer taps, a different divisor),
    strides 1-3, a window of more than 255 taps (32-bit sums channel by
    channel) on one seed, global windows of 143 and 48 taps on two.
    """
    import tf_keras as keras

    rng = np.random.default_rng(3000 + seed)
    keras.utils.set_random_seed(3000 + seed)
    L = keras.layers
    h, w = (20, 15) if seed == 0 else (int(rng.integers(2, 14)), int(rng.integers(2, 14)))
    c = int(rng.choice([1, 3, 4, 6, 9, 64]))
    if seed in (4, 5):
        # global pools of 143 and 48 taps on 44 and 24 channels: sixteen- and eight-channel
        # passes (an odd and an even run of taps), then a four-channel one
        h, w, c = ((11, 13, 44), (8, 6, 24))[seed - 4]
    inp = keras.Input((h, w, c), batch_size=1)
    x = L.Conv2D(c, 1, activation=rng.choice([None, "relu"]))(inp)
    desc = [f"in {h}x{w}x{c}"]
    if seed in (0, 4, 5):
        x = L.AveragePooling2D((h, w))(x)
        desc.append(f"avgpool {h}x{w} -> {tuple(x.shape[1:])}")
    else:
        for _ in range(int(rng.integers(1, 3))):
            ph = int(rng.integers(1, min(x.shape[1], 5) + 1))
            pw = int(rng.integers(1, min(x.shape[2], 5) + 1))
            stride = int(rng.integers(1, 4))
            pad = str(rng.choice(["same", "valid"]))
            x = L.AveragePooling2D((ph, pw), strides=stride, padding=pad)(x)
            desc.append(f"avgpool {ph}x{pw}/s{stride}/{pad} -> {tuple(x.shape[1:])}")
    out = L.Dense(int(rng.integers(3, 12)))(L.Flatten()(x))
    model = keras.Model(inp, out)
    return convert_int8(model, (h, w, c), seed + 27), "; ".join(desc)


def random_small_conv_model(seed: int) -> tuple[bytes, str]:
    """A chain of random convolutions with small receptive fields, int8 TFLite.

    Few input channels (1 to 9) under kernels of 1x1 to 7x7, square or not,
    on inputs of up to 40x31 (larger than the padded copy takes),
    strides 1 to 3, dilation 2 or 3 at stride 1, `same` and `valid`
    padding, output channel counts from 1 to 33 (one channel: the padded
    copy of the last row is the only row), with and without bias, every
    activation: fields of 1 to 441 values, most not a multiple of four, most
    windows crossing the border on small inputs. Odd seeds are quantized per
    tensor.
    """
    import tf_keras as keras

    rng = np.random.default_rng(4000 + seed)
    keras.utils.set_random_seed(4000 + seed)
    L = keras.layers
    # inputs whose padded copy exceeds the stack budget (the border gathers:
    # value-offset taps inside, the zero-point field across the border, and a
    # field too large for taps), then small random ones
    first = {0: (40, 31, 1, 3, 3), 1: (24, 24, 3, 7, 7), 2: (36, 30, 2, 2, 5)}.get(seed)
    if first is not None:
        h, w, c = first[:3]
    else:
        h, w = int(rng.integers(3, 17)), int(rng.integers(3, 17))
        c = int(rng.choice([1, 1, 2, 3, 4, 5, 7, 9]))
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    for i in range(int(rng.integers(1, 4))):
        kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        if first is not None and i == 0:
            kh, kw = first[3:]
        stride = int(rng.integers(1, 4))
        dil = int(rng.integers(2, 4)) if stride == 1 and rng.random() < 0.3 else 1
        fits = x.shape[1] >= (kh - 1) * dil + 1 and x.shape[2] >= (kw - 1) * dil + 1
        pad = str(rng.choice(["same", "valid"])) if fits else "same"
        if first is not None and i == 0:
            stride, dil, pad = 1 + seed // 2, 1, "same"
        act = rng.choice([None, "relu", "relu6"])
        cout = int(rng.choice([1, 3, 5, 8, 13, 16, 24, 33]))
        x = L.Conv2D(cout, (kh, kw), strides=stride, dilation_rate=dil, padding=pad, activation=act,
                     use_bias=bool(rng.random() < 0.85))(x)
        desc.append(f"conv {kh}x{kw}/s{stride}/d{dil}/{pad}/{act} -> {tuple(x.shape[1:])}")
    return _int8_with_head(inp, x, rng, desc, (h, w, c), seed, 37)


def random_tiny_field_model(seed: int) -> tuple[bytes, str]:
    """A chain of random convolutions with receptive fields of 1 to 15 values, int8 TFLite.

    The fields the table-driven tiny-field rows take (one, two or three groups
    of four values: 1x1 on 1 to 12 channels, 2x2x2, 1x3x2, 2x1x4, 3x3x1,
    2x2x3, 5x2x1, ...) and filter rows of three contiguous bytes (3x3x1, 5x3x1,
    3x1x3, 1x3x1: the row-funnel widening, walking the pixels when every
    window lies inside the input or its padded copy); strides 1 to 3,
    dilation 2, `same` and `valid`, pixel counts that leave a partial last
    block, 1 to 65 output channels (past 64 the six-pixel rows again), with
    and without bias, every activation (relu6 clamps: the other rows), odd
    seeds per tensor.
    """
    import tf_keras as keras

    rng = np.random.default_rng(7000 + seed)
    keras.utils.set_random_seed(7000 + seed)
    L = keras.layers
    h, w = int(rng.integers(3, 15)), int(rng.integers(3, 15))
    c = int(rng.choice([1, 1, 2, 3, 4, 5, 8, 12]))
    if seed in (4, 5):
        # pointwise on 4 and 8 channels: whole blocks of six pixels in one call
        c = (4, 8)[seed - 4]
    if seed < 4:
        # a first 3x3x1 or 5x3x1 layer on a small padded input, then valid
        h, w, c = (10, 10, 1) if seed < 2 else (
            int(rng.integers(6, 20)), int(rng.integers(5, 12)), 1)
    inp = keras.Input((h, w, c), batch_size=1)
    x = inp
    desc = [f"in {h}x{w}x{c}"]
    n_layers = 3 if seed < 2 else int(rng.integers(2, 4))
    for i in range(n_layers):
        cin = int(x.shape[-1])
        # fields of at most 12 values, or filter rows of three bytes
        kernels = ((1, 1), (2, 2), (1, 3), (2, 1), (3, 1), (1, 2), (7, 1), (2, 4), (3, 3), (5, 2),
                   (5, 3))
        shapes = [(kh, kw) for kh, kw in kernels if kh * kw * cin <= 12 or kw * cin == 3]
        kh, kw = shapes[int(rng.integers(0, len(shapes)))]
        if i == 0 and seed < 4:
            kh, kw = ((3, 3), (5, 3))[seed % 2]
        stride = int(rng.integers(1, 4))
        dil = 2 if stride == 1 and rng.random() < 0.4 else 1
        fits = x.shape[1] >= (kh - 1) * dil + 1 and x.shape[2] >= (kw - 1) * dil + 1
        pad = str(rng.choice(["same", "valid"])) if fits else "same"
        act = rng.choice([None, "relu", "relu", "relu6"])
        if i == 0 and seed < 4:
            stride, dil, pad = 1 + seed // 3, 1, ("same", "valid")[seed // 2]
            act = ("relu", None, "relu", "relu6")[seed]
        if i == 0 and seed in (4, 5):
            kh, kw, stride, dil, act = 1, 1, 1, 1, "relu"
        # the next layer's field must stay small: at most 12 channels before the last layer
        last = i == n_layers - 1
        cout = int(rng.choice([1, 3, 4, 8, 13, 32, 64, 65] if last else [1, 2, 3, 4, 5, 8, 12]))
        if last and seed < 3:
            # the most channels the table takes, one more, and a single channel
            cout, act = (64, 65, 1)[seed], "relu"
        x = L.Conv2D(cout, (kh, kw), strides=stride, dilation_rate=dil, padding=pad, activation=act,
                     use_bias=bool(rng.random() < 0.85))(x)
        desc.append(f"conv {kh}x{kw}x{cin}/s{stride}/d{dil}/{pad}/{act} -> {tuple(x.shape[1:])}")
    return _int8_with_head(inp, x, rng, desc, (h, w, c), seed, 41)


def random_short_fc_model(seed: int) -> tuple[bytes, str]:
    """A chain of 1 to 3 FULLY_CONNECTED layers of short accumulation depth, int8 TFLite.

    Depths 1 to 40 (the depth-1 path, whole groups of four and tails of one
    to three; past the short path's 16 the widened-row path), 1 to 40 rows
    (one row: the last row is the only row), on inputs of 1 to 4 rows (Dense
    on a 2-D input: batches > 1), every activation, with and without bias;
    odd seeds quantized per tensor.
    """
    import tf_keras as keras

    rng = np.random.default_rng(6000 + seed)
    keras.utils.set_random_seed(6000 + seed)
    L = keras.layers
    batch, depth = int(rng.integers(1, 5)), int(rng.integers(1, 21))
    layers = [int(rng.integers(1, 41)) for _ in range(int(rng.integers(1, 4)))]
    if seed < 5:
        depth = (1, 16, 3, 20, 5)[seed]
    if seed in (0, 4):
        # depth 1 in and mid-chain (a row count of 1 feeding the next layer)
        batch, layers = 1, [16, 1, 7]
    # the converter turns depth-1 Dense layers on a 3-D input into MUL: batches
    # only above one (a 2-D input is one batch row)
    shape = (depth,) if batch == 1 else (batch, depth)
    inp = keras.Input(shape, batch_size=1)
    x = inp
    desc = [f"in {batch}x{depth}"]
    k = depth
    for rows in layers:
        act = rng.choice([None, "relu", "relu6"])
        x = L.Dense(rows, activation=act, use_bias=bool(rng.random() < 0.85))(x)
        desc.append(f"fc {batch}x{k} -> {rows} {act}")
        k = rows
    per_tensor = seed % 2 == 1
    desc.append("per-tensor" if per_tensor else "per-channel")
    model = convert_int8(keras.Model(inp, x), shape, seed + 61, per_tensor=per_tensor)
    return model, "; ".join(desc)


@pytest.fixture(scope="module")
def short_fc_models() -> list[tuple[bytes, str]]:
    models = [random_short_fc_model(seed) for seed in range(N_SHORT_FC_MODELS)]
    # output scales 64x smaller: left shifts (the general output stage); 4x
    # larger: relu6 clamps below 127
    rescaled = [(rescaled_outputs(m, f, "FULLY_CONNECTED"), f"{d}; fc output scale x{f:g}")
                for m, d in models[:2] for f in (1 / 64, 4.0)]
    return models + rescaled


@pytest.fixture(scope="module")
def small_conv_models() -> list[tuple[bytes, str]]:
    models = [random_small_conv_model(seed) for seed in range(N_SMALL_CONV_MODELS)]
    # output scales 64x smaller: left shifts, the general output stage; 4x larger:
    # relu6 clamps below 127, the short stage with a clamp
    rescaled = [(rescaled_outputs(m, f, "CONV_2D"), f"{d}; conv output scale x{f:g}")
                for m, d in models[:2] for f in (1 / 64, 4.0)]
    return models + rescaled


def rescaled_outputs(model: bytes, factor: float, op_name: str) -> bytes:
    """The model with every `op_name` output scale multiplied by `factor` (see
    rescaled_depthwise_outputs)."""
    from pipeline.tflite import schema

    m = schema.load(model)
    for sg, op in schema.operators(m, op_name):
        t = sg.tensors[op.outputs[0]]
        q = schema.quant(t)
        schema.set_quant(t, q.scales * factor, q.zero_points, q.axis)
    return schema.dump(m)


def rescaled_depthwise_outputs(model: bytes, factor: float) -> bytes:
    """The model with every DEPTHWISE_CONV_2D output scale multiplied by `factor`.

    The TF converter gives 3x3 depthwise layers right-shift requantization and
    the whole int8 range; a much smaller output scale (factor 1/64) makes the
    effective multiplier exceed 1/2 (a left shift: the general requantization),
    a larger one (factor 4) makes relu6 clamp below 127 (the clamped short
    form). The consumers read the same tensor, so the model stays consistent.
    """
    return rescaled_outputs(model, factor, "DEPTHWISE_CONV_2D")


@pytest.fixture(scope="module")
def tiny_field_models() -> list[tuple[bytes, str]]:
    return [random_tiny_field_model(seed) for seed in range(N_TINY_FIELD_MODELS)]


@pytest.fixture(scope="module")
def dw3x3_models() -> list[tuple[bytes, str]]:
    models = [random_dw3x3_model(seed) for seed in range(N_DW3X3_MODELS)]
    rescaled = [(rescaled_depthwise_outputs(m, f), f"{d}; depthwise output scale x{f:g}")
                for m, d in models[2:4] for f in (1 / 64, 4.0)]
    return models + rescaled + [random_pool_model(seed) for seed in range(N_POOL_MODELS)]


@pytest.fixture(scope="module")
def pointwise_models() -> list[tuple[bytes, str]]:
    return [random_pointwise_model(seed) for seed in range(N_POINTWISE_MODELS)]


@pytest.fixture(scope="module")
def random_models(tmp_path_factory) -> list[tuple[bytes, str]]:
    cache = tmp_path_factory.mktemp("random_models")
    models = []
    for seed in range(N_RANDOM_MODELS):
        path = cache / f"{seed}.tflite"
        model, desc = random_conv_model(seed)
        path.write_bytes(model)
        models.append((model, desc))
    return models


@pytest.mark.parametrize("name", ANCHORS)
def test_dsp_kernels_on_the_host_match_tflite_micro_on_anchors(dsp_cli: Path, name: str,
                                                               tmp_path: Path) -> None:
    model = anchor_bytes(name)
    xs = random_inputs(model, 20, seed=11)
    ref = tflm_run(model, xs)
    assert_same_outputs(cli_run(dsp_cli, model, xs, ref[0], tmp_path), ref, name)


@pytest.mark.parametrize("kind", ["conv_family", "conv_int4", "dw_int4", "dense_int4", "dense_act"])
def test_dsp_kernels_on_the_host_match_tflite_micro_on_converted_models(
        dsp_cli: Path, converted, kind: str, tmp_path: Path) -> None:
    model = converted(kind)
    xs = random_inputs(model, 16, seed=5)
    ref = tflm_run(model, xs)
    assert_same_outputs(cli_run(dsp_cli, model, xs, ref[0], tmp_path), ref, kind)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_shapes(
        dsp_cli: Path, random_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, random_models, 8, 3, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_pointwise_chains(
        dsp_cli: Path, pointwise_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, pointwise_models, 8, 4, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_dw3x3_chains(
        dsp_cli: Path, dw3x3_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, dw3x3_models, 8, 6, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_small_field_convs(
        dsp_cli: Path, small_conv_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, small_conv_models, 8, 7, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_tiny_field_convs(
        dsp_cli: Path, tiny_field_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, tiny_field_models, 8, 13, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_random_short_fully_connected(
        dsp_cli: Path, short_fc_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, short_fc_models, 8, 11, tmp_path)


def test_dsp_kernels_on_the_host_match_tflite_micro_on_int4_dense_rows(
        dsp_cli: Path, int4_dense_models: list[tuple[bytes, str]], tmp_path: Path) -> None:
    check_host(dsp_cli, int4_dense_models, 8, 2, tmp_path)


def test_random_models_cover_the_shapes_the_kernels_special_case(
        random_models: list[tuple[bytes, str]]) -> None:
    """The generator really produces what the tests above claim to cover."""
    text = " ".join(d for _, d in random_models)
    needles = ("dw ", "conv ", "pw ", "/s2/", "/d2/", "same", "valid", "per-tensor", "per-channel")
    for needle in needles:
        assert needle in text, needle


_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")


def _target_outputs(model: bytes, xs: list[np.ndarray], target: str, kernels: str,
                    tmp: Path) -> list[np.ndarray]:
    from pipeline.device.targets import run_on_target

    path = tmp / "model.tflite"
    path.write_bytes(model)
    run = run_on_target(path, np.stack(xs), target, kernels=kernels)
    return list(run.outputs[0])


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize(("target", "kernels"), [("m4", "dsp"), ("m55", "mve")])
@pytest.mark.parametrize("name", ["micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8"])
def test_optimized_kernels_under_qemu_match_tflite_micro_on_anchors(
        name: str, target: str, kernels: str, tmp_path: Path) -> None:
    model = anchor_bytes(name)
    xs = random_inputs(model, 4, seed=21)
    ref = tflm_run(model, xs)
    ours = _target_outputs(model, xs, target, kernels, tmp_path)
    assert_same_outputs(ours, ref, f"{name} {target} {kernels}")


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize(("target", "kernels"), [("m4", "dsp"), ("m55", "mve")])
def test_optimized_kernels_under_qemu_match_tflite_micro_on_random_and_int4_models(
        random_models: list[tuple[bytes, str]], int4_dense_models: list[tuple[bytes, str]],
        converted, target: str, kernels: str, tmp_path: Path) -> None:
    models = random_models[:4] + int4_dense_models + [pointwise_chain_model()] + [
        (converted(k), k) for k in ("conv_int4", "dw_int4", "dense_int4")]
    for model, desc in models:
        xs = random_inputs(model, 3, seed=9)
        ref = tflm_run(model, xs)
        ours = _target_outputs(model, xs, target, kernels, tmp_path)
        assert_same_outputs(ours, ref, f"{desc} {target}")


# The random model families run under QEMU on the M4 with the dsp kernels: every model of
# the first two, the first four and the last two of the larger ones.
QEMU_FAMILIES = {"pointwise_models": False, "dw3x3_models": False, "small_conv_models": True,
                 "short_fc_models": True, "tiny_field_models": False}


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("family", list(QEMU_FAMILIES))
def test_dsp_kernels_under_qemu_match_tflite_micro_on_random_model_families(
        family: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    models: list[tuple[bytes, str]] = request.getfixturevalue(family)
    if QEMU_FAMILIES[family]:
        models = models[:4] + models[-2:]
    for model, desc in models:
        xs = random_inputs(model, 3, seed=8)
        ref = tflm_run(model, xs)
        assert_same_outputs(_target_outputs(model, xs, "m4", "dsp", tmp_path), ref, f"{desc} m4")


def test_short_fully_connected_models_cover_what_they_claim(
        short_fc_models: list[tuple[bytes, str]]) -> None:
    """The generator really produces the depths, row counts and batches it claims to cover."""
    import re

    from pipeline.tflite import schema

    depths, rows, batches = set(), set(), set()
    for model, _ in short_fc_models:
        m = schema.load(model)
        for sg, op in schema.operators(m, "FULLY_CONNECTED"):
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]
            rows.add(w[0])
            depths.add(w[1])
            out = [int(d) for d in sg.tensors[op.outputs[0]].shape]
            batches.add(int(np.prod(out)) // w[0])
    assert {1, 16, 3, 20} <= depths, depths
    assert any(d % 4 == 0 for d in depths) and any(d % 4 for d in depths), depths
    assert 1 in rows and max(rows) > 16 and max(batches) > 1, (rows, batches)
    text = " ".join(d for _, d in short_fc_models)
    for needle in ("per-tensor", "per-channel", "relu6", "x0.015625", "x4"):
        assert needle in text, needle
    assert re.search(r"-> 1 ", text), text


def test_small_field_conv_models_cover_what_they_claim(
        small_conv_models: list[tuple[bytes, str]]) -> None:
    """The generator really produces the shapes the small-field tests claim to cover."""
    import re

    text = " ".join(d for _, d in small_conv_models)
    for needle in ("/s2/", "/s3/", "/d2/", "same", "valid", "per-tensor", "per-channel", "relu6",
                   "scale x0.015625", "scale x4"):
        assert needle in text, needle
    kernels = {tuple(map(int, k)) for k in re.findall(r"conv (\d)x(\d)/", text)}
    assert any(kh != kw for kh, kw in kernels) and max(max(k) for k in kernels) >= 6
    chans = {int(c) for c in re.findall(r"in \d+x\d+x(\d+)", text)}
    assert 1 in chans and len(chans) >= 4


def test_tiny_field_conv_models_cover_what_they_claim(
        tiny_field_models: list[tuple[bytes, str]]) -> None:
    """The generator really produces fields of one, two and three groups of four values, rows
    of three bytes, full-range and clamped outputs, partial last blocks and layers past 64
    channels."""
    import re

    from pipeline.tflite import schema

    fields, couts, pixels = set(), set(), set()
    for model, _ in tiny_field_models:
        m = schema.load(model)
        for sg, op in schema.operators(m, "CONV_2D"):
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]
            out = [int(d) for d in sg.tensors[op.outputs[0]].shape]
            fields.add(w[1] * w[2] * w[3])
            couts.add(w[0])
            pixels.add(out[1] * out[2] % 6)
    assert fields & {1, 2, 3, 4} and fields & {5, 6, 7, 8} and fields & {9, 10, 11, 12}, fields
    assert 15 in fields, fields
    assert 1 in couts and 64 in couts and 65 in couts, couts
    assert pixels - {0}, pixels
    text = " ".join(d for _, d in tiny_field_models)
    for needle in ("/s2/", "/d2/", "same", "valid", "relu6", "/relu ", "per-tensor", "per-channel"):
        assert needle in text, needle
    assert re.search(r"conv 1x1x([1-9]|1[0-2])/s1/", text), text
    for needle in ("conv 3x3x1/s1/d1/same", "conv 5x3x1/s1/d1/same", "conv 3x3x1/s1/d1/valid",
                   "conv 5x3x1/s2/d1/valid", "conv 1x1x4/s1/d1/", "conv 1x1x8/s1/d1/"):
        assert needle in text, needle


def test_each_target_runs_its_fastest_kernel_folder_by_default() -> None:
    from pipeline.device.targets import default_kernels

    assert [default_kernels(t) for t in ("m4", "m7", "m55", "a64", "a32")] == [
        "dsp", "dsp", "mve", "neon", "neon"]
    for target in ("m4", "m7", "m55", "a64", "a32"):
        assert any((PORT_DIR / "kernels" / default_kernels(target)).glob("kwsq_*.c"))


def test_kwsq_run_refuses_an_unknown_kernel_folder_in_one_line(tmp_path: Path, capsys) -> None:
    from pipeline.cli import main

    model = anchor_bytes("hello_world_int8")
    (tmp_path / "m.tflite").write_bytes(model)
    np.save(tmp_path / "x.npy", np.stack(random_inputs(model, 1, seed=1)))
    code = main(["run", str(tmp_path / "m.tflite"), "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--target", "m4", "--kernels", "nope"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no folder tflm_port/kernels/nope" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "y.npy").exists()
