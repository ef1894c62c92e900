"""Each quantizer against a numpy re-implementation of its formula, its straight-through
gradient and its get_config round trip."""

import math

import numpy as np
import pytest
import tensorflow as tf

import quant_configs  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
from quant_configs.configs import LayerQuantizeConfig
from quant_configs.quantizers import (
    DynamicRangeQuantizer,
    PowerOfTwoActivationQuantizer,
    WeightQuantizer,
)

RNG = np.random.default_rng(7)
W = (RNG.standard_normal((48, 10)) * 0.3).astype(np.float32)


def ref_weights(w, bits, per_channel=False, squash=False, power_of_two=False):
    w = w.astype(np.float64)
    if squash:
        t = np.tanh(w) / np.abs(np.tanh(w)).max() * np.abs(w).max()
    else:
        t = w
    axis = tuple(range(w.ndim - 1)) if per_channel else None
    if bits == 1:
        a = np.abs(t).mean(axis=axis)
        return np.where(t >= 0, a, -a)
    q = 2 ** (bits - 1) - 1
    s = np.abs(t).max(axis=axis) / q
    if power_of_two:
        s = 2.0 ** np.ceil(np.log2(s))
    return s * np.clip(np.round(t / s), -q, q)


@pytest.mark.parametrize(
    "bits,per_channel,squash,power_of_two",
    [(8, False, False, False), (4, False, False, False), (5, False, False, False),
     (4, True, False, False), (2, False, True, False), (4, False, True, False),
     (1, False, True, False), (4, False, True, True), (8, False, False, True)],
)
def test_weight_quantizer_matches_numpy_formula(bits, per_channel, squash, power_of_two):
    quantizer = WeightQuantizer(bits, per_channel, squash, power_of_two)
    got = quantizer.quantize(tf.constant(W)).numpy()
    want = ref_weights(W, bits, per_channel, squash, power_of_two)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_per_channel_conv_kernel_matches_numpy_formula():
    kernel = (RNG.standard_normal((3, 3, 4, 6)) * 0.2).astype(np.float32)
    got = WeightQuantizer(4, per_channel=True).quantize(tf.constant(kernel)).numpy()
    np.testing.assert_allclose(got, ref_weights(kernel, 4, per_channel=True), rtol=1e-5,
                               atol=1e-7)


def test_weight_gradient_is_straight_through():
    w = tf.Variable(W)
    upstream = RNG.standard_normal(W.shape).astype(np.float32)
    for quantizer in (WeightQuantizer(4), WeightQuantizer(4, per_channel=True),
                      WeightQuantizer(1, squash=True)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(quantizer.quantize(w) * upstream)
        grad = tape.gradient(loss, w).numpy()
        if quantizer.squash:
            # d/dw of tanh(w) * max|w| / max|tanh(w)| with the two maxima held constant
            scale = np.abs(W).max() / np.abs(np.tanh(W)).max()
            np.testing.assert_allclose(grad, upstream * (1 - np.tanh(W) ** 2) * scale,
                                       rtol=1e-4)
        else:
            np.testing.assert_allclose(grad, upstream, rtol=1e-6)


def test_absolute_cosine_regularizer_matches_formula_and_vanishes_on_grid():
    quantizer = WeightQuantizer(4, power_of_two=True, regularization=0.5)
    s = ref_weights(W, 4, power_of_two=True)
    step = 2.0 ** np.ceil(np.log2(np.abs(W).max() / 7))
    want = 0.5 * np.mean(1 - np.abs(np.cos(math.pi * W / step)))
    got = float(quantizer.regularization_loss(tf.constant(W)))
    assert got == pytest.approx(want, rel=1e-5)
    assert float(quantizer.regularization_loss(tf.constant(s, tf.float32))) < 1e-6


def test_power_of_two_activation_quantizer_matches_q_format():
    layer = tf.keras.layers.Layer()
    quantizer = PowerOfTwoActivationQuantizer(8)
    weights = quantizer.build((None, 20), "out", layer)
    x = (RNG.standard_normal((16, 20)) * 3).astype(np.float32)
    got = quantizer(tf.constant(x), True, weights).numpy()
    s = 2.0 ** np.ceil(np.log2(np.abs(x).max() / 128))
    want = s * np.clip(np.round(x / s), -128, 127)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert float(weights["abs_max"].numpy()) == pytest.approx(np.abs(x).max())
    # inference reuses the stored range
    np.testing.assert_allclose(quantizer(tf.constant(x), False, weights).numpy(), want)


def test_dynamic_quantizer_quantizes_each_frame_with_its_own_range():
    x = RNG.standard_normal((5, 30)).astype(np.float32) * np.arange(1, 6)[:, None]
    x[2] = np.abs(x[2])  # all-positive row: the range still includes 0
    got = DynamicRangeQuantizer(8).quantize(tf.constant(x)).numpy()
    # TFLite's AsymmetricQuantizeFloats (int8, shifted here to 0..255 by +128): scale in
    # double, zero point from the end with the smaller error, round half away from zero.
    want = np.empty_like(x)
    for r, row in enumerate(x):
        rmin, rmax = min(0.0, float(row.min())), max(0.0, float(row.max()))
        scale = (rmax - rmin) / 255.0
        zp = -128 - rmin / scale if 128 + abs(rmin / scale) < 127 + abs(rmax / scale) else (
            127 - rmax / scale)
        zp = int(np.clip(np.sign(zp) * np.floor(abs(zp) + 0.5), -128, 127))
        inv = np.float32(1.0) / np.float32(scale)
        v = np.float32(zp) + row * inv
        q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -128, 127)
        want[r] = np.float32(scale) * (q - zp)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for row in range(5):
        assert len(np.unique(got[row])) <= 256


