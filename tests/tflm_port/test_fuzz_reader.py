"""A bounded libFuzzer run over the runtime (reader, init with an arena size taken
from the input, invoke), and the replay of its corpus on the host and on the
Cortex-M4 firmware under QEMU.

The reader is the runtime's only defence against a corrupt .tflite and the
allocator its defence against a small arena; a short, seeded fuzz run
(mutations of the anchor models and of the small models conftest.py converts,
which reach int4, hybrid and the other kernels; AddressSanitizer and UBSan on)
in every test run keeps them honest. 32-bit size overflows only show on a
32-bit target, so the corpus is also replayed there (guard bytes around the
arena, the vector table checked), and both must give the same answers.
Longer runs: ``make -C tflm_port/fuzz run`` then ``make -C tflm_port/fuzz replay``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
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
BUILD = PORT_DIR / "build" / "fuzz"
STATUS_ARENA = 4

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("clang") is None, reason="needs clang (Debian package clang)"),
    pytest.mark.skipif(not ANCHOR_DIR.is_dir(), reason=f"seed models not found at {ANCHOR_DIR}"),
]


@dataclass
class FuzzRun:
    seeds: Path
    corpus: Path
    artifacts: Path
    returncode: int
    stderr: str


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory, converted) -> FuzzRun:
    build = subprocess.run(["make", "--no-print-directory", "-C", str(PORT_DIR / "fuzz")],
                           capture_output=True, text=True)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    tmp = tmp_path_factory.mktemp("fuzz")
    seeds, corpus, artifacts = tmp / "seeds", tmp / "corpus", tmp / "artifacts"
    for d in (seeds, corpus, artifacts):
        d.mkdir()
    for model in ANCHOR_DIR.glob("*.tflite"):
        shutil.copy(model, seeds / model.name)
    for kind in CONVERTED_SEEDS:
        (seeds / f"{kind}.tflite").write_bytes(converted(kind))
    proc = subprocess.run(
        [str(BUILD / "fuzz_reader"), f"-seed={FUZZ_SEED}", f"-runs={FUZZ_RUNS}",
         f"-max_total_time={FUZZ_MAX_SECONDS}", "-timeout=60",
         # libFuzzer's RSS limit reads getrusage's peak, which Linux carries over from the
         # parent across fork and exec: under pytest (TensorFlow loaded, ~3.5 GB) it fires at
         # once. A per-allocation limit guards against runaway memory instead.
         "-rss_limit_mb=0", "-malloc_limit_mb=512",
         "-print_final_stats=1", f"-artifact_prefix={artifacts}/", str(corpus), str(seeds)],
        capture_output=True, text=True, timeout=FUZZ_MAX_SECONDS + 90,
    )  # fmt: skip
    return FuzzRun(seeds, corpus, artifacts, proc.returncode, proc.stderr)


def test_seeded_fuzz_run_finds_no_crash(fuzz_run: FuzzRun) -> None:
    findings = sorted(p.name for p in fuzz_run.artifacts.iterdir())
    assert fuzz_run.returncode == 0 and not findings, (
        f"fuzzer exit {fuzz_run.returncode}, findings {findings}:\n{fuzz_run.stderr[-4000:]}"
    )
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", fuzz_run.stderr)
    assert executed is not None and int(executed.group(1)) > len(list(fuzz_run.seeds.iterdir()))


def _lines(text: str) -> list[tuple[int, ...]]:
    assert "KWSQ BAD" not in text, text[-2000:]
    assert "KWSQ DONE" in text, text[-2000:]
    return [tuple(map(int, line.split()[2:])) for line in text.splitlines()
            if line.startswith("KWSQ R ")]


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="needs qemu-system-arm")
def test_corpus_replays_alike_on_the_host_and_the_cortex_m4(fuzz_run: FuzzRun, tmp_path) -> None:
    sys.path.insert(0, str(PORT_DIR / "fuzz"))
    from pack_corpus import pack

    build = subprocess.run(["make", "--no-print-directory", "-C", str(PORT_DIR / "fuzz"),
                            "replay-bins"], capture_output=True, text=True)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    count = pack([fuzz_run.corpus, fuzz_run.seeds], tmp_path / "kwsq_replay.bin")
    assert count > 10

    host = subprocess.run([str(BUILD / "replay"), str(tmp_path / "kwsq_replay.bin")],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert host.returncode == 0, host.stdout[-2000:] + host.stderr[-2000:]
    m4 = subprocess.run(
        ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial",
         "null", "-semihosting-config", "enable=on,target=native", "-kernel",
         str(BUILD / "replay-m4.elf")],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert m4.returncode == 0, f"exit {m4.returncode}: {m4.stdout[-2000:]}"
    on_host, on_m4 = _lines(host.stdout), _lines(m4.stdout)
    assert len(on_host) == len(on_m4) == count
    both_ran = 0
    for (i, st_h, _, _, hash_h), (_, st_m, _, _, hash_m) in zip(on_host, on_m4, strict=True):
        # Arena needs differ with pointer size, so an arena refusal on one side only is fine.
        if STATUS_ARENA not in (st_h, st_m):
            assert st_h == st_m, f"input {i}: status {st_h} on the host, {st_m} on the M4"
        if st_h == st_m == 0:
            both_ran += 1
            assert hash_h == hash_m, f"input {i}: outputs differ between host and M4"
    assert both_ran > 0
