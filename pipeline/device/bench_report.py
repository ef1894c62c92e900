"""``make bench`` (``kwsq bench --suite DIR``): the whole benchmark and its report.

It measures the anchor models (when ``../shared/anchor_models`` is there) and the given run
folders' models on every target and every kernel folder written for it, then writes a
markdown report: every measurement, the ratio to TFLite Micro + CMSIS-NN where those figures
exist, the bars the optimized kernels must clear (met or not, with the figure), the int8 vs
4-bit twins and the float vs int8 vs 4-bit ladder of the 250K-parameter DNN checked against
the claim of "Sub 8-Bit Quantization of Streaming Keyword Spotting Models for Embedded
Chipsets" (Zeng et al.): "up to 3x CPU efficiency improvement and 4x memory reduction".

The general-shapes section measures twelve int8 models the anchors do not contain
(``pipeline/device/general_shapes.py``) per multiply-accumulate and per layer, each checked
bit-exact against tflite_micro: kwsq must beat TFLite Micro + CMSIS-NN on any model with these
ops, not only on the anchors' layer shapes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import write_text
from pipeline.device.bench import (
    ANCHOR_MODELS,
    ESTIMATE_NOTE,
    BenchRow,
    ModelRef,
    _split_list,
    bench_model,
    build_name,
    measure,
    model_input_specs,
    plan_jobs,
    random_inputs,
    relative,
    resolve_model,
    row_of,
)
from pipeline.device.general_shapes import ShapeModel
from pipeline.device.targets import TARGETS, run_on_target
from pipeline.errors import KwsqError
from pipeline.paths import ANCHOR_DIR


@dataclass(frozen=True)
class Reference:
    """A TFLite Micro figure for one anchor model on one target."""

    engine: str
    instructions: int
    arena_bytes: int
    code_bytes: str  # as published: "runtime + kernels" flash


# TFLite Micro figures, measured by the kwsq team with TFLM built into the same kind of
# bare-metal firmware, run on the same QEMU machines with -icount shift=7 and counted by
# the same timer method; provenance and the table they come from: docs/references.md
# ("Anchor models and their figures").
TFLM_CMSIS_NN: dict[tuple[str, str], Reference] = {
    ("micro_speech_quantized.tflite", "m4"):
        Reference("TFLM + CMSIS-NN", 1_495_520, 6_836, "34,974 + 29,856"),
    ("micro_speech_quantized.tflite", "m55"):
        Reference("TFLM + CMSIS-NN (Helium)", 1_008_406, 7_812, "35,068 + 27,268"),
    ("mlperf_tiny_kws_ds_cnn_int8.tflite", "m4"):
        Reference("TFLM + CMSIS-NN", 7_699_320, 22_820, "41,904 + 50,944"),
    ("mlperf_tiny_kws_ds_cnn_int8.tflite", "m55"):
        Reference("TFLM + CMSIS-NN (Helium)", 1_815_187, 27_348, "42,314 + 41,160"),
    ("hello_world_int8.tflite", "m4"):
        Reference("TFLM + CMSIS-NN", 3_640, 772, "24,084 + 13,296"),
}  # fmt: skip
TFLM_REFERENCE: dict[tuple[str, str], Reference] = {
    ("micro_speech_quantized.tflite", "m4"):
        Reference("TFLM reference kernels", 9_310_268, 6_788, "38,107"),
    ("mlperf_tiny_kws_ds_cnn_int8.tflite", "m4"):
        Reference("TFLM reference kernels", 43_040_920, 22_772, "46,722"),
}  # fmt: skip

PAPER_CPU_GAIN = 3.0
PAPER_MEMORY_GAIN = 4.0
PAPER = "Sub 8-Bit Quantization of Streaming Keyword Spotting Models for Embedded Chipsets"
DNN250K = "dnn250k"


@dataclass
class Check:
    """One bar the benchmark must clear, and what was measured."""

    what: str
    measured: str
    bar: str
    met: bool | None  # None: reported only, or not measured


def _anchor(rows: list[BenchRow], name: str) -> list[BenchRow]:
    return [r for r in rows if Path(r.path).name == name and r.run_model is None]


def best(rows: list[BenchRow], target: str) -> BenchRow | None:
    """The kernel folder with the fewest instructions on ``target``."""
    on = [r for r in rows if r.target == target]
    return min(on, key=lambda r: r.instructions) if on else None


def _bar_check(
    rows: list[BenchRow], model: str, target: str, max_instructions: int | None,
    max_arena: int | None = None,
) -> Check:
    r = best(_anchor(rows, model), target)
    label = f"{model.removesuffix('.tflite')} on {target}"
    bars = []
    if max_instructions is not None:
        bars.append(f"<= {max_instructions:,} instructions")
    if max_arena is not None:
        bars.append(f"arena <= {max_arena:,} B")
    bar = ", ".join(bars) or "reported"
    if r is None:
        return Check(label, "not measured", bar, None)
    measured = f"{r.instructions:,} instructions ({r.kernels}), arena {r.arena_bytes:,} B"
    if max_instructions is None and max_arena is None:
        return Check(label, measured, bar, None)
    met = (max_instructions is None or r.instructions <= max_instructions) and (
        max_arena is None or r.arena_bytes <= max_arena
    )
    return Check(label, measured, bar, met)


def anchor_checks(rows: list[BenchRow]) -> list[Check]:
    ds, ms = "mlperf_tiny_kws_ds_cnn_int8.tflite", "micro_speech_quantized.tflite"
    return [
        _bar_check(rows, ds, "m4", 4_000_000, 11_000),
        _bar_check(rows, ds, "m55", 1_360_000),
        _bar_check(rows, ds, "m7", None),
        _bar_check(rows, ds, "a64", 1_000_000),
        _bar_check(rows, ds, "a32", None),
        _bar_check(rows, ms, "m4", 600_000, 5_500),
        _bar_check(rows, ms, "m55", 500_000),
    ]


# micro_speech's runtime code on the Cortex-M4 with the dsp kernels, op-list firmware: the bar
# holds for the best of the builds measured (default, TERSE=1, TERSE=1 LTO=1).
CODE_MODEL = "micro_speech_quantized.tflite"
CODE_TARGET, CODE_KERNELS, CODE_BAR = "m4", "dsp", 20_000
CODE_BUILDS = ((True, False), (True, True))  # (terse, lto) measured besides the default


def code_size_rows(refs: list[ModelRef], jobs: list[tuple[str, str]], n_inputs: int, seed: int,
                   failures: list[str]) -> list[BenchRow]:
    """CODE_MODEL on CODE_TARGET/CODE_KERNELS in the CODE_BUILDS (op list), when the suite
    measures that model there at all."""
    ref = next((r for r in refs if r.path.name == CODE_MODEL and r.run_model is None), None)
    if ref is None or (CODE_TARGET, CODE_KERNELS) not in jobs:
        return []
    rows = []
    for terse, lto in CODE_BUILDS:
        try:
            rows.append(bench_model(ref, CODE_TARGET, CODE_KERNELS, n_inputs, seed, True, terse,
                                    lto))
        except KwsqError as exc:
            failures.append(f"{ref.label} on {CODE_TARGET}/{CODE_KERNELS} "
                            f"{build_name(terse, lto)}: {str(exc).splitlines()[0]}")
    return rows


def code_check(rows: list[BenchRow]) -> Check:
    """CODE_MODEL's runtime code in every op-list build measured; met by the smallest."""
    on = [r for r in _anchor(rows, CODE_MODEL)
          if r.target == CODE_TARGET and r.kernels == CODE_KERNELS and r.op_list]
    label = f"{CODE_MODEL.removesuffix('.tflite')} runtime code on {CODE_TARGET}/{CODE_KERNELS}"
    bar = f"<= {CODE_BAR:,} B (op-list firmware, best build)"
    if not on:
        return Check(label, "not measured", bar, None)
    measured = ", ".join(f"{build_name(r.terse, r.lto)} {r.runtime_code_bytes:,} B "
                         f"({r.instructions:,} instructions)" for r in on)
    return Check(label, measured, bar, min(r.runtime_code_bytes for r in on) <= CODE_BAR)


