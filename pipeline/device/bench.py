"""``kwsq bench``: what a model costs on an ARM core, measured under QEMU.

For each .tflite it builds the firmware (kwsq runtime + model), runs seeded random inputs on the
emulated target (Cortex-M boards with ``-icount``, A-profile Linux user mode with our counting
plugin, so the instruction count is exact and repeatable), and reports instructions per
inference, a latency estimate at a typical clock, arena and stack bytes, the runtime's own
code and the model's bytes. With no model given it measures the anchor models kwsq must beat
(docs/references.md) and prints TFLite Micro's figures beside ours.

``--suite DIR`` is what ``make bench`` runs: every model on every target and every kernel
folder that applies to it, then a markdown report with the ratios to TFLite Micro + CMSIS-NN
and the checks the optimized kernels must pass (``pipeline/device/bench_report.py``), written
to ``DIR/bench.md`` and ``DIR/bench.json`` with a dated copy in ``docs/``. The suite also
measures twelve int8 models of shapes the anchors lack (``pipeline/device/general_shapes.py``)
per multiply-accumulate and per layer, so a speed-up that only the anchors' shapes get shows.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline.atomic import write_text
from pipeline.device.targets import (
    KWSQ_DTYPES,
    TARGETS,
    TargetRun,
    TensorSpec,
    default_kernels,
    run_on_target,
)
from pipeline.errors import KwsqError
from pipeline.paths import ANCHOR_DIR, PORT_DIR, REPO_ROOT

ANCHOR_MODELS = (
    "hello_world_int8.tflite",
    "micro_speech_quantized.tflite",
    "mlperf_tiny_kws_ds_cnn_int8.tflite",
)

KERNELS_DIR = PORT_DIR / "kernels"
# Which targets each kernel folder is written for; ref runs everywhere.
KERNEL_TARGETS: dict[str, tuple[str, ...]] = {
    "ref": tuple(TARGETS),
    "dsp": ("m4", "m7", "m55"),
    "mve": ("m55",),
    "neon": ("a64", "a32"),
}

ESTIMATE_NOTE = (
    "estimated ms = instructions / clock: a lower-bound estimate at one instruction per cycle"
    " (real cores stall on memory and multi-cycle instructions)"
)

# TFLite Micro with its reference kernels on Cortex-M4 (docs/references.md, anchor figures):
# (instructions, arena bytes, code flash).
TFLM_REFERENCE_M4: dict[str, tuple[int, int, int]] = {
    "micro_speech_quantized.tflite": (9_310_268, 6_788, 38_107),
    "mlperf_tiny_kws_ds_cnn_int8.tflite": (43_040_920, 22_772, 46_722),
}


@dataclass
class BenchRow:
    """One model's figures on one target with one kernel folder (what ``--out`` writes)."""

    model: str  # run folder name, anchor name or path, as the tables print it
    path: str
    target: str
    kernels: str
    inputs: int
    seed: int
    instructions: int
    instructions_mean: float
    clock_mhz: float
    estimated_ms: float  # lower bound, see ESTIMATE_NOTE
    init_instructions: int
    arena_bytes: int
    stack_bytes: int
    runtime_code_bytes: int
    libc_code_bytes: int
    harness_code_bytes: int
    firmware_flash_bytes: int
    model_bytes: int
    weight_bytes: int  # constant kernels (input 1 of each op), packed INT4 counted packed
    ops: list[tuple[str, int]]
    run_model: str | None = None  # the run's model builder (runs only)
    scheme: str | None = None  # the run's quantization scheme (runs only)
    estimate_note: str = ESTIMATE_NOTE
    extra: dict[str, str] = field(default_factory=dict)
    op_list: bool = True  # only the model's ops linked (False: --all-ops)
    terse: bool = False  # runtime built TERSE=1 (--terse: no error texts)
    lto: bool = False  # runtime built and linked with LTO=1 (--lto)
    per_hop: dict | None = None  # --per-hop: the streaming detector's cost (runs only)
    macs: int | None = None  # multiply-accumulates per inference, from the op list (--suite)
    general: bool = False  # a general-shapes model (--suite; pipeline/device/general_shapes.py)
    bit_exact: bool | None = None  # outputs equal tflite_micro's for the input (general only)
    layers: list[dict] | None = None  # per op: op, macs, detail (general only)


