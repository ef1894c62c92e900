"""Every full-integer scheme's QAT svd_dnn converts with TF's converter (int8 builtins), and
where the scheme's Dense grids are <= 4-bit per-tensor the .tflite holds exactly the trained grid:
packed INT4 codes times the stored scale equal the QAT model's kernel. Dynamic (hybrid)
schemes quantize inputs per frame, which int8 builtins cannot express: the scheme matrix
(test_scheme_matrix.py) converts them as hybrid models."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow.lite.python import schema_py_generated as schema

import quant_configs as qc
from models import svd_dnn
from quant_configs.quantizers import fake_quant_only

X = np.random.default_rng(9).random((8, 620)).astype(np.float32)


def _convert(model: keras.Model) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([X[i : i + 1]] for i in range(len(X)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def _int4_fc_weights(flatbuffer: bytes) -> list[np.ndarray]:
    """Dequantized INT4 weights of every FULLY_CONNECTED op, in graph order, as (in, out)."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    out = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex].builtinCode
        if code != schema.BuiltinOperator.FULLY_CONNECTED:
            continue
        tensor = graph.tensors[op.inputs[1]]
        assert tensor.type == schema.TensorType.INT4
        raw = np.frombuffer(bytes(model.buffers[tensor.buffer].data), dtype=np.uint8)
        nibbles = np.stack([raw & 0xF, raw >> 4], axis=1).reshape(-1).astype(np.int8)
        codes = np.where(nibbles > 7, nibbles - 16, nibbles)[: np.prod(tensor.shape)]
        scale = np.asarray(tensor.quantization.scale)
        assert list(tensor.quantization.zeroPoint) == [0] * len(scale)
        out.append((codes.reshape(tensor.shape) * scale[:, None]).T)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "scheme", [s for s in qc.SCHEMES if qc.get_scheme(s).conversion == "integer"])
def test_qat_svd_dnn_converts_to_int8_tflite(scheme):
    keras.utils.set_random_seed(0)
    qat = qc.quantize_model(svd_dnn.build(), scheme, qc.get_scheme(scheme).stages[-1])
    qc.calibrate(qat, [X])
    # as kwsq convert does: the fixed-point schemes' runtime rounding is for training only,
    # the converter must see the fake-quant ops alone
    with fake_quant_only():
        flatbuffer = _convert(qat)
    assert flatbuffer[4:8] == b"TFL3"
    if scheme in ("w4a8", "tanh-w1", "tanh-w2", "tanh-w4", "fxp4"):
        kernels = qc.quantized_weights(qat)
        names = ["bottleneck1", "hidden1", "bottleneck2", "hidden2", "bottleneck3", "hidden3",
                 "output"]
        for name, weights in zip(names, _int4_fc_weights(flatbuffer), strict=True):
            np.testing.assert_allclose(weights, kernels[name], rtol=1e-5, atol=1e-8)