def _four_bit(scheme: str | None) -> bool:
    if scheme is None:
        return False
    import quant_configs

    try:
        return quant_configs.get_scheme(scheme).weight_bits == 4
    except Exception:  # noqa: BLE001 - an unknown scheme name is simply not a 4-bit one
        return False


@dataclass
class TwinRow:
    run_model: str
    target: str
    kernels: str
    int8: BenchRow
    low: BenchRow

    @property
    def instructions(self) -> float:
        return self.low.instructions / self.int8.instructions

    @property
    def weights(self) -> float:
        return self.low.weight_bytes / self.int8.weight_bytes

    @property
    def arena(self) -> float:
        return self.low.arena_bytes / self.int8.arena_bytes


def twins(rows: list[BenchRow]) -> list[TwinRow]:
    """int8 and 4-bit runs of the same model builder, on the same target and kernels."""
    out = []
    runs = [r for r in rows if r.run_model is not None]
    for a in runs:
        if a.scheme != "int8":
            continue
        for b in runs:
            if (_four_bit(b.scheme) and b.run_model == a.run_model and b.target == a.target
                    and b.kernels == a.kernels):
                out.append(TwinRow(a.run_model, a.target, a.kernels, a, b))
    return out


def twin_checks(pairs: list[TwinRow]) -> list[Check]:
    """The bar on M4 and A64, for each model with the kernel folder fastest at int8 there."""
    checks = []
    bar = "instr <= 1.1x, weights <= 0.55x, arena <= 1.0x"
    for target in ("m4", "a64"):
        on = [p for p in pairs if p.target == target]
        if not on:
            checks.append(Check(f"4-bit vs int8 twin on {target}", "not measured", bar, None))
            continue
        for model in sorted({p.int8.model for p in on}):
            mine = [p for p in on if p.int8.model == model]
            fastest = min(p.int8.instructions for p in mine)
            for p in mine:
                if p.int8.instructions != fastest:
                    continue
                met = p.instructions <= 1.1 and p.weights <= 0.55 and p.arena <= 1.0
                checks.append(Check(
                    f"{p.low.model} vs {p.int8.model} on {target}/{p.kernels}",
                    f"instr {p.instructions:.3f}x, weights {p.weights:.3f}x, arena {p.arena:.3f}x",
                    bar, met))
    return checks


