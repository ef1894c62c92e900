"""Run a .tflite on kwsq's C runtime inside QEMU, and measure it.

Building and running firmware is plumbing every measurement needs (bench,
bit-exactness tests, ``kwsq run --target``), so it lives here once:
``run_on_target`` links the runtime, the model and a batch of inputs into one
image for an emulated board (``tflm_port/boards/Makefile``), runs it under
``qemu-system-arm -icount`` (deterministic instruction counts) and parses what
the firmware prints (``tflm_port/bench/bench_main.c``).  The A-profile targets
(``a64``, ``a32``) are static Linux programs run by ``qemu-aarch64`` /
``qemu-arm`` in user mode, where ``-icount`` does not exist: our TCG plugin
(``tflm_port/tools/icount``) counts the executable's instructions exactly and
hands the count to the firmware, which prints the same lines.  Builds are cached
under ``tflm_port/build/<target>/``: the runtime is compiled once per target,
each model gets its own folder keyed by its content.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.atomic import write_bytes
from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR
from pipeline.tflite.types import NUMPY_DTYPES

BOARDS_DIR = PORT_DIR / "boards"
BUILD_ROOT = PORT_DIR / "build"

DEFAULT_ARENA_BYTES = 1 << 20
DEFAULT_TIMEOUT_S = 900.0

# Firmware exit codes (tflm_port/boards/common/board.h).
EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_ARENA_TOO_SMALL = 2
EXIT_FAULT = 3

# kwsq_type (tflm_port/include/kwsq_rt.h; TFLite's TensorType numbers) -> numpy.
KWSQ_DTYPES = NUMPY_DTYPES

# Sections the linker places in flash (boards/common/cortex_m.ld); .data is
# stored in flash too and copied to RAM at reset.
FLASH_SECTIONS = (".vectors", ".text", ".rodata", ".ARM.exidx", ".data")
MODEL_SECTION = ".model"
INPUTS_SECTION = ".inputs"
# A static Linux executable has no flash; its code and constant sections are
# what a Cortex-M image would keep in flash (unwind tables left out).
USER_CODE_SECTIONS = (".text", ".rodata", ".data", ".data.rel.ro")
USER_MODEL_SECTION = ".kwsq_model"
USER_INPUTS_SECTION = ".kwsq_inputs"

PLUGIN_PATH = BUILD_ROOT / "plugin" / "libkwsq_icount.so"
# Symbols the plugin needs from a user-mode firmware (boards/linux_user/counter_plugin.c):
# the counted PC range [__executable_start, etext), the probe and the cell it fills.
_PLUGIN_SYMBOLS = {
    "lo": "__executable_start",
    "hi": "etext",
    "probe": "kwsq_icount_probe",
    "cell": "kwsq_icount_cell",
}


@dataclass(frozen=True)
class TargetSpec:
    """An emulated ARM target: how to build for it and how to run it.

    ``clock_hz`` is a typical clock of a chip with that core, used only for the
    lower-bound latency estimate (one instruction per cycle) ``kwsq bench``
    prints beside the exact instruction count.
    """

    name: str
    description: str
    compiler: str
    qemu: str
    packages: str
    clock_hz: float
    clock_note: str
    user_mode: bool = False
    cpu: str = ""
    machine: str = ""

    @property
    def code_sections(self) -> tuple[str, ...]:
        return USER_CODE_SECTIONS if self.user_mode else FLASH_SECTIONS

    @property
    def model_section(self) -> str:
        return USER_MODEL_SECTION if self.user_mode else MODEL_SECTION

    @property
    def inputs_section(self) -> str:
        return USER_INPUTS_SECTION if self.user_mode else INPUTS_SECTION

    def tool(self, name: str) -> str:
        """The binutils tool of this target's toolchain (``size``, ``nm``)."""
        return self.compiler.removesuffix("gcc") + name


