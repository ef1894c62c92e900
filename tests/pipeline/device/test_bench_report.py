"""The benchmark report's comparisons (twins, float ladder, bars), on hand-made rows."""

from __future__ import annotations

import datetime as dt

from pipeline.device.bench import BenchRow
from pipeline.device.bench_report import anchor_checks, ladder, report, twin_checks, twins


def _row(model: str, target: str, kernels: str, insn: int, *, scheme: str | None = None,
         run_model: str | None = None, weights: int = 1000, arena: int = 500,
         path: str | None = None) -> BenchRow:
    return BenchRow(
        model=model, path=path or f"runs/{model}/model.tflite", target=target, kernels=kernels,
        inputs=1, seed=0, instructions=insn, instructions_mean=float(insn), clock_mhz=120.0,
        estimated_ms=insn / 120e3, init_instructions=0, arena_bytes=arena, stack_bytes=0,
        runtime_code_bytes=0, libc_code_bytes=0, harness_code_bytes=0, firmware_flash_bytes=0,
        model_bytes=weights + 100, weight_bytes=weights, ops=[], run_model=run_model,
        scheme=scheme)


def test_twins_pair_int8_and_4bit_runs_of_one_model_and_judge_the_fastest_kernels() -> None:
    rows = [
        _row("a-int8", "a64", "ref", 1000, scheme="int8", run_model="dnn"),
        _row("a-w4", "a64", "ref", 1050, scheme="w4a8", run_model="dnn", weights=500),
        _row("a-int8", "a64", "neon", 100, scheme="int8", run_model="dnn"),
        _row("a-w4", "a64", "neon", 125, scheme="w4a8", run_model="dnn", weights=500),
        _row("other-w4", "a64", "neon", 1, scheme="w4a8", run_model="cnn", weights=1),
    ]
    pairs = twins(rows)
    assert {(p.kernels, p.low.model) for p in pairs} == {("ref", "a-w4"), ("neon", "a-w4")}
    checks = [c for c in twin_checks(pairs) if "a64" in c.what]
    # Only the kernel folder fastest at int8 (neon) is held to the bar: 1.25x fails it.
    assert len(checks) == 1 and "a64/neon" in checks[0].what
    assert checks[0].met is False and "instr 1.250x, weights 0.500x" in checks[0].measured


def test_ladder_gains_are_float_over_quantized() -> None:
    rows = [
        _row("f", "a64", "ref", 1200, scheme="float", run_model="dnn250k", weights=4000),
        _row("q8", "a64", "neon", 300, scheme="int8", run_model="dnn250k", weights=1000),
        _row("q4", "a64", "neon", 400, scheme="w4a8", run_model="dnn250k", weights=500),
    ]
    table, checks = ladder(rows)
    assert "| q8 | int8 | a64 | neon | 1,200 | 300 | 4.00x | 4.00x |" in table
    by_scheme = {c.what.split()[1]: c for c in checks}
    assert by_scheme["int8"].met is True  # 4x CPU, 4x memory: the paper's figures reached
    w4 = by_scheme["w4a8"]
    assert w4.met is True and "CPU 3.00x, weight memory 8.00x" in w4.measured


def test_anchor_bars_and_missing_measurements() -> None:
    ds = "/x/mlperf_tiny_kws_ds_cnn_int8.tflite"
    rows = [_row("mlperf_tiny_kws_ds_cnn_int8.tflite", "a64", "neon", 999_999, path=ds),
            _row("mlperf_tiny_kws_ds_cnn_int8.tflite", "a64", "ref", 28_000_000, path=ds)]
    checks = {c.what: c for c in anchor_checks(rows)}
    assert checks["mlperf_tiny_kws_ds_cnn_int8 on a64"].met is True
    assert "(neon)" in checks["mlperf_tiny_kws_ds_cnn_int8 on a64"].measured
    assert checks["mlperf_tiny_kws_ds_cnn_int8 on m4"].measured == "not measured"
    text = report(rows, dt.date(2026, 1, 2), [])
    assert text.startswith("# kwsq benchmark, 2026-01-02")
    assert "| mlperf_tiny_kws_ds_cnn_int8 on m4 | not measured |" in text


