"""The CLI turns bad input into one line naming the problem, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def kwsq(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_help_lists_every_stage():
    out = kwsq("--help")
    assert out.returncode == 0
    for command in ("synth", "train", "convert", "verify", "inspect", "run", "bench", "report"):
        assert command in out.stdout


def test_train_on_missing_dataset_is_one_line(tmp_path):
    out = kwsq("train", "--data", "/no/such/dir", "--run", str(tmp_path / "r"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "/no/such/dir" in out.stderr and "does not exist" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("layout", ["empty", "words_only"])
def test_train_on_folder_without_gsc_layout_is_one_line(tmp_path, layout):
    data = tmp_path / "notgsc"
    data.mkdir()
    if layout == "words_only":
        (data / "yes").mkdir()
        (data / "readme.txt").write_text("not a corpus")
    out = kwsq("train", "--data", str(data), "--run", str(tmp_path / "r"))
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("kwsq train: error:")
    assert str(data) in lines[0] or "missing" in lines[0]
    assert not (tmp_path / "r").exists()


def test_report_on_missing_run_is_one_line(tmp_path):
    out = kwsq("report", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
