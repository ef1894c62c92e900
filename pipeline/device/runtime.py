"""Run .tflite models on kwsq's own C runtime (tflm_port/) from Python.

``Runtime`` binds ``libkwsq_rt.so`` with ctypes, so the exact C code that runs on
the microcontrollers is the one verified on the host against ``tflite_micro``.
The library is (re)built with ``make -C tflm_port`` on first use when missing
or older than its sources. The ``kwsq run`` sub-command runs a model on a batch
of inputs on the host or, through ``pipeline.device.targets``, on an emulated
board.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import console
from pipeline.atomic import atomic_path
from pipeline.device.targets import TARGETS
from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR
from pipeline.tflite.types import NUMPY_DTYPES

LIB_PATH = PORT_DIR / "build" / "host" / "libkwsq_rt.so"
MAX_DIMS = 6
DEFAULT_ARENA_BYTES = 1 << 20
MAX_ARENA_BYTES = 1 << 28

DTYPES = NUMPY_DTYPES  # kwsq_type numbers are TFLite's TensorType numbers
STATUS_ARENA = 4


class _Tensor(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("num_dims", ctypes.c_int32),
        ("dims", ctypes.c_int32 * MAX_DIMS),
        ("data", ctypes.c_void_p),
        ("bytes", ctypes.c_size_t),
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int32),
        ("num_channels", ctypes.c_int32),
    ]


class _Error(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char * 160)]


@dataclass(frozen=True)
class TensorDetails:
    """What a caller needs to feed or read one model input/output."""

    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    type_code: int
    bytes: int
    scale: float
    zero_point: int


def _sources() -> list[Path]:
    files = [PORT_DIR / "Makefile", PORT_DIR / "sources.mk"]
    for sub in ("include", "src", "kernels/ref", "tools"):
        files += [p for p in (PORT_DIR / sub).rglob("*") if p.suffix in (".c", ".h")]
    return files


def _is_stale() -> bool:
    if not LIB_PATH.exists():
        return True
    built = LIB_PATH.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _sources())


def build_library() -> Path:
    """Build ``libkwsq_rt.so`` unless it is up to date; return its path."""
    if not _is_stale():
        return LIB_PATH
    if shutil.which("make") is None or shutil.which("cc") is None:
        raise KwsqError(
            "building tflm_port needs `make` and a C compiler (cc): install gcc and make"
        )
    LIB_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LIB_PATH.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_stale():
            proc = subprocess.run(
                ["make", "-C", str(PORT_DIR), "--no-print-directory", "all"],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise KwsqError(f"building tflm_port failed:\n{tail}")
    return LIB_PATH


_LIB: ctypes.CDLL | None = None


def load_library() -> ctypes.CDLL:
    """The runtime library with argument types declared (built if needed)."""
    global _LIB
    if _LIB is None:
        lib = ctypes.CDLL(str(build_library()))
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        lib.kwsq_init.argtypes = [ctypes.POINTER(vp), vp, sz, vp, sz, ctypes.POINTER(_Error)]
        lib.kwsq_init.restype = ctypes.c_int
        lib.kwsq_invoke.argtypes = [vp, ctypes.POINTER(_Error)]
        lib.kwsq_invoke.restype = ctypes.c_int
        for name in ("kwsq_num_inputs", "kwsq_num_outputs", "kwsq_arena_used_bytes",
                     "kwsq_num_operators"):
            getattr(lib, name).argtypes = [vp]
            getattr(lib, name).restype = sz
        for name in ("kwsq_input", "kwsq_output"):
            getattr(lib, name).argtypes = [vp, sz]
            getattr(lib, name).restype = ctypes.POINTER(_Tensor)
        lib.kwsq_operator_name.argtypes = [vp, sz]
        lib.kwsq_operator_name.restype = ctypes.c_char_p
        _LIB = lib
    return _LIB


def _aligned_buffer(size: int, align: int = 16) -> tuple[ctypes.Array, int]:
    raw = (ctypes.c_uint8 * (size + align))()
    addr = ctypes.addressof(raw)
    return raw, addr + (-addr % align)


class Runtime:
    """One kwsq interpreter over ``model_bytes`` with its own arena.

    ``arena_bytes=None`` finds a sufficient arena automatically; an explicit
    size that is too small raises ``KwsqError`` with the size needed.
    """

    def __init__(self, model_bytes: bytes, arena_bytes: int | None = None) -> None:
        self._lib = load_library()
        self._model_raw, self._model_addr = _aligned_buffer(len(model_bytes))
        ctypes.memmove(self._model_addr, model_bytes, len(model_bytes))
        self._model_len = len(model_bytes)
        size = arena_bytes if arena_bytes is not None else DEFAULT_ARENA_BYTES
        while True:
            status, message = self._init(size)
            if status == 0:
                break
            if status == STATUS_ARENA and arena_bytes is None and size < MAX_ARENA_BYTES:
                size *= 4
                continue
            raise KwsqError(message)
        self.arena_bytes = size

    def _init(self, size: int) -> tuple[int, str]:
        self._arena_raw, arena_addr = _aligned_buffer(size)
        handle = ctypes.c_void_p()
        err = _Error()
        status = self._lib.kwsq_init(
            ctypes.byref(handle), self._model_addr, self._model_len, arena_addr, size,
            ctypes.byref(err),
        )
        self._ip = handle
        return status, err.message.decode(errors="replace")

    @property
    def arena_used_bytes(self) -> int:
        return int(self._lib.kwsq_arena_used_bytes(self._ip))

    @property
    def operators(self) -> list[str]:
        n = self._lib.kwsq_num_operators(self._ip)
        return [self._lib.kwsq_operator_name(self._ip, i).decode() for i in range(n)]

    def _view(self, kind: str, i: int) -> _Tensor:
        count = getattr(self._lib, f"kwsq_num_{kind}s")(self._ip)
        if not 0 <= i < count:
            raise KwsqError(f"the model has {count} {kind}s, no {kind} {i}")
        return getattr(self._lib, f"kwsq_{kind}")(self._ip, i).contents

    def _details(self, kind: str, i: int) -> TensorDetails:
        t = self._view(kind, i)
        if t.type not in DTYPES:
            raise KwsqError(f"{kind} {i} has a tensor type ({t.type}) numpy cannot hold")
        return TensorDetails(
            index=i,
            shape=tuple(t.dims[d] for d in range(t.num_dims)),
            dtype=DTYPES[t.type],
            type_code=t.type,
            bytes=int(t.bytes),
            scale=float(t.scale),
            zero_point=int(t.zero_point),
        )

    def input_details(self) -> list[TensorDetails]:
        return [self._details("input", i) for i in range(self._lib.kwsq_num_inputs(self._ip))]

    def output_details(self) -> list[TensorDetails]:
        return [self._details("output", i) for i in range(self._lib.kwsq_num_outputs(self._ip))]

    def set_input(self, value: np.ndarray, i: int = 0) -> None:
        d = self._details("input", i)
        arr = np.asarray(value)
        if arr.dtype != d.dtype or arr.size * arr.itemsize != d.bytes:
            raise KwsqError(
                f"input {i} must be {d.dtype} with shape {list(d.shape)}, "
                f"got {arr.dtype} with shape {list(arr.shape)}"
            )
        arr = np.ascontiguousarray(arr)
        ctypes.memmove(self._view("input", i).data, arr.ctypes.data, d.bytes)

    def invoke(self) -> None:
        err = _Error()
        status = self._lib.kwsq_invoke(self._ip, ctypes.byref(err))
        if status != 0:
            raise KwsqError(err.message.decode(errors="replace"))

    def get_output(self, i: int = 0) -> np.ndarray:
        d = self._details("output", i)
        out = np.empty(d.shape, dtype=d.dtype)
        ctypes.memmove(out.ctypes.data, self._view("output", i).data, d.bytes)
        return out

    def run_batch(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Each array in ``inputs`` holds one model input with the batch on axis 0;
        returns one array per output, batch on axis 0."""
        details = self.input_details()
        if len(inputs) != len(details):
            raise KwsqError(f"the model has {len(details)} inputs, {len(inputs)} given")
        batch = len(inputs[0]) if inputs else 0
        outs: list[list[np.ndarray]] = [[] for _ in self.output_details()]
        for b in console.progress(range(batch), desc="kwsq runtime", unit="sample"):
            for i, x in enumerate(inputs):
                self.set_input(np.asarray(x[b]).reshape(details[i].shape), i)
            self.invoke()
            for k in range(len(outs)):
                outs[k].append(self.get_output(k))
        return [np.stack(o) for o in outs]


