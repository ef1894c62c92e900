"""The elementwise ops through their kernel entry points, against TFLite Micro.

LOGISTIC and TANH int8 look their result up in a 256-entry table Prepare builds by running
the reference fixed-point function on every int8 value; the table is only right if it is
built from exactly TFLite Micro's computation, so each op is checked on all 256 inputs for
many random input quantizations. ADD and MUL are walked in runs (the trailing elements where
each input is contiguous or one repeated value), checked on broadcast shapes that exercise
each kind of run, with random quantizations and fused activations. RELU, RELU6, QUANTIZE
and DEQUANTIZE are checked the same way. Single-op models are written with the flatbuffer
builder so the quantization parameters can be anything a converter could emit.
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from pipeline.device.runtime import Runtime
from pipeline.tflite import schema as ts

T = schema.TensorType
OP = schema.BuiltinOperator


def _tensor(shape: list[int], ttype: int, scale: float | None, zero_point: int = 0,
            buffer: int = 0) -> schema.TensorT:
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = f"t{id(t)}", shape, ttype, buffer
    if scale is not None:
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [int(zero_point)]
    return t


def _single_op(op_code: int, inputs: list[schema.TensorT], output: schema.TensorT,
               options_type: int = 0, options=None) -> bytes:
    m = schema.ModelT()
    m.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = op_code
    code.deprecatedBuiltinCode = min(op_code, 127)
    code.version = 1
    m.operatorCodes = [code]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = list(range(len(inputs)))
    op.outputs = [len(inputs)]
    op.builtinOptionsType, op.builtinOptions = options_type, options
    sg = schema.SubGraphT()
    sg.tensors = [*inputs, output]
    sg.inputs, sg.outputs, sg.operators = list(range(len(inputs))), [len(inputs)], [op]
    m.subgraphs = [sg]
    empty = schema.BufferT()
    m.buffers = [empty]
    return ts.dump(m)


def _both(model: bytes, xs: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from tflite_micro import runtime as tflm

    ref = tflm.Interpreter.from_bytes(model)
    for i, x in enumerate(xs):
        ref.set_input(x, i)
    ref.invoke()
    rt = Runtime(model)
    for i, x in enumerate(xs):
        rt.set_input(x, i)
    rt.invoke()
    return [ref.get_output(0).copy()], [rt.get_output(0)]


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


def _random_scale(rng: np.random.Generator, lo: float = 1e-4, hi: float = 4.0) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


@pytest.mark.parametrize("op,out_scale,out_zp", [(OP.LOGISTIC, 1 / 256, -128),
                                                 (OP.TANH, 1 / 128, 0)])
def test_table_activation_equals_tflite_micro_on_every_int8_input(op: int, out_scale: float,
                                                                  out_zp: int) -> None:
    """All 256 inputs, 60 random input scales (1e-4 .. 4, which covers inputs that saturate
    early and ones that never reach the function's flat ends) and zero points."""
    rng = np.random.default_rng(15)
    checked = 0
    for _ in range(60):
        scale, zp = _random_scale(rng), int(rng.integers(-128, 128))
        model = _single_op(op, [_tensor([256], T.INT8, scale, zp)],
                           _tensor([256], T.INT8, out_scale, out_zp))
        (want,), (got,) = _both(model, [ALL_INT8])
        assert np.array_equal(got, want), (scale, zp, np.flatnonzero(got != want)[:8])
        checked += 1
    assert checked == 60


def test_table_activation_costs_256_arena_bytes_per_op() -> None:
    """The stated arena cost: an int8 LOGISTIC or TANH needs its 256-byte table plus its op
    data (under 64 bytes) more than an int8 RELU6 (12 bytes of op data, no table) on the
    same tensors, whatever their size."""
    def used(op: int, n: int) -> int:
        out = {OP.LOGISTIC: (1 / 256, -128), OP.TANH: (1 / 128, 0), OP.RELU6: (0.05, 3)}[op]
        model = _single_op(op, [_tensor([n], T.INT8, 0.05, 3)], _tensor([n], T.INT8, *out))
        return Runtime(model).arena_used_bytes

    for n in (16, 4096):
        for op in (OP.LOGISTIC, OP.TANH):
            extra = used(op, n) - used(OP.RELU6, n)
            assert 256 <= extra < 256 + 64, (op, n, extra)


def _options(op: int, activation: int):
    opts = schema.AddOptionsT() if op == OP.ADD else schema.MulOptionsT()
    opts.fusedActivationFunction = activation
    kind = schema.BuiltinOptions.AddOptions if op == OP.ADD else schema.BuiltinOptions.MulOptions
    return kind, opts


SHAPES = [
    ([2, 3, 8], [2, 3, 8]),   # one run over everything
    ([2, 3, 8], [8]),         # per-channel constant-like operand: runs of 8
    ([2, 3, 8], [1]),         # a scalar: one run with stride 0
    ([2, 3, 8], [3, 1]),      # one value per row: runs of 8 with stride 0 on input 2
    ([1, 8], [2, 3, 8]),      # input 1 broadcast
    ([2, 1, 8], [1, 3, 1]),   # both broadcast
    ([4, 1], [1, 5]),         # outer product
]


@pytest.mark.parametrize("op", [OP.ADD, OP.MUL])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_add_mul_int8_broadcast_equal_tflite_micro(op: int, shapes) -> None:
    rng = np.random.default_rng(hash((op, str(shapes))) % 2**32)
    a_shape, b_shape = shapes
    out_shape = list(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    for trial in range(12):
        sa, sb = _random_scale(rng, 1e-3, 0.5), _random_scale(rng, 1e-3, 0.5)
        typical = sa + sb if op == OP.ADD else sa * sb * 128
        so = typical * rng.uniform(0.3, 2.0)
        za, zb, zo = (int(v) for v in rng.integers(-128, 128, size=3))
        kind, opts = _options(op, (0, 1, 2, 3)[trial % 4])  # NONE, RELU, RELU_N1_TO_1, RELU6
        ins = [_tensor(a_shape, T.INT8, sa, za), _tensor(b_shape, T.INT8, sb, zb)]
        model = _single_op(op, ins, _tensor(out_shape, T.INT8, so, zo), kind, opts)
        xs = [rng.integers(-128, 128, size=a_shape, dtype=np.int8),
              rng.integers(-128, 128, size=b_shape, dtype=np.int8)]
        (want,), (got,) = _both(model, xs)
        assert np.array_equal(got, want), (trial, np.flatnonzero(got != want)[:8])


def _add_with_constant(var_shape: list[int], const_values: np.ndarray, const_first: bool,
                       scales: tuple[float, float, float], zps: tuple[int, int, int],
                       activation: int) -> bytes:
    """ADD of a graph input and a constant tensor (batch norm folded to ADD), either order."""
    m = schema.ModelT()
    m.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = OP.ADD
    code.version = 1
    m.operatorCodes = [code]
    var = _tensor(var_shape, T.INT8, scales[0], zps[0])
    const = _tensor(list(const_values.shape), T.INT8, scales[1], zps[1], buffer=1)
    out_shape = list(np.broadcast_shapes(tuple(var_shape), const_values.shape))
    out = _tensor(out_shape, T.INT8, scales[2], zps[2])
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [1, 0] if const_first else [0, 1]
    op.outputs = [2]
    op.builtinOptionsType, op.builtinOptions = _options(OP.ADD, activation)
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = [var, const, out], [0], [2], [op]
    m.subgraphs = [sg]
    data = schema.BufferT()
    data.data = const_values.astype(np.int8).reshape(-1).view(np.uint8)
    m.buffers = [schema.BufferT(), data]
    return ts.dump(m)


@pytest.mark.parametrize("const_first", [False, True])
@pytest.mark.parametrize("const_shape", [[8], [1], [3, 1], [2, 3, 8]])
def test_add_int8_with_a_constant_operand_equals_tflite_micro(const_first: bool,
                                                              const_shape: list[int]) -> None:
    """The constant path (the constant's rescaled terms computed in Prepare, for constants of
    up to KWSQ_ADD_CONST_MAX values: all of these, the largest 48) in both operand orders,
    for per-channel, scalar, per-row and full-size constants; the arena holds 4 bytes per
    constant value more than the same ADD with two graph inputs."""
    rng = np.random.default_rng(len(const_shape) * 2 + const_first)
    for trial in range(12):
        sv, sc = _random_scale(rng, 1e-3, 0.5), _random_scale(rng, 1e-3, 0.5)
        so = (sv + sc) * rng.uniform(0.3, 2.0)
        zps = tuple(int(v) for v in rng.integers(-128, 128, size=3))
        values = rng.integers(-128, 128, size=const_shape)
        model = _add_with_constant([2, 3, 8], values, const_first, (sv, sc, so), zps,
                                   (0, 1, 2, 3)[trial % 4])
        x = rng.integers(-128, 128, size=(2, 3, 8), dtype=np.int8)
        (want,), (got,) = _both(model, [x])
        assert np.array_equal(got, want), (trial, np.flatnonzero(got != want)[:8])
    both_inputs = _single_op(OP.ADD, [_tensor([2, 3, 8], T.INT8, 0.1, 0),
                                      _tensor(const_shape, T.INT8, 0.1, 0)],
                             _tensor([2, 3, 8], T.INT8, 0.2, 0), *_options(OP.ADD, 0))
    extra = Runtime(model).arena_used_bytes - Runtime(both_inputs).arena_used_bytes
    assert extra >= 4 * values.size - 16 * (1 + len(const_shape)), extra


@pytest.mark.parametrize("op", [OP.ADD, OP.MUL])
@pytest.mark.parametrize("shapes", SHAPES[:4], ids=lambda s: f"{s[0]}x{s[1]}")
def test_add_mul_float_broadcast_equal_numpy(op: int, shapes) -> None:
    rng = np.random.default_rng(7)
    a_shape, b_shape = shapes
    out_shape = list(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    kind, opts = _options(op, 3)  # RELU6
    ins = [_tensor(a_shape, T.FLOAT32, None), _tensor(b_shape, T.FLOAT32, None)]
    model = _single_op(op, ins, _tensor(out_shape, T.FLOAT32, None), kind, opts)
    xs = [rng.normal(0, 3, size=a_shape).astype(np.float32),
          rng.normal(0, 3, size=b_shape).astype(np.float32)]
    (want,), (got,) = _both(model, xs)
    f = np.add if op == OP.ADD else np.multiply
    assert np.array_equal(got, want)
    assert np.array_equal(got, np.clip(f(xs[0], xs[1]), 0, 6).astype(np.float32))


def test_relu_relu6_quantize_dequantize_equal_tflite_micro() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        si, so = _random_scale(rng, 1e-3, 0.5), _random_scale(rng, 1e-3, 0.5)
        zi, zo = (int(v) for v in rng.integers(-128, 128, size=2))
        cases = [
            (OP.RELU, _tensor([256], T.INT8, si, zi), _tensor([256], T.INT8, so, zo), ALL_INT8),
            (OP.RELU6, _tensor([256], T.INT8, si, zi), _tensor([256], T.INT8, si, zi), ALL_INT8),
            (OP.QUANTIZE, _tensor([256], T.INT8, si, zi), _tensor([256], T.INT8, so, zo), ALL_INT8),
            (OP.DEQUANTIZE, _tensor([256], T.INT8, si, zi), _tensor([256], T.FLOAT32, None),
             ALL_INT8),
            (OP.QUANTIZE, _tensor([256], T.FLOAT32, None), _tensor([256], T.INT8, so, zo),
             (rng.normal(0, 1, 256) * so * 100).astype(np.float32)),
        ]
        for op, tin, tout, x in cases:
            (want,), (got,) = _both(_single_op(op, [tin], tout), [x])
            assert np.array_equal(got, want), (op, si, zi, so, zo)
