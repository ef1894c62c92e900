"""Every arena size, under AddressSanitizer and UBSan: too small is refused with a
message, large enough gives the large arena's outputs, and nothing is written
outside the arena (each arena is an exact-size heap block).

The sweep driver is C (tools/arena_sweep.c, built by ``make -C tflm_port
sanitize``): one process tries all sizes of a model in about a second.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from runtime_refs import ANCHORS, anchor_bytes

from pipeline.paths import PORT_DIR

SWEEP = PORT_DIR / "build" / "sanitize" / "arena_sweep"
# Every converted model family of test_converted_models, INT4 weights included.
KINDS = ["dense_act", "dense_softmax_float_io", "conv_family", "slice_pack", "dynamic_batch",
         "float_family", "float_conv", "concat_relu6", "dense_int4", "conv_int4", "dw_int4",
         "hybrid_dense"]


def _build_sweep(kernels: str) -> Path:
    run = subprocess.run(["make", "-C", str(PORT_DIR), "--no-print-directory", "sanitize",
                          f"KERNELS={kernels}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    if kernels == "ref":
        return SWEEP
    return SWEEP.parent.parent / f"sanitize-{kernels}" / "arena_sweep"


@pytest.fixture(scope="module")
def sweep() -> Path:
    return _build_sweep("ref")


def _run_sweep(sweep: Path, models: list[Path]) -> str:
    run = subprocess.run([str(sweep), *map(str, models)], capture_output=True, text=True,
                         timeout=600)
    out = run.stdout + run.stderr
    assert "runtime error" not in out and "AddressSanitizer" not in out, out
    assert run.returncode == 0, out
    assert out.count(" 0 failures") == len(models), out
    return out


def test_every_arena_size_of_the_anchor_models(sweep: Path, tmp_path: Path) -> None:
    models = []
    for name in ANCHORS:
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(anchor_bytes(name))
        models.append(path)
    out = _run_sweep(sweep, models)
    # DS-CNN needs about 14 KiB: some 1,800 sizes were tried.
    assert int(out.split("mlperf_tiny_kws_ds_cnn_int8.tflite: need ")[1].split()[2]) > 1000


def test_every_arena_size_of_the_anchors_with_the_dsp_kernels(tmp_path: Path) -> None:
    """The dsp folder (portable stand-ins on the host) with its own scratch and
    overlapped placement: the same sweep under the sanitizers."""
    models = []
    for name in ANCHORS:
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(anchor_bytes(name))
        models.append(path)
    _run_sweep(_build_sweep("dsp"), models)


def test_every_arena_size_of_converted_models(sweep: Path, converted, tmp_path: Path) -> None:
    models = []
    for kind in KINDS:
        path = tmp_path / f"{kind}.tflite"
        path.write_bytes(converted(kind))
        models.append(path)
    _run_sweep(sweep, models)


def test_step_one_tries_every_size_up_to_the_need(sweep: Path, tmp_path: Path) -> None:
    """Step 1 up to the need exactly: the last byte short is refused, the need loads."""
    model = tmp_path / "hello.tflite"
    model.write_bytes(anchor_bytes("hello_world_int8"))
    run = subprocess.run([str(sweep), "--step", "1", "--extra", "0", str(model)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    need = int(run.stdout.split("need ")[1].split()[0])
    assert f"{need} sizes" in run.stdout  # sizes 1..need, each one tried
