"""A bounded libFuzzer run over the runtime's flatbuffer reader and init.

The reader is the runtime's only defence against a corrupt .tflite; a short,
seeded fuzz run (mutations of the anchor models and of the small models
conftest.py converts, which reach int4, hybrid and the other kernels;
AddressSanitizer and UBSan on) in every test run keeps it honest.
Longer runs: ``make -C tflm_port/fuzz run``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.paths import ANCHOR_DIR, PORT_DIR

# A fixed seed and a fixed number of executions make the run reproducible; the
# time cap only guards the suite's budget on a slow machine.
FUZZ_SEED = 1
FUZZ_RUNS = 3_000
FUZZ_MAX_SECONDS = 30
CONVERTED_SEEDS = ("dense_act", "dense_softmax_float_io", "conv_family", "slice_pack",
                   "dense_int4", "conv_int4", "hybrid_dense")  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("clang") is None, reason="needs clang (Debian package clang)"),
    pytest.mark.skipif(not ANCHOR_DIR.is_dir(), reason=f"seed models not found at {ANCHOR_DIR}"),
]


def test_seeded_fuzz_run_finds_no_crash(tmp_path: Path, converted) -> None:
    build = subprocess.run(["make", "--no-print-directory", "-C", str(PORT_DIR / "fuzz")],
                           capture_output=True, text=True)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    fuzzer = PORT_DIR / "build" / "fuzz" / "fuzz_reader"

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for model in ANCHOR_DIR.glob("*.tflite"):
        shutil.copy(model, seeds / model.name)
    for kind in CONVERTED_SEEDS:
        (seeds / f"{kind}.tflite").write_bytes(converted(kind))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()

    proc = subprocess.run(
        [str(fuzzer), f"-seed={FUZZ_SEED}", f"-runs={FUZZ_RUNS}",
         f"-max_total_time={FUZZ_MAX_SECONDS}", "-timeout=60", "-rss_limit_mb=2048",
         "-print_final_stats=1", f"-artifact_prefix={artifacts}/", str(corpus), str(seeds)],
        capture_output=True, text=True, timeout=FUZZ_MAX_SECONDS + 90,
    )  # fmt: skip
    findings = sorted(p.name for p in artifacts.iterdir())
    assert proc.returncode == 0 and not findings, (
        f"fuzzer exit {proc.returncode}, findings {findings}:\n{proc.stderr[-4000:]}"
    )
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
    assert executed is not None and int(executed.group(1)) > len(list(seeds.iterdir()))
