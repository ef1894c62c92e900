"""A normal ``kwsq convert`` shows kwsq's lines only: the converter's C++ prints, its
UserWarning and LiteRT's delegate line land in the run's kwsq.log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_kwsq_convert_console_is_only_kwsq_lines(converted_run, tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "convert",
                          str(converted_run.path), "--out", str(tmp_path / "m.tflite"),
                          "--no-size-table", "--max-samples", "8"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    shown = out.stdout + out.stderr
    for noise in ("fully_quantize", "UserWarning", "E0000", "W0000", "XNNPACK", "warnings.warn"):
        assert noise not in shown, shown
    assert "wrote" in out.stdout and "verify on 8 test samples" in out.stdout
    log = (converted_run.path / "kwsq.log").read_text()
    assert "fully_quantize" in log