def as_batch(x: np.ndarray, d: TensorDetails) -> tuple[np.ndarray, bool]:
    """``x`` as (batch, *shape) in the input's dtype; the flag says whether a
    single sample (no batch axis) was given."""
    per = int(np.prod(d.shape))
    if x.dtype != d.dtype:
        raise KwsqError(f"input must have dtype {d.dtype} (the model's own type), got {x.dtype}")
    if x.size == per:
        return x.reshape((1, *d.shape)), True
    if x.ndim >= 1 and x.shape[0] > 0 and per > 0 and x.size == x.shape[0] * per:
        return x.reshape((x.shape[0], *d.shape)), False
    raise KwsqError(
        f"input of shape {list(x.shape)} is neither one tensor of shape {list(d.shape)} "
        "nor a batch of them"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--input", type=Path, required=True,
                        help=".npy: one input tensor, or a batch on the leading axis")
    parser.add_argument("--output", type=Path, required=True,
                        help=".npy for the output tensor(s) (raw, in the model's type); "
                        ".npz when the model has several outputs")
    parser.add_argument("--target", default="host", choices=["host", *sorted(TARGETS)],
                        help="host, or an emulated ARM target run under QEMU: "
                        f"{', '.join(f'{n} ({t.description})' for n, t in TARGETS.items())} "
                        "(default: host)")
    parser.add_argument("--arena-bytes", type=int, default=None,
                        help="arena size (default: found automatically on the host)")
    parser.add_argument("--kernels", default=None,
                        help="kernel folder of tflm_port/kernels for an ARM target (default: the "
                        "fastest for the core: dsp on m4/m7, mve on m55, ref elsewhere)")