def available_kernels() -> list[str]:
    """Kernel folders of tflm_port/kernels that hold kernels (ref first)."""
    found = sorted(
        d.name for d in KERNELS_DIR.iterdir() if d.is_dir() and any(d.glob("*.c"))
    ) if KERNELS_DIR.is_dir() else []
    return sorted(found, key=lambda k: (k != "ref", k))


def kernels_for(target: str) -> list[str]:
    """The kernel folders that exist and are written for ``target``."""
    return [k for k in available_kernels() if target in KERNEL_TARGETS.get(k, (target,))]


def _split_list(text: str, valid: list[str], what: str) -> list[str]:
    if text == "all":
        return list(valid)
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in valid]
    if bad or not items:
        raise KwsqError(f"unknown {what} '{','.join(bad) or text}': expected {', '.join(valid)}"
                        " or all")
    return items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models",
        nargs="*",
        type=Path,
        help="the .tflite files or run folders (default: the anchor models)",
    )
    parser.add_argument(
        "--target",
        help=f"emulated target(s), comma-separated, or all: {', '.join(TARGETS)}"
        " (default: m4; with --suite all)",
    )
    parser.add_argument(
        "--kernels",
        help="kernel folder(s) of tflm_port/kernels, comma-separated, or all (every folder"
        " written for the target) (default: each target's own: dsp on m4/m7, mve on m55,"
        " neon on a64/a32; with --suite all)",
    )
    parser.add_argument(
        "--inputs",
        type=int,
        default=1,
        metavar="N",
        help="seeded random inputs per model; the first one's count is reported (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random inputs (default: 0)")
    parser.add_argument("--out", type=Path,
                        help="also write the figures as JSON to this file (default: none)")
    parser.add_argument("--ops", action="store_true",
                        help="also print instructions per operator (default: off)")
    parser.add_argument("--all-ops", action="store_true",
                        help="link every op of the runtime instead of only the model's"
                        " (default: the model's op list, as kwsq convert writes it)")
    parser.add_argument("--terse", action="store_true",
                        help="build the runtime TERSE=1: errors give the op and source line"
                        " instead of a message, for firmware nobody reads errors on (default: off)")
    parser.add_argument("--lto", action="store_true",
                        help="build the runtime with link-time optimization (LTO=1; its code"
                        " is still counted as runtime code) (default: off)")
    parser.add_argument(
        "--per-hop", action="store_true",
        help="for run folders: also build the streaming detector (C front-end + model +"
        " detection rules, as kwsq deploy) and report instructions per hop for the front-end"
        " and per window for the model and the rules, the duty cycle (real-time factor) at the"
        " target's typical clock, RAM (arena + front-end state + frame ring) and flash"
        " (default: off)",
    )
    parser.add_argument(
        "--wav", type=Path,
        help="with --per-hop: the recording to stream (default: a seeded probe recording, one"
        " model window plus 40 more)",
    )
    parser.add_argument(
        "--conv-hop", type=float, metavar="S",
        help="with --per-hop: seconds between a conv model's 1 s windows (default: kwsq eval's"
        " 0.1 s); the stacked DNNs take a new input every hop",
    )
    parser.add_argument(
        "--fixed", action="store_true",
        help="with --per-hop: the front-end's fixed-point path (default: float)",
    )
    parser.add_argument(
        "--suite", type=Path, metavar="DIR",
        help="make bench: anchors + the given models on every target and kernel folder;"
        " writes DIR/bench.md, DIR/bench.json and a dated copy of the report in docs/"
        " (default: no suite)",
    )
    parser.add_argument(
        "--no-general", action="store_true",
        help="with --suite: leave out the general-shapes section (twelve int8 models of shapes"
        " the anchors lack, built into DIR/general_shapes/ and measured on m4/dsp, m55/mve and"
        " a64/neon) (default: included)",
    )
    parser.add_argument(
        "--docs", type=Path, default=REPO_ROOT / "docs", metavar="DIR",
        help="where --suite puts the dated copy of its report (default: docs/)",
    )


