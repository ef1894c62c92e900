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
def tiny_corpus(tmp_path_factory):
    """The tiny corpus with a 30 s test stream, synthesized once for both trained runs."""
    pytest.importorskip("pipeline.evaluate.streaming",
                        reason="kwsq eval's streaming path is not in this build")
    from pipeline.corpus.synth import synthesize

    corpus = tmp_path_factory.mktemp("corpus") / "tiny"
    synthesize(corpus, size="tiny", seed=0, progress=False, streams=True, stream_minutes=0.5)
    return corpus


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory, tiny_corpus):
    """A smoke-trained svd_dnn on the tiny corpus, converted, and a 30 s test stream."""
    from pipeline.cli import main as kwsq
    from pipeline.train.runs import Run

    root = tmp_path_factory.mktemp("detector")
    corpus = tiny_corpus
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


# ------------------------------------------- a run trained with per-clip normalization

@pytest.fixture(scope="module")
def cross_run(tmp_path_factory, tiny_corpus):
    """``--preset ds_cnn_cross`` (MFCC, per-channel mean normalization over the clip, the
    cross-family augmentation) trained for 2 + 1 epochs on the tiny corpus as int8 (the
    preset's float model has float convolutions, which kwsq's runtime does not run), and a
    30 s test stream."""
    from pipeline.cli import main as kwsq
    from pipeline.train.runs import Run

    root = tmp_path_factory.mktemp("cross")
    corpus = tiny_corpus
    run_dir = root / "run"
    assert kwsq(["train", "--data", str(corpus), "--run", str(run_dir), "--preset",
                 "ds_cnn_cross", "--scheme", "int8", "--float-epochs", "2", "--qat-epochs",
                 "1", "--no-naive"]) == 0
    assert kwsq(["convert", str(run_dir), "--no-size-table", "--no-verify"]) == 0
    run = Run(run_dir)
    assert run.read_config().features["normalize"] == "channel"
    return run, corpus / "streams" / "stream_000.wav"


def _threshold_between_peaks(run, wav, settings, want: int = 6):
    """A threshold halfway between two of the Python path's smoothed peak scores, so that
    float-level differences of a float model cannot move a peak across it."""
    import dataclasses

    from pipeline.device import deploy

    peaks = deploy.python_detections(run, wav, dataclasses.replace(settings, threshold=0.0))
    scores = sorted({d.score for d in peaks}, reverse=True)
    k = min(want, len(scores) - 2)
    gaps = [(scores[i] - scores[i + 1], i) for i in range(k, len(scores) - 1)]
    _, i = max(gaps[:4])
    return dataclasses.replace(settings, threshold=(scores[i] + scores[i + 1]) / 2)


def _first_seconds(wav: Path, seconds: float, out: Path) -> Path:
    from pipeline.data.audio import read_wav, write_wav

    audio, rate = read_wav(wav)
    write_wav(out, audio[: int(seconds * rate)])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("fixed", [False, True], ids=["float_fe", "fixed_fe"])
def test_a_channel_normalized_model_detects_as_the_python_streaming_path(cross_run, fixed):
    """A model trained with normalize = "channel": the host detector (front-end, windows
    normalized by their running means, runtime, rules) gives the Python streaming path's
    posteriors on every window (measured: all 291 equal with either front-end path; an
    int8 input at a rounding edge may move one) and its detections."""
    from pipeline.data.features import FeatureConfig
    from pipeline.device import deploy
    from pipeline.evaluate import backends, streaming

    run, wav = cross_run
    settings = _threshold_between_peaks(run, wav, deploy.detector_settings(run))
    ref = deploy.python_detections(run, wav, settings)
    assert len(ref) >= 3
    got = deploy.run_detector(deploy.build(run, "host", fixed=fixed, settings=settings),
                              "host", wav, verbose=True)
    assert _key(got.detections) == _key(ref)
    for a, b in zip(sorted(got.detections, key=lambda d: (d.end_sample, d.keyword)),
                    sorted(ref, key=lambda d: (d.end_sample, d.keyword)), strict=True):
        assert abs(a.score - b.score) <= 1e-6
    feat = FeatureConfig.from_dict(run.read_config().features)
    scorer = backends.tflite_scorer("tflm", run.tflite_path)
    sp = streaming.posteriors([streaming.Recording("s", wav, [], {})], [scorer], feat,
                              dict(zip(settings.keywords, settings.columns, strict=True)),
                              log=lambda *_: None)
    c_post = np.array([p for _, p in got.posteriors])
    c_ends = np.array([e for e, _ in got.posteriors])
    assert np.array_equal(c_ends, np.round(sp.times[0] * 16000).astype(int))
    differ = np.any(np.abs(c_post - sp.posteriors[scorer.name][0]) > 1e-6, axis=1)
    assert len(differ) > 250 and differ.mean() <= 0.02
    assert got.ring_bytes == 49 * 10 * 4 + 10 * 8  # raw float/Q20 frames and their sums


