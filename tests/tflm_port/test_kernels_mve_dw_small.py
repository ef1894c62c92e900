"""kernels/mve's depthwise paths for few channels against TFLite Micro, under QEMU.

mve_dw_dot.c runs multiplier-1 layers of exactly four or eight channels and one 16-tap
group as pairs of pixels in MVE_DW_DOT_PAIRS4 / 8; four_channel_models covers them.

mve_dw_c1.c takes every depthwise layer on one input channel (depth multiplier m = output
channels, 1..16): the window's taps gathered from a padded strip of input rows, 16 per
vector, once per pixel for all m channels; pairs of pixels in assembly when there are at
most two tap groups, single pixels in C otherwise; its constants computed once in Prepare
(kwsq_depthwise_conv_s8_persist) on the firmware, per call in the kernel check. These
models hit its dispatch and edges: multipliers 1-8 and 16 (channel groups of four with
1-3 left over), windows 3x3, 5x5, 10x8 (five tap groups), 1xk and kx1, strides 1 and 2,
dilation, same and valid padding, odd sizes (a last unpaired pixel), per tensor and per
channel, nonzero zero points, ReLU or none, and left shifts (a channel whose effective
scale is above 1). The depthwise output is the model's output, so every value is compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import assert_m55_matches_tflm, convert_int8
from test_kernels_mve import _left_shifted, _unshifted

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")

WINDOWS = [(3, 3), (5, 5), (10, 8), (1, 7), (6, 1), (4, 5)]
MULTIPLIERS = [1, 2, 3, 4, 5, 6, 7, 8, 16]


def one_channel_models(seed: int, count: int) -> list[tuple[bytes, str]]:
    """Seeded single depthwise layers on one input channel: the multiplier and window
    cycle through MULTIPLIERS and WINDOWS, the rest is drawn (odd sizes, stride 1 or 2,
    dilation 2 at stride 1, same or valid, ReLU or none, per tensor in one of three);
    every third per-channel model gets left shifts."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i in range(count):
        keras.utils.set_random_seed(seed + i)
        dm = MULTIPLIERS[i % len(MULTIPLIERS)]
        k = WINDOWS[i % len(WINDOWS)]
        s = int(rng.integers(1, 3))
        dil = 2 if s == 1 and rng.random() < 0.35 and k[0] * k[1] <= 25 else 1
        rows = int(rng.integers(k[0] * dil, k[0] * dil + 14)) | 1
        shape = (rows, int(rng.integers(k[1] * dil, 41)), 1)
        pad = str(rng.choice(["same", "valid"]))
        act = str(rng.choice(["relu", "linear"]))
        inp = keras.Input(shape, batch_size=1)
        y = L.DepthwiseConv2D(k, strides=s, dilation_rate=dil, padding=pad, depth_multiplier=dm,
                              activation=act)(inp)
        per_tensor = bool(i % 3 == 2)
        data = convert_int8(keras.Model(inp, y), shape, 80 + i, per_tensor=per_tensor)
        desc = (f"{shape}: dw {k[0]}x{k[1]} s{s} d{dil} {pad} x{dm} {act}"
                + (" per-tensor" if per_tensor else ""))
        if i % 3 == 1:
            data, desc = _left_shifted(data, 0), desc + ", left shifts"
        out.append((data, desc))
    return out


@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("part", [0, 1])
def test_mve_one_channel_depthwise_matches_tflite_micro(part: int, tmp_path: Path) -> None:
    """Eighteen random one-channel layers (two runs of nine: every multiplier and window
    of the lists once per run) bit-exact with TFLite Micro, with the sums' extremes."""
    models = one_channel_models(101, 18)[part * 9:(part + 1) * 9]
    assert_m55_matches_tflm(models, 2, 7 + part, tmp_path)


def _depthwise_cases(cases: list, seed: int, multiplier: int, relu_on_odd: bool,
                     ) -> list[tuple[bytes, str]]:
    """One int8 DEPTHWISE_CONV_2D model per (shape, kernel, stride, padding, per_tensor,
    change) case, seeded ``seed + i``, ReLU on every other case; ``change`` rewrites the
    converted model (shifts) and is named in the description."""
    import tf_keras as keras

    out = []
    for i, (shape, k, s, pad, per_tensor, change) in enumerate(cases):
        keras.utils.set_random_seed(seed + i)
        inp = keras.Input(shape, batch_size=1)
        act = "relu" if (i % 2 == 1) == relu_on_odd else "linear"
        y = keras.layers.DepthwiseConv2D(k, strides=s, padding=pad, depth_multiplier=multiplier,
                                         activation=act)(inp)
        data = convert_int8(keras.Model(inp, y), shape, seed + i, per_tensor=per_tensor)
        desc = (f"{shape}: dw {k[0]}x{k[1]} s{s} {pad} x{multiplier}"
                + (" per-tensor" if per_tensor else ""))
        if change is not None:
            data, desc = change(data, 0), f"{desc}, {change.__name__}"
        out.append((data, desc))
    return out