def random_inputs(specs: TargetRun | Sequence[TensorSpec], n: int, seed: int) -> list[np.ndarray]:
    """Seeded random inputs covering each input type's range (float in [-1, 1)), for the
    inputs a firmware run reported or the given tensor specs."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs.inputs if isinstance(specs, TargetRun) else specs:
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


def model_input_specs(path: Path) -> list[TensorSpec]:
    """The model's input tensors (type, bytes, shape) as the firmware would report them, read
    from the .tflite, so inputs can be made without a probe run."""
    from pipeline.tflite import schema as ts

    model = ts.load(path.read_bytes())
    sg = model.subgraphs[0]
    specs = []
    for index in sg.inputs if sg.inputs is not None else []:
        t = sg.tensors[int(index)]
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        code = int(t.type)
        if code not in KWSQ_DTYPES:
            raise KwsqError(f"{path.name}: cannot make inputs of type {code}")
        specs.append(TensorSpec(code, int(np.prod(shape)) * KWSQ_DTYPES[code].itemsize, shape))
    return specs


@dataclass(frozen=True)
class ModelRef:
    """A model to measure and the name tables give it."""

    path: Path
    label: str
    run_model: str | None = None
    scheme: str | None = None


def resolve_model(arg: Path) -> ModelRef:
    """A .tflite path or a run folder (its model.tflite) with its display name.

    Models in a run folder are named after the folder (``demo``, ``demo/float.tflite`` for
    another file there), anchors by their file name, anything else by the path given.
    """
    path = arg / "model.tflite" if arg.is_dir() else arg
    if not path.is_file():
        raise KwsqError(f"model not found: {path}")
    config = path.parent / "config.toml"
    if config.is_file():
        try:
            cfg = tomllib.loads(config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise KwsqError(f"{config}: not valid TOML ({exc})") from exc
        label = path.parent.name + ("" if path.name == "model.tflite" else f"/{path.name}")
        model = cfg.get("model")
        scheme = "float" if path.name == "float.tflite" else cfg.get("scheme")
        return ModelRef(path, label, model if isinstance(model, str) else None,
                        scheme if isinstance(scheme, str) else None)
    if path.resolve().parent == ANCHOR_DIR.resolve():
        return ModelRef(path, path.name)
    try:
        label = str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        label = str(path)
    return ModelRef(path, label)


def weight_bytes(path: Path) -> int:
    """Bytes of the constant kernels (input 1 of each operator), as stored."""
    from pipeline.tflite.inspect import inspect_file

    return sum(t.bytes for t in inspect_file(path).weights())


def bench_model(
    model: Path | ModelRef, target: str, kernels: str, n_inputs: int, seed: int,
    op_list: bool = True, terse: bool = False, lto: bool = False,
) -> BenchRow:
    """Measure one model: a zero-input run to learn its inputs, then the seeded random ones.

    With ``op_list`` the firmware links only the model's ops (its op list, as ``kwsq
    convert`` writes it), so the code size is what the model needs; ``terse`` and ``lto``
    select the runtime build (boards/Makefile TERSE=1, LTO=1).
    """
    if n_inputs < 1:
        raise KwsqError("--inputs must be at least 1")
    ref = model if isinstance(model, ModelRef) else resolve_model(Path(model))
    build = {"op_list": op_list, "terse": terse, "lto": lto}
    probe = run_on_target(ref.path, None, target, kernels=kernels, **build)
    run = run_on_target(ref.path, random_inputs(probe, n_inputs, seed), target, kernels=kernels,
                        **build)
    return row_of(ref, run, kernels, n_inputs, seed, **build)


def row_of(ref: ModelRef, run: TargetRun, kernels: str, n_inputs: int, seed: int,
           op_list: bool = True, terse: bool = False, lto: bool = False) -> BenchRow:
    """The record of one firmware run of ``ref`` on ``run.target`` with ``kernels``."""
    clock = TARGETS[run.target].clock_hz
    return BenchRow(
        model=ref.label,
        path=str(ref.path),
        target=run.target,
        kernels=kernels,
        inputs=n_inputs,
        seed=seed,
        instructions=run.instructions,
        instructions_mean=float(np.mean(run.instructions_each)),
        clock_mhz=clock / 1e6,
        estimated_ms=round(run.instructions / clock * 1e3, 4),
        init_instructions=run.init_instructions,
        arena_bytes=run.arena_bytes,
        stack_bytes=run.stack_bytes,
        runtime_code_bytes=run.code_bytes["runtime"],
        libc_code_bytes=run.code_bytes["libc"],
        harness_code_bytes=run.code_bytes["harness"],
        firmware_flash_bytes=run.firmware_flash_bytes,
        model_bytes=ref.path.stat().st_size,
        weight_bytes=weight_bytes(ref.path),
        ops=run.op_instructions,
        run_model=ref.run_model,
        scheme=ref.scheme,
        op_list=op_list,
        terse=terse,
        lto=lto,
    )


def format_table(rows: list[BenchRow]) -> str:
    """A plain-text table; TFLite Micro's reference-kernel figures under ours where known."""
    head = (
        "model",
        "kernels",
        "instr/inference",
        "est. ms",
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
                r.kernels,
                f"{r.instructions:,}",
                f"{r.estimated_ms:.3f}",
                f"{r.arena_bytes:,}",
                f"{r.stack_bytes:,}",
                f"{r.runtime_code_bytes:,}",
                f"{r.firmware_flash_bytes:,}",
                f"{r.model_bytes:,}",
            )
        )
        name = Path(r.path).name
        if r.target == "m4" and name in TFLM_REFERENCE_M4 and r.model == name:
            insn, arena, code = TFLM_REFERENCE_M4[name]
            lines.append(
                ("  TFLM ref kernels (docs/references.md)", "", f"{insn:,}", "", f"{arena:,}",
                 "", "", f"{code:,}", "")
            )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        right = [c.rjust(w) for c, w in zip(line[2:], widths[2:], strict=True)]
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1]), *right]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def per_hop_table(rows: list[BenchRow]) -> str:
    """The streaming detector's per-hop cost of each run measured with --per-hop."""
    head = ("model", "target", "kernels", "hop ms", "k", "FE/hop", "model/window", "rules/window",
            "total/hop", "clock MHz", "duty (RTF)", "at CPI 1.3", "RAM B (arena+FE+ring)",
            "fw flash B")
    lines = [head]
    for r in rows:
        c = r.per_hop
        if not c:
            continue
        ram = c["ram"]
        flash = c.get("footprint", {}).get("flash_bytes")
        lines.append((
            r.model, r.target, r.kernels + (" fixed" if c.get("fixed_point") else ""),
            f"{c['hop_ms']:g}",
            str(c["hops_per_window"]), f"{c['fe_instructions_per_hop']:,.0f}",
            f"{c['model_instructions_per_window']:,.0f}",
            f"{c['detector_instructions_per_window']:,.0f}", f"{c['instructions_per_hop']:,.0f}",
            f"{c['clock_mhz']:g}", f"{c['duty_cycle']:.4f}", f"{c['duty_cycle_cpi_1.3']:.4f}",
            f"{ram['total']:,} ({ram['arena']:,}+{ram['frontend_state']:,}+{ram['frame_ring']:,})",
            "-" if flash is None else f"{flash:,}",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for k, line in enumerate(lines):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1]), line[2].ljust(widths[2]),
                 *[c.rjust(w) for c, w in zip(line[3:], widths[3:], strict=True)]]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def measure_per_hop(rows: list[BenchRow], wav: Path | None, conv_hop: float | None,
                    fixed: bool) -> None:
    """Attach the streaming detector's cost to each row measured from a run folder."""
    from pipeline.device import deploy
    from pipeline.train.runs import Run

    for r in rows:
        run_dir = Path(r.path).parent
        if r.run_model is None or Path(r.path).name != "model.tflite":
            print(f"kwsq bench: --per-hop skips {r.model} (not a run's model.tflite)")
            continue
        run = Run(run_dir)
        r.per_hop = deploy.per_hop_cost(run, r.target, r.kernels, wav, conv_hop, fixed)