@pytest.mark.slow
def test_kwsq_deploy_of_a_ds_cnn_cross_run_works_end_to_end(cross_run, tmp_path, capsys):
    """``kwsq deploy RUN --wav --compare`` on the preset's run: builds, runs and reports the
    Python path's detections."""
    import json

    from pipeline.cli import main as kwsq
    from pipeline.device import deploy

    run, wav = cross_run
    settings = _threshold_between_peaks(run, wav, deploy.detector_settings(run))
    out = tmp_path / "deploy.json"
    assert kwsq(["deploy", str(run.path), "--target", "host", "--wav", str(wav), "--compare",
                 "--threshold", repr(settings.threshold), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["same_as_python"] and len(report["detections"]) >= 3
    assert "the same" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(bool(_missing_arm), reason=f"needs {', '.join(_missing_arm)} (make setup)")
def test_a_channel_normalized_model_on_m4_equals_its_host_build(cross_run, tmp_path):
    """Cortex-M4 firmware (float front-end with FPU and fused multiply-add; the fixed-point
    front-end without FPU) on the first 4 s: the host build's detections and posteriors;
    the fixed-point path also under "utterance" and "channel_var": the same bits."""
    from pipeline.device import deploy

    run, wav = cross_run
    short = _first_seconds(wav, 4.0, tmp_path / "short.wav")
    settings = deploy.detector_settings(run, threshold=0.0)
    for mode in ("utterance", "channel_var"):  # the integer path of the other modes
        other = _mode_run(run, mode, tmp_path)
        host = deploy.run_detector(deploy.build(other, "host", fixed=True, settings=settings),
                                   "host", short, verbose=True)
        m4 = deploy.run_detector(deploy.build(other, "m4", fixed=True, no_fpu=True,
                                              settings=settings, kernels="dsp"),
                                 "m4", short, verbose=True)
        assert m4.posteriors == host.posteriors and len(m4.posteriors) > 20, mode
    for fixed in (False, True):
        host = deploy.run_detector(deploy.build(run, "host", fixed=fixed, settings=settings),
                                   "host", short, verbose=True)
        m4 = deploy.run_detector(deploy.build(run, "m4", fixed=fixed, no_fpu=fixed,
                                              settings=settings, kernels="dsp"),
                                 "m4", short, verbose=True)
        assert m4.windows == host.windows > 20
        post_host = np.array([p for _, p in host.posteriors])
        post_m4 = np.array([p for _, p in m4.posteriors])
        if fixed:  # integer front-end: the same bits
            assert np.array_equal(post_m4, post_host)
            assert _key(m4.detections) == _key(host.detections)
        else:  # fused multiply-add on M4: an int8 input may differ at a rounding edge
            assert np.abs(post_m4 - post_host).max() <= 0.02
        assert m4.fe_instructions > 0 and m4.ring_bytes == host.ring_bytes


def _mode_run(run, mode: str, root: Path):
    """The run's int8 model under another ``[features] normalize`` (config edited: the
    weights need not suit it to compare the C path with the Python one)."""
    from pipeline.train.runs import Run

    d = root / f"mode_{mode}"
    d.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", "model.tflite"):
        shutil.copy(run.path / name, d / name)
    text = (run.path / "config.toml").read_text()
    assert 'normalize = "channel"\n' in text
    new = "" if mode == "fixed" else f'normalize = "{mode}"\n'
    (d / "config.toml").write_text(text.replace('normalize = "channel"\n', new))
    return Run(d)


def _python_posteriors(run, wav, settings):
    from pipeline.data.features import FeatureConfig
    from pipeline.evaluate import backends, streaming

    feat = FeatureConfig.from_dict(run.read_config().features)
    scorer = backends.tflite_scorer("tflm", run.tflite_path)
    sp = streaming.posteriors([streaming.Recording("s", wav, [], {})], [scorer], feat,
                              dict(zip(settings.keywords, settings.columns, strict=True)),
                              log=lambda *_: None)
    return np.round(sp.times[0] * 16000).astype(int), sp.posteriors[scorer.name][0]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fixed", "utterance", "channel_var"])
def test_every_normalization_mode_streams_as_the_python_path(cross_run, tmp_path, mode):
    """Each other mode of ``[features] normalize`` through the host detector (float
    front-end; the modes' arithmetic of both paths is test_frontend_norm's, the Q20 path's
    firmware the M4 test's): the posteriors of every window are the Python streaming
    path's (an int8 input at a rounding edge may move a window: at most 2 %)."""
    from pipeline.device import deploy

    run, wav = cross_run
    run = _mode_run(run, mode, tmp_path)
    settings = deploy.detector_settings(run, threshold=0.0)
    ends, ref = _python_posteriors(run, wav, settings)
    got = deploy.run_detector(deploy.build(run, "host", settings=settings), "host", wav,
                              verbose=True)
    assert np.array_equal(np.array([e for e, _ in got.posteriors]), ends)
    post = np.array([p for _, p in got.posteriors])
    differ = np.any(np.abs(post - ref) > 1e-6, axis=1)
    assert len(differ) > 250 and differ.mean() <= 0.02, differ.mean()


def test_deploy_refuses_a_normalization_the_c_front_end_lacks(tmp_path, monkeypatch):
    """A run whose feature normalization the C front-end lacks (all of today's modes are
    implemented, so the list is cut here): kwsq deploy stops with one line."""
    from pipeline.device import deploy
    from pipeline.errors import KwsqError
    from pipeline.tflite import export_frontend

    class FakeRun:  # only what generate() reads before it refuses
        path = tmp_path
        tflite_path = tmp_path / "model.tflite"

        def read_config(self):
            from types import SimpleNamespace

            return SimpleNamespace(features={"kind": "mfcc", "normalize": "channel_var"},
                                   data={}, model="ds_cnn", scheme="int8")

    (tmp_path / "model.tflite").write_bytes(b"\0" * 16)
    monkeypatch.setattr(export_frontend, "C_NORMALIZE", ("fixed", "utterance", "channel"))
    with pytest.raises(KwsqError, match="does not implement the run's feature normalization "
                                        "'channel_var'"):
        deploy.generate(FakeRun(), tmp_path / "gen", None)