# The general-shapes section: the folder each target runs the twelve models with.
GENERAL_JOBS: tuple[tuple[str, str], ...] = (("m4", "dsp"), ("m55", "mve"), ("a64", "neon"))
GENERAL_DIR = "general_shapes"
DS_CNN = "mlperf_tiny_kws_ds_cnn_int8.tflite"
DS_CNN_MACS = 2_656_768  # its CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layers


@dataclass(frozen=True)
class PerMacBar:
    """TFLite Micro + CMSIS-NN's instructions per MAC on one target, taken on DS-CNN."""

    target: str
    instructions: int
    macs: int

    @property
    def rate(self) -> float:
        return self.instructions / self.macs

    def holds(self, instructions: int, macs: int) -> bool:
        """``instructions`` for ``macs`` MACs is at or under this rate (exact integers)."""
        return instructions * self.macs <= self.instructions * macs


# A proxy: no CMSIS-NN build runs here. CMSIS-NN's per-MAC cost is lowest on DS-CNN (2.90 on
# M4 against micro_speech's 4.45), whose layers its fast 1x1 and 3x3 depthwise kernels serve,
# so a model at or under DS-CNN's rate is at or under CMSIS-NN's cost on almost any shape.
GENERAL_BARS: dict[str, PerMacBar] = {
    t: PerMacBar(t, TFLM_CMSIS_NN[(DS_CNN, t)].instructions, DS_CNN_MACS) for t in ("m4", "m55")
}
GENERAL_NOTE = (
    "The bar is a proxy, as no CMSIS-NN build runs here: TFLite Micro + CMSIS-NN's lowest"
    " measured cost per multiply-accumulate, DS-CNN's ({m4}), whose 1x1 convolutions and 3x3"
    " stride-1 depthwise layers CMSIS-NN's fastest kernels serve (micro_speech costs it 4.45"
    " per MAC on M4). CMSIS-NN's per-MAC cost rises on small and awkward shapes too, so a"
    " model over the bar is not proven slower than CMSIS-NN; one under it is very likely"
    " faster. Instructions per MAC count the whole inference (pooling, reshape and softmax"
    " included) over the MACs of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, counted from"
    " the .tflite's tensor shapes."
)


