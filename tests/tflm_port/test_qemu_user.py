"""The A-profile targets: a64 (qemu-aarch64 -cpu max) and a32 (qemu-arm -cpu
cortex-a15), Linux user mode, instructions counted by our TCG plugin.

The plugin's count is checked exactly against hand-written assembly programs
whose executed instructions can be counted on paper; the probe the firmware
reads it through against the board self-test's loop; and the runtime on both
targets against TFLite Micro on the anchor models.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.device.targets import (
    BOARDS_DIR,
    PLUGIN_PATH,
    TARGETS,
    run_firmware,
    run_on_target,
)
from pipeline.paths import ANCHOR_DIR, PORT_DIR

USER_TARGETS = ("a64", "a32")
_tools = ["make", "cc"] + [t for n in USER_TARGETS for t in (TARGETS[n].compiler, TARGETS[n].qemu)]
_missing = [t for t in _tools if shutil.which(t) is None]
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)"),
]

# Executed instructions: 1 (mov) + 2 * 1000 (subs, branch) + 3 (exit syscall).
KNOWN_PROGRAMS = {
    "a64": """
    .global _start
_start:
    mov x0, #1000
1:  subs x0, x0, #1
    b.ne 1b
    mov x8, #93
    mov x0, #7
    svc #0
""",
    "a32": """
    .syntax unified
    .arm
    .global _start
_start:
    mov r0, #1000
1:  subs r0, r0, #1
    bne 1b
    mov r7, #1
    mov r0, #7
    svc #0
""",
}
KNOWN_COUNT = 1 + 2 * 1000 + 3


def _plugin() -> Path:
    subprocess.run(["make", "--no-print-directory", "-C", str(PORT_DIR / "tools" / "icount"),
                    f"BUILD={PLUGIN_PATH.parent}"], check=True, capture_output=True)  # fmt: skip
    return PLUGIN_PATH


def _known_program(tmp_path: Path, target: str) -> Path:
    src = tmp_path / f"{target}.S"
    src.write_text(KNOWN_PROGRAMS[target])
    exe = tmp_path / target
    subprocess.run([TARGETS[target].compiler, "-nostdlib", "-static", "-o", str(exe), str(src)],
                   check=True, capture_output=True)  # fmt: skip
    return exe


def _total(proc: subprocess.CompletedProcess[str]) -> int:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("kwsq_icount total ")]
    assert len(lines) == 1, proc.stderr
    return int(lines[0].split()[-1])


@pytest.mark.parametrize("target", USER_TARGETS)
def test_plugin_counts_a_known_program_exactly(tmp_path: Path, target: str) -> None:
    exe = _known_program(tmp_path, target)
    spec = TARGETS[target]
    proc = subprocess.run([spec.qemu, "-cpu", spec.cpu, "-plugin", str(_plugin()), str(exe)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 7
    assert _total(proc) == KNOWN_COUNT


@pytest.mark.parametrize("target", USER_TARGETS)
def test_plugin_counts_only_inside_its_pc_range(tmp_path: Path, target: str) -> None:
    exe = _known_program(tmp_path, target)
    spec = TARGETS[target]
    nm = subprocess.run([spec.tool("nm"), str(exe)], capture_output=True, text=True, check=True)
    start = int(next(ln.split()[0] for ln in nm.stdout.splitlines() if ln.endswith(" _start")), 16)
    # The loop's two instructions (second and third, 4 bytes each) are the range.
    arg = f"{_plugin()},lo={start + 4:#x},hi={start + 12:#x}"
    proc = subprocess.run([spec.qemu, "-cpu", spec.cpu, "-plugin", arg, str(exe)],
                          capture_output=True, text=True)  # fmt: skip
    assert _total(proc) == 2 * 1000


def test_plugin_refuses_a_bad_argument(tmp_path: Path) -> None:
    exe = _known_program(tmp_path, "a64")
    proc = subprocess.run(["qemu-aarch64", "-plugin", f"{_plugin()},lo=zz", str(exe)],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0
    assert "bad value in 'lo=zz'" in proc.stderr


def _selftest_loop(tmp_path: Path, target: str, iterations: int) -> int:
    cmd = ["make", "--no-print-directory", "-C", str(BOARDS_DIR), "selftest", f"TARGET={target}",
           f"BUILD_ROOT={tmp_path}", f"SELFTEST_ITERATIONS={iterations}"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    elf = tmp_path / target / "selftest" / f"selftest-0-{iterations}.elf"
    # run_firmware uses the plugin under tflm_port/build; the test's own copy is the same code.
    _plugin()
    code, text = run_firmware(target, elf, timeout_s=60)
    assert code == 0, text
    return int(text.split(" loop ")[1].split()[0])


@pytest.mark.parametrize("target", USER_TARGETS)
def test_firmware_reads_the_count_through_the_probe(tmp_path: Path, target: str) -> None:
    # The self-test times an assembly loop of two instructions per iteration.
    extra = _selftest_loop(tmp_path, target, 3000) - _selftest_loop(tmp_path, target, 1000)
    assert extra == 4000


@pytest.mark.parametrize("target", USER_TARGETS)
@pytest.mark.parametrize(
    "name", ["hello_world_int8", "micro_speech_quantized", "mlperf_tiny_kws_ds_cnn_int8"]
)
def test_anchor_models_are_bit_exact_with_tflite_micro(target: str, name: str) -> None:
    from tflite_micro import runtime

    model = ANCHOR_DIR / f"{name}.tflite"
    if not model.is_file():
        pytest.skip(f"anchor model {model} not found (../shared is absent)")
    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    detail = interp.get_input_details(0)
    info = np.iinfo(detail["dtype"])
    inputs = np.random.default_rng(5).integers(info.min, info.max, size=(4, *detail["shape"]),
                                               endpoint=True, dtype=detail["dtype"])  # fmt: skip
    expected = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        expected.append(np.array(interp.get_output(0), copy=True))
    result = run_on_target(model, inputs, target)
    np.testing.assert_array_equal(result.outputs[0], np.stack(expected))
    assert result.instructions > 0
