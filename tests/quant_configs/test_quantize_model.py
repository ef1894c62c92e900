"""quantize_model on svd_dnn/dnn250k: the kernels the QAT model computes with sit on k-bit
grids after training, gradients reach every float kernel, float weights transfer both ways."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import models
import quant_configs as qc
from models import dnn250k, svd_dnn
from pipeline.errors import KwsqError

RNG = np.random.default_rng(3)
X = RNG.standard_normal((128, 620)).astype(np.float32)
Y = RNG.integers(0, 12, 128)


def _short(var: tf.Variable) -> str:
    return var.name.split("/")[-1]


def _loss(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tf.Tensor:
    out = model(x, training=True)
    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, out))
    return loss + tf.add_n(model.losses) if model.losses else loss


def _short_qat(model: keras.Model, steps: int = 3) -> keras.Model:
    """A few eager QAT steps (no model.fit: tracing the QAT graph costs more than this)."""
    optimizer = keras.optimizers.Adam(1e-2)
    for i in range(steps):
        batch = slice(32 * i, 32 * (i + 1))
        with tf.GradientTape() as tape:
            loss = _loss(model, X[batch], Y[batch])
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
    return model


@pytest.fixture(scope="module")
def float_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return svd_dnn.build()


def test_float_scheme_returns_model_unchanged(float_model):
    assert qc.quantize_model(float_model, "float", "all") is float_model


def test_unknown_stage_is_a_kwsq_error(float_model):
    with pytest.raises(KwsqError, match="weights"):
        qc.quantize_model(float_model, "int8", "weights")


@pytest.mark.parametrize("scheme,stage", [
    ("w4-8", "all"), ("tanh-w1", "weights"), ("tanh-w5", "weights"), ("dyn-w4", "all"),
    ("fxp4", "all"),
])
def test_kernels_have_at_most_2k_minus_1_values_per_channel_after_qat(
    float_model, scheme, stage
):
    qat = _short_qat(qc.quantize_model(float_model, scheme, stage))
    spec = qc.get_scheme(scheme)
    kernels = qc.quantized_weights(qat)
    assert set(kernels) == {"bottleneck1", "hidden1", "bottleneck2", "hidden2",
                            "bottleneck3", "hidden3", "output"}
    roles = models.layer_roles("svd_dnn")
    for name, kernel in kernels.items():
        rule = spec.weight_rule("Dense", roles.get(name))
        bits = rule.bits
        limit = 2 if bits == 1 else 2**bits if rule.minmax else 2**bits - 1
        for column in kernel.T:
            assert len(np.unique(column)) <= limit, (name, bits)
        if not rule.per_channel:
            assert len(np.unique(kernel)) <= limit, (name, bits)


def test_weights_stage_forward_pass_uses_the_quantized_kernels(float_model):
    qat = qc.quantize_model(float_model, "tanh-w4", "weights")
    kernels = qc.quantized_weights(qat)
    h = X[:8].astype(np.float64)
    for layer in float_model.layers[1:]:
        bias = layer.bias.numpy()
        h = h @ kernels[layer.name] + bias
        if layer.name.startswith("hidden"):
            h = 1 / (1 + np.exp(-h))
    want = np.exp(h - h.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(qat.predict(X[:8], verbose=0), want, atol=1e-5)


@pytest.mark.parametrize("scheme", ["tanh-w1", "dyn-w4", "fxp4"])
def test_gradients_reach_every_float_kernel(float_model, scheme):
    qat = qc.quantize_model(float_model, scheme, "all")
    kernels = [v for v in qat.trainable_weights if _short(v).startswith("kernel")]
    assert len(kernels) == 7
    with tf.GradientTape() as tape:
        loss = _loss(qat, X[:32], Y[:32])
    for grad in tape.gradient(loss, kernels):
        assert grad is not None and np.count_nonzero(grad.numpy()) > 0.9 * np.size(grad)


def test_fxp_regularizer_is_in_model_losses_with_its_formula(float_model):
    qat = qc.quantize_model(float_model, "fxp4", "all")
    want = 0.0
    for layer in float_model.layers[1:]:
        w = layer.kernel.numpy().astype(np.float64)
        t = np.tanh(w) / np.abs(np.tanh(w)).max() * np.abs(w).max()
        step = 2.0 ** np.ceil(np.log2(np.abs(w).max() / 7))
        want += qc.schemes.ABS_COSINE_LAMBDA * np.mean(1 - np.abs(np.cos(np.pi * t / step)))
    assert float(tf.add_n(qat.losses)) == pytest.approx(want, rel=1e-4)


def test_copy_float_weights_moves_parameters_both_ways():
    keras.utils.set_random_seed(1)
    float_model = dnn250k.build()
    qat = _short_qat(qc.quantize_model(float_model, "tanh-w4", "weights"))
    # QAT models carry batch-norm folded into the kernels, as kwsq train's float model
    # does after the float stage.
    fresh = qc.fold_batchnorm(dnn250k.build())
    qc.copy_float_weights(qat, fresh)
    for layer in fresh.layers:
        if not layer.weights:
            continue
        wrapped = qat.get_layer(f"quant_{layer.name}")
        got = {_short(v): v.numpy() for v in layer.weights}
        want = {_short(v): v.numpy() for v in wrapped.weights if _short(v) in got}
        assert got.keys() == want.keys()
        for key in got:
            np.testing.assert_array_equal(got[key], want[key])
    stage2 = qc.quantize_model(fresh, "tanh-w4", "all")
    np.testing.assert_array_equal(stage2.get_layer("quant_dense1").weights[0].numpy(),
                                  fresh.get_layer("dense1").kernel.numpy())


def test_copy_float_weights_rejects_mismatched_models(float_model):
    with pytest.raises(KwsqError, match="bottleneck1|features|layer"):
        qc.copy_float_weights(dnn250k.build(), float_model)


def test_calibrate_sets_ranges_without_touching_float_parameters():
    float_model = dnn250k.build()
    qat = qc.quantize_model(float_model, "int8", "all")
    before = {v.name: v.numpy() for v in qat.weights if "min" not in v.name
              and "max" not in v.name and "optimizer_step" not in v.name}
    ranges_before = [v.numpy() for v in qat.weights if v.name.endswith("max:0")]
    qc.calibrate(qat, [X[:64], X[64:]])
    for v in qat.weights:
        if v.name in before:
            np.testing.assert_array_equal(v.numpy(), before[v.name])
    ranges_after = [v.numpy() for v in qat.weights if v.name.endswith("max:0")]
    assert any(not np.array_equal(a, b) for a, b in zip(ranges_before, ranges_after,
                                                           strict=True))