def measure_general(folder: Path, jobs: list[tuple[str, str]], seed: int,
                    failures: list[str], specs: Sequence[ShapeModel] | None = None,
                    ) -> list[BenchRow]:
    """The general-shapes models (``specs``, by default all; built into ``folder`` unless
    cached there) on each (target, kernels) of ``jobs``: one seeded random input, op-list
    firmware, outputs compared with tflite_micro's, MACs and per-op shapes from the .tflite."""
    from pipeline.console import bar as progress_bar
    from pipeline.device import general_shapes as gs
    from pipeline.tflite.verify import run_tflm

    paths = gs.ensure_models(folder, specs=gs.GENERAL_MODELS if specs is None else specs)
    rows = []
    with progress_bar(total=len(paths) * len(jobs), desc="kwsq bench: general shapes",
                      unit="run", mininterval=2.0, lines=True) as bar:
        for path in paths:
            data = path.read_bytes()
            layers = gs.op_shapes(data)
            x = random_inputs(model_input_specs(path), 1, seed)
            expected = run_tflm(data, x[0]).reshape(-1)
            ref = ModelRef(path, path.stem)
            for target, kernels in jobs:
                bar.set_postfix(run=f"{path.stem} on {target}/{kernels}")
                try:
                    run = run_on_target(path, x, target, kernels=kernels, op_list=True)
                except KwsqError as exc:
                    failures.append(f"{path.stem} on {target}/{kernels}: "
                                    f"{str(exc).splitlines()[0]}")
                    bar.update()
                    continue
                row = row_of(ref, run, kernels, 1, seed)
                row.general = True
                row.macs = sum(o.macs for o in layers)
                row.layers = [asdict(o) for o in layers]
                row.bit_exact = bool(np.array_equal(run.outputs[0].reshape(-1), expected))
                rows.append(row)
                bar.update()
    return rows


def _per_mac(r: BenchRow) -> float:
    return r.instructions / r.macs if r.macs else float("nan")


def general_checks(rows: list[BenchRow]) -> list[Check]:
    """Per target: every general model bit-exact and at or under TFLM + CMSIS-NN's rate."""
    checks = []
    general = [r for r in rows if r.general and r.macs]
    for target, kernels in GENERAL_JOBS:
        bar = GENERAL_BARS.get(target)
        on = [r for r in general if r.target == target and r.kernels == kernels]
        what = f"general int8 shapes on {target}/{kernels}: never slower than TFLM + CMSIS-NN"
        bar_text = (f"every model <= {bar.rate:.3f} instructions/MAC (proxy: TFLM + CMSIS-NN"
                    f" on DS-CNN, {bar.instructions:,} / {bar.macs:,} MACs) and bit-exact"
                    if bar else "reported (no TFLM + CMSIS-NN figure on this target)")
        if not on:
            checks.append(Check(what, "not measured", bar_text, None))
            continue
        rates = sorted(_per_mac(r) for r in on)
        worst = max(on, key=_per_mac)
        exact = sum(bool(r.bit_exact) for r in on)
        measured = (f"{len(on)} models: instructions/MAC min {rates[0]:.2f}, median"
                    f" {float(np.median(rates)):.2f}, max {_per_mac(worst):.2f} ({worst.model});"
                    f" bit-exact {exact} of {len(on)}")
        if bar is None:
            checks.append(Check(what.split(":")[0] + ": reported", measured, bar_text, None))
            continue
        under = sum(bar.holds(r.instructions, r.macs or 0) for r in on)
        measured += f"; {under} of {len(on)} at or under the bar"
        checks.append(Check(what, measured, bar_text, under == len(on) and exact == len(on)))
    return checks