def multiplier_four_models() -> list[tuple[bytes, str]]:
    """Multiplier 4 on one channel (C1_ROW_PAIRS4: one channel group per pair, both
    pixels' outputs stored in turn): dm4_32x20x1's 5x5 stride-2 layer (two tap groups),
    a 3x3 one (one group) per tensor, an odd output width (a last pixel in C), one with
    a channel whose shift is 0 (the rounding fix-up that tests each lane) and one with
    left shifts (the C loops)."""
    cases = [((32, 20, 1), (5, 5), 2, "same", False, None),
             ((15, 19, 1), (3, 3), 2, "same", True, None),
             ((13, 21, 1), (5, 5), 1, "valid", False, None),
             ((17, 16, 1), (5, 4), 1, "same", False, _unshifted),
             ((12, 14, 1), (3, 5), 2, "valid", False, _left_shifted)]
    return _depthwise_cases(cases, seed=70, multiplier=4, relu_on_odd=True)


@pytest.mark.qemu
@needs_qemu
def test_mve_one_channel_multiplier_four_matches_tflite_micro(tmp_path: Path) -> None:
    """The multiplier-4 loop and its neighbours bit-exact with TFLite Micro."""
    assert_m55_matches_tflm(multiplier_four_models(), 2, 11, tmp_path)


def four_channel_models() -> list[tuple[bytes, str]]:
    """Multiplier 1 on four or eight channels with one 16-tap group (mve_dw_dot.c's
    MVE_DW_DOT_PAIRS4 / 8: one or two channel groups per pair of pixels, written out):
    dm4_32x20x1's 16x10x4 and tiny10x10_c8's 10x10x8 3x3 layers, stride 2 across, odd
    widths (a last pixel alone), a channel whose shift is 0, per tensor, and left shifts
    (the C loops)."""
    cases = [((16, 10, 4), (3, 3), 1, "same", False, None),
             ((13, 17, 4), (3, 3), 2, "same", True, None),
             ((11, 9, 4), (4, 3), 1, "valid", False, _unshifted),
             ((9, 12, 4), (3, 5), 1, "same", False, _left_shifted),
             ((10, 10, 8), (3, 3), 1, "same", False, None),
             ((9, 15, 8), (2, 3), 2, "valid", True, None),
             ((12, 11, 8), (3, 3), 1, "same", False, _unshifted)]
    return _depthwise_cases(cases, seed=90, multiplier=1, relu_on_odd=False)


@pytest.mark.qemu
@needs_qemu
def test_mve_four_channel_depthwise_matches_tflite_micro(tmp_path: Path) -> None:
    """The four- and eight-channel pair loops and their neighbours bit-exact with TFLite
    Micro."""
    assert_m55_matches_tflm(four_channel_models(), 2, 17, tmp_path)


def micro_speech_like_model(width: int) -> tuple[bytes, str]:
    """micro_speech's layer shape (10x8 window, stride 2, same, x8) on a 49 x `width`
    input: five tap groups per pixel, the strip's rows far apart (46 bytes) for the
    8-bit gather offsets, and with an odd output width."""
    import tf_keras as keras

    keras.utils.set_random_seed(5)
    L = keras.layers
    shape = (49, width, 1)
    inp = keras.Input(shape, batch_size=1)
    y = L.DepthwiseConv2D((10, 8), strides=2, padding="same", depth_multiplier=8,
                          activation="relu")(inp)
    return convert_int8(keras.Model(inp, y), shape, 9), f"{shape}: dw 10x8 s2 same x8"


@pytest.mark.qemu
@needs_qemu
def test_mve_one_channel_wide_windows_match_tflite_micro(tmp_path: Path) -> None:
    """micro_speech's layer shape at widths 40 (its own) and 37 (odd output width)."""
    models = [micro_speech_like_model(40), micro_speech_like_model(37)]
    assert_m55_matches_tflm(models, 2, 3, tmp_path)
