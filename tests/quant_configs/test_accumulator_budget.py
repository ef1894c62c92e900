"""The accumulator budget (fixed-point QAT over transient variables): with ``fxp*-acc16`` every
proven partial-sum bound of the converted model fits a 16-bit accumulator.

References: the integer kernels' channel sums computed with numpy from the quantizer's
output, and the bound that ``pipeline/tflite/accumulators.py`` proves from the flatbuffer.
"""

from __future__ import annotations

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from quant_configs.quantizers import WeightQuantizer

BUDGET = 32767 // 255  # 128: 255 * 128 = 32640 <= 32767


def _levels(qz: WeightQuantizer, w: np.ndarray) -> np.ndarray:
    out = qz.quantize(w).numpy().astype(np.float64)
    s = np.asarray(qz.scale(qz.transform(w)).numpy(), np.float64)
    levels = out / s
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-6)  # on the grid
    return np.round(levels)


def _sums(levels: np.ndarray, depthwise: bool) -> tuple[np.ndarray, np.ndarray]:
    a = levels.reshape(-1, levels.shape[-2] * levels.shape[-1]) if depthwise else (
        levels.reshape(-1, levels.shape[-1]))
    return np.clip(a, 0, None).sum(axis=0), np.clip(-a, 0, None).sum(axis=0)


@pytest.mark.parametrize("shape,per_channel,depthwise", [
    ((3, 3, 16, 8), True, False),  # Conv2D, per-channel power-of-two steps
    ((3, 3, 8, 1), False, True),  # DepthwiseConv2D, one step for the tensor
    ((400, 10), False, False),  # Dense, one step
    ((400, 10), True, False),  # Dense, per column
])
@pytest.mark.parametrize("bits", [4, 8])
def test_channel_sums_fit_the_budget(shape, per_channel, depthwise, bits) -> None:
    rng = np.random.default_rng(bits)
    w = rng.normal(0.0, 0.3, size=shape).astype(np.float32)
    w[..., 0] = np.abs(w[..., 0])  # a one-signed channel
    plain = WeightQuantizer(bits, per_channel, squash=True, power_of_two=True,
                            depthwise=depthwise)
    fitted = WeightQuantizer(bits, per_channel, squash=True, power_of_two=True,
                             accumulator_bits=16, depthwise=depthwise)
    assert fitted.accumulator_budget == BUDGET
    pos, neg = _sums(_levels(plain, w), depthwise)
    taps = int(np.prod(shape[:2])) if depthwise else int(np.prod(shape[:-1]))
    over = taps * (2 ** (bits - 1) - 1) > 2 * BUDGET  # (9 taps of 4 bits always fit: 63)
    if over:
        assert np.max(np.maximum(pos, neg)) > BUDGET  # without the option: too big
    fitted_levels = _levels(fitted, w)
    pos, neg = _sums(fitted_levels, depthwise)
    assert np.max(np.maximum(pos, neg)) <= BUDGET
    # power-of-two steps stay powers of two
    s = np.atleast_1d(fitted.scale(fitted.transform(w)).numpy())
    assert np.all(np.frexp(s.astype(np.float64))[0] == 0.5)
    # the penalty is positive while the float weights are over budget
    assert (float(fitted.accumulator_loss(w)) > 0) == over
    assert float(plain.regularization_loss(w)) == 0.0


def test_accumulator_budget_needs_a_symmetric_grid() -> None:
    with pytest.raises(ValueError, match="accumulator budget"):
        WeightQuantizer(4, per_channel=True, minmax=True, accumulator_bits=16)
    with pytest.raises(ValueError, match="accumulator budget"):
        WeightQuantizer(1, accumulator_bits=16)


@pytest.mark.slow
@pytest.mark.parametrize("model_name,params,shape", [
    ("cnn", {"channels": (8, 16)}, (32, 20)),
    ("ds_cnn", {"filters": 16, "blocks": 2}, (49, 10)),
])
def test_trained_fxp8_acc16_model_proves_16_bit_accumulators(model_name, params,
                                                            shape) -> None:
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.tflite import convert
    from pipeline.tflite.accumulators import bounds

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, *shape))
    y = rng.integers(0, 4, 256).astype(np.int32)
    x = (centres[y] + 0.5 * rng.normal(size=(256, *shape))).astype(np.float32)
    keras.utils.set_random_seed(0)
    float_model = models.builder(model_name)(shape, 4, **params)
    float_model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    float_model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    float_model = quant_configs.fold_batchnorm(float_model)
    worst = {}
    for scheme in ("fxp8", "fxp8-acc16"):
        qat = quant_configs.quantize_model(float_model, scheme, "all")
        qat.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy")
        qat.fit(x, y, epochs=2, batch_size=32, verbose=0)
        data = convert.convert_qat(qat, scheme, x[:32], models.builder(model_name)(
            shape, 4, **params))
        ops = bounds(data)["operators"]
        assert ops, "no integer weight operator found"
        worst[scheme] = max(op["partial_sum_bound"] for op in ops)
    assert worst["fxp8"] > 32767  # the plain 8-bit model needs wider accumulators
    assert worst["fxp8-acc16"] <= 32767
