"""Models made by our TF 2.21 converter, one per op family, run bit-exact with
TFLite Micro; hybrid FULLY_CONNECTED (which TFLM lacks) matches LiteRT's
reference kernel within float rounding."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_refs import kwsq_run, random_inputs, tflm_run

from pipeline.tflite import schema as ts


def _ops_and_weight_types(model: bytes) -> tuple[set[str], set[int]]:
    m = ts.load(model)
    sg = m.subgraphs[0]
    ops = {ts.op_name(m, op) for op in sg.operators}
    types = {sg.tensors[op.inputs[1]].type for op in sg.operators
             if ts.op_name(m, op) in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")}
    return ops, types


CASES = {
    "dense_act": {"FULLY_CONNECTED", "TANH", "LOGISTIC"},
    "dense_softmax_float_io": {"QUANTIZE", "FULLY_CONNECTED", "SOFTMAX", "DEQUANTIZE"},
    "conv_family": {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
                    "MUL", "CONCATENATION", "RESHAPE"},
    "slice_pack": {"STRIDED_SLICE", "PACK", "RELU", "MUL", "ADD"},
    "dynamic_batch": {"SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "FULLY_CONNECTED"},
    "float_family": {"AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL", "CONCATENATION",
                     "FULLY_CONNECTED", "TANH", "LOGISTIC", "SOFTMAX"},
    "float_conv": {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"},
    "concat_relu6": {"FULLY_CONNECTED", "MUL", "CONCATENATION", "RELU6"},
    "dense_int4": {"FULLY_CONNECTED"},
    "conv_int4": {"CONV_2D"},
    "dw_int4": {"DEPTHWISE_CONV_2D"},
}


@pytest.mark.parametrize("kind", list(CASES))
def test_converted_model_is_bit_exact_with_tflite_micro(converted, kind: str) -> None:
    model = converted(kind)
    ops, weight_types = _ops_and_weight_types(model)
    assert CASES[kind] <= ops, f"the converter no longer emits {CASES[kind] - ops}"
    if kind.endswith("int4"):
        assert weight_types == {ts.TensorType.INT4}
    xs = random_inputs(model, 100, seed=11)
    ours, ref = kwsq_run(model, xs), tflm_run(model, xs)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b), f"sample {i}: {a.ravel()[:16]} != {b.ravel()[:16]}"
    assert len({o.tobytes() for o in ref}) > 1


@pytest.mark.parametrize("asymmetric", [True, False])
def test_hybrid_fully_connected_matches_litert_reference(converted, asymmetric: bool) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = converted("hybrid_dense")
    ops, weight_types = _ops_and_weight_types(model)
    assert ops == {"FULLY_CONNECTED"} and weight_types == {ts.TensorType.INT8}
    m = ts.load(model)
    for op in m.subgraphs[0].operators:
        op.builtinOptions.asymmetricQuantizeInputs = asymmetric
    model = ts.dump(m)
    xs = random_inputs(model, 50, seed=3)
    assert xs[0].dtype == np.float32
    lite = Interpreter(model_content=model,
                       experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    lite.allocate_tensors()
    i_in = lite.get_input_details()[0]["index"]
    i_out = lite.get_output_details()[0]["index"]
    for x, y in zip(xs, kwsq_run(model, xs), strict=True):
        lite.set_tensor(i_in, x)
        lite.invoke()
        ref = lite.get_tensor(i_out)
        # Same integer dot products; only the final float scaling may round
        # differently (measured: <= 2e-7 relative).
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))
