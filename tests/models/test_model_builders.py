"""The registered KWS models: parameter counts, input shapes from their FEATURES, and the
DS-CNN's layer shapes against MLPerf Tiny's reference .tflite."""


import numpy as np
import pytest
from tensorflow.lite.python import schema_py_generated as schema

import models
from models import cnn, dnn250k, ds_cnn, svd_dnn
from pipeline.data.features import FeatureConfig, input_shape
from pipeline.paths import ANCHOR_DIR

ANCHOR = ANCHOR_DIR / "mlperf_tiny_kws_ds_cnn_int8.tflite"


def _folded_params(model) -> int:
    """Parameters once batch-norm is folded into the preceding layer (what a .tflite holds)."""
    return sum(int(np.prod(w.shape)) for layer in model.layers for w in layer.weights
               if type(layer).__name__ != "BatchNormalization")


@pytest.mark.parametrize("name", ["svd_dnn", "dnn250k", "ds_cnn", "cnn"])
def test_model_builds_for_its_feature_front_end(name):
    module = models.module(name)
    shape = input_shape(FeatureConfig.from_dict(module.FEATURES))
    model = module.build(shape, 12)
    x = np.random.default_rng(0).standard_normal((3, *shape)).astype(np.float32)
    probs = model(x).numpy()
    assert probs.shape == (3, 12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_svd_dnn_has_the_low_bit_papers_50k_parameters():
    # 3 x (620|128 -> 39 -> 128) + 128 -> 12, each with bias
    want = (620 * 39 + 39) + 2 * (128 * 39 + 39) + 3 * (39 * 128 + 128) + 128 * 12 + 12
    assert svd_dnn.build().count_params() == want == 51_189


def test_dnn250k_has_250k_parameters():
    model = dnn250k.build()
    want = 620 * 200 + 3 * 200 * 200 + 4 * 4 * 200 + 200 * 12 + 12
    assert model.count_params() == want
    assert abs(want - 250_000) <= 0.05 * 250_000


def test_cnn_parameter_count():
    want = 9 * 16 + 9 * 16 * 32 + 2 * 9 * 32 * 32 + 4 * (16 + 3 * 32) + 32 * 12 + 12
    assert cnn.build().count_params() == want == 24_028


def _anchor_weight_shapes() -> list[tuple[int, ...]]:
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(ANCHOR.read_bytes(), 0))
    graph = model.subgraphs[0]
    ops = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D,
           schema.BuiltinOperator.FULLY_CONNECTED}
    shapes = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        # files from older converters keep the op in deprecatedBuiltinCode
        if max(code.builtinCode, code.deprecatedBuiltinCode) in ops:
            shapes.append(tuple(graph.tensors[op.inputs[1]].shape))
            shapes.append(tuple(graph.tensors[op.inputs[2]].shape))
    return shapes


@pytest.mark.skipif(not ANCHOR.is_file(), reason=f"MLPerf Tiny's DS-CNN .tflite is not in "
                    f"{ANCHOR_DIR} (third-party anchor models sit beside a development checkout)")
def test_ds_cnn_matches_mlperf_tiny_reference_layer_by_layer():
    model = ds_cnn.build()
    shapes = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":  # TFLite: (out, h, w, in)
            shapes.append(tuple(np.transpose(layer.kernel, (3, 0, 1, 2)).shape))
        elif kind == "DepthwiseConv2D":  # TFLite: (1, h, w, channels)
            shapes.append((1, *layer.depthwise_kernel.shape[:2],
                           layer.depthwise_kernel.shape[2]))
        elif kind == "Dense":  # TFLite: (out, in)
            shapes.append(tuple(layer.kernel.shape[::-1]))
        else:
            continue
        shapes.append(tuple(layer.bias.shape))
    assert shapes == _anchor_weight_shapes()
    assert _folded_params(model) == ds_cnn.FOLDED_PARAMS == 22_604


def test_svd_factoring_is_the_truncated_svd_of_each_full_rank_layer():
    """The paper introduces SVD bottlenecks into a trained full-rank DNN: each pair's
    product must be numpy's best rank-39 approximation, and a rank <= 39 layer is exact."""
    import numpy as np

    from models import svd_dnn

    rng = np.random.default_rng(0)
    full = svd_dnn.build_full_rank((620,), 12)
    low = rng.normal(size=(620, 20)) @ rng.normal(size=(20, 128)) * 0.05  # rank 20
    full.get_layer("full1").set_weights([low.astype(np.float32),
                                         rng.normal(size=128).astype(np.float32)])
    model = svd_dnn.build((620,), 12)
    svd_dnn.factor_full_rank(full, model)
    for i in (1, 2, 3):
        w = full.get_layer(f"full{i}").kernel.numpy().astype(np.float64)
        u, s, vt = np.linalg.svd(w, full_matrices=False)
        best = (u[:, :39] * s[:39]) @ vt[:39]
        product = (model.get_layer(f"bottleneck{i}").kernel.numpy().astype(np.float64)
                   @ model.get_layer(f"hidden{i}").kernel.numpy())
        np.testing.assert_allclose(product, best, atol=1e-5)
    # layer 1 has rank 20: its pair computes exactly what the full-rank layer computes
    x = rng.normal(size=(5, 620)).astype(np.float32)
    h_full = full.get_layer("full1")(x).numpy()
    h_svd = model.get_layer("hidden1")(model.get_layer("bottleneck1")(x)).numpy()
    np.testing.assert_allclose(h_svd, h_full, atol=1e-5)