def _other_ops(r: BenchRow, layers: list[dict]) -> int:
    """Instructions of the ops without MACs (pooling, reshape, softmax, ...)."""
    return sum(n for (_, n), layer in zip(r.ops, layers, strict=True) if not layer["macs"])


def general_section(rows: list[BenchRow]) -> str:
    """The per-model and per-layer tables of the general-shapes models (anchors for scale)."""
    general = [r for r in rows if r.general]
    if not general:
        return "The general-shapes models were not measured."
    jobs = [j for j in GENERAL_JOBS if any((r.target, r.kernels) == j for r in general)]
    names = list(dict.fromkeys(r.model for r in general))
    by = {(r.model, r.target, r.kernels): r for r in general}
    head = ["model", "MACs"]
    for t, k in jobs:
        head += [f"{t}/{k} instructions", "per MAC"]
    head.append("bit-exact vs tflite_micro")
    body = []
    for name in names:
        mine = [by.get((name, t, k)) for t, k in jobs]
        macs = next(r.macs for r in mine if r is not None)
        cells = [name, f"{macs:,}"]
        for (t, _), r in zip(jobs, mine, strict=True):
            if r is None:
                cells += ["not measured", ""]
                continue
            rate = f"{_per_mac(r):.2f}"
            bar = GENERAL_BARS.get(t)
            over = bar is not None and not bar.holds(r.instructions, r.macs or 0)
            cells += [f"{r.instructions:,}", f"**{rate}**" if over else rate]
        wrong = [f"{t}/{k}" for (t, k), r in zip(jobs, mine, strict=True)
                 if r is not None and not r.bit_exact]
        cells.append("NO: " + ", ".join(wrong) if wrong else "yes")
        body.append(cells)
    for anchor in ("micro_speech_quantized.tflite", DS_CNN):
        mine = [next((r for r in _anchor(rows, anchor) if (r.target, r.kernels) == j), None)
                for j in jobs]
        macs = next((r.macs for r in mine if r is not None and r.macs), None)
        if macs is None:
            continue
        cells = [f"(anchor) {anchor.removesuffix('.tflite')}", f"{macs:,}"]
        for r in mine:
            cells += (["not measured", ""] if r is None
                      else [f"{r.instructions:,}", f"{r.instructions / macs:.2f}"])
        cells.append("-")
        body.append(cells)
    bars = ", ".join(f"{t} {b.rate:.3f}" for t, b in GENERAL_BARS.items())
    parts = [_md_table(head, body), "",
             f"Bold: over the bar (instructions per MAC of TFLM + CMSIS-NN on DS-CNN: {bars})."
             " " + GENERAL_NOTE.format(m4=f"{GENERAL_BARS['m4'].rate:.3f} on M4"), "",
             "Per layer: instructions per MAC of each CONV_2D, DEPTHWISE_CONV_2D and"
             " FULLY_CONNECTED (layer: kernel, stride, padding, channels, input->output map; xN a"
             " depth multiplier), and the instructions of the other ops together.", ""]
    head = ["model", "#", "op", "layer", "MACs", *[f"{t}/{k}" for t, k in jobs]]
    body = []
    for name in names:
        mine = [by.get((name, t, k)) for t, k in jobs]
        first = next(r for r in mine if r is not None)
        layers = first.layers or []
        usable = [r is not None and len(r.ops) == len(layers)
                  and all(o == layer["op"] for (o, _), layer in zip(r.ops, layers, strict=True))
                  for r in mine]
        for i, layer in enumerate(layers):
            if not layer["macs"]:
                continue
            cells = [name, str(i), layer["op"], layer["detail"], f"{layer['macs']:,}"]
            cells += [f"{r.ops[i][1] / layer['macs']:.2f}" if ok and r is not None else "-"
                      for r, ok in zip(mine, usable, strict=True)]
            body.append(cells)
        others = [layer["op"] for layer in layers if not layer["macs"]]
        if others:
            cells = [name, "", "other ops", ", ".join(others), "0"]
            cells += [f"{_other_ops(r, layers):,} instr" if ok and r is not None else "-"
                      for r, ok in zip(mine, usable, strict=True)]
            body.append(cells)
    parts.append(_md_table(head, body))
    return "\n".join(parts)


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def measurements_table(rows: list[BenchRow]) -> str:
    body = []
    for r in (r for r in rows if not r.general):
        body.append([
            r.model, r.target, r.kernels, f"{r.instructions:,}",
            f"{r.estimated_ms:.3f} @ {r.clock_mhz:g} MHz", f"{r.arena_bytes:,}",
            f"{r.stack_bytes:,}", f"{r.runtime_code_bytes:,}", f"{r.model_bytes:,}",
            f"{r.weight_bytes:,}",
        ])
    return _md_table(["model", "target", "kernels", "instructions", "est. ms (lower bound)",
                      "arena B", "stack B", "runtime code B", "model B", "weights B"], body)


