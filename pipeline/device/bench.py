"""``kwsq bench``: what a model costs on a microcontroller, measured under QEMU.

For each .tflite it builds the firmware (kwsq runtime + model), runs seeded random inputs on the
emulated board with ``-icount`` (so the instruction count is exact and repeatable), and reports
instructions per inference, arena and stack bytes, the runtime's own code flash and the model's
bytes. With no model given it measures the three anchor models that kwsq must beat
(docs/references.md), and prints TFLite Micro's reference-kernel figures beside ours.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import write_text
from pipeline.device.targets import KWSQ_DTYPES, TARGETS, TargetRun, run_on_target
from pipeline.errors import KwsqError
from pipeline.paths import ANCHOR_DIR

ANCHOR_MODELS = (
    "hello_world_int8.tflite",
    "micro_speech_quantized.tflite",
    "mlperf_tiny_kws_ds_cnn_int8.tflite",
)

# TFLite Micro with its reference kernels on Cortex-M4 (docs/references.md):
# the baseline each row is compared with.  (instructions, arena bytes, code flash)
TFLM_REFERENCE_M4: dict[str, tuple[int, int, int]] = {
    "micro_speech_quantized.tflite": (9_310_268, 6_788, 38_107),
    "mlperf_tiny_kws_ds_cnn_int8.tflite": (43_040_920, 22_772, 46_722),
}


@dataclass
class BenchRow:
    """One model's figures on one target (what ``--out`` writes, one per model)."""

    model: str
    target: str
    kernels: str
    inputs: int
    seed: int
    instructions: int
    instructions_mean: float
    init_instructions: int
    arena_bytes: int
    stack_bytes: int
    runtime_code_bytes: int
    libc_code_bytes: int
    harness_code_bytes: int
    firmware_flash_bytes: int
    model_bytes: int
    ops: list[tuple[str, int]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models",
        nargs="*",
        type=Path,
        help="the .tflite files (default: the anchor models in ../shared/anchor_models)",
    )
    parser.add_argument(
        "--target", default="m4", choices=sorted(TARGETS), help="emulated target (default m4)"
    )
    parser.add_argument(
        "--kernels", default="ref", help="kernel folder of tflm_port/kernels (default ref)"
    )
    parser.add_argument(
        "--inputs",
        type=int,
        default=1,
        metavar="N",
        help="seeded random inputs per model; the first one's count is reported (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--ops", action="store_true", help="also print instructions per operator")


def random_inputs(specs_run: TargetRun, n: int, seed: int) -> list[np.ndarray]:
    """Seeded random inputs covering each input type's range (float in [-1, 1))."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs_run.inputs:
        if spec.type_code not in KWSQ_DTYPES:
            raise KwsqError(f"cannot make random inputs of type {spec.type_code}")
        dtype = spec.dtype
        shape = (n, *spec.shape)
        if dtype.kind == "f":
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, size=shape).astype(dtype))
        else:
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype))
    return arrays


def bench_model(model: Path, target: str, kernels: str, n_inputs: int, seed: int) -> BenchRow:
    """Measure one model: a zero-input run to learn its inputs, then the seeded random ones."""
    if n_inputs < 1:
        raise KwsqError("--inputs must be at least 1")
    probe = run_on_target(model, None, target, kernels=kernels)
    run = run_on_target(model, random_inputs(probe, n_inputs, seed), target, kernels=kernels)
    return BenchRow(
        model=model.name,
        target=target,
        kernels=kernels,
        inputs=n_inputs,
        seed=seed,
        instructions=run.instructions,
        instructions_mean=float(np.mean(run.instructions_each)),
        init_instructions=run.init_instructions,
        arena_bytes=run.arena_bytes,
        stack_bytes=run.stack_bytes,
        runtime_code_bytes=run.code_bytes["runtime"],
        libc_code_bytes=run.code_bytes["libc"],
        harness_code_bytes=run.code_bytes["harness"],
        firmware_flash_bytes=run.firmware_flash_bytes,
        model_bytes=model.stat().st_size,
        ops=run.op_instructions,
    )


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table; TFLite Micro's reference-kernel figures under ours where known."""
    head = (
        "model",
        "instr/inference",
        "arena B",
        "stack B",
        "runtime code B",
        "fw flash B",
        "model B",
    )
    lines = [head]
    for r in rows:
        lines.append(
            (
                r.model,
                f"{r.instructions:,}",
                f"{r.arena_bytes:,}",
                f"{r.stack_bytes:,}",
                f"{r.runtime_code_bytes:,}",
                f"{r.firmware_flash_bytes:,}",
                f"{r.model_bytes:,}",
            )
        )
        if r.target == "m4" and r.model in TFLM_REFERENCE_M4:
            insn, arena, code = TFLM_REFERENCE_M4[r.model]
            lines.append(
                (
                    "  TFLM ref kernels (docs/references.md)",
                    f"{insn:,}",
                    f"{arena:,}",
                    "",
                    "",
                    f"{code:,}",
                    "",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        right = [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        cells = [line[0].ljust(widths[0]), *right]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    models: list[Path] = list(args.models)
    if not models:
        if not ANCHOR_DIR.is_dir():
            raise KwsqError(f"no model given and the anchor models are missing ({ANCHOR_DIR})")
        models = [ANCHOR_DIR / name for name in ANCHOR_MODELS]
    for m in models:
        if not m.is_file():
            raise KwsqError(f"model not found: {m}")
    rows = []
    for m in models:
        rows.append(bench_model(m, args.target, args.kernels, args.inputs, args.seed))
    print(
        f"target {args.target} ({TARGETS[args.target].description}), kernels {args.kernels}, "
        f"QEMU -icount shift=7; runtime code = tflm_port objects only"
    )
    print(format_table(rows))
    if args.ops:
        for r in rows:
            print(f"\n{r.model}: instructions per operator")
            for i, (name, n) in enumerate(r.ops):
                print(f"  {i:3d} {name:<24} {n:>12,}")
    if args.out is not None:
        write_text(args.out, json.dumps([asdict(r) for r in rows], indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0
