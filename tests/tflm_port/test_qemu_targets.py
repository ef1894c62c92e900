"""The other emulated Cortex-M boards: M7 (mps2-an500) and M55 (mps3-an547).

M4 is tested in depth in test_qemu_m4.py; here each further board must count
instructions exactly (the M55 with SysTick, not the CMSDK timer) and run the
anchor models bit-exact with TFLite Micro, so figures measured on it can be
trusted.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.device.targets import BOARDS_DIR, run_firmware, run_on_target
from pipeline.paths import REPO_ROOT

ANCHOR_DIR = REPO_ROOT.parent / "shared" / "anchor_models"
TARGETS = ("m7", "m55")

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)"),
]


def _loop_instructions(tmp_path: Path, target: str, iterations: int) -> int:
    cmd = ["make", "--no-print-directory", "-C", str(BOARDS_DIR), "selftest", f"TARGET={target}",
           f"BUILD_ROOT={tmp_path}", f"SELFTEST_ITERATIONS={iterations}"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    elf = tmp_path / target / "selftest" / f"selftest-0-{iterations}.elf"
    code, text = run_firmware(target, elf, timeout_s=60)
    assert code == 0, text
    return int(text.split(" loop ")[1].split()[0])


@pytest.mark.parametrize("target", TARGETS)
def test_instruction_count_matches_a_loop_of_known_length(tmp_path: Path, target: str) -> None:
    # Two instructions (subs, bne) per iteration of the self-test's assembly loop.
    extra = _loop_instructions(tmp_path, target, 3000) - _loop_instructions(tmp_path, target, 1000)
    assert extra == 4000


@pytest.mark.skipif(not ANCHOR_DIR.is_dir(), reason=f"anchor models not found at {ANCHOR_DIR}")
@pytest.mark.parametrize("target", TARGETS)
def test_micro_speech_is_bit_exact_with_tflite_micro(target: str) -> None:
    from tflite_micro import runtime

    model = ANCHOR_DIR / "micro_speech_quantized.tflite"
    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    shape = interp.get_input_details(0)["shape"]
    inputs = np.random.default_rng(99).integers(-128, 127, size=(10, *shape), endpoint=True,
                                                dtype=np.int8)  # fmt: skip
    expected = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        expected.append(np.array(interp.get_output(0), copy=True))
    result = run_on_target(model, inputs, target)
    np.testing.assert_array_equal(result.outputs[0], np.stack(expected))
    assert result.instructions > 0