def build_name(terse: bool, lto: bool) -> str:
    """How the runtime was built, as the table header and the notes name it."""
    flags = [f for f, on in (("TERSE=1", terse), ("LTO=1", lto)) if on]
    return " ".join(flags) if flags else "default"


def default_models() -> list[Path]:
    if not ANCHOR_DIR.is_dir():
        raise KwsqError(f"no model given and the anchor models are missing ({ANCHOR_DIR})")
    return [ANCHOR_DIR / name for name in ANCHOR_MODELS]


def plan_jobs(targets: list[str], kernels: str | None) -> list[tuple[str, str]]:
    """(target, kernel folder) pairs; ``all`` is every folder written for each target,
    ``None`` each target's default folder."""
    jobs = []
    for t in targets:
        if kernels is None:
            jobs.append((t, default_kernels(t)))
            continue
        valid = kernels_for(t)
        if kernels == "all":
            jobs += [(t, k) for k in valid]
            continue
        for k in _split_list(kernels, available_kernels(), "kernel folder"):
            if k not in valid:
                raise KwsqError(f"kernel folder '{k}' is not written for target {t}"
                                f" (it has: {', '.join(valid)})")
            jobs.append((t, k))
    return jobs


def measure(
    refs: list[ModelRef], jobs: list[tuple[str, str]], n_inputs: int, seed: int,
    op_list: bool = True, failures: list[str] | None = None, terse: bool = False,
    lto: bool = False,
) -> list[BenchRow]:
    """Every model under every (target, kernels), with a progress bar on stderr.

    With ``failures`` given, a model that cannot run somewhere (too big for a board, an op
    a target cannot build) adds one line there and the others go on; without, it raises.
    """
    from pipeline.console import bar as progress_bar

    rows = []
    work = [(ref, t, k) for t, k in jobs for ref in refs]
    with progress_bar(total=len(work), desc="kwsq bench", unit="run",
                      mininterval=2.0) as bar:
        for ref, target, kernels in work:
            bar.set_postfix(run=f"{ref.label} on {target}/{kernels}")
            try:
                rows.append(bench_model(ref, target, kernels, n_inputs, seed, op_list, terse, lto))
            except KwsqError as exc:
                if failures is None:
                    raise
                failures.append(f"{ref.label} on {target}/{kernels}: {str(exc).splitlines()[0]}")
            bar.update()
    return rows


