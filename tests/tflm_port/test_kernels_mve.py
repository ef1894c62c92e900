"""kernels/mve (Cortex-M55 Helium) against kernels/ref and TFLite Micro, under QEMU.

The kernel check firmware (tflm_port/bench/kernel_check.c) runs every mve
kernel and its reference on hundreds of random shapes (odd sizes, padding on
every side including trailing, strides, dilation, depth multipliers, groups,
per tensor and per channel, power-of-two scales, INT4, in place, batches).
test_kernels_dsp.py runs the anchors, its random models (at most 16
channels) and a 1x1 chain on m55/mve as well; this file adds what those miss
for the Helium paths: depthwise layers wide enough for the 16-channel groups
(with and without a channel tail, same/valid padding, strides, dilation, a
5x3 window, multiplier 1 next to 2, per tensor and per channel), random
layers for the per-channel dot-product depthwise path (few or odd channel
counts, multipliers, windows of up to three 16-tap groups) and for the
small-field convolution path (1-5 input channels, 1x1 up to 40), general
convolutions whose receptive fields end mid-vector, average pools (clipped
windows, channel tails, a window too large for int16 sums), and quantization the
converter does not write by default: a weight of -128 (which the depthwise
tap pairs must not sum in int16) and output scales small enough that some
channels shift left before the multiply.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import (
    anchor_bytes,
    assert_m55_matches_tflm,
    convert_int8,
    random_inputs,
    run_m55,
)

from pipeline.device.targets import BOARDS_DIR, run_firmware
from pipeline.tflite import schema as ts

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")


CHECK_LINE = re.compile(r"^KWSQ CHECK (\S+) (\d+) (\d+)", re.M)
OPS = {"conv_s8", "conv_s4", "depthwise_conv_s8", "depthwise_conv_s4", "fully_connected_s8",
       "fully_connected_s4"}


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("target,kernels", [("m55", "mve"), ("m4", "dsp")])
def test_m_profile_kernels_are_bit_exact_with_ref_on_random_shapes(
        tmp_path: Path, target: str, kernels: str) -> None:
    """The kernel check on each M-profile folder (dsp's 1x1 path once read past a row
    when trailing padding made the output wider than the input)."""
    cases, seed = 400, 11
    subprocess.run(["make", "-j2", "--no-print-directory", "-C", str(BOARDS_DIR), "kernel-check",
                    f"TARGET={target}", f"KERNELS={kernels}", f"BUILD_ROOT={tmp_path}",
                    f"CHECK_CASES={cases}", f"CHECK_SEED={seed}"],
                   check=True, capture_output=True)  # fmt: skip
    elf = tmp_path / target / f"check-{kernels}" / f"kernel_check-{cases}-{seed}.elf"
    code, text = run_firmware(target, elf, timeout_s=600)
    found = {m[1]: (int(m[2]), int(m[3])) for m in CHECK_LINE.finditer(text)}
    assert set(found) == OPS and code == 0, text
    for op, (ran, mismatches) in found.items():
        assert mismatches == 0, f"{op}: {mismatches} of {ran} random cases differ from ref"
        assert ran >= 300, f"{op}: only {ran} cases ran"


def wide_depthwise_model(per_tensor: bool) -> tuple[bytes, str]:
    """Depthwise layers of 37 and 48 channels (two or three 16-channel groups,
    with and without a tail) between convolutions of 24 and 21 channels."""
    import tf_keras as keras

    keras.utils.set_random_seed(11)
    L = keras.layers
    shape = (9, 7, 37)
    inp = keras.Input(shape, batch_size=1)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D((5, 3), strides=2, padding="valid")(x)
    x = L.Conv2D(48, (3, 2), padding="same", activation="relu6")(x)
    x = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x)
    x = L.DepthwiseConv2D(2, depth_multiplier=2, padding="valid", activation="relu")(x)
    x = L.Conv2D(21, 1)(x)
    model = keras.Model(inp, L.Dense(9)(L.Flatten()(x)))
    desc = "dw 37 ch 3x3 same / 5x3 s2 valid, conv 3x2 -> 48, dw 3x3 d2, dw x2, pw 21"
    desc += " per-tensor" if per_tensor else " per-channel"
    return convert_int8(model, shape, 12, per_tensor=per_tensor), desc


def multiplier_models(seed: int, count: int) -> list[tuple[bytes, str]]:
    """Seeded random depthwise layers with depth multipliers 2-5 on 6-20 input channels
    (16-channel groups with tails after the input rows are expanded; every fourth model on
    one input channel): random
    kernel sizes, strides, dilation and padding, per tensor or per channel, two layers
    per model (the second on the first's output)."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i in range(count):
        keras.utils.set_random_seed(seed + i)
        channels = 1 if i % 4 == 3 else int(rng.integers(6, 21))
        shape = (int(rng.integers(5, 14)), int(rng.integers(4, 13)), channels)
        inp = keras.Input(shape, batch_size=1)
        x, parts = inp, []
        for _ in range(2):
            k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
            s = int(rng.integers(1, 3))
            dil = 2 if s == 1 and rng.random() < 0.25 else 1
            pad = str(rng.choice(["same", "valid"]))
            left = min(x.shape[1] - dil * (k[0] - 1), x.shape[2] - dil * (k[1] - 1))
            if pad == "valid" and left < 1:
                pad = "same"
            dm = int(rng.choice([2, 3, 4, 5])) if not parts else int(rng.choice([1, 2]))
            x = L.DepthwiseConv2D(k, strides=s, dilation_rate=dil, padding=pad, depth_multiplier=dm,
                                  activation="relu")(x)
            parts.append(f"{k[0]}x{k[1]} s{s} d{dil} {pad} x{dm}")
        per_tensor = bool(rng.random() < 0.3)
        model = keras.Model(inp, L.Dense(5)(L.Flatten()(x)))
        desc = f"{shape}: " + ", ".join(parts) + (" per-tensor" if per_tensor else "")
        out.append((convert_int8(model, shape, 20 + i, per_tensor=per_tensor), desc))
    return out


def dot_models(seed: int, count: int) -> list[tuple[bytes, str]]:
    """Seeded random depthwise layers for the per-channel dot-product path (mve_dw_dot.c):
    1-15 channels, or 17-47 channels that are not a multiple of 16 at stride 1, depth
    multipliers 1-4, windows up to 6x6 (up to three 16-tap groups), dilation, same and
    valid padding, per tensor or per channel; in every second model some channels of the
    first layer have an effective scale above 1 (a left shift before the multiply)."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i in range(count):
        keras.utils.set_random_seed(seed + i)
        few = i % 2 == 0
        channels = int(rng.integers(1, 16)) if few else int(rng.choice([17, 24, 29, 40, 47]))
        shape = (int(rng.integers(5, 16)), int(rng.integers(4, 21)), channels)
        inp = keras.Input(shape, batch_size=1)
        x, parts = inp, []
        for _ in range(2):
            k = (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
            dm = int(rng.choice([1, 1, 2, 4])) if few and x.shape[-1] < 8 else 1
            s = int(rng.integers(1, 3)) if dm > 1 else 1
            dil = 2 if s == 1 and rng.random() < 0.3 else 1
            pad = str(rng.choice(["same", "valid"]))
            left = min(x.shape[1] - dil * (k[0] - 1), x.shape[2] - dil * (k[1] - 1))
            if pad == "valid" and left < 1:
                pad = "same"
            x = L.DepthwiseConv2D(k, strides=s, dilation_rate=dil, padding=pad, depth_multiplier=dm,
                                  activation=str(rng.choice(["relu", "linear"])))(x)
            parts.append(f"{k[0]}x{k[1]} s{s} d{dil} {pad} x{dm}")
        per_tensor = bool(rng.random() < 0.3)
        model = keras.Model(inp, L.Dense(5)(L.Flatten()(x)))
        data = convert_int8(model, shape, 40 + i, per_tensor=per_tensor)
        desc = f"{shape}: " + ", ".join(parts) + (" per-tensor" if per_tensor else "")
        if i % 2 == 1 and not per_tensor:
            data, desc = _left_shifted(data, 0), desc + ", left shifts"
        out.append((data, desc))
    return out


def conv_dot_models(seed: int, count: int) -> list[tuple[bytes, str]]:
    """Seeded random convolutions for the small-field dot-product path (mve_conv_dot.c):
    a first layer on 1-5 input channels with windows up to 10x4 (1-3 vectors of 16
    field values), strides 1-2, dilation, same and valid padding, 5-40 filters (groups of
    four with 1-3 left over), then a 1x1 layer on its output (fields up to 40), per
    tensor or per channel; every second model has left shifts in its first layer."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i in range(count):
        keras.utils.set_random_seed(seed + i)
        channels = int(rng.integers(1, 6))
        shape = (int(rng.integers(6, 20)), int(rng.integers(5, 16)), channels)
        inp = keras.Input(shape, batch_size=1)
        kmax = max(1, 48 // channels)
        k = (int(rng.integers(1, 11)), int(rng.integers(1, 5)))
        while k[0] * k[1] > kmax:
            k = (max(1, k[0] - 1), k[1])
        s = int(rng.integers(1, 3))
        dil = 2 if s == 1 and rng.random() < 0.3 else 1
        pad = str(rng.choice(["same", "valid"]))
        if pad == "valid" and min(shape[0] - dil * (k[0] - 1), shape[1] - dil * (k[1] - 1)) < 1:
            pad = "same"
        filters = int(rng.integers(5, 41))
        x = L.Conv2D(filters, k, strides=s, dilation_rate=dil, padding=pad, activation="relu")(inp)
        x = L.Conv2D(int(rng.integers(3, 30)), 1, activation=str(rng.choice(["relu", "linear"])))(x)
        per_tensor = bool(rng.random() < 0.3)
        model = keras.Model(inp, L.Dense(5)(L.Flatten()(x)))
        data = convert_int8(model, shape, 60 + i, per_tensor=per_tensor)
        desc = (f"{shape}: conv {k[0]}x{k[1]} s{s} d{dil} {pad} -> {filters}, 1x1 -> "
                f"{x.shape[-1]}" + (" per-tensor" if per_tensor else ""))
        if i % 2 == 1 and not per_tensor:
            data, desc = _left_shifted(data, 0), desc + ", left shifts"
        out.append((data, desc))
    return out


def two_group_depthwise_model() -> tuple[bytes, str]:
    """Depthwise windows of 17-32 taps (two 16-tap groups) without left shifts, on 20
    and 7 channels: 5x5 same, 4x5 valid at stride 2, 3x6 with dilation 2."""
    import tf_keras as keras

    keras.utils.set_random_seed(23)
    L = keras.layers
    shape = (13, 12, 20)
    inp = keras.Input(shape, batch_size=1)
    x = L.DepthwiseConv2D(5, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D((4, 5), strides=2, padding="valid")(x)
    y = L.Conv2D(7, 1)(inp)
    y = L.DepthwiseConv2D((3, 6), dilation_rate=2, padding="same", activation="relu")(y)
    model = keras.Model(inp, L.Concatenate()([L.Flatten()(x), L.Flatten()(y)]))
    return convert_int8(model, shape, 24), "dw 5x5 / 4x5 s2 on 20 ch, 3x6 d2 on 7 ch"


def pair_models(seed: int, count: int) -> list[tuple[bytes, str]]:
    """Seeded random depthwise layers for the dot-product path's assembly loops
    (mve_dw_dot.c): multiplier 1 on 4-47 channels (groups of four with 0-3 left over, no
    multiple of 16 at stride 2 or 3), windows up to 5x5 (one or two 16-tap groups), on
    maps 3-15 pixels wide (pairs of pixels side by
    side, or one above the other when the output width is odd), strides 1-3 across (the
    pair's second window one stride on), dilation, same and valid padding; then
    multiplier 4 or 8 on one to three channels with 3x3 or 5x5 windows (one or two 16-tap
    groups gathered once per group of four outputs); relu, relu6 or none (the clamps), per
    tensor or per channel. Every second model is the first layer alone, per channel,
    unclamped, with some channels that have no shift at all (their negative sums must
    not be rounded as a right shift's are).
    """
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i in range(count):
        keras.utils.set_random_seed(seed + i)
        channels = int(rng.choice([4, 5, 6, 7, 8, 11, 12, 20, 24, 30, 40, 47]))
        shape = (int(rng.integers(4, 14)), int(rng.integers(3, 16)), channels)
        inp = keras.Input(shape, batch_size=1)
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        if i % 3 == 2:
            k = (5, int(rng.integers(4, 6)))  # 20 or 25 taps: two 16-tap groups
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
        if channels % 16 == 0:
            s = (1, 1)
        dil = 2 if s == (1, 1) and rng.random() < 0.3 else 1
        pad = str(rng.choice(["same", "valid"]))
        if pad == "valid" and min(shape[0] - dil * (k[0] - 1), shape[1] - dil * (k[1] - 1)) < 1:
            pad = "same"
        # every second model: no clamp on the first layer, whose shift-0 channels' negative
        # sums must then come out exact
        act = "linear" if i % 2 == 1 else str(rng.choice(["relu", "relu6", "linear"]))
        x = L.DepthwiseConv2D(k, strides=s, dilation_rate=dil, padding=pad, activation=act)(inp)
        parts = [f"{k[0]}x{k[1]} s{s[0]}x{s[1]} d{dil} {pad} {act}"]
        y = L.Conv2D(int(rng.integers(1, 4)), 1)(x)
        k2 = int(rng.choice([3, 5]))
        dm = int(rng.choice([4, 8]))
        s2 = int(rng.integers(1, 3))
        y = L.DepthwiseConv2D(k2, strides=s2, padding="same", depth_multiplier=dm,
                              activation=str(rng.choice(["relu", "linear"])))(y)
        parts.append(f"1x1, {k2}x{k2} s{s2} x{dm} on {y.shape[-1] // dm} ch")
        per_tensor = i % 2 == 0 and bool(rng.random() < 0.5)
        # the shift-0 models output the first layer itself (a concatenation would requantize
        # its off-by-ones away)
        head = L.Flatten()(x) if i % 2 == 1 else L.Concatenate()([L.Flatten()(x), L.Flatten()(y)])
        model = keras.Model(inp, head)
        data = convert_int8(model, shape, 70 + i, per_tensor=per_tensor)
        parts = parts[:1] if i % 2 == 1 else parts
        desc = f"{shape}: " + ", ".join(parts) + (" per-tensor" if per_tensor else "")
        if i % 2 == 1:
            data, desc = _unshifted(data, 0), desc + ", shift 0 in some channels"
        out.append((data, desc))
    return out


def _left_shifted(model: bytes, index: int) -> bytes:
    """Every 5th channel's weight scale of layer `index` raised so its effective scale is
    1.5 (a left shift), the others kept (right shifts)."""
    m = ts.load(model)
    _, _, x, w, y = _layer(m, index)
    scales = np.array(w.quantization.scale, dtype=np.float32)
    scales[::5] = 1.5 * float(y.quantization.scale[0]) / float(x.quantization.scale[0])
    w.quantization.scale = scales
    return ts.dump(m)


def _unshifted(model: bytes, index: int) -> bytes:
    """Every 5th channel of depthwise layer `index` with an effective scale of 0.75 (a
    multiplier and no shift at all), weights in -3..3 and no bias, so its outputs stay off
    the clamps and an off-by-one in its rounding shows."""
    m = ts.load(model)
    sg, op, x, w, y = _layer(m, index)
    channels = int(w.shape[-1])
    scales = np.array(w.quantization.scale, dtype=np.float32)
    scales[::5] = 0.75 * float(y.quantization.scale[0]) / float(x.quantization.scale[0])
    w.quantization.scale = scales
    data = np.array(m.buffers[w.buffer].data, dtype=np.uint8).view(np.int8).reshape(-1, channels)
    data[:, ::5] = np.random.default_rng(index + 5).integers(-3, 4, size=data[:, ::5].shape)
    m.buffers[w.buffer].data = data.reshape(-1).view(np.uint8)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = sg.tensors[op.inputs[2]]
        bias = np.array(m.buffers[b.buffer].data, dtype=np.uint8).view(np.int32).copy()
        bias[::5] = 0
        m.buffers[b.buffer].data = bias.view(np.uint8)
    return ts.dump(m)


def pooling_model() -> tuple[bytes, str]:
    """Average pools whose windows are clipped at the borders (same padding,
    odd sizes), of 21 and 40 channels (16-channel groups and tails), and one
    of 17 x 16 = 272 taps, too many for the int16 sums."""
    import tf_keras as keras

    keras.utils.set_random_seed(13)
    L = keras.layers
    shape = (17, 16, 21)
    inp = keras.Input(shape, batch_size=1)
    a = L.AveragePooling2D(3, strides=2, padding="same")(inp)
    a = L.Conv2D(40, 1)(a)
    a = L.AveragePooling2D((2, 3), strides=(1, 2), padding="same")(a)
    b = L.AveragePooling2D((17, 16))(inp)
    model = keras.Model(inp, L.Concatenate()([L.Flatten()(a), L.Flatten()(b)]))
    return convert_int8(model, shape, 14), "avg pools 3x3/s2 same, 2x3 same on 40 ch, 17x16"


def _layer(m, index: int):
    sg = m.subgraphs[0]
    op = sg.operators[index]
    return sg, op, sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]], sg.tensors[op.outputs[0]]


def rewritten_ds_cnn() -> bytes:
    """MLPerf Tiny's DS-CNN with two quantization changes TFLite Micro runs
    as written: every 7th weight of the first two depthwise layers -128, and
    in the first depthwise and pointwise layers every 5th channel's weight
    scale raised so that its effective scale is 1.5 (a left shift) while the
    others keep theirs (right shifts)."""
    m = ts.load(anchor_bytes("mlperf_tiny_kws_ds_cnn_int8"))
    for index in (1, 3):
        _, _, _, w, _ = _layer(m, index)
        data = np.array(m.buffers[w.buffer].data, dtype=np.uint8)
        data[::7] = 0x80
        m.buffers[w.buffer].data = data
    for index in (1, 2):
        _, _, x, w, y = _layer(m, index)
        scales = np.array(w.quantization.scale, dtype=np.float32)
        scales[::5] = 1.5 * float(y.quantization.scale[0]) / float(x.quantization.scale[0])
        w.quantization.scale = scales
    return ts.dump(m)






@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("kind", ["hybrid_dense", "float_conv"])
def test_mve_float_models_match_the_host_reference_exactly(
        kind: str, converted, tmp_path: Path) -> None:
    """Float in and out (int8 weights in the hybrid FC, float convolutions): the
    M55's single-precision FPU must round as the host's reference kernels do."""
    from runtime_refs import kwsq_run

    model = converted(kind)
    xs = random_inputs(model, 6, seed=19)
    ours = run_m55(model, xs, tmp_path)
    ref = kwsq_run(model, xs)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert np.asarray(a).dtype == np.float32
        np.testing.assert_array_equal(np.asarray(a).reshape(b.shape), b,
                                      err_msg=f"{kind} sample {i}")


def test_rewritten_ds_cnn_really_has_minus_128_weights_and_left_shifts() -> None:
    """The rewrite produces what the QEMU test below claims to cover."""
    m = ts.load(rewritten_ds_cnn())
    for index in (1, 3):
        _, _, _, w, _ = _layer(m, index)
        assert np.any(m.buffers[w.buffer].data.view(np.int8) == -128)
    for index in (1, 2):
        _, _, x, w, y = _layer(m, index)
        eff = (float(x.quantization.scale[0]) * np.asarray(w.quantization.scale)
               / float(y.quantization.scale[0]))
        assert eff.max() > 1.0 and eff.min() < 0.5


@pytest.mark.qemu
@needs_qemu
def test_mve_kernels_match_tflite_micro_on_wide_depthwise_and_rewritten_models(
        tmp_path: Path) -> None:
    models = [wide_depthwise_model(False), wide_depthwise_model(True), pooling_model(),
              (rewritten_ds_cnn(), "DS-CNN with -128 weights and left shifts")]
    assert_m55_matches_tflm(models, 3, 17, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_depth_multipliers_on_random_wide_shapes_match_tflite_micro(tmp_path: Path) -> None:
    """Depth multipliers that are not multiples of 4 on enough channels for the 16-lane
    groups (the input rows expanded in the scratch buffer) against TFLite Micro."""
    assert_m55_matches_tflm(multiplier_models(31, 4), 2, 5, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_depthwise_dot_path_on_random_shapes_matches_tflite_micro(tmp_path: Path) -> None:
    """Few channels, channel counts off the 16-lane groups, multipliers, 1-3 tap groups,
    left shifts: the dot-product path against TFLite Micro, with the sums' extremes."""
    assert_m55_matches_tflm(dot_models(47, 4) + [two_group_depthwise_model()], 2, 9, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_depthwise_pairs_and_multiplier_groups_match_tflite_micro(tmp_path: Path) -> None:
    """Pairs of pixels (odd widths, channel tails, strides across, clamps) and multipliers
    4 and 8 (one or two tap groups): the dot path's assembly loops against TFLite Micro."""
    assert_m55_matches_tflm(pair_models(61, 6), 2, 13, tmp_path)


@pytest.mark.qemu
@needs_qemu
def test_mve_conv_dot_path_on_random_shapes_matches_tflite_micro(tmp_path: Path) -> None:
    """Small receptive fields (1-3 vectors, channel groups with tails, strides, dilation,
    padding, left shifts): the convolution dot-product path against TFLite Micro."""
    assert_m55_matches_tflm(conv_dot_models(53, 4), 2, 4, tmp_path)


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("chain", [0, 1])
def test_mve_int4_fc_twins_on_random_shapes_are_exact_and_cost_about_int8(
        chain: int, tmp_path: Path) -> None:
    """The randomized Dense twins of test_kernels_neon.py (every packed INT4 row layout:
    odd widths whose rows share a byte, short rows, 1-3 row tails) on m55/mve: bit-exact
    with TFLite Micro, and the 4-bit twin within TWIN_*_BOUND["m55"] of the int8 one (the
    odd widths once read one nibble at a time: 41x)."""
    from test_kernels_neon import check_int4_fc_twins, int4_fc_chains

    check_int4_fc_twins(int4_fc_chains(31)[chain], [("m55", "mve")], tmp_path)