def reference_table(rows: list[BenchRow]) -> str:
    body = []
    for (name, target), ref in TFLM_CMSIS_NN.items():
        for r in sorted(_anchor(rows, name), key=lambda r: r.kernels):
            if r.target != target:
                continue
            tflm_ref = TFLM_REFERENCE.get((name, target))
            body.append([
                name.removesuffix(".tflite"), target, r.kernels, f"{r.instructions:,}",
                f"{ref.instructions:,}", f"{r.instructions / ref.instructions:.2f}x",
                f"{r.instructions / tflm_ref.instructions:.2f}x" if tflm_ref else "",
                f"{r.arena_bytes:,}", f"{ref.arena_bytes:,}",
                f"{r.arena_bytes / ref.arena_bytes:.2f}x", f"{r.runtime_code_bytes:,}",
                ref.code_bytes,
            ])
    return _md_table(["model", "target", "kwsq kernels", "kwsq instructions",
                      "TFLM + CMSIS-NN", "ratio", "ratio to TFLM ref", "kwsq arena B",
                      "TFLM arena B", "arena ratio", "kwsq runtime code B",
                      "TFLM code B (runtime + kernels)"], body)


def twin_table(pairs: list[TwinRow]) -> str:
    body = [[p.int8.model, p.low.model, p.target, p.kernels, f"{p.int8.instructions:,}",
             f"{p.low.instructions:,}", f"{p.instructions:.3f}x", f"{p.int8.weight_bytes:,}",
             f"{p.low.weight_bytes:,}", f"{p.weights:.3f}x", f"{p.int8.arena_bytes:,}",
             f"{p.low.arena_bytes:,}", f"{p.arena:.3f}x"] for p in pairs]
    return _md_table(["int8 run", "4-bit run", "target", "kernels", "int8 instr", "4-bit instr",
                      "ratio", "int8 weights B", "4-bit weights B", "ratio", "int8 arena B",
                      "4-bit arena B", "ratio"], body)


