"""The ``kwsq`` command line: one sub-command per pipeline stage.

Each stage lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, and import
TensorFlow only inside functions, so ``kwsq --help`` and ``kwsq COMMAND --help`` answer
in a fraction of a second. Each command runs in a :func:`pipeline.console.session`:
the terminal shows kwsq's own lines, library chatter goes to the log file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from pathlib import Path

from pipeline import console
from pipeline.errors import KwsqError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("pipeline.corpus.synth", "synthesize the embedded speech corpus (GSC v2 layout)"),
    "train": ("pipeline.train.training", "train a model: float stage, then QAT stages"),
    "generalize": ("pipeline.train.generalize",
                   "cross-family test: leave each engine family out of training, test on it"),
    "convert": ("pipeline.tflite.convert", "convert a trained run to .tflite and verify it"),
    "verify": ("pipeline.tflite.verify",
               "compare Keras, LiteRT and TFLite Micro on the test split"),
    "inspect": ("pipeline.tflite.inspect", "list ops, tensor types, bits and sizes of a .tflite"),
    "run": ("pipeline.device.runtime", "run a .tflite on kwsq's C runtime (host or QEMU target)"),
    "bench": ("pipeline.device.bench", "instruction counts, arena and code size on ARM targets"),
    "deploy": ("pipeline.device.deploy", "build a run's streaming keyword detector"),
    "eval": ("pipeline.evaluate.evaluate", "clip accuracy and streaming DET of a run's models"),
    "report": ("pipeline.evaluate.report", "tables and plots for a run"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``only``'s module is imported (its options), and no module imports
    TensorFlow at import time, so ``--help`` answers at once."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show library and C++ log output on the terminal instead of "
                        "only in the log file (default: off)")
    parser = argparse.ArgumentParser(
        prog="kwsq", parents=[common],
        description="kwsq: train, quantize, convert and run keyword-spotting models.",
        epilog="Each command's options: kwsq COMMAND --help. Library and C++ log output "
        "goes to RUN/kwsq.log for commands on a run folder, and is shown with --verbose.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        if name == only:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    command = command if command in COMMANDS else None
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as exc:
        if command is not None and exc.name == COMMANDS[command][0]:
            print(f"kwsq: error: '{command}' is not available in this build", file=sys.stderr)
            return 2
        raise
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    module = importlib.import_module(COMMANDS[args.command][0])
    with console.session(verbose=verbose):
        run_dir = getattr(args, "run", None)
        if isinstance(run_dir, str) and Path(run_dir, "config.toml").is_file():
            console.use_run_log(run_dir)  # the library log of a run lives in its folder
        try:
            return int(module.run(args) or 0)
        except KwsqError as exc:
            print(f"kwsq {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"kwsq {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception:
            log = console.keep_log()
            traceback.print_exc()
            if log is not None:
                print(f"kwsq {args.command}: unexpected error; library log: {log}",
                      file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
