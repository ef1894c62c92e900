"""The C feature front-end (tflm_port/frontend) against numpy and pipeline/data/features.py.

A model deployed with the C front-end only keeps its accuracy if the chip computes the
features it was trained on: each path (float, fixed point) is compared with the Python
features (tf.signal) on real clips of the tiny synthetic corpus, for both feature kinds,
within stated bounds, and its building blocks (real FFT, integer log2) with numpy.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.data import features as F
from pipeline.device import frontend as fe
from pipeline.errors import KwsqError
from pipeline.tflite import export_frontend as ex

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None,
                                reason="needs a host C compiler and make")

LIB = fe.BUILD_DIR / "libkwsq_fe.so"

# Bounds on |C - Python| per feature value (normalized features as the model sees them),
# measured on the tiny corpus with margin: float path max 8e-6 (LFBE) / 3e-5 (MFCC), fixed
# path max 5e-4 / 1.1e-3.
BOUNDS = {
    ("lfbe", "float"): (1e-4, 1e-6),
    ("lfbe", "fixed"): (2e-3, 2e-5),
    ("mfcc", "float"): (2e-4, 1e-5),
    ("mfcc", "fixed"): (5e-3, 1e-4),
}


def _lib() -> ctypes.CDLL:
    subprocess.run(["make", "-s", "-C", str(fe.FRONTEND_DIR)], check=True)
    lib = ctypes.CDLL(str(LIB))
    f32 = ctypes.POINTER(ctypes.c_float)
    i32 = ctypes.POINTER(ctypes.c_int32)
    lib.kwsq_fe_rfft_f32.argtypes = [f32, ctypes.c_int32, f32]
    lib.kwsq_fe_rfft_q31.argtypes = [i32, ctypes.c_int32, i32]
    lib.kwsq_fe_log2_q24.argtypes = [ctypes.c_uint64]
    lib.kwsq_fe_log2_q24.restype = ctypes.c_int32
    return lib


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    return _lib()


def _unpack(buf: np.ndarray, n: int) -> np.ndarray:
    x = np.zeros(n // 2 + 1, np.complex128)
    x[0], x[n // 2] = buf[0], buf[1]
    x[1 : n // 2] = buf[2:n:2] + 1j * buf[3:n:2]
    return x


@pytest.mark.parametrize("n", [4, 8, 64, 512, 1024])
def test_rfft_f32_matches_numpy(lib, n):
    rng = np.random.default_rng(n)
    x = rng.uniform(-1, 1, n).astype(np.float32)
    cos = np.cos(2 * np.pi * np.arange(n // 4 + 1) / n).astype(np.float32)
    buf = x.copy()
    lib.kwsq_fe_rfft_f32(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), n,
                         cos.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    ref = np.fft.rfft(x.astype(np.float64))
    assert np.max(np.abs(_unpack(buf, n) - ref)) < 2e-5 * math.sqrt(n)


@pytest.mark.parametrize("n", [8, 16, 32, 64, 128, 512, 1024, 2048])
def test_rfft_f32_with_the_exported_twiddle_table_matches_numpy(lib, n):
    """The float path's FFT as frontend_f32.c runs it: input in bit-reversed pair order, the
    radix-4 passes' twiddles from export_frontend.radix4_twiddles (odd and even log2(n / 2)),
    the split leaving the spectrum doubled."""
    f32 = ctypes.POINTER(ctypes.c_float)
    lib.kwsq_fe__cfft_bitrev_f32.argtypes = [f32, ctypes.c_int32, ctypes.c_int32, f32, f32]
    lib.kwsq_fe__rfft_split_f32.argtypes = [f32, ctypes.c_int32, f32]
    rng = np.random.default_rng(n + 1)
    x = rng.uniform(-1, 1, n).astype(np.float32)
    m = n // 2
    bits = m.bit_length() - 1
    rev = np.array([int(format(t, f"0{bits}b")[::-1], 2) if bits else 0 for t in range(m)])
    z = np.zeros(n, np.float32)
    z[2 * rev], z[2 * rev + 1] = x[0::2], x[1::2]
    cos = np.cos(2 * np.pi * np.arange(n // 4 + 1) / n).astype(np.float32)
    tw = ex.radix4_twiddles(n).astype(np.float32)
    q, passes = (2 if bits % 2 else 4), 0
    while q < m:
        q, passes = q * 4, passes + 1
    assert tw.size == 6 * sum((2 if bits % 2 else 4) * 4**i for i in range(passes))
    lib.kwsq_fe__cfft_bitrev_f32(z.ctypes.data_as(f32), m, n, cos.ctypes.data_as(f32),
                                 tw.ctypes.data_as(f32) if tw.size else None)
    lib.kwsq_fe__rfft_split_f32(z.ctypes.data_as(f32), n, cos.ctypes.data_as(f32))
    ref = np.fft.rfft(x.astype(np.float64))
    assert np.max(np.abs(_unpack(z, n) / 2 - ref)) < 2e-5 * math.sqrt(n)


@pytest.mark.parametrize("n", [8, 64, 512])
def test_rfft_q31_returns_twice_the_dft(lib, n):
    rng = np.random.default_rng(n + 1)
    # The documented input range: sum |x| <= 2^28.
    x = rng.integers(-(2**28) // n, 2**28 // n, n).astype(np.int32)
    cos = np.minimum(np.round(np.cos(2 * np.pi * np.arange(n // 4 + 1) / n) * 2**31),
                     2**31 - 1).astype(np.int32)
    buf = x.copy()
    lib.kwsq_fe_rfft_q31(buf.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), n,
                         cos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)))
    ref = 2 * np.fft.rfft(x.astype(np.float64))
    err = np.max(np.abs(_unpack(buf.astype(np.float64), n) - ref))
    assert err < 2 * np.log2(n) + 2  # a few LSB of rounding per stage


def test_log2_q24_matches_math(lib):
    rng = np.random.default_rng(5)
    values = [1, 2, 3, 1000, 2**31 - 1, 2**40 + 12345, 2**63 - 1]
    values += [int(v) for v in rng.integers(1, 2**62, 200, dtype=np.int64)]
    for v in values:
        got = lib.kwsq_fe_log2_q24(v) / 2**24
        assert abs(got - math.log2(v)) < 2**-21, v


# ------------------------------------------------------------------------- real clips

@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> np.ndarray:
    """Every clip of the tiny corpus (int16, 1 s), plus 5 s of one stream of them."""
    from pipeline.corpus.synth import synthesize
    from pipeline.data.audio import read_wav

    root = tmp_path_factory.mktemp("fe_corpus") / "tiny"
    synthesize(root, size="tiny", seed=0, progress=False)
    files = sorted(root.glob("*/*.wav"))
    files = [f for f in files if not f.parent.name.startswith("_")]
    audio = [np.pad(read_wav(f)[0], (0, 16000))[:16000] for f in files]
    return fe.to_int16(np.stack(audio))


def _config(kind: str) -> F.FeatureConfig:
    if kind == "lfbe":
        return F.FeatureConfig(kind="lfbe", num_bins=20, left_context=20, right_context=10,
                               stack_stride=3)
    return F.mlperf_tiny_mfcc()


def _header(tmp_path: Path, cfg: F.FeatureConfig, quant: ex.InputQuant) -> Path:
    path = tmp_path / "frontend.h"
    frames, stride = ex.model_input_frames(cfg)
    path.write_text(ex.header_text(cfg, quant, frames, stride))
    return path


@pytest.mark.parametrize("kind", ["lfbe", "mfcc"])
def test_both_paths_match_python_features_on_real_clips(clips, tmp_path, kind):
    cfg = _config(kind)
    quant = ex.InputQuant(9, 0.04 if kind == "lfbe" else 0.9, -7)
    c = fe.run_dump(_header(tmp_path, cfg, quant), clips, np.int8)
    ref = np.asarray(F.frames(clips.astype(np.float32) / 32768.0, cfg), np.float64)
    assert c.float_path.shape == ref.shape
    q_ref = np.clip(np.round(ref.astype(np.float32) / np.float32(quant.scale)) - 7, -128, 127)
    for path in fe.PATHS:
        diff = np.abs(c.features(path) - ref)
        max_bound, mean_bound = BOUNDS[(kind, path)]
        assert diff.max() < max_bound, (path, diff.max())
        assert diff.mean() < mean_bound, (path, diff.mean())
        # The model's int8 inputs: equal but for values within the error of a rounding edge.
        q = c.quantized(path).astype(np.int64)
        assert np.abs(q - q_ref).max() <= 1
        assert np.mean(q != q_ref) < (1e-4 if path == "float" else 1e-3)


@pytest.mark.parametrize("kind", ["lfbe", "mfcc"])
def test_a_stream_gives_the_frames_of_the_whole_recording(clips, tmp_path, kind):
    """Hop by hop over a long recording: frame t covers samples [t hop, t hop + window)."""
    cfg = _config(kind)
    stream = clips[:8].reshape(-1)[: 8 * 16000 - 77]  # not a whole number of hops
    c = fe.run_dump(_header(tmp_path, cfg, ex.InputQuant()), stream, np.float32)
    ref = np.asarray(F.frames(stream.astype(np.float32) / 32768.0, cfg), np.float64)
    assert c.float_path.shape == ref.shape == (cfg.num_frames(stream.size), cfg.coefficients)
    assert np.abs(c.float_path - ref).max() < BOUNDS[(kind, "float")][0]
    # A float model input takes the features themselves.
    assert np.array_equal(c.quant_float, c.float_path)


def test_silence_gives_the_log_floor(tmp_path):
    cfg = _config("lfbe")
    c = fe.run_dump(_header(tmp_path, cfg, ex.InputQuant()), np.zeros(4000, np.int16),
                    np.float32)
    floor = (math.log(cfg.log_floor) - cfg.norm_offset) / cfg.norm_scale
    assert np.allclose(c.float_path, floor, atol=1e-6)
    assert np.allclose(c.fixed_path, floor, atol=1e-5)


def test_full_scale_audio_does_not_overflow_the_fixed_path(tmp_path):
    cfg = _config("lfbe")
    t = np.arange(16000)
    square = np.where(np.sin(2 * np.pi * 440 * t / 16000) >= 0, 32767, -32768).astype(np.int16)
    c = fe.run_dump(_header(tmp_path, cfg, ex.InputQuant()), square, np.float32)
    ref = np.asarray(F.frames(square.astype(np.float32) / 32768.0, cfg), np.float64)
    assert np.abs(c.fixed_path - ref).max() < BOUNDS[("lfbe", "fixed")][0]


def test_export_refuses_a_power_the_c_front_end_lacks():
    with pytest.raises(KwsqError, match="power 1 or 2"):
        ex.tables(F.FeatureConfig(kind="lfbe", power=1.5))


def test_scale_multipliers_reproduce_the_value():
    for value in (1 / 6.0, 1 / 0.0371, 25.0, 1e-5, -0.3):
        mult, shift = ex.scale_of(value, 24, 20)
        x = 3 << 24
        assert abs(x * mult / 2.0**shift - 3 * value * 2**20) <= abs(3 * value * 2**20) * 1e-8 + 1
