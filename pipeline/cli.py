"""The ``kwsq`` command line: one sub-command per pipeline stage.

Each stage lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``kwsq --help`` stays fast and a stage's heavy imports do not slow the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pipeline.errors import KwsqError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("pipeline.synth", "synthesize the embedded speech corpus (GSC v2 layout)"),
    "train": ("pipeline.train", "train a model: float stage, then QAT stages"),
    "convert": ("pipeline.convert", "convert a trained run to .tflite and verify it"),
    "verify": ("pipeline.verify", "compare Keras, LiteRT and TFLite Micro on the test split"),
    "inspect": ("pipeline.inspect_tflite", "list ops, tensor types, bits and sizes of a .tflite"),
    "eval": ("pipeline.evaluate", "accuracy and streaming DET evaluation of a run"),
    "run": ("pipeline.runtime", "run a .tflite on kwsq's C runtime (host or QEMU target)"),
    "bench": ("pipeline.bench", "instruction counts, arena and code size on ARM targets"),
    "report": ("pipeline.report", "tables and plots for a run"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kwsq", description="kwsq: train, quantize, convert and run keyword-spotting models.")
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
        try:
            importlib.import_module(COMMANDS[command][0])
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
