"""``kwsq bench``: the figures it prints and writes are the ones the board measured."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.device.bench import random_inputs
from pipeline.device.targets import run_on_target
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

    probe = run_on_target(MODEL, None, "m4")
    direct = run_on_target(MODEL, random_inputs(probe, 2, seed=3), "m4")
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


def test_bench_of_a_missing_model_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["bench", str(tmp_path / "none.tflite")]) == 2
    assert "kwsq bench: error: model not found" in capsys.readouterr().err