def run(args: argparse.Namespace) -> int:
    if not args.model.is_file():
        raise KwsqError(f"{args.model}: no such model file")
    if not args.input.is_file():
        raise KwsqError(f"{args.input}: no such input file")
    try:
        x = np.load(args.input, allow_pickle=False)
    except ValueError as exc:
        raise KwsqError(f"{args.input}: not a .npy array ({exc})") from exc
    rt = Runtime(args.model.read_bytes(), args.arena_bytes)
    details = rt.input_details()
    if len(details) != 1:
        raise KwsqError(f"kwsq run feeds single-input models; this one has {len(details)} inputs")
    batch, single = as_batch(x, details[0])
    if args.target == "host":
        outputs = rt.run_batch([batch])
        note = f"arena {rt.arena_used_bytes} bytes"
    else:
        from pipeline.device import targets as qemu_targets

        kwargs = {} if args.arena_bytes is None else {"arena_bytes": args.arena_bytes}
        kernels = args.kernels or qemu_targets.default_kernels(args.target)
        if not (PORT_DIR / "kernels" / kernels).is_dir():
            raise KwsqError(f"--kernels {kernels}: no folder tflm_port/kernels/{kernels}")
        result = qemu_targets.run_on_target(args.model, batch, args.target, kernels=kernels,
                                            **kwargs)
        outputs = list(result.outputs)
        note = f"{result.instructions} instructions/inference ({kernels} kernels)"
    if single:
        outputs = [o[0] for o in outputs]
    if len(outputs) == 1:
        with atomic_path(args.output) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, outputs[0])
    else:
        if args.output.suffix != ".npz":
            raise KwsqError(f"the model has {len(outputs)} outputs: give an .npz --output path")
        with atomic_path(args.output) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, *outputs)
    print(f"kwsq run: {len(batch)} inference(s) on {args.target}, {note}: wrote {args.output}")
    return 0
