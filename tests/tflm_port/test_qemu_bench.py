"""``kwsq bench``: the figures it prints and writes are the ones the board measured."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.device.bench import random_inputs
from pipeline.device.targets import default_kernels, run_on_target
from pipeline.paths import REPO_ROOT

MODEL = REPO_ROOT.parent / "shared" / "anchor_models" / "hello_world_int8.tflite"

_missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)} (make setup)"),
    pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} not found (../shared absent)"),
]


def test_bench_json_holds_what_the_firmware_measured(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", str(MODEL), "--inputs", "2", "--seed", "3", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())

    # kwsq bench links only the model's ops (its op list) and the target's own kernels.
    kernels = default_kernels("m4")
    probe = run_on_target(MODEL, None, "m4", kernels=kernels, op_list=True)
    direct = run_on_target(MODEL, random_inputs(probe, 2, seed=3), "m4", kernels=kernels,
                           op_list=True)
    assert row["kernels"] == kernels
    assert row["instructions"] == direct.instructions_each[0]
    assert row["instructions_mean"] == sum(direct.instructions_each) / 2
    assert row["arena_bytes"] == direct.arena_bytes
    assert row["model_bytes"] == MODEL.stat().st_size

    # Flash totals against arm-none-eabi-size itself, read here independently.
    size = subprocess.run(["arm-none-eabi-size", "-A", str(direct.firmware)],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    rows = [line.split() for line in size.splitlines() if line.startswith(".")]
    sections = {f[0]: int(f[1]) for f in rows}
    flash = sum(sections.get(s, 0) for s in (".vectors", ".text", ".rodata", ".ARM.exidx", ".data"))
    assert row["firmware_flash_bytes"] == flash
    parts = row["runtime_code_bytes"] + row["libc_code_bytes"] + row["harness_code_bytes"]
    assert parts == flash
    assert 0 < row["runtime_code_bytes"] < flash
    assert sections[".model"] >= MODEL.stat().st_size


def test_bench_terse_lto_measures_that_build_and_says_so(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", str(MODEL), "--terse", "--lto", "--out", str(out)]) == 0
    assert "; runtime build: TERSE=1 LTO=1" in capsys.readouterr().out
    (row,) = json.loads(out.read_text())
    assert (row["terse"], row["lto"]) == (True, True)
    kernels = default_kernels("m4")
    built = run_on_target(MODEL, None, "m4", kernels=kernels, op_list=True, terse=True, lto=True)
    plain = run_on_target(MODEL, None, "m4", kernels=kernels, op_list=True)
    assert row["runtime_code_bytes"] == built.code_bytes["runtime"]
    assert row["runtime_code_bytes"] < plain.code_bytes["runtime"]
    assert main(["bench", str(MODEL), "--terse", "--suite", str(tmp_path / "s")]) == 2
    assert "--terse and --lto measure one runtime build: not with --suite" in \
        capsys.readouterr().err


def test_bench_of_a_missing_model_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["bench", str(tmp_path / "none.tflite")]) == 2
    assert "kwsq bench: error: model not found" in capsys.readouterr().err


def _run_folder(root: Path, name: str, scheme: str) -> Path:
    run = root / name
    run.mkdir()
    shutil.copy(MODEL, run / "model.tflite")
    (run / "config.toml").write_text(f'model = "svd_dnn"\nscheme = "{scheme}"\n')
    return run


def test_bench_names_each_model_by_its_run_folder(tmp_path: Path) -> None:
    runs = [_run_folder(tmp_path, "alpha", "int8"), _run_folder(tmp_path, "beta", "w4a8")]
    out = tmp_path / "bench.json"
    assert main(["bench", *map(str, runs), str(runs[1] / "model.tflite"), "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["model"] for r in rows] == ["alpha", "beta", "beta"]
    assert [r["scheme"] for r in rows] == ["int8", "w4a8", "w4a8"]
    assert {r["run_model"] for r in rows} == {"svd_dnn"}


@pytest.mark.parametrize("target, clock_hz", [("m4", 120e6), ("a64", 1.2e9)])
def test_bench_records_kernels_and_a_lower_bound_estimate(tmp_path: Path, target: str,
                                                          clock_hz: float) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", str(MODEL), "--target", target, "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["kernels"] == default_kernels(target)  # the target's own folder by default
    assert row["estimated_ms"] == round(row["instructions"] / clock_hz * 1e3, 4)
    assert "lower-bound estimate" in row["estimate_note"]
    assert row["runtime_code_bytes"] > 0 and row["weight_bytes"] > 0


def test_bench_refuses_a_kernel_folder_not_written_for_the_target(capsys) -> None:
    assert main(["bench", str(MODEL), "--target", "m4", "--kernels", "nope"]) == 2
    assert "unknown kernel folder 'nope'" in capsys.readouterr().err


def test_suite_writes_report_json_and_dated_copy(tmp_path: Path, capsys) -> None:
    run = _run_folder(tmp_path, "gamma", "int8")
    args = ["bench", "--suite", str(tmp_path / "out"), "--docs", str(tmp_path / "docs"),
            "--target", "m4", "--kernels", "ref", str(run), str(tmp_path / "missing-run")]
    (tmp_path / "missing-run").mkdir()
    assert main(args) == 0
    rows = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert "gamma" in [r["model"] for r in rows]
    report = (tmp_path / "out" / "bench.md").read_text()
    (copy,) = (tmp_path / "docs").glob("bench-*.md")
    assert copy.read_text() == report
    assert "missing-run has no model.tflite" in report
    # The anchors with TFLM + CMSIS-NN figures on m4 get a ratio row.
    ds = next(r for r in rows if r["model"] == "mlperf_tiny_kws_ds_cnn_int8.tflite")
    assert f"{ds['instructions'] / 7_699_320:.2f}x" in report