_M_PACKAGES = "qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi"
TARGETS: dict[str, TargetSpec] = {
    "m4": TargetSpec(
        "m4", "Cortex-M4F on mps2-an386", "arm-none-eabi-gcc", "qemu-system-arm", _M_PACKAGES,
        120e6, "120 MHz, MLPerf Tiny's reference board STM32L4R5", machine="mps2-an386",
    ),
    "m7": TargetSpec(
        "m7", "Cortex-M7 on mps2-an500", "arm-none-eabi-gcc", "qemu-system-arm", _M_PACKAGES,
        216e6, "216 MHz, STM32F7", machine="mps2-an500",
    ),
    "m55": TargetSpec(
        "m55", "Cortex-M55 on mps3-an547", "arm-none-eabi-gcc", "qemu-system-arm", _M_PACKAGES,
        32e6, "32 MHz, the AN547 FPGA image's clock", machine="mps3-an547",
    ),
    "a64": TargetSpec(
        "a64", "AArch64 (ARMv8.2-A + dot product) Linux user mode", "aarch64-linux-gnu-gcc",
        "qemu-aarch64", "qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
        1.2e9, "1.2 GHz, a Cortex-A55/A76-class application core", user_mode=True, cpu="max",
    ),
    "a32": TargetSpec(
        "a32", "ARMv7-A NEON (Cortex-A15) Linux user mode", "arm-linux-gnueabihf-gcc",
        "qemu-arm", "qemu-user gcc-arm-linux-gnueabihf libc6-dev-armhf-cross",
        1.2e9, "1.2 GHz, a Cortex-A7/A15-class application core", user_mode=True,
        cpu="cortex-a15",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class TensorSpec:
    """An input or output tensor as the firmware reports it."""

    type_code: int
    nbytes: int
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        if self.type_code not in KWSQ_DTYPES:
            raise KwsqError(
                f"tensor type {self.type_code} cannot be passed in or out as numpy data"
            )
        return KWSQ_DTYPES[self.type_code]


@dataclass
class TargetRun:
    """What one firmware run measured.

    ``instructions`` is the count of the first inference; ``instructions_each``
    has every inference's (they differ only where a kernel's path depends on the
    data).  ``code_bytes`` splits flash by origin: ``runtime`` (tflm_port objects),
    ``libc`` (newlib/libgcc pulled in), ``harness`` (board startup, semihosting,
    bench main), ``model`` and ``inputs``; ``firmware_flash_bytes`` is
    everything in flash except model and inputs, as ``arm-none-eabi-size -A``
    reports it.
    """

    target: str
    outputs: list[np.ndarray]
    instructions: int
    instructions_each: list[int]
    init_instructions: int
    arena_bytes: int
    stack_bytes: int
    code_bytes: dict[str, int]
    firmware_flash_bytes: int
    op_instructions: list[tuple[str, int]]
    inputs: list[TensorSpec] = field(default_factory=list)
    output_specs: list[TensorSpec] = field(default_factory=list)
    firmware: Path | None = None


# The kernel folder (tflm_port/kernels/<name>) a firmware runs with unless the
# caller names one: the fastest each core has, all bit-exact with kernels/ref
# (tests/tflm_port/test_kernels_dsp.py). Measurements name their folder.
DEFAULT_KERNELS: dict[str, str] = {"m4": "dsp", "m7": "dsp", "m55": "mve", "a64": "neon",
                                   "a32": "neon"}


def default_kernels(target: str) -> str:
    """The kernel folder ``target`` runs with by default (``ref`` where none is faster)."""
    return DEFAULT_KERNELS.get(target, "ref")


def check_tools(target: str) -> TargetSpec:
    """The target's spec, or a KwsqError naming what is missing."""
    if target not in TARGETS:
        raise KwsqError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    spec = TARGETS[target]
    for tool in (spec.compiler, spec.qemu, "make", *(("cc",) if spec.user_mode else ())):
        if shutil.which(tool) is None:
            raise KwsqError(
                f"'{tool}' not found on PATH: install the Debian package(s) {spec.packages}"
                " (make setup)"
            )
    return spec


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize builds and runs that share a folder across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_if_changed(path: Path, data: bytes) -> None:
    # Unchanged content keeps its timestamp, so make does not relink for nothing.
    if path.exists() and path.read_bytes() == data:
        return
    write_bytes(path, data)


def _pack_inputs(
    inputs: np.ndarray | Sequence[np.ndarray] | None,
) -> tuple[list[np.ndarray], bytes, int]:
    """Inputs as arrays with the batch on axis 0, and their bytes interleaved per inference."""
    if inputs is None:
        return [], b"", 1
    arrays = (
        [np.ascontiguousarray(inputs)]
        if isinstance(inputs, np.ndarray)
        else [np.ascontiguousarray(a) for a in inputs]
    )
    if not arrays or any(a.ndim < 1 for a in arrays):
        raise KwsqError("inputs must be arrays with the batch on the leading axis")
    batch = arrays[0].shape[0]
    if batch == 0 or any(a.shape[0] != batch for a in arrays):
        raise KwsqError(
            f"inputs need the same non-zero batch size, got {[a.shape[0] for a in arrays]}"
        )
    per_inference = [a.reshape(batch, -1).view(np.uint8) for a in arrays]
    return arrays, np.concatenate(per_inference, axis=1).tobytes(), batch


def _make(
    target: str, build_dir: Path, variables: dict[str, str], goals: Sequence[str] = ("fw",)
) -> None:
    cmd = [
        "make",
        "-j2",
        "--no-print-directory",
        "-C",
        str(BOARDS_DIR),
        *goals,
        f"TARGET={target}",
        f"BUILD={build_dir}",
        f"BUILD_ROOT={BUILD_ROOT}",
    ]
    cmd += [f"{k}={v}" for k, v in variables.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        log = proc.stderr + proc.stdout
        overflow = [
            line.split("ld: ")[-1]
            for line in log.splitlines()
            if "overflowed by" in line or "will not fit in region" in line
        ]
        if overflow:
            raise KwsqError(f"the firmware does not fit the {target} board: " + "; ".join(overflow))
        raise KwsqError(f"building the {target} firmware failed:\n{_tail(log)}")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _symbol_addresses(spec: TargetSpec, elf: Path, names: Sequence[str]) -> dict[str, int]:
    text = subprocess.run(
        [spec.tool("nm"), str(elf)], capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            found[parts[2]] = int(parts[0], 16)
    missing = [n for n in names if n not in found]
    if missing:
        raise KwsqError(f"{elf} lacks the symbol(s) {', '.join(missing)} the plugin needs")
    return found


def qemu_command(target: str, elf: Path, icount_shift: int = 7) -> list[str]:
    """The QEMU command line that runs a firmware image on ``target``."""
    spec = TARGETS[target]
    if spec.user_mode:
        addresses = _symbol_addresses(spec, elf, list(_PLUGIN_SYMBOLS.values()))
        args = ",".join(f"{k}={addresses[v]:#x}" for k, v in _PLUGIN_SYMBOLS.items())
        return [spec.qemu, "-cpu", spec.cpu, "-plugin", f"{PLUGIN_PATH},{args}", str(elf)]
    return [
        spec.qemu,
        "-M",
        spec.machine,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        f"shift={icount_shift}",
        "-kernel",
        str(elf),
    ]


def run_firmware(target: str, elf: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[int, str]:
    """Run a firmware image; its semihosting exit code and what it printed."""
    try:
        proc = subprocess.run(
            qemu_command(target, elf),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise KwsqError(f"QEMU did not finish {elf.name} within {timeout_s:.0f} s") from exc
    return proc.returncode, proc.stdout + proc.stderr


def parse_size_a(text: str) -> dict[str, int]:
    """Section sizes from ``arm-none-eabi-size -A``."""
    sizes: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


_MAP_INPUT = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_MAP_SECTION_ONE_LINE = re.compile(r"^ (\.\S+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_MAP_SECTION_NAME = re.compile(r"^ (\.\S+|COMMON)$")
_MAP_OUTPUT_SECTION = re.compile(r"^(\.\S+)")


def flash_bytes_by_object(
    map_text: str, sections: Sequence[str] = (*FLASH_SECTIONS, MODEL_SECTION, INPUTS_SECTION)
) -> dict[str, int]:
    """Bytes each object file places in the given output sections (flash), from a GNU ld map."""
    start = map_text.find("Linker script and memory map")
    lines = map_text[start:].splitlines() if start >= 0 else []
    flash_outputs = set(sections)
    out: dict[str, int] = {}
    current = ""
    pending = False
    for line in lines:
        m_out = _MAP_OUTPUT_SECTION.match(line)
        if m_out:
            current = m_out.group(1)
            pending = False
            continue
        if current not in flash_outputs:
            continue
        m_one = _MAP_SECTION_ONE_LINE.match(line)
        if m_one:
            size, obj = int(m_one.group(3), 16), m_one.group(4).strip()
        elif _MAP_SECTION_NAME.match(line):
            pending = True
            continue
        elif pending and (m_in := _MAP_INPUT.match(line)):
            size, obj = int(m_in.group(2), 16), m_in.group(3).strip()
        else:
            pending = False
            continue
        pending = False
        if size and obj.endswith((".o", ")")):
            out[obj] = out.get(obj, 0) + size
    return out


def classify_flash(by_object: dict[str, int], rt_dir: Path) -> dict[str, int]:
    """Group flash bytes as runtime / libc / harness / model / inputs."""
    groups = {"runtime": 0, "libc": 0, "harness": 0, "model": 0, "inputs": 0}
    rt_prefix = str(rt_dir.resolve()) + "/"
    for obj, size in by_object.items():
        name = Path(obj).name
        # An LTO build's ltrans objects (".ltrans0.ltrans.o"): the code GCC's linker
        # plugin generated from the objects carrying LTO bytecode, which boards/Makefile
        # LTO gives to the runtime's objects only (harness, board, model and inputs
        # objects stay plain and keep their own names here), so all of it is runtime.
        # Even if the model array were pulled in, counting it here errs on the side of
        # more runtime code, never less.
        if obj.startswith(rt_prefix) or ".ltrans" in name:
            groups["runtime"] += size
        elif name == "model_data.o":
            groups["model"] += size
        elif name == "inputs_data.o":
            groups["inputs"] += size
        elif ".a(" in obj:
            groups["libc"] += size
        else:
            groups["harness"] += size
    return groups


def _parse_spec(fields: list[str]) -> TensorSpec:
    return TensorSpec(
        type_code=int(fields[0]), nbytes=int(fields[1]), shape=tuple(int(d) for d in fields[2:])
    )


@dataclass
class FirmwareReport:
    """The lines ``bench_main.c`` prints, parsed."""

    init_instructions: int = 0
    arena_used: int = 0
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    runs: int = 0
    instructions: dict[int, int] = field(default_factory=dict)
    raw_outputs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    ops: list[tuple[str, int]] = field(default_factory=list)
    stack_used: int = 0
    errors: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    done: bool = False


def parse_firmware_output(text: str) -> FirmwareReport:
    """Parse the firmware's ``KWSQ ...`` lines; other lines are ignored."""
    rep = FirmwareReport()
    for line in text.splitlines():
        if not line.startswith("KWSQ "):
            continue
        kind, _, rest = line[5:].partition(" ")
        f = rest.split()
        if kind == "INIT":
            rep.init_instructions = int(f[0])
        elif kind == "ARENA":
            rep.arena_used = int(f[0])
        elif kind == "TENSOR":
            (rep.inputs if f[0] == "in" else rep.outputs).append(_parse_spec(f[2:]))
        elif kind == "RUNS":
            rep.runs = int(f[0])
        elif kind == "INSN":
            rep.instructions[int(f[0])] = int(f[1])
        elif kind == "OUT":
            rep.raw_outputs[(int(f[0]), int(f[1]))] = bytes.fromhex(f[2]) if len(f) > 2 else b""
        elif kind == "OP":
            rep.ops.append((f[1], int(f[2])))
        elif kind == "STACK":
            rep.stack_used = int(f[0])
        elif kind == "ERROR":
            rep.errors.append(rest)
        elif kind == "FAULT":
            rep.faults.append(rest)
        elif kind == "DONE":
            rep.done = True
    return rep


def _check_inputs(arrays: list[np.ndarray], specs: list[TensorSpec]) -> None:
    if not arrays:
        return
    if len(arrays) != len(specs):
        raise KwsqError(f"the model has {len(specs)} input(s), got {len(arrays)} array(s)")
    for i, (arr, spec) in enumerate(zip(arrays, specs, strict=True)):
        per_sample = int(np.prod(arr.shape[1:], dtype=np.int64)) * arr.dtype.itemsize
        if arr.dtype != spec.dtype or per_sample != spec.nbytes:
            raise KwsqError(
                f"input {i}: the model wants {spec.dtype} of shape {list(spec.shape)} each,"
                f" got {arr.dtype} of shape {list(arr.shape[1:])}"
            )


def runtime_dir(
    target: str, kernels: str, terse: bool, model: bytes | None = None, lto: bool = False
) -> Path:
    """Where boards/Makefile puts a firmware's runtime objects: one folder per target,
    kernel folder, TERSE and LTO, and for an op-list build (``model`` given) per set of
    kernel paths the model needs (``export_c.variant_flags``)."""
    name = f"rt-{kernels}{'-terse' if terse else ''}{'-lto' if lto else ''}"
    if model is not None:
        from pipeline.tflite.export_c import variant_flags

        name += "-v" + hashlib.sha256(" ".join(variant_flags(model)).encode()).hexdigest()[:8]
    return BUILD_ROOT / target / name


def build_firmware(
    model_path: str | Path,
    target: str = "m4",
    *,
    inputs_bin: bytes = b"",
    kernels: str = "ref",
    arena_bytes: int = DEFAULT_ARENA_BYTES,
    op_list: bool = False,
    terse: bool = False,
    lto: bool = False,
) -> Path:
    """Build (or reuse) the firmware for a model and a batch of raw input bytes; the ELF path.

    ``op_list``: link only the ops the model uses (its ``model_ops.c``, as ``kwsq convert``
    writes it), so the code size is what this model needs; otherwise every op.
    ``terse``: the runtime without its op-name table and error texts (boards/Makefile
    TERSE): errors read "builtin 4 (op 1): error at src/ops/...c:31", the per-op profile
    has no names.
    ``lto``: link-time optimization across the runtime's objects (boards/Makefile LTO);
    instruction counts then differ from the default build's.
    """
    check_tools(target)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise KwsqError(f"model not found: {model_path}")
    model = model_path.read_bytes()
    key = hashlib.sha256(model).hexdigest()[:16]
    suffix = ("-ops" if op_list else "") + ("-terse" if terse else "") + ("-lto" if lto else "")
    build_dir = BUILD_ROOT / target / f"fw-{kernels}-{key}{suffix}"
    build_dir.mkdir(parents=True, exist_ok=True)
    _write_if_changed(build_dir / "model.tflite", model)
    _write_if_changed(build_dir / "inputs.bin", inputs_bin)
    variables = {
        "MODEL": str(build_dir / "model.tflite"),
        "INPUTS": str(build_dir / "inputs.bin"),
        "KERNELS": kernels,
        "ARENA_BYTES": str(arena_bytes),
    }
    if op_list:
        from pipeline.tflite.export_c import op_list_source, variant_flags

        _write_if_changed(build_dir / "model_ops.c", op_list_source(model).encode())
        variables["OPS"] = str(build_dir / "model_ops.c")
        # only the kernel paths the model's layer shapes need, in a runtime build of its own
        variables["VARIANTS"] = " ".join(variant_flags(model))
        variables["RT_BUILD"] = str(runtime_dir(target, kernels, terse, model, lto))
    elif lto:
        variables["RT_BUILD"] = str(runtime_dir(target, kernels, terse, None, lto))
    if terse:
        variables["TERSE"] = "1"
    if lto:
        variables["LTO"] = "1"
    spec = TARGETS[target]
    with _locked(BUILD_ROOT / target / "build.lock"):
        _make(target, build_dir, variables, ("fw", "plugin") if spec.user_mode else ("fw",))
    return build_dir / "fw.elf"


def run_on_target(
    model_path: str | Path,
    inputs: np.ndarray | Sequence[np.ndarray] | None,
    target: str = "m4",
    *,
    kernels: str = "ref",
    arena_bytes: int = DEFAULT_ARENA_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    op_list: bool = False,
    terse: bool = False,
    lto: bool = False,
) -> TargetRun:
    """Run ``model_path`` on every input of the batch inside QEMU.

    ``inputs``: one array (single-input model) or one per model input, batch on
    axis 0, in the model's input types; ``None`` runs one inference on zeroed
    inputs (for benchmarks).  Outputs come back in the model's types with the
    batch on axis 0.
    """
    arrays, packed, batch = _pack_inputs(inputs)
    model_path = Path(model_path)
    spec = TARGETS[target]
    elf = build_firmware(
        model_path, target, inputs_bin=packed, kernels=kernels, arena_bytes=arena_bytes,
        op_list=op_list, terse=terse, lto=lto,
    )
    with _locked(elf.parent / "run.lock"):
        code, text = run_firmware(target, elf, timeout_s)
        size_text = subprocess.run(
            [spec.tool("size"), "-A", str(elf)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        map_text = (elf.parent / "fw.map").read_text()
    rep = parse_firmware_output(text)
    if code != EXIT_OK or not rep.done:
        reason = "; ".join(rep.errors + rep.faults) or _tail(text)
        if code == EXIT_ARENA_TOO_SMALL:
            raise KwsqError(
                f"{model_path.name}: the {arena_bytes}-byte arena is too small: {reason}"
            )
        if code == EXIT_FAULT:
            raise KwsqError(f"{model_path.name}: the firmware crashed on {target}: {reason}")
        raise KwsqError(f"{model_path.name} on {target} (exit {code}): {reason}")
    _check_inputs(arrays, rep.inputs)
    if rep.runs != batch or len(rep.instructions) != batch:
        raise KwsqError(f"the firmware ran {rep.runs} inference(s), expected {batch}")

    outputs = []
    for o, out_spec in enumerate(rep.outputs):
        raw = b"".join(rep.raw_outputs[(r, o)] for r in range(batch))
        shape = (batch, *out_spec.shape)
        outputs.append(np.frombuffer(raw, dtype=out_spec.dtype).reshape(shape).copy())

    sections = parse_size_a(size_text)
    firmware_flash = sum(sections.get(s, 0) for s in spec.code_sections)
    by_object = flash_bytes_by_object(
        map_text, (*spec.code_sections, spec.model_section, spec.inputs_section)
    )
    rt_dir = runtime_dir(
        target, kernels, terse, model_path.read_bytes() if op_list else None, lto
    )
    groups = classify_flash(by_object, rt_dir)
    # The map lists string sections before the linker merges duplicates, so its
    # per-object sums overcount a little; the exact totals come from size -A and
    # the runtime gets what the others (no mergeable strings of note) leave.
    groups["runtime"] = firmware_flash - groups["libc"] - groups["harness"]
    groups["model"] = sections.get(spec.model_section, 0)
    groups["inputs"] = sections.get(spec.inputs_section, 0)
    return TargetRun(
        target=target,
        outputs=outputs,
        instructions=rep.instructions[0],
        instructions_each=[rep.instructions[r] for r in range(batch)],
        init_instructions=rep.init_instructions,
        arena_bytes=rep.arena_used,
        stack_bytes=rep.stack_used,
        code_bytes=groups,
        firmware_flash_bytes=firmware_flash,
        op_instructions=rep.ops,
        inputs=rep.inputs,
        output_specs=rep.outputs,
        firmware=elf,
    )
