"""Hand-built hostile models, written here with the flatbuffer builder (the schema's
object API): each one once crashed the runtime or made it read or write out of
bounds. Each must now be refused at load time with a message naming the op and
the tensor, checked with the runtime under AddressSanitizer and UBSan (a child
process, so a crash is a failure and not the end of the test run), and the
32-bit one also on the Cortex-M4 firmware under QEMU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from runtime_refs import anchor_bytes

from pipeline.device.runtime import Runtime
from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR
from pipeline.tflite import schema as ts

SAN_RUN = PORT_DIR / "build" / "sanitize" / "kwsq-run"
T = schema.TensorType


def _tensor(name: str, shape: list[int], ttype: int, buffer: int = 0,
            scale: float | None = None, zero_point: int = 0) -> schema.TensorT:
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name, shape, ttype, buffer
    if scale is not None:
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zero_point]
    return t


def _buffer(data: bytes | None = None) -> schema.BufferT:
    b = schema.BufferT()
    b.data = None if data is None else np.frombuffer(data, dtype=np.uint8)
    return b


def _model(op_code: int, tensors: list[schema.TensorT], buffers: list[schema.BufferT],
           inputs: list[int], outputs: list[int], graph_inputs: list[int],
           graph_outputs: list[int], options_type: int = 0, options=None) -> bytes:
    """One subgraph with one operator."""
    m = schema.ModelT()
    m.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = op_code
    code.deprecatedBuiltinCode = min(op_code, 127)
    code.version = 1
    m.operatorCodes = [code]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, inputs, outputs
    op.builtinOptionsType, op.builtinOptions = options_type, options
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, graph_inputs, graph_outputs, [op]
    m.subgraphs = [sg]
    m.buffers = [_buffer(), *buffers]  # buffer 0: the empty sentinel
    return ts.dump(m)


@pytest.fixture(scope="module")
def san_run() -> Path:
    run = subprocess.run(["make", "-C", str(PORT_DIR), "--no-print-directory", "sanitize"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return SAN_RUN


def _refused_under_sanitizers(san_run: Path, model: bytes, tmp_path: Path) -> str:
    """Loads (and, were it accepted, runs) the model in the sanitizer build of
    kwsq-run; returns its error line. Fails on a crash or a sanitizer report."""
    path, x, y = tmp_path / "bad.tflite", tmp_path / "x.bin", tmp_path / "y.bin"
    path.write_bytes(model)
    x.write_bytes(bytes(range(252)) * 20)  # 5040 bytes: whole samples of any small input
    # The host tool does not free on its error paths; leaks are not the point.
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    run = subprocess.run([str(san_run), str(path), str(x), str(y)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert "runtime error" not in run.stderr and "Sanitizer" not in run.stderr, run.stderr
    assert run.returncode == 1, f"exit {run.returncode}: {run.stderr[-1500:]}"
    return run.stderr.strip()


def fc_float_with_huge_weights() -> bytes:
    """FULLY_CONNECTED whose float weights claim [2^30, 1] (4 GiB, which is 0 in a
    32-bit size_t) but hold 4 bytes."""
    tensors = [
        _tensor("x", [1, 1], T.FLOAT32),
        _tensor("huge_weights", [1 << 30, 1], T.FLOAT32, buffer=1),
        _tensor("y", [1, 1 << 30], T.FLOAT32),
    ]
    opts = schema.FullyConnectedOptionsT()
    return _model(schema.BuiltinOperator.FULLY_CONNECTED, tensors, [_buffer(b"\0" * 4)],
                  [0, 1, -1], [2], [0], [2], schema.BuiltinOptions.FullyConnectedOptions, opts)


def conv_with_zero_input_channels() -> bytes:
    tensors = [
        _tensor("x", [1, 4, 4, 0], T.INT8, scale=0.5),
        _tensor("w", [2, 1, 1, 1], T.INT8, buffer=1, scale=0.5),
        _tensor("y", [1, 4, 4, 2], T.INT8, scale=0.5),
    ]
    opts = schema.Conv2DOptionsT()
    opts.strideW = opts.strideH = 1
    return _model(schema.BuiltinOperator.CONV_2D, tensors, [_buffer(b"\1\1")], [0, 1, -1], [2],
                  [0], [2], schema.BuiltinOptions.Conv2DOptions, opts)


def strided_slice_shrinking_at_the_end(begin: int) -> bytes:
    """x[begin, :] of a [2, 3] input, begin given past the end of axis 0."""
    i32 = lambda v: np.array(v, dtype=np.int32).tobytes()  # noqa: E731
    tensors = [
        _tensor("x", [2, 3], T.INT8, scale=0.5),
        _tensor("begin", [2], T.INT32, buffer=1),
        _tensor("end", [2], T.INT32, buffer=2),
        _tensor("strides", [2], T.INT32, buffer=3),
        _tensor("y", [3], T.INT8, scale=0.5),
    ]
    opts = schema.StridedSliceOptionsT()
    opts.shrinkAxisMask = 1
    return _model(schema.BuiltinOperator.STRIDED_SLICE, tensors,
                  [_buffer(i32([begin, 0])), _buffer(i32([begin + 1, 3])), _buffer(i32([1, 1]))],
                  [0, 1, 2, 3], [4], [0], [4], schema.BuiltinOptions.StridedSliceOptions, opts)


def test_float_tensor_of_4_gib_is_refused_not_truncated(san_run, tmp_path) -> None:
    err = _refused_under_sanitizers(san_run, fc_float_with_huge_weights(), tmp_path)
    assert "invalid model: tensor 1 'huge_weights' is too large" in err


def test_conv_with_zero_input_channels_is_refused_without_dividing_by_zero(san_run,
                                                                           tmp_path) -> None:
    err = _refused_under_sanitizers(san_run, conv_with_zero_input_channels(), tmp_path)
    assert "CONV_2D (op 0): invalid model: channel counts do not match" in err


@pytest.mark.parametrize("begin", [2, 3, -3])
def test_strided_slice_shrink_index_outside_the_axis_is_refused(san_run, tmp_path,
                                                                begin: int) -> None:
    err = _refused_under_sanitizers(san_run, strided_slice_shrinking_at_the_end(begin), tmp_path)
    assert f"STRIDED_SLICE (op 0): invalid model: shrink-axis index {begin} outside axis 0" in err


def test_strided_slice_shrink_inside_the_axis_still_runs(tmp_path) -> None:
    """The same model with begin = 1 and -1 (the last row) is valid and runs."""
    x = np.arange(-3, 3, dtype=np.int8).reshape(2, 3)
    for begin in (1, -1):
        rt = Runtime(strided_slice_shrinking_at_the_end(begin))
        rt.set_input(x, 0)
        rt.invoke()
        assert np.array_equal(rt.get_output(0), x[begin])


def _corrupt_fc_activation(model: bytes) -> bytes:
    """Every FULLY_CONNECTED options table of `model`, shrunk in its vtable so the
    fused activation field lies outside the table: present but corrupt."""
    buf = bytearray(model)
    m = schema.Model.GetRootAs(buf, 0)
    sg = m.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        tab = sg.Operators(i).BuiltinOptions()
        vt = tab.Pos - int.from_bytes(buf[tab.Pos:tab.Pos + 4], "little", signed=True)
        field = int.from_bytes(buf[vt + 4:vt + 6], "little")  # fused_activation_function
        assert field != 0, "the activation field is absent, nothing to corrupt"
        buf[vt + 2:vt + 4] = field.to_bytes(2, "little")  # table size ends before the field
    return bytes(buf)


def test_corrupt_activation_option_is_refused_not_read_as_none() -> None:
    model = anchor_bytes("hello_world_int8")
    ops = ts.load(model).subgraphs[0].operators
    acts = {op.builtinOptions.fusedActivationFunction for op in ops}
    assert schema.ActivationFunctionType.RELU in acts  # so NONE would change the results
    with pytest.raises(KwsqError, match=r"FULLY_CONNECTED \(op 0\): invalid model: options "
                                        r"field 0 is corrupt"):
        Runtime(_corrupt_fc_activation(model))


def test_refused_tensor_is_named_with_its_op() -> None:
    m = ts.load(anchor_bytes("hello_world_int8"))
    sg = m.subgraphs[0]
    out = sg.operators[1].outputs[0]
    sg.tensors[out].type = T.INT16
    name = ts.tensor_name(sg.tensors[out])
    with pytest.raises(KwsqError) as exc:
        Runtime(ts.dump(m))
    assert f"FULLY_CONNECTED (op 1): output tensor {out} '{name[:40]}" in str(exc.value)


@pytest.mark.qemu
def test_float_tensor_of_4_gib_is_refused_on_the_cortex_m4(tmp_path) -> None:
    """On a 32-bit target the 4 GiB size is 0 bytes: the case only the M4 shows."""
    from pipeline.device.targets import run_on_target

    path = tmp_path / "huge.tflite"
    path.write_bytes(fc_float_with_huge_weights())
    with pytest.raises(KwsqError, match=r"tensor 1 'huge_weights' is too large"):
        run_on_target(path, None, "m4")