def test_code_size_check_takes_the_smallest_op_list_build_and_names_each() -> None:
    from dataclasses import replace

    from pipeline.device.bench_report import code_check

    ms = "micro_speech_quantized.tflite"
    base = _row(ms, "m4", "dsp", 417_000, path=f"anchors/{ms}")
    rows = [replace(base, runtime_code_bytes=24_022),
            replace(base, runtime_code_bytes=19_987, terse=True),
            replace(base, runtime_code_bytes=18_374, terse=True, lto=True, instructions=419_000),
            replace(base, runtime_code_bytes=9_000, kernels="ref"),  # another folder: not counted
            replace(base, runtime_code_bytes=9_000, op_list=False)]  # every op linked: not counted
    check = code_check(rows)
    assert check.met is True
    assert check.measured == ("default 24,022 B (417,000 instructions), TERSE=1 19,987 B (417,000"
                              " instructions), TERSE=1 LTO=1 18,374 B (419,000 instructions)")
    assert code_check(rows[:1]).met is False
    assert code_check([]).measured == "not measured"


def _general(model: str, target: str, kernels: str, insn: int, macs: int, exact: bool = True,
             ops: list[tuple[str, int]] | None = None,
             layers: list[dict] | None = None) -> BenchRow:
    from dataclasses import replace

    return replace(_row(model, target, kernels, insn, path=f"general/{model}.tflite"),
                   general=True, macs=macs, bit_exact=exact, ops=ops or [], layers=layers)


def test_general_checks_hold_every_model_to_cmsis_nns_ds_cnn_rate() -> None:
    from pipeline.device.bench_report import GENERAL_BARS, general_checks

    m4 = GENERAL_BARS["m4"]
    assert (m4.instructions, m4.macs) == (7_699_320, 2_656_768)
    assert f"{m4.rate:.3f}" == "2.898" and f"{GENERAL_BARS['m55'].rate:.3f}" == "0.683"
    # Exactly at the bar is met (integer comparison, no rounding): 7,699,320 for DS-CNN's MACs.
    at_bar = _general("a", "m4", "dsp", 7_699_320, 2_656_768)
    below = _general("b", "m4", "dsp", 1_000, 1_000)
    over = _general("c", "m4", "dsp", 7_699_321, 2_656_768)
    checks = {c.what.split(":")[0]: c for c in general_checks([at_bar, below])}
    assert checks["general int8 shapes on m4/dsp"].met is True
    assert "2 of 2 at or under the bar" in checks["general int8 shapes on m4/dsp"].measured
    assert checks["general int8 shapes on m55/mve"].measured == "not measured"
    c = {c.what.split(":")[0]: c for c in general_checks([at_bar, below, over])}
    assert c["general int8 shapes on m4/dsp"].met is False
    assert "max 2.90 (c)" in c["general int8 shapes on m4/dsp"].measured
    wrong = _general("d", "m4", "dsp", 10, 1_000, exact=False)
    c = {c.what.split(":")[0]: c for c in general_checks([below, wrong])}
    assert c["general int8 shapes on m4/dsp"].met is False  # fast but not bit-exact
    assert "bit-exact 1 of 2" in c["general int8 shapes on m4/dsp"].measured
    a64 = general_checks([_general("a", "a64", "neon", 50_000, 1_000)])[-1]
    assert a64.met is None and a64.what == "general int8 shapes on a64/neon: reported"
    assert "max 50.00 (a)" in a64.measured


def test_general_section_tables_per_model_and_per_layer() -> None:
    from pipeline.device.bench_report import general_section

    layers = [{"index": 0, "op": "CONV_2D", "macs": 1_000, "detail": "3x3 s1 same, 1->8 ch"},
              {"index": 1, "op": "RESHAPE", "macs": 0, "detail": ""},
              {"index": 2, "op": "FULLY_CONNECTED", "macs": 100, "detail": "10->10"}]
    rows = [
        _general("g", "m4", "dsp", 5_000, 1_100, ops=[("CONV_2D", 3_000), ("RESHAPE", 700),
                                                      ("FULLY_CONNECTED", 1_300)], layers=layers),
        _general("g", "m55", "mve", 550, 1_100, exact=False,
                 ops=[("CONV_2D", 300), ("RESHAPE", 50)], layers=layers),  # ops do not match
    ]
    text = general_section(rows)
    assert "| g | 1,100 | 5,000 | **4.55** | 550 | 0.50 | NO: m55/mve |" in text
    assert "| g | 0 | CONV_2D | 3x3 s1 same, 1->8 ch | 1,000 | 3.00 | - |" in text
    assert "| g | 2 | FULLY_CONNECTED | 10->10 | 100 | 13.00 | - |" in text
    assert "| g |  | other ops | RESHAPE | 0 | 700 instr | - |" in text
    assert "proxy" in text
    assert general_section([]) == "The general-shapes models were not measured."
