"""The console keeps the terminal for kwsq's own lines; C++ and library output goes to the log."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from pipeline import console

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, sys, warnings
from pipeline import console
with console.session(verbose=VERBOSE):
    console.use_run_log(sys.argv[1])
    print("kwsq line")
    os.write(1, b"fully_quantize: 0, inference_type: 6\n")   # what C++ prints to fd 1
    os.write(2, b"E0000 node_def_util.cc:682] NodeDef mentions attribute\n")
    warnings.warn("Statistics for quantized inputs were expected", UserWarning, stacklevel=1)
    print("kwsq error line", file=sys.stderr)
"""


def _child(tmp_path: Path, verbose: bool) -> subprocess.CompletedProcess:
    code = CHILD.replace("VERBOSE", str(verbose))
    return subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cpp_output_and_warnings_go_to_the_run_log_not_the_terminal(tmp_path):
    out = _child(tmp_path, verbose=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "kwsq line\n"
    assert out.stderr == "kwsq error line\n"
    log = (tmp_path / "run" / "kwsq.log").read_text()
    for noise in ("fully_quantize: 0", "node_def_util.cc", "Statistics for quantized inputs"):
        assert noise in log


def test_verbose_shows_everything_on_the_terminal(tmp_path):
    out = _child(tmp_path, verbose=True)
    assert out.returncode == 0, out.stderr
    assert "fully_quantize: 0" in out.stdout and "kwsq line" in out.stdout
    assert "node_def_util.cc" in out.stderr and "Statistics for quantized" in out.stderr


def test_session_restores_descriptors_and_streams(tmp_path, capfd):
    before = (sys.stdout, sys.stderr)
    with console.session():
        os.write(1, b"hidden\n")
        path = console.log_path()
        assert path is not None and path.read_text() == "hidden\n"
    assert (sys.stdout, sys.stderr) == before
    assert not path.exists()  # a temporary log (no run folder) is removed
    os.write(1, b"visible\n")
    assert capfd.readouterr().out == "visible\n"


def test_log_moves_into_the_run_folder_with_what_came_before(tmp_path):
    with console.session():
        os.write(2, b"before\n")
        dest = console.use_run_log(tmp_path / "r")
        os.write(2, b"after\n")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library warning", UserWarning, stacklevel=1)
    text = dest.read_text()
    assert text.index("before") < text.index("after") < text.index("a library warning")
