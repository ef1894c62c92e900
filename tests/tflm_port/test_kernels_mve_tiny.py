"""Cortex-M55 (kernels/mve) paths for small models and per-op fixed costs, against
TFLite Micro under QEMU.

The M55 softmax computes each value's exp once (kernels/mve/kwsq_softmax_s8.c: up
to 256 kept on the stack, the rest recomputed), so the models here have softmax
depths on both sides of 256, several rows, and logits wide enough that some fall
below the reference's diff_min cut-off (their exp counts as 0). Every model runs
several inputs in one firmware, so state kept across inferences (the persistent
per-layer records of the small-field convolution, computed at the first Eval) is
checked on inferences after the first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from runtime_refs import (
    assert_m55_matches_tflm,
    convert_int8,
)

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)")






def softmax_models(seed: int) -> list[tuple[bytes, str]]:
    """Dense -> softmax on 2-300 classes over 1-3 rows, the dense weights scaled up 1-60x
    so that the logits' scale (and with it the exp cut-off diff_min) varies: at 60x
    the logits span hundreds, so differences pass the cut-off."""
    import tf_keras as keras

    rng = np.random.default_rng(seed)
    L = keras.layers
    out = []
    for i, depth in enumerate((2, 12, 255, 256, 257, 300)):
        keras.utils.set_random_seed(seed + i)
        rows, feat = int(rng.integers(1, 4)), int(rng.integers(3, 20))
        inp = keras.Input((rows, feat), batch_size=1)
        dense = L.Dense(depth)
        x = dense(inp)
        gain = (1.0, 60.0, 8.0, 60.0, 1.0, 60.0)[i]
        dense.set_weights([w * gain for w in dense.get_weights()])
        model = keras.Model(inp, L.Softmax()(x))
        desc = f"{rows} x {feat} -> {depth} classes, gain {gain}"
        out.append((convert_int8(model, (rows, feat), 80 + i), desc))
    return out


@pytest.mark.qemu
@needs_qemu
def test_mve_softmax_keeps_exps_and_matches_tflite_micro(tmp_path: Path) -> None:
    """Softmax depths below, at and past the kept exps, several rows, cut-off logits."""
    assert_m55_matches_tflm(softmax_models(5), 3, 7, tmp_path)


def pool_models() -> list[tuple[bytes, str]]:
    """Average pools on 3, 8, 12, 16, 24 and 40 channels (the int16 passes: fewer than
    8 lanes, exactly 8, 8 plus a tail, whole groups of 16, a group plus 8, groups plus
    a tail): a global window (whole rows: one run of taps), windows clipped at the
    borders, and a window of whole rows with a stride (every row run of taps)."""
    import tf_keras as keras

    L = keras.layers
    out = []
    for i, ch in enumerate((3, 8, 12, 16, 24, 40)):
        keras.utils.set_random_seed(90 + i)
        shape = (7 + i, 5 + (i % 3), ch)
        inp = keras.Input(shape, batch_size=1)
        a = L.AveragePooling2D(shape[:2])(inp)
        b = L.AveragePooling2D(3, strides=2, padding="same")(inp)
        c = L.AveragePooling2D((2, shape[1]), strides=(2, 1))(inp)
        model = keras.Model(inp, L.Concatenate()([L.Flatten()(t) for t in (a, b, c)]))
        out.append((convert_int8(model, shape, 100 + i), f"avg pools on {shape}"))
    return out


@pytest.mark.qemu
@needs_qemu
def test_mve_average_pools_on_every_channel_pass_match_tflite_micro(tmp_path: Path) -> None:
    """Global, clipped and whole-row average pools on each channel-count pass."""
    assert_m55_matches_tflm(pool_models(), 2, 11, tmp_path)
