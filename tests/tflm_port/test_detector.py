"""The C streaming detector (tflm_port/apps/detector) against kwsq eval's streaming path.

The device must report the detections the evaluation counted: the C rules are held to
``pipeline.evaluate.det`` on posteriors with plateaus and ties, and the whole firmware
(C front-end, frame ring, kwsq runtime, rules) under QEMU is held to the Python streaming
path on a ``kwsq synth --streams`` recording with the same .tflite.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluate import det
from pipeline.paths import PORT_DIR

APP = PORT_DIR / "apps" / "detector"
pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None,
                                reason="needs a host C compiler and make")


@pytest.fixture(scope="module")
def det_check(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("detcheck")
    subprocess.run(["make", "-s", "-C", str(APP), "det-check", f"BUILD={out}"], check=True)
    return out / "det-check"


def _c_detections(exe: Path, tmp: Path, p: np.ndarray, ends: np.ndarray, w: int, th: float,
                  refractory: float, rate: int = 16000) -> list[tuple[int, int, float]]:
    path = tmp / "post.bin"
    with path.open("wb") as f:
        f.write(struct.pack("<iiddii", p.shape[1], w, th, refractory, rate, p.shape[0]))
        for t in range(p.shape[0]):
            f.write(struct.pack("<I", int(ends[t])))
            f.write(p[t].astype("<f4").tobytes())
    out = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in out.stdout.splitlines()]
    return sorted((int(k), int(e), float(s)) for k, e, s in rows)


def _py_detections(p: np.ndarray, ends: np.ndarray, w: int, th: float, refractory: float,
                   rate: int = 16000) -> list[tuple[int, int, float]]:
    times = ends / rate
    out = []
    for k in range(p.shape[1]):
        s = det.smooth(p[:, k].astype(np.float64), w)
        for t in det.detect(s, times, th, refractory):
            out.append((k, int(ends[t]), float(s[t])))
    return sorted(out)


def _posteriors(rng: np.random.Generator, n: int, keywords: int) -> np.ndarray:
    """int8-softmax-like posteriors (multiples of 1/256, so smoothing makes exact ties)
    with bursts where one keyword rises, and flat stretches."""
    q = rng.integers(0, 12, size=(n, keywords))
    for _ in range(n // 40):
        k, t0, length = rng.integers(keywords), rng.integers(n), rng.integers(3, 40)
        q[t0 : t0 + length, k] = rng.integers(100, 256)
        if rng.random() < 0.3:  # a plateau
            q[t0 : t0 + length, k] = 200
    return (q.astype(np.float32) / np.float32(256.0)).astype(np.float32)


@pytest.mark.parametrize("w,refractory,hop", [(1, 1.0, 160), (10, 1.0, 160), (3, 0.05, 320),
                                               (5, 0.3, 1600)])
def test_c_rules_equal_det_py(det_check, tmp_path, w, refractory, hop):
    rng = np.random.default_rng(w * 100 + hop)
    p = _posteriors(rng, 3000, 4)
    ends = 14800 + hop * np.arange(len(p))
    for th in (0.3, 0.5, 0.75):
        c = _c_detections(det_check, tmp_path, p, ends, w, th, refractory)
        py = _py_detections(p, ends, w, th, refractory)
        assert len(py) > 5
        assert c == py  # same windows, keywords and smoothed scores, to the last bit


def test_last_window_can_be_a_peak(det_check, tmp_path):
    p = np.array([[0.1], [0.2], [0.6]], np.float32)
    ends = np.array([400, 560, 720])
    expected = [(0, 720, float(np.float32(0.6)))]
    assert _c_detections(det_check, tmp_path, p, ends, 1, 0.5, 1.0) == expected
    assert _py_detections(p, ends, 1, 0.5, 1.0) == expected


# ------------------------------------------------------------------ firmware vs Python

_missing_arm = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(t) is None]


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory):
    """A smoke-trained svd_dnn on the tiny corpus, converted, and a 30 s test stream."""
    pytest.importorskip("pipeline.evaluate.streaming",
                        reason="kwsq eval's streaming path is not in this build")
    from pipeline.cli import main as kwsq
    from pipeline.corpus.synth import synthesize
    from pipeline.train.runs import Run

    root = tmp_path_factory.mktemp("detector")
    corpus = root / "tiny"
    synthesize(corpus, size="tiny", seed=0, progress=False, streams=True, stream_minutes=0.5)
    run_dir = root / "run"
    assert kwsq(["train", "--data", str(corpus), "--run", str(run_dir), "--preset", "smoke",
                 "--no-naive"]) == 0
    assert kwsq(["convert", str(run_dir), "--no-size-table", "--no-verify"]) == 0
    return Run(run_dir), corpus / "streams" / "stream_000.wav"


def _settings_with_detections(run, wav):
    """The run's detector settings with a threshold the Python path crosses a few times
    (a smoke-trained model is weak: its posteriors rarely reach 0.5)."""
    import dataclasses

    from pipeline.device import deploy

    settings = deploy.detector_settings(run)
    every_peak = deploy.python_detections(run, wav, dataclasses.replace(settings, threshold=0.0))
    scores = sorted({d.score for d in every_peak}, reverse=True)
    settings = dataclasses.replace(settings, threshold=scores[min(6, len(scores) - 1)])
    return settings, deploy.python_detections(run, wav, settings)


def _key(dets) -> list[tuple[int, str]]:
    return sorted((d.end_sample, d.keyword) for d in dets)


@pytest.mark.slow
@pytest.mark.parametrize("target", [
    "host",
    pytest.param("m4", marks=[pytest.mark.qemu, pytest.mark.skipif(
        bool(_missing_arm), reason=f"needs {', '.join(_missing_arm)} (make setup)")]),
])
def test_detections_equal_the_python_streaming_path(stream_run, target):
    from pipeline.data.audio import read_wav
    from pipeline.device import deploy

    run, wav = stream_run
    settings, ref = _settings_with_detections(run, wav)
    assert len(ref) >= 3
    exe = deploy.build(run, target, settings=settings)
    got = deploy.run_detector(exe, target, wav)
    assert _key(got.detections) == _key(ref)
    for a, b in zip(sorted(got.detections, key=lambda d: (d.end_sample, d.keyword)),
                    sorted(ref, key=lambda d: (d.end_sample, d.keyword)), strict=True):
        assert abs(a.score - b.score) <= 1e-6  # printed with 6 decimals
    samples = read_wav(wav)[0].size
    assert got.hops == -(-samples // 160)
    if target == "m4":
        assert got.fe_instructions > 0 and got.model_instructions > 0
        assert got.arena_bytes > 0 and got.frontend_state_bytes > 0


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(bool(_missing_arm), reason=f"needs {', '.join(_missing_arm)} (make setup)")
def test_fixed_point_firmware_without_fpu_equals_its_host_build(stream_run):
    """The integer front-end gives the same bits on a Cortex-M4 compiled without FPU as
    on the host (its agreement with tf.signal is test_frontend's): same detections."""
    from pipeline.device import deploy

    run, wav = stream_run
    settings, _ = _settings_with_detections(run, wav)
    host = deploy.run_detector(deploy.build(run, "host", fixed=True, settings=settings),
                               "host", wav)
    m4 = deploy.run_detector(deploy.build(run, "m4", fixed=True, no_fpu=True,
                                          settings=settings), "m4", wav)
    assert [(d.end_sample, d.keyword, d.score) for d in m4.detections] == \
        [(d.end_sample, d.keyword, d.score) for d in host.detections]
    assert m4.fe_instructions > 0


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(bool(_missing_arm), reason=f"needs {', '.join(_missing_arm)} (make setup)")
def test_bench_per_hop_splits_the_firmware_cost(stream_run, capsys):
    """``kwsq bench --per-hop``: the detector firmware's model time per window is the bench
    harness's invoke of the same model with the same kernels (within the input-window copy),
    its arena is the bench's, and the per-hop total and duty cycle add up from the parts."""
    from pipeline.device import bench

    run, _ = stream_run
    row = bench.bench_model(run.tflite_path, "m4", "dsp", 1, 0)
    bench.measure_per_hop([row], None, None, False)
    c = row.per_hop
    # the same kernels; the firmwares differ in the window copy and the runtime core's flags
    gap = abs(c["model_instructions_per_window"] - row.instructions)
    assert gap <= row.instructions * 0.03 + 2000
    assert c["ram"]["arena"] == row.arena_bytes
    assert c["ram"]["total"] == sum(c["ram"][k] for k in ("arena", "frontend_state", "frame_ring"))
    assert c["hops_per_window"] == 1 and c["hop_ms"] == 10.0
    total = c["fe_instructions_per_hop"] + c["model_instructions_per_window"] + \
        c["detector_instructions_per_window"]
    assert c["instructions_per_hop"] == pytest.approx(total, abs=0.2)
    assert c["duty_cycle"] == pytest.approx(total / (120e6 * 0.010), abs=1e-4)
    assert c["footprint"]["flash_bytes"] > 0 and c["fe_instructions_per_hop"] > 1000
    assert "FE/hop" in bench.per_hop_table([row])