def ladder(rows: list[BenchRow], run_model: str = DNN250K) -> tuple[str, list[Check]]:
    """Float vs int8 vs 4-bit of one model builder: gains over float, per target/kernels."""
    mine = [r for r in rows if r.run_model == run_model]
    body: list[list[str]] = []
    checks: list[Check] = []
    for target in ("a64", "m4", *[t for t in TARGETS if t not in ("a64", "m4")]):
        floats = [r for r in mine if r.target == target and r.scheme == "float"]
        if not floats:
            continue
        # Float runs on plain C (ref); the quantized ones on every kernel folder.
        fl = min(floats, key=lambda r: r.instructions)
        for q in sorted((r for r in mine if r.target == target and r.scheme != "float"),
                        key=lambda r: (r.kernels, r.scheme or "")):
            cpu = fl.instructions / q.instructions
            mem_w = fl.weight_bytes / q.weight_bytes
            mem_m = fl.model_bytes / q.model_bytes
            arena = fl.arena_bytes / q.arena_bytes
            body.append([q.model, q.scheme or "", target, q.kernels, f"{fl.instructions:,}",
                         f"{q.instructions:,}", f"{cpu:.2f}x", f"{mem_w:.2f}x", f"{mem_m:.2f}x",
                         f"{arena:.2f}x"])
            same = [r for r in mine if r.target == target and r.scheme == q.scheme]
            fastest = min(r.instructions for r in same)
            if (target in ("a64", "m4") and (q.scheme == "int8" or _four_bit(q.scheme))
                    and q.instructions == fastest):
                # The paper states its gains to one digit ("3x", "4x"): compared at 0.1x.
                checks.append(Check(
                    f"{run_model} {q.scheme} vs float on {target}/{q.kernels}",
                    f"CPU {cpu:.2f}x, weight memory {mem_w:.2f}x",
                    f"paper: up to {PAPER_CPU_GAIN:g}x CPU, {PAPER_MEMORY_GAIN:g}x memory"
                    " (compared at 0.1x)",
                    round(cpu, 1) >= PAPER_CPU_GAIN and round(mem_w, 1) >= PAPER_MEMORY_GAIN))
    table = _md_table(["quantized run", "scheme", "target", "kernels", "float instr (plain C)",
                       "quantized instr", "CPU gain", "weight memory gain", "file gain",
                       "arena gain"], body) if body else ""
    return table, checks


def checks_table(checks: list[Check]) -> str:
    def status(c: Check) -> str:
        if c.met is None:
            return "not measured" if c.measured == "not measured" else "reported"
        return "met" if c.met else "NOT met"

    return _md_table(["check", "measured", "bar", "status"],
                     [[c.what, c.measured, c.bar, status(c)] for c in checks])


def report(rows: list[BenchRow], when: dt.date, notes: list[str],
           code_rows: list[BenchRow] | None = None) -> str:
    """The markdown report; ``code_rows`` (other runtime builds of the code-size model) only
    feed the code-size check."""
    pairs = twins(rows)
    ladder_table, ladder_checks = ladder(rows)
    checks = anchor_checks(rows) + [code_check(rows + (code_rows or []))] + twin_checks(pairs) \
        + ladder_checks + general_checks(rows)
    parts = [
        f"# kwsq benchmark, {when.isoformat()}",
        "",
        "Instructions per inference, exact: Cortex-M under `qemu-system-arm -icount shift=7`"
        " (timer method), A-profile under `qemu-aarch64 -cpu max` / `qemu-arm -cpu cortex-a15`"
        " counted by kwsq's TCG plugin. Seeded random inputs, first inference. "
        + ESTIMATE_NOTE + "; clocks: "
        + "; ".join(f"{t} {s.clock_note}" for t, s in TARGETS.items()) + ".",
        "Made by `make bench` (`kwsq bench --suite`).",
        "",
        *notes,
        "",
        "## Checks",
        "",
        checks_table(checks),
        "",
        "## Against TFLite Micro (figures from docs/references.md)",
        "",
        reference_table(rows),
        "",
        "## int8 vs 4-bit twins (same model builder)",
        "",
        twin_table(pairs) if pairs else "No int8/4-bit twin runs were measured.",
        "",
        f"## {DNN250K}: float (plain C) vs int8 vs 4-bit",
        "",
        f"Gains over the float model; the paper ({PAPER}) reports up to"
        f" {PAPER_CPU_GAIN:g}x CPU efficiency and {PAPER_MEMORY_GAIN:g}x memory reduction with"
        " ARM NEON and 8-bit containers.",
        "",
        ladder_table or f"No {DNN250K} runs were measured.",
        "",
        "## General shapes: int8 models the anchors do not contain",
        "",
        "Twelve int8 models built by the TF converter from small Keras models with seeded random"
        " weights (`pipeline/device/general_shapes.py`): DS-CNN-style inputs of 49x10, 25x5,"
        " 40x20 and 20x20, MobileNet-style 32x32x3 and an odd 31x13x2; first convolutions of"
        " 10x4, 3x3, 5x5 and 5x3 at strides 1 and 2, same and valid; widths 8-100; depthwise 3x3"
        " and 5x5 at strides 1 and 2, depth multipliers 2 and 4; per-channel and per-tensor"
        " weights. One seeded random input each, op-list firmware, the target's own kernel"
        " folder.",
        "",
        general_section(rows),
        "",
        "## All measurements",
        "",
        measurements_table(rows),
        "",
    ]
    return "\n".join(parts)


