"""The ``kwsq`` command line: one sub-command per pipeline stage.

Each stage lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``kwsq --help`` stays fast and a stage's heavy imports do not slow the others.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile

from pipeline.errors import KwsqError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("pipeline.corpus.synth", "synthesize the embedded speech corpus (GSC v2 layout)"),
    "train": ("pipeline.train.training", "train a model: float stage, then QAT stages"),
    "convert": ("pipeline.tflite.convert", "convert a trained run to .tflite and verify it"),
    "verify": ("pipeline.tflite.verify",
               "compare Keras, LiteRT and TFLite Micro on the test split"),
    "inspect": ("pipeline.tflite.inspect", "list ops, tensor types, bits and sizes of a .tflite"),
    "run": ("pipeline.device.runtime", "run a .tflite on kwsq's C runtime (host or QEMU target)"),
    "bench": ("pipeline.device.bench", "instruction counts, arena and code size on ARM targets"),
    "deploy": ("pipeline.device.deploy", "build a run's streaming keyword detector"),
    "report": ("pipeline.evaluate.report", "tables and plots for a run"),
}


# Commands whose work needs TensorFlow: it is imported up front with its C++ start-up
# chatter (absl/CUDA-stub lines on stderr) swallowed, so an error stays one line.
TENSORFLOW_COMMANDS = {"train", "convert", "verify", "deploy"}


def _import_quietly(names: list[str]) -> None:
    """Import modules with file descriptor 2 captured; replay it only if the import fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            for name in names:
                importlib.import_module(name)
            if "tensorflow" in sys.modules:  # device discovery logs its CUDA probe once
                sys.modules["tensorflow"].config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kwsq", description="kwsq: train, quantize, convert and run keyword-spotting models.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == only:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    if command is not None:
        modules = [COMMANDS[command][0]]
        if command in TENSORFLOW_COMMANDS:
            modules.insert(0, "tensorflow")
        try:
            _import_quietly(modules)
        except ModuleNotFoundError as exc:
            if exc.name == COMMANDS[command][0]:
                print(f"kwsq: error: '{command}' is not available in this build", file=sys.stderr)
                return 2
            raise
    args = build_parser(command).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KwsqError as exc:
        print(f"kwsq {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kwsq {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
