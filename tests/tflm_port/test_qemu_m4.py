"""kwsq's runtime on an emulated Cortex-M4 (mps2-an386 under QEMU).

The anchor models must give, on the microcontroller, exactly what TFLite Micro
gives on the host, and the board plumbing (exit codes, instruction counts) must
be trustworthy, since every benchmark figure rests on it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.device.targets import BOARDS_DIR, run_firmware, run_on_target
from pipeline.errors import KwsqError
from pipeline.paths import REPO_ROOT

ANCHOR_DIR = REPO_ROOT.parent / "shared" / "anchor_models"
ANCHORS = (
    "hello_world_int8.tflite",
    "micro_speech_quantized.tflite",
    # 100 DS-CNN inferences are ~6.5G emulated instructions, about 30 s.
    pytest.param("mlperf_tiny_kws_ds_cnn_int8.tflite", marks=pytest.mark.slow),
)
N_INPUTS = 100

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)"),
]
needs_anchors = pytest.mark.skipif(
    not ANCHOR_DIR.is_dir(), reason=f"anchor models not found at {ANCHOR_DIR} (../shared absent)"
)


def _tflm_outputs(model: Path, inputs: np.ndarray) -> np.ndarray:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model.read_bytes())
    shape = interp.get_input_details(0)["shape"]
    outs = []
    for x in inputs:
        interp.set_input(x.reshape(shape), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), copy=True))
    return np.stack(outs)


def _random_inputs(model: Path, n: int, seed: int) -> np.ndarray:
    from tflite_micro import runtime

    details = runtime.Interpreter.from_bytes(model.read_bytes()).get_input_details(0)
    rng = np.random.default_rng(seed)
    dtype = np.dtype(details["dtype"])
    info = np.iinfo(dtype)
    shape = (n, *details["shape"])
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _selftest(tmp_path: Path, exit_code: int, iterations: int) -> tuple[int, str]:
    cmd = ["make", "--no-print-directory", "-C", str(BOARDS_DIR), "selftest", "TARGET=m4",
           f"BUILD_ROOT={tmp_path}", f"SELFTEST_EXIT={exit_code}",
           f"SELFTEST_ITERATIONS={iterations}"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    elf = tmp_path / "m4" / "selftest" / f"selftest-{exit_code}-{iterations}.elf"
    return run_firmware("m4", elf, timeout_s=60)


def test_semihosting_exit_code_reaches_the_host(tmp_path: Path) -> None:
    code, text = _selftest(tmp_path, exit_code=5, iterations=10)
    assert code == 5
    assert "KWSQ SELFTEST mps2-an386" in text


def test_instruction_count_matches_a_loop_of_known_length(tmp_path: Path) -> None:
    # The self-test's loop is two instructions (subs, bne) per iteration, in
    # assembly: 2000 more iterations must cost exactly 4000 more instructions.
    def loop_count(iterations: int) -> int:
        code, text = _selftest(tmp_path, exit_code=0, iterations=iterations)
        assert code == 0, text
        return int(text.split(" loop ")[1].split()[0])

    assert loop_count(3000) - loop_count(1000) == 4000


@needs_anchors
@pytest.mark.parametrize("name", ANCHORS)
def test_anchor_outputs_are_bit_exact_with_tflite_micro(name: str) -> None:
    model = ANCHOR_DIR / name
    inputs = _random_inputs(model, N_INPUTS, seed=1234)
    result = run_on_target(model, inputs, "m4")
    expected = _tflm_outputs(model, inputs)
    assert len(result.outputs) == 1
    got = result.outputs[0]
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)


# Models converted by our own pipeline (tests/tflm_port/conftest.py builds them):
# every op family and packed int4 weights, not only what the anchors use.
CONVERTED_INT_IO = ("dense_act", "conv_family", "slice_pack", "dense_int4", "conv_int4")


def _run_converted_on_m4(kind: str, converted, tmp_path: Path, seed: int):
    """Write the converted test model, run 20 seeded inputs on the M4 firmware."""
    from runtime_refs import random_inputs

    model_bytes = converted(kind)
    model = tmp_path / f"{kind}.tflite"
    model.write_bytes(model_bytes)
    xs = random_inputs(model_bytes, 20, seed=seed)
    return model_bytes, xs, run_on_target(model, np.stack(xs), "m4")


@pytest.mark.parametrize("kind", CONVERTED_INT_IO)
def test_converted_model_is_bit_exact_with_tflite_micro(
    kind: str, converted, tmp_path: Path
) -> None:
    from runtime_refs import tflm_run

    model_bytes, xs, result = _run_converted_on_m4(kind, converted, tmp_path, seed=5)
    expected = np.stack(tflm_run(model_bytes, xs))
    np.testing.assert_array_equal(result.outputs[0], expected)


@pytest.mark.parametrize("kind", ("dense_softmax_float_io", "hybrid_dense", "float_conv"))
def test_float_io_model_matches_the_host_runtime_exactly(
    kind: str, converted, tmp_path: Path
) -> None:
    # Float in, float out (QUANTIZE/DEQUANTIZE, or the hybrid FULLY_CONNECTED):
    # with -std=c99 GCC contracts no a*b+c into an FMA, so the M4's
    # single-precision FPU must round exactly as the host does.
    from runtime_refs import kwsq_run

    model_bytes, xs, result = _run_converted_on_m4(kind, converted, tmp_path, seed=6)
    expected = np.stack(kwsq_run(model_bytes, xs))
    assert result.outputs[0].dtype == np.float32
    np.testing.assert_array_equal(result.outputs[0], expected)


@needs_anchors
def test_instruction_count_is_identical_across_runs() -> None:
    model = ANCHOR_DIR / "micro_speech_quantized.tflite"
    inputs = _random_inputs(model, 3, seed=7)
    first = run_on_target(model, inputs, "m4")
    second = run_on_target(model, inputs, "m4")
    assert first.instructions > 0
    assert first.instructions_each == second.instructions_each
    assert first.op_instructions == second.op_instructions


@needs_anchors
def test_corrupt_model_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    model = tmp_path / "truncated.tflite"
    model.write_bytes((ANCHOR_DIR / "hello_world_int8.tflite").read_bytes()[:200])
    with pytest.raises(KwsqError, match="truncated.tflite on m4 \\(exit 1\\)"):
        run_on_target(model, None, "m4")


@needs_anchors
def test_an_arena_too_small_is_a_clear_error() -> None:
    model = ANCHOR_DIR / "micro_speech_quantized.tflite"
    with pytest.raises(KwsqError, match="the 2048-byte arena is too small"):
        run_on_target(model, None, "m4", arena_bytes=2048)


@needs_anchors
def test_inputs_of_the_wrong_type_are_refused() -> None:
    model = ANCHOR_DIR / "hello_world_int8.tflite"
    with pytest.raises(KwsqError, match="input 0: the model wants int8"):
        run_on_target(model, np.zeros((2, 1), dtype=np.float32), "m4")
