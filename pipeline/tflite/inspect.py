"""``kwsq inspect``: what a .tflite really stores.

Interpreters report packed INT4 weights as INT8 and hide per-channel scales, so this
reads the flatbuffer: the operators, every tensor's stored type (INT4 included), shape
and bytes, and for constant tensors the number of distinct values (the bits a trained
grid really uses, e.g. 15 levels = 4 bits in an INT8 container) and whether the scales
are per channel and powers of two. It is how a claim like "4-bit weights" is checked.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import KwsqError
from pipeline.tflite import schema as tfs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help=".tflite file")
    p.add_argument("--json", action="store_true",
                   help="print the inspection as JSON (default: a table)")
    p.add_argument("--all-tensors", action="store_true",
                   help="also list activation tensors (default: constants only)")


@dataclass
class TensorInfo:
    index: int
    name: str
    type: str
    shape: list[int]
    constant: bool
    bytes: int
    scales: int = 0  # number of quantization scales (0: not quantized)
    per_channel: bool = False
    power_of_two: bool | None = None  # all scales exact powers of two
    scale_min: float | None = None
    scale_max: float | None = None
    distinct_values: int | None = None  # constants only
    bits_used: int | None = None  # ceil(log2(distinct values)), constants only
    value_min: int | float | None = None
    value_max: int | float | None = None


@dataclass
class OpInfo:
    index: int
    op: str
    inputs: list[int]
    outputs: list[int]


@dataclass
class Inspection:
    file_bytes: int
    constant_bytes: int
    ops: list[OpInfo] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list)

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(Counter(o.op for o in self.ops))

    def tensor(self, index: int) -> TensorInfo:
        return next(t for t in self.tensors if t.index == index)

    def weights(self) -> list[TensorInfo]:
        """Input 1 of each operator that has a constant one (kernels)."""
        seen = []
        for op in self.ops:
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                t = self.tensor(op.inputs[1])
                if t.constant and t not in seen:
                    seen.append(t)
        return seen

    def to_dict(self) -> dict[str, Any]:
        return {"file_bytes": self.file_bytes, "constant_bytes": self.constant_bytes,
                "op_counts": self.op_counts, "ops": [asdict(o) for o in self.ops],
                "tensors": [asdict(t) for t in self.tensors]}


def _is_power_of_two(x: float) -> bool:
    if not (x > 0 and math.isfinite(x)):
        return False
    mantissa, _ = math.frexp(x)
    return mantissa == 0.5


def inspect_bytes(data: bytes) -> Inspection:
    model = tfs.load(data)
    if not model.subgraphs:
        raise KwsqError("the model has no subgraphs")
    result = Inspection(file_bytes=len(data), constant_bytes=0)
    sg = model.subgraphs[0]
    for i, op in enumerate(sg.operators):
        result.ops.append(OpInfo(i, tfs.op_name(model, op), [int(x) for x in op.inputs],
                                 [int(x) for x in op.outputs]))
    for i, t in enumerate(sg.tensors):
        constant = tfs.is_constant(model, t)
        info = TensorInfo(
            index=i, name=tfs.tensor_name(t),
            type=tfs.TYPE_NAMES.get(int(t.type), str(t.type)),
            shape=[int(d) for d in (t.shape if t.shape is not None else [])],
            constant=constant, bytes=tfs.tensor_bytes(model, t))
        q = tfs.quant(t)
        if q is not None:
            scales = q.scales.astype(np.float64)
            info.scales = int(scales.size)
            info.per_channel = q.per_channel
            info.power_of_two = all(_is_power_of_two(float(s)) for s in scales)
            info.scale_min, info.scale_max = float(scales.min()), float(scales.max())
        if constant:
            result.constant_bytes += info.bytes
            try:
                values = tfs.tensor_values(model, t)
            except KwsqError:
                values = None
            if values is not None and values.size:
                distinct = int(np.unique(values).size)
                info.distinct_values = distinct
                info.bits_used = max(1, math.ceil(math.log2(distinct))) if distinct > 1 else 1
                vmin, vmax = values.min(), values.max()
                info.value_min = vmin.item() if hasattr(vmin, "item") else vmin
                info.value_max = vmax.item() if hasattr(vmax, "item") else vmax
        result.tensors.append(info)
    return result


def inspect_file(path: str | Path) -> Inspection:
    path = Path(path)
    if not path.is_file():
        raise KwsqError(f"{path} does not exist")
    return inspect_bytes(path.read_bytes())


def _scale_text(t: TensorInfo) -> str:
    if not t.scales:
        return "-"
    kind = f"{t.scales} ch" if t.per_channel else "tensor"
    pow2 = " pow2" if t.power_of_two else ""
    if t.scale_min == t.scale_max:
        return f"{kind} {t.scale_min:.3g}{pow2}"
    return f"{kind} {t.scale_min:.3g}..{t.scale_max:.3g}{pow2}"


def format_inspection(ins: Inspection, all_tensors: bool = False) -> str:
    lines = [f"{ins.file_bytes} bytes ({ins.constant_bytes} in constant tensors), "
             f"{len(ins.ops)} operators: "
             + ", ".join(f"{n} x{c}" for n, c in ins.op_counts.items())]
    lines.append("")
    lines.append(f"{'#':>3} {'operator':<20} {'weight type':<11} {'shape':<14} {'bytes':>7} "
                 f"{'levels':>6} {'bits':>4}  scales")
    for op in ins.ops:
        w = (ins.tensor(op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None)
        if w is None or not w.constant:
            lines.append(f"{op.index:>3} {op.op:<20}")
            continue
        lines.append(f"{op.index:>3} {op.op:<20} {w.type:<11} {str(w.shape):<14} {w.bytes:>7} "
                     f"{w.distinct_values or '-':>6} {w.bits_used or '-':>4}  {_scale_text(w)}")
    lines.append("")
    header = "tensors" if all_tensors else "constant tensors"
    lines.append(f"{header}:")
    for t in ins.tensors:
        if not (t.constant or all_tensors):
            continue
        lines.append(f"{t.index:>3} {t.type:<8} {str(t.shape):<14} {t.bytes:>7} B  "
                     f"{_scale_text(t):<28} {t.name}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    ins = inspect_file(args.model)
    if args.json:
        print(json.dumps(ins.to_dict(), indent=2))
    else:
        print(format_inspection(ins, args.all_tensors))
    return 0
