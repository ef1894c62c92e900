"""Every quantization scheme converts to a .tflite that LiteRT and TFLite Micro run like Keras.

Models are short QAT runs of the seed-003 SVD DNN on separable synthetic clusters (so
the network is confident and argmax agreement is meaningful). The flatbuffer is checked
against quant_configs' own description of the trained grid, not against the post-pass.
``trained(scheme)`` is shared with the verify and inspect tests.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

INPUT = 620
CLASSES = 12


def clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around fixed class centres: learnable in a couple of epochs."""
    centres = np.random.default_rng(1234).normal(size=(CLASSES, INPUT))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n).astype(np.int32)
    x = centres[y] + rng.normal(size=(n, INPUT))
    return x.astype(np.float32), y


@functools.cache
def _float_weights() -> tuple:
    """One float pre-training shared by every scheme (the QAT stages differ)."""
    import tf_keras as keras

    import models

    keras.utils.set_random_seed(0)
    x, y = clusters(384, seed=1)
    model = models.builder("svd_dnn")(input_shape=(INPUT,), num_classes=CLASSES)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    return tuple(model.get_weights())


@functools.cache
def trained(scheme: str):
    """(float model, final QAT model, converted bytes, test x, test y) for ``scheme``."""
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.tflite import convert

    x, y = clusters(384, seed=1)
    build = models.builder("svd_dnn")
    float_model = build(input_shape=(INPUT,), num_classes=CLASSES)
    float_model.set_weights(list(_float_weights()))
    keras.utils.set_random_seed(0)
    model = float_model
    stages = quant_configs.get_scheme(scheme).stages
    for stage in stages:
        model = quant_configs.quantize_model(float_model, scheme, stage)
        model.compile(keras.optimizers.Adam(5e-4), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        if stage != stages[-1]:
            quant_configs.copy_float_weights(model, float_model)
    graph = build(input_shape=(INPUT,), num_classes=CLASSES)
    data = convert.convert_qat(model, scheme, x[:100], graph)
    xt, yt = clusters(300, seed=2)
    return float_model, model, data, xt, yt


def _schemes() -> list[str]:
    import quant_configs

    return list(quant_configs.SCHEMES)


def _weight_ops(data: bytes):
    from pipeline.tflite import schema as tfs

    model = tfs.load(data)
    sg = model.subgraphs[0]
    out = {}
    for op in sg.operators:
        if tfs.op_name(model, op) == "FULLY_CONNECTED":
            w = sg.tensors[op.inputs[1]]
            name = next(p for p in tfs.tensor_name(w).replace(";", "/").split("/")
                        if p.removeprefix("quant_") in
                        ("bottleneck1", "hidden1", "bottleneck2", "hidden2", "bottleneck3",
                         "hidden3", "output"))
            out[name.removeprefix("quant_")] = (model, sg, op, w)
    return out


@pytest.mark.parametrize("scheme", _schemes())
def test_scheme_runs_in_litert_and_tflm_like_keras(scheme: str) -> None:
    from pipeline.errors import KwsqError
    from pipeline.tflite import verify

    _, model, data, x, y = trained(scheme)
    result = verify.compare(data, model, x, y)
    assert result.keras_accuracy > 0.8, "the test model did not learn; agreement would be noise"
    assert result.litert_agreement >= 0.99
    if verify.hybrid_ops(data):
        # TFLite Micro has no hybrid kernels: it must refuse, not compute something else.
        with pytest.raises(KwsqError, match="TFLite Micro cannot load"):
            verify.run_tflm(data, x[:1])
    else:
        assert result.tflm_agreement is not None and result.tflm_agreement >= 0.99


@pytest.mark.parametrize("scheme", _schemes())
def test_scheme_stores_its_trained_weight_grid(scheme: str) -> None:
    import quant_configs
    from pipeline.tflite import schema as tfs

    _, model, data, _, _ = trained(scheme)
    grids = quant_configs.weight_grids(model)
    values = quant_configs.quantized_weights(model)
    ops = _weight_ops(data)
    assert len(ops) == 7
    if scheme == "float":
        assert not grids
        assert all(w.type == tfs.TensorType.FLOAT32 for _, _, _, w in ops.values())
        return
    assert set(grids) == set(ops)
    for name, grid in grids.items():
        fb, _, op, w = ops[name]
        expected = tfs.TensorType.INT4 if grid.bits <= 4 else tfs.TensorType.INT8
        assert w.type == expected, f"{name}: {tfs.TYPE_NAMES[w.type]} for {grid.bits} bits"
        q = tfs.quant(w)
        assert q.per_channel == grid.per_channel
        np.testing.assert_allclose(q.scales, np.asarray(grid.scales).reshape(-1), rtol=1e-6)
        if grid.power_of_two:
            mantissas = np.frexp(q.scales.astype(np.float64))[0]
            assert np.all(mantissas == 0.5), f"{name}: scales not powers of two"
        # stored integers x stored scales reproduce the QAT model's weights
        stored = tfs.tensor_values(fb, w).astype(np.float64)
        restored = stored * q.scales.astype(np.float64).reshape(-1, 1)
        np.testing.assert_allclose(restored, values[name].T, atol=1e-6 * np.abs(values[name]).max())
        assert np.abs(stored).max() <= max(1, 2 ** (grid.bits - 1) - 1)


@pytest.mark.parametrize("scheme", ["dyn-w4", "dyn-w8"])
def test_dynamic_schemes_convert_to_hybrid_per_row_fully_connected(scheme: str) -> None:
    from pipeline.tflite import schema as tfs

    _, _, data, _, _ = trained(scheme)
    model = tfs.load(data)
    sg = model.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].type == tfs.TensorType.FLOAT32
    for _fb, sg, op, w in _weight_ops(data).values():
        assert sg.tensors[op.inputs[0]].type == tfs.TensorType.FLOAT32  # float activations
        assert tfs.quant(w).per_channel
        assert op.builtinOptions.asymmetricQuantizeInputs


def test_four_bit_svd_dnn_is_at_most_a_fifth_of_the_float_tflite() -> None:
    from pipeline.tflite import convert

    float_model, _, data, _, _ = trained("w4a8")
    float_bytes = len(convert.convert_float(float_model))
    assert len(data) <= 0.20 * float_bytes, (len(data), float_bytes)
