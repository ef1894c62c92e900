"""Models the runtime cannot run are refused at load time with a message
naming the op or the defect, and corrupt or truncated flatbuffers are
rejected without ever crashing the process (checked in a subprocess)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from runtime_refs import anchor_bytes, kwsq_run, random_inputs, tflm_run

from pipeline.device.runtime import Runtime
from pipeline.errors import KwsqError
from pipeline.paths import REPO_ROOT
from pipeline.tflite import schema as ts


def test_unsupported_op_is_refused_at_load_naming_the_op(converted) -> None:
    model = converted("unsupported_sub")
    assert "SUB" in {ts.op_name(ts.load(model), op) for op in ts.load(model).subgraphs[0].operators}
    with pytest.raises(KwsqError, match=r"^SUB \(op \d+\): op not supported"):
        Runtime(model)


def test_unsupported_tensor_type_is_refused_naming_the_op() -> None:
    m = ts.load(anchor_bytes("hello_world_int8"))
    sg = m.subgraphs[0]
    out = sg.tensors[sg.operators[0].outputs[0]]
    out.type = ts.TensorType.INT16
    with pytest.raises(KwsqError,
                       match=r"FULLY_CONNECTED \(op 0\): output tensor \d+ .*: type INT16"):
        Runtime(ts.dump(m))


def test_custom_op_is_refused_with_its_name() -> None:
    m = ts.load(anchor_bytes("hello_world_int8"))
    code = m.operatorCodes[m.subgraphs[0].operators[0].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = ts.BuiltinOperator.CUSTOM
    code.customCode = "MyFancyOp"
    with pytest.raises(KwsqError, match="custom op 'MyFancyOp'"):
        Runtime(ts.dump(m))


def test_extended_builtin_code_field_is_used_over_the_deprecated_byte() -> None:
    # The op is max(builtin_code, deprecated_builtin_code), as TFLite reads it:
    # files for ops >127 carry the placeholder 127 in the byte, old files
    # carry only the byte.
    model = anchor_bytes("hello_world_int8")
    xs = random_inputs(model, 5, seed=2)
    ref = tflm_run(model, xs)
    for deprecated, builtin in ((0, 9), (9, 0)):
        m = ts.load(model)
        for code in m.operatorCodes:
            code.deprecatedBuiltinCode, code.builtinCode = deprecated, builtin
        outs = kwsq_run(ts.dump(m), xs)
        assert all(np.array_equal(a, b) for a, b in zip(outs, ref, strict=True))


def test_arena_too_small_reports_the_size_needed() -> None:
    with pytest.raises(KwsqError, match=r"arena too small: 256 bytes given, at least \d+ needed"):
        Runtime(anchor_bytes("micro_speech_quantized"), arena_bytes=256)


_CORRUPTION_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from pipeline.errors import KwsqError
    from pipeline.device.runtime import Runtime
    model = open(sys.argv[1], "rb").read()
    rng = np.random.default_rng(int(sys.argv[2]))
    cases = [model[:n] for n in sorted(set(np.linspace(0, len(model) - 1, 150).astype(int)))]
    for _ in range(600):
        b = bytearray(model)
        for _ in range(int(rng.integers(1, 6))):
            pos = int(rng.integers(0, len(b)))
            b[pos] = int(rng.integers(0, 256)) if rng.random() < 0.5 else b[pos] ^ 0x80
        cases.append(bytes(b))
    for k in range(0, 64, 4):  # hostile offsets in the header region
        for v in (b"\\xff\\xff\\xff\\x7f", b"\\x00\\x00\\x00\\x80", b"\\xfc\\xff\\xff\\xff"):
            b = bytearray(model); b[k:k + 4] = v; cases.append(bytes(b))
    truncated_ok = accepted = 0
    for i, c in enumerate(cases):
        try:
            rt = Runtime(c, arena_bytes=1 << 20)
        except KwsqError:
            continue
        if i < 150:
            truncated_ok += 1
        accepted += 1
        for d in rt.input_details():
            rt.set_input(np.zeros(d.shape, d.dtype), d.index)
        rt.invoke()
    print(len(cases), accepted, truncated_ok)
""")


@pytest.mark.parametrize("name", ["hello_world_int8", "micro_speech_quantized"])
def test_corrupt_and_truncated_models_are_rejected_without_crashing(tmp_path, name) -> None:
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(anchor_bytes(name))
    Runtime(path.read_bytes())  # builds the library before the child needs it
    proc = subprocess.run([sys.executable, "-c", _CORRUPTION_SCRIPT, str(path), "1"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-2000:]}"
    total, accepted, truncated_ok = map(int, proc.stdout.split())
    assert total > 700
    assert truncated_ok == 0, "a truncated model was accepted"
    # Most single-byte changes land in weights and are legal models; the point
    # is that every case came back as a result or an error, never a crash.
    assert 0 < accepted < total
