"""Flatbuffer helpers of the post-pass: INT4 packing and a faithful, aligned rewrite."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pipeline  # noqa: F401


def test_int4_packing_is_two_per_byte_low_nibble_first() -> None:
    from pipeline.tflite.schema import pack_int4, unpack_int4

    packed = pack_int4(np.array([1, -2, 7, -8, 3]))
    # 1 -> 0x1, -2 -> 0xE, 7 -> 0x7, -8 -> 0x8, 3 -> 0x3 (odd count: high nibble 0)
    assert packed.tolist() == [0xE1, 0x87, 0x03]
    values = np.random.default_rng(0).integers(-8, 8, 101)
    np.testing.assert_array_equal(unpack_int4(pack_int4(values), 101), values)


def test_rewritten_model_runs_identically_with_16_byte_aligned_buffers() -> None:
    import tflite_micro
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter

    from pipeline.tflite import schema as tfs

    path = Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "sine_float.tflite"
    original = path.read_bytes()
    rewritten = tfs.dump(tfs.load(original))
    root = schema.Model.GetRootAsModel(rewritten, 0)
    starts = []
    for i in range(root.BuffersLength()):
        buf = root.Buffers(i)
        if buf.DataLength():
            starts.append(buf._tab.Vector(buf._tab.Offset(4)))
    assert starts and all(s % 16 == 0 for s in starts)
    x = np.linspace(0, 6, 7, dtype=np.float32)
    outs = []
    for data in (original, rewritten):
        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        res = []
        for v in x:
            interp.set_tensor(inp["index"], np.array([[v]], np.float32))
            interp.invoke()
            res.append(interp.get_tensor(out["index"]).item())
        outs.append(res)
    assert outs[0] == outs[1]
