"""Every quantization scheme converts to a .tflite that LiteRT and TFLite Micro run like Keras.

Models are short QAT runs of the seed-003 SVD DNN on separable synthetic clusters (so
the network is confident and argmax agreement is meaningful). The flatbuffer is checked
against quant_configs' own description of the trained grid, not against the post-pass.
``trained(scheme)`` (conftest.py) is shared with the verify and inspect tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def _schemes() -> list[str]:
    """Schemes with a .tflite form (dyn-w16 is Keras-only: no 16-bit weight kernels)."""
    import quant_configs

    return [s for s, spec in quant_configs.SCHEMES.items() if spec.conversion != "keras"]


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
def test_scheme_runs_in_litert_and_tflm_like_keras(scheme: str, trained) -> None:
    import quant_configs
    from pipeline.errors import KwsqError
    from pipeline.tflite import verify

    _, model, data, x, y = trained(scheme)
    result = verify.compare(data, model, x, y)
    assert result.keras_accuracy > 0.8, "the test model did not learn; agreement would be noise"
    # 1-bit weights leave more outputs on near-ties, where a rounding step flips the argmax
    # (lin-w1 measured 98.7% on these 300 samples)
    bound = 0.98 if quant_configs.get_scheme(scheme).weight_bits == 1 else 0.99
    assert result.litert_agreement >= bound
    if verify.hybrid_ops(data):
        # TFLite Micro has no hybrid kernels: it must refuse, not compute something else.
        with pytest.raises(KwsqError, match="TFLite Micro cannot load"):
            verify.run_tflm(data, x[:1])
    else:
        assert result.tflm_agreement is not None and result.tflm_agreement >= bound


@pytest.mark.parametrize("scheme", _schemes())
def test_scheme_stores_its_trained_weight_grid(scheme: str, trained) -> None:
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
        # min-max grids keep q - z in an int8 container; symmetric <= 4-bit ones pack INT4
        packed = grid.bits <= 4 and not grid.asymmetric
        expected = tfs.TensorType.INT4 if packed else tfs.TensorType.INT8
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
        assert np.abs(stored).max() <= grid.max_level


@pytest.mark.parametrize("scheme", ["dyn-w4", "dyn-w4-sym", "dyn-w8", "dyn-w4-8"])
def test_dynamic_schemes_convert_to_hybrid_per_row_fully_connected(scheme: str, trained) -> None:
    from pipeline.tflite import schema as tfs

    _, _, data, _, _ = trained(scheme)
    model = tfs.load(data)
    sg = model.subgraphs[0]
    assert sg.tensors[sg.inputs[0]].type == tfs.TensorType.FLOAT32
    for _fb, sg, op, w in _weight_ops(data).values():
        assert sg.tensors[op.inputs[0]].type == tfs.TensorType.FLOAT32  # float activations
        assert tfs.quant(w).per_channel
        assert op.builtinOptions.asymmetricQuantizeInputs


def test_four_bit_svd_dnn_is_at_most_a_fifth_of_the_float_tflite(trained) -> None:
    from pipeline.tflite import convert

    float_model, _, data, _, _ = trained("w4a8")
    float_bytes = len(convert.convert_float(float_model))
    assert len(data) <= 0.20 * float_bytes, (len(data), float_bytes)
