"""The CLI: one line naming the problem for bad input, never a traceback; help at once."""

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]


def kwsq(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def one_error_line(out: subprocess.CompletedProcess, command: str) -> str:
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"kwsq {command}: error:"), lines[0]
    return lines[0]


def test_help_lists_every_stage():
    out = kwsq("--help")
    assert out.returncode == 0
    for command in ("synth", "train", "convert", "verify", "inspect", "run", "bench", "report"):
        assert command in out.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_answers_and_gives_every_option_a_help_text(command):
    out = kwsq(command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: kwsq {command}")
    assert out.stderr == ""
    import argparse

    from pipeline.cli import build_parser

    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices[command]._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        if action.option_strings and action.option_strings[0] not in ("-h", "--help"):
            assert "default" in action.help or action.required, \
                f"{command} {action.option_strings[0]}: help does not state the default"


def test_building_every_parser_imports_no_tensorflow():
    code = ("import sys\nfrom pipeline.cli import COMMANDS, build_parser\n"
            "for c in COMMANDS:\n    build_parser(c)\n"
            "heavy = [m for m in ('tensorflow', 'tf_keras', 'tensorflow_model_optimization')"
            " if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_train_model_and_scheme_choices_are_the_registries():
    import models
    import quant_configs
    from pipeline.train.training import scheme_names

    assert scheme_names() == sorted(quant_configs.SCHEMES)
    out = kwsq("train", "--help")
    for name in [*models.names(), *quant_configs.SCHEMES]:
        assert name in out.stdout
    bad = kwsq("train", "--run", "r", "--scheme", "int7")
    assert bad.returncode == 2 and "invalid choice: 'int7'" in bad.stderr


def test_target_choices_are_the_registered_targets():
    from pipeline.device.targets import TARGETS

    assert TARGETS  # the check below must compare against something
    for command in ("bench", "run"):
        out = kwsq(command, "--help")
        for name in TARGETS:
            assert name in out.stdout, (command, name)
    bad = kwsq("run", "m.tflite", "--input", "x.npy", "--output", "y.npy", "--target", "m3")
    assert bad.returncode == 2 and "invalid choice: 'm3'" in bad.stderr


def test_train_on_missing_dataset_is_one_line(tmp_path):
    out = kwsq("train", "--data", str(tmp_path / "no_such_dir"), "--run", str(tmp_path / "r"))
    line = one_error_line(out, "train")
    assert "no_such_dir" in line and "does not exist" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("layout", ["empty", "words_only"])
def test_train_on_folder_without_gsc_layout_is_one_line(tmp_path, layout):
    data = tmp_path / "notgsc"
    data.mkdir()
    if layout == "words_only":
        (data / "yes").mkdir()
        (data / "readme.txt").write_text("not a corpus")
    out = kwsq("train", "--data", str(data), "--run", str(tmp_path / "r"))
    line = one_error_line(out, "train")
    assert str(data) in line or "missing" in line
    assert not (tmp_path / "r").exists()


def test_report_on_missing_run_is_one_line(tmp_path):
    out = kwsq("report", str(tmp_path / "nope"))
    line = one_error_line(out, "report")
    assert "does not exist" in line
