"""Batch-norm folding: the folded model computes the numpy batch-norm formula, and a QAT
model's stored kernel is the folded, quantized one."""

import numpy as np
import pytest
import tf_keras as keras

import models
import quant_configs as qc

RNG = np.random.default_rng(5)


def _randomize_batchnorm(model: keras.Model) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([RNG.uniform(0.5, 3.0, n), RNG.normal(size=n),
                               RNG.normal(size=n), RNG.uniform(0.2, 2.0, n)])


@pytest.mark.parametrize("name,shape", [("dnn250k", (620,)), ("ds_cnn", (49, 10)),
                                        ("cnn", (98, 40))])
def test_folded_model_computes_what_the_model_computes_in_inference(name, shape):
    keras.utils.set_random_seed(2)
    model = models.builder(name)(shape, 12)
    _randomize_batchnorm(model)
    folded = qc.fold_batchnorm(model)
    kinds = [type(layer).__name__ for layer in folded.layers]
    assert "BatchNormalization" not in kinds
    x = RNG.normal(size=(4, *shape)).astype(np.float32)
    np.testing.assert_allclose(folded(x, training=False).numpy(),
                               model(x, training=False).numpy(), rtol=1e-4, atol=1e-5)


def test_folded_dense_kernel_and_bias_follow_the_formula():
    keras.utils.set_random_seed(3)
    model = models.builder("dnn250k")((620,), 12)
    _randomize_batchnorm(model)
    folded = qc.fold_batchnorm(model)
    w = model.get_layer("dense1").kernel.numpy().astype(np.float64)
    gamma, beta, mean, var = (v.astype(np.float64) for v in model.get_layer("bn1").get_weights())
    k = gamma / np.sqrt(var + model.get_layer("bn1").epsilon)
    np.testing.assert_allclose(folded.get_layer("dense1").kernel.numpy(), w * k, rtol=1e-6)
    np.testing.assert_allclose(folded.get_layer("dense1").bias.numpy(), beta - mean * k,
                               rtol=1e-5, atol=1e-6)


def test_model_without_batchnorm_is_returned_unchanged():
    model = models.builder("svd_dnn")()
    assert qc.fold_batchnorm(model) is model


def test_qat_model_quantizes_the_folded_kernel():
    """The grid the QAT model trains is on W * gamma / sqrt(var + eps): what TFLite stores."""
    keras.utils.set_random_seed(4)
    model = models.builder("dnn250k")((620,), 12)
    _randomize_batchnorm(model)
    qat = qc.quantize_model(model, "tanh-w4", "weights")
    assert not any("bn" in layer.name for layer in qat.layers)
    folded = qc.fold_batchnorm(model)
    kernels = qc.quantized_weights(qat)
    grids = qc.weight_grids(qat)
    w = folded.get_layer("dense1").kernel.numpy()
    t = np.tanh(w) / np.abs(np.tanh(w)).max() * np.abs(w).max()
    s = np.abs(t).max() / 7
    np.testing.assert_allclose(kernels["dense1"], s * np.clip(np.round(t / s), -7, 7),
                               rtol=1e-5, atol=1e-7)
    assert grids["dense1"].scales[0] == pytest.approx(s, rel=1e-6)