def test_dynamic_quantizer_quantizes_each_frame_at_inference_too():
    """The deployed hybrid kernel quantizes every input row, so Keras inference must too;
    ``at_inference=False`` is the float-input variant kept for comparison."""
    x = tf.constant(RNG.standard_normal((3, 7)).astype(np.float32))
    q = DynamicRangeQuantizer(4)
    np.testing.assert_array_equal(q(x, False, {}).numpy(), q.quantize(x).numpy())
    assert not np.array_equal(q(x, False, {}).numpy(), x.numpy())
    np.testing.assert_array_equal(
        DynamicRangeQuantizer(4, at_inference=False)(x, False, {}).numpy(), x.numpy())


@pytest.mark.parametrize("bits", [2, 4, 7])
def test_minmax_columns_match_the_papers_formula(bits):
    """Each column on its own [min, max] (0 included), 2**k levels, integer zero point."""
    w = W.copy()
    w[:, 3] = np.abs(w[:, 3])  # one-signed column: its range is [0, max]
    w[:, 4] = w[:, 4] * 0.2 + 0.3 * (w[:, 4] < 0)  # skewed column
    got = WeightQuantizer(bits, per_channel=True, minmax=True).quantize(tf.constant(w)).numpy()
    lo = np.minimum(w.min(axis=0), 0).astype(np.float64)
    hi = np.maximum(w.max(axis=0), 0).astype(np.float64)
    s = (hi - lo) / (2**bits - 1)
    z = np.round(-lo / s)
    want = s * (np.clip(np.round(w / s) + z, 0, 2**bits - 1) - z)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # the min-max grid is finer than the symmetric one on the skewed column
    sym = WeightQuantizer(bits, per_channel=True).quantize(tf.constant(w)).numpy()
    assert np.abs(got[:, 4] - w[:, 4]).mean() < np.abs(sym[:, 4] - w[:, 4]).mean()


def test_one_bit_per_channel_conv_kernel_is_plus_minus_its_channel_mean():
    kernel = (RNG.standard_normal((3, 3, 2, 5)) * 0.2).astype(np.float32)
    got = WeightQuantizer(1, per_channel=True, squash=True).quantize(
        tf.constant(kernel)).numpy()
    np.testing.assert_allclose(got, ref_weights(kernel, 1, per_channel=True, squash=True),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("quantizer", [
    WeightQuantizer(5, per_channel=True, squash=True, power_of_two=True, regularization=0.1),
    PowerOfTwoActivationQuantizer(8),
    DynamicRangeQuantizer(8),
    DynamicRangeQuantizer(4, at_inference=False),
    WeightQuantizer(4, per_channel=True, minmax=True),
])
def test_quantizer_get_config_round_trips(quantizer):
    clone = type(quantizer).from_config(quantizer.get_config())
    assert clone == quantizer and clone.get_config() == quantizer.get_config()


def test_layer_config_get_config_round_trips_with_nested_quantizers():
    import tensorflow_model_optimization as tfmot

    config = LayerQuantizeConfig(
        {"kernel": WeightQuantizer(4, squash=True)},
        activation=tfmot.quantization.keras.quantizers.MovingAverageQuantizer(8, False, False,
                                                                              False),
        output=DynamicRangeQuantizer(8),
    )
    clone = LayerQuantizeConfig.from_config(config.get_config())
    assert clone.get_config() == config.get_config()
    assert clone.weights["kernel"] == WeightQuantizer(4, squash=True)
