"""The general-shapes section measured for real: a tiny generated model under QEMU."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.device import general_shapes as gs
from pipeline.device.bench import model_input_specs, random_inputs
from pipeline.device.bench_report import general_checks, general_section, measure_general
from pipeline.device.targets import run_on_target

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.slow,
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)"),
]

# A 3x3 stride-2 depthwise with depth multiplier 3 on two channels, a valid 3x2 conv.
TINY = gs.ShapeModel("tiny_test", (9, 7, 2),
                     (gs.Conv(4, (3, 2), 1, "valid"), gs.Depthwise((3, 3), 2, "same", 3),
                      gs.Conv(5, (1, 1))), classes=3, seed=11)


def test_a_tiny_model_through_the_real_path(tmp_path: Path) -> None:
    from tflite_micro import runtime as tflm

    failures: list[str] = []
    jobs = [("m4", "dsp"), ("m55", "mve")]
    rows = measure_general(tmp_path, jobs, 4, failures, specs=[TINY])
    assert failures == [] and [(r.target, r.kernels) for r in rows] == jobs
    path = tmp_path / "tiny_test.tflite"
    data = path.read_bytes()
    x = random_inputs(model_input_specs(path), 1, 4)[0]
    interp = tflm.Interpreter.from_bytes(data)
    interp.set_input(x[0], 0)
    interp.invoke()
    expected = interp.get_output(0).copy()
    for row, (target, kernels) in zip(rows, jobs, strict=True):
        direct = run_on_target(path, x, target, kernels=kernels, op_list=True)
        assert row.instructions == direct.instructions and row.ops == direct.op_instructions
        assert row.bit_exact is bool(np.array_equal(direct.outputs[0][0], expected)) is True
        assert row.general and row.macs == gs.model_macs(data)
        assert [d["op"] for d in row.layers] == [op for op, _ in direct.op_instructions]
    # MACs by hand: conv 7x6 out x 4 ch x 3*2*2, depthwise 4x3 out x 12 ch x 9, 1x1 12->5, FC 5->3
    assert rows[0].macs == 7 * 6 * 4 * 12 + 4 * 3 * 12 * 9 + 4 * 3 * 5 * 12 + 5 * 3
    text = general_section(rows)
    assert "| tiny_test | " in text and "3x3 s2 same, 4 ch x3, 7x6->4x3" in text
    (m4, m55, a64) = general_checks(rows)
    assert "bit-exact 1 of 1" in m4.measured and a64.measured == "not measured"