def suite_models(args: argparse.Namespace, say: Callable[[str], None]) -> list[ModelRef]:
    refs: list[ModelRef] = []
    if ANCHOR_DIR.is_dir():
        refs += [resolve_model(ANCHOR_DIR / n) for n in ANCHOR_MODELS
                 if (ANCHOR_DIR / n).is_file()]
    else:
        say(f"bench: anchor models not found at {ANCHOR_DIR}: skipping them")
    for m in args.models:
        if not m.exists():
            say(f"bench: {relative(m)} not found (not trained yet): skipping it")
            continue
        if m.is_dir() and not (m / "model.tflite").is_file():
            say(f"bench: {relative(m)} has no model.tflite (not converted yet): skipping it")
            continue
        refs.append(resolve_model(m))
        # A run folder may also hold the float model (float.tflite) beside model.tflite.
        if m.is_dir() and (m / "float.tflite").is_file():
            refs.append(resolve_model(m / "float.tflite"))
    return refs


def _add_macs(rows: list[BenchRow]) -> None:
    """Each row's MACs per inference, counted from its .tflite's op list."""
    from pipeline.device.general_shapes import model_macs

    counted: dict[str, int] = {}
    for r in rows:
        if r.macs is None:
            if r.path not in counted:
                counted[r.path] = model_macs(Path(r.path).read_bytes())
            r.macs = counted[r.path]


def run_suite(args: argparse.Namespace) -> int:
    notes: list[str] = []

    def say(line: str) -> None:
        print(line)
        notes.append(f"- {line}")

    refs = suite_models(args, say)
    targets = _split_list(args.target or "all", list(TARGETS), "target")
    jobs = plan_jobs(targets, args.kernels or "all")
    if not refs:
        say("bench: nothing to measure")
        return 0
    failures: list[str] = []
    rows = measure(refs, jobs, args.inputs, args.seed, op_list=not args.all_ops, failures=failures)
    code_rows = [] if args.all_ops else code_size_rows(refs, jobs, args.inputs, args.seed,
                                                       failures)
    out_dir: Path = args.suite
    general_jobs = [j for j in GENERAL_JOBS if j in jobs]
    if getattr(args, "no_general", False):
        say("bench: general shapes left out (--no-general)")
    elif not general_jobs:
        say("bench: general shapes not measured: the suite runs none of "
            + ", ".join(f"{t}/{k}" for t, k in GENERAL_JOBS))
    else:
        rows += measure_general(out_dir / GENERAL_DIR, general_jobs, args.seed, failures)
    _add_macs(rows)
    for line in failures:
        say(f"bench: not measured: {line}")
    when = dt.date.today()
    text = report(rows, when, notes, code_rows)
    write_text(out_dir / "bench.md", text)
    # the other builds' records too; each says its build (terse, lto)
    write_text(out_dir / "bench.json",
               json.dumps([asdict(r) for r in rows + code_rows], indent=2) + "\n")
    docs_copy = Path(args.docs) / f"bench-{when.isoformat()}.md"
    write_text(docs_copy, text)
    print(text)
    print(f"wrote {relative(out_dir / 'bench.md')}, {relative(out_dir / 'bench.json')},"
          f" {relative(docs_copy)}")
    return 0