def run(args: argparse.Namespace) -> int:
    terse, lto = getattr(args, "terse", False), getattr(args, "lto", False)
    if args.suite is not None:
        if terse or lto:
            raise KwsqError("--terse and --lto measure one runtime build: not with --suite")
        from pipeline.device.bench_report import run_suite

        return run_suite(args)
    targets = _split_list(args.target or "m4", list(TARGETS), "target")
    refs = [resolve_model(m) for m in (list(args.models) or default_models())]
    jobs = plan_jobs(targets, args.kernels)
    rows = measure(refs, jobs, args.inputs, args.seed, op_list=not args.all_ops, terse=terse,
                   lto=lto)
    for target in targets:
        target_rows = [r for r in rows if r.target == target]
        spec = TARGETS[target]
        print(
            f"target {target} ({spec.description}), "
            + ("plugin-counted instructions" if spec.user_mode else "QEMU -icount shift=7")
            + f"; est. ms at {spec.clock_note}; runtime code = tflm_port objects only"
            + ("; every op linked" if args.all_ops else "; only the model's ops linked")
            + f"; runtime build: {build_name(terse, lto)}"
        )
        print(format_table(target_rows))
    print(ESTIMATE_NOTE)
    if args.per_hop:
        measure_per_hop(rows, args.wav, args.conv_hop, args.fixed)
        print("\nper hop, streaming (C front-end every hop, the model and the detection rules"
              " every k hops; steady state; duty = instructions / (clock x hop) at 1 instruction"
              " per cycle, at kwsq deploy's typical clock of a part with the core):")
        print(per_hop_table(rows))
    if args.ops:
        for r in rows:
            print(f"\n{r.model} on {r.target}/{r.kernels}: instructions per operator")
            for i, (name, n) in enumerate(r.ops):
                print(f"  {i:3d} {name:<24} {n:>12,}")
    if args.out is not None:
        write_text(args.out, json.dumps([asdict(r) for r in rows], indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def relative(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (for printed lines)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
