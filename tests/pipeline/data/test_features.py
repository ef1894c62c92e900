"""Feature front-end vs an independent numpy implementation of log-mel and MFCC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal as scipy_signal

import pipeline  # noqa: F401
from pipeline.data import features as F
from pipeline.errors import KwsqError


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def np_mel_matrix(num_bins: int, fft_length: int, rate: int, lo: float, hi: float) -> np.ndarray:
    """HTK-mel triangles over linear-frequency bins, the DC bin left out."""
    n_spec = fft_length // 2 + 1
    freqs = np.linspace(0.0, rate / 2, n_spec)[1:]
    mel = _hz_to_mel(freqs)
    edges = np.linspace(_hz_to_mel(lo), _hz_to_mel(hi), num_bins + 2)
    w = np.zeros((n_spec, num_bins))
    for m in range(num_bins):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (mel - left) / (center - left)
        falling = (right - mel) / (right - center)
        w[1:, m] = np.maximum(0.0, np.minimum(rising, falling))
    return w


def np_log_mel(audio: np.ndarray, cfg: F.FeatureConfig) -> np.ndarray:
    win, hop, nfft = cfg.window_samples, cfg.hop_samples, cfg.fft_length
    n_frames = 1 + (audio.size - win) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
    frames = np.stack([audio[i * hop : i * hop + win] for i in range(n_frames)]).astype(np.float64)
    spec = np.abs(np.fft.rfft(frames * window, n=nfft)) ** cfg.power
    mel = spec @ np_mel_matrix(cfg.num_bins, nfft, cfg.sample_rate, cfg.lower_hz, cfg.upper_hz)
    return np.log(mel + cfg.log_floor)


def np_mfcc(log_mel: np.ndarray, count: int) -> np.ndarray:
    """HTK-style DCT-II of each frame's log-mel vector, first ``count`` coefficients:
    c_k = sqrt(2/N) sum_n x_n cos(pi k (2n + 1) / 2N), the same scale for every k (c0 too)."""
    n = log_mel.shape[-1]
    k = np.arange(count)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))
    return log_mel @ (basis * math.sqrt(2.0 / n)).T


@pytest.fixture(scope="module")
def speechlike() -> np.ndarray:
    """1 s of a voiced-sounding signal: harmonics of 140 Hz under an envelope, plus noise."""
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    env = np.exp(-(((t - 0.5) / 0.15) ** 2))
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20)) * env
    return (0.3 * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("num_bins", [20, 40])
def test_log_mel_matches_numpy_reference(speechlike: np.ndarray, num_bins: int) -> None:
    cfg = F.FeatureConfig(kind="lfbe", num_bins=num_bins)
    got = F.log_mel(speechlike, cfg).numpy()
    ref = np_log_mel(speechlike, cfg)
    assert got.shape == ref.shape == (98, num_bins)
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=0)


def test_mfcc_matches_numpy_reference(speechlike: np.ndarray) -> None:
    cfg = F.mlperf_tiny_mfcc()
    got = F.compute(speechlike, cfg).numpy()
    ref = np_mfcc(np_log_mel(speechlike, cfg), 10)
    assert got.shape == ref.shape == (49, 10)
    np.testing.assert_allclose(got, ref, atol=5e-3, rtol=1e-4)


def test_lfbe_normalization_uses_recorded_constants(speechlike: np.ndarray) -> None:
    cfg = F.FeatureConfig(kind="lfbe", num_bins=40, norm_offset=-2.0, norm_scale=4.0)
    got = F.compute(speechlike, cfg).numpy()
    np.testing.assert_allclose(got, (np_log_mel(speechlike, cfg) + 2.0) / 4.0, atol=1e-3)


@pytest.mark.parametrize(
    ("cfg", "shape"),
    [
        (F.FeatureConfig(kind="lfbe", num_bins=40), (98, 40)),
        (F.FeatureConfig(kind="lfbe", num_bins=20), (98, 20)),
        (F.mlperf_tiny_mfcc(), (49, 10)),
        (F.FeatureConfig(num_bins=20, left_context=20, right_context=10, stack_stride=3), (620,)),
        (F.FeatureConfig(num_bins=40, left_context=5, right_context=5, stack_stride=1), (440,)),
    ],
)
def test_compute_shape_matches_input_shape(speechlike: np.ndarray, cfg: F.FeatureConfig,
                                           shape: tuple[int, ...]) -> None:
    assert F.input_shape(cfg) == shape
    batch = np.stack([speechlike, speechlike[::-1].copy()])
    assert tuple(F.compute(batch, cfg).shape) == (2, *shape)


def test_stacked_window_is_centred_strided_frames(speechlike: np.ndarray) -> None:
    cfg = F.FeatureConfig(num_bins=20, left_context=20, right_context=10, stack_stride=3)
    per_frame = (np_log_mel(speechlike, cfg) - cfg.norm_offset) / cfg.norm_scale
    # 98 frames, window spans 91: centred window starts at frame 3 and takes every 3rd
    expected = per_frame[3 : 3 + 91 : 3].reshape(-1)
    np.testing.assert_allclose(F.compute(speechlike, cfg).numpy(), expected, atol=1e-3)


def test_streaming_stack_matches_clip_window(speechlike: np.ndarray) -> None:
    cfg = F.FeatureConfig(num_bins=20, left_context=20, right_context=10, stack_stride=3)
    all_windows = F.stack_frames(F.frames(speechlike, cfg), cfg).numpy()
    assert all_windows.shape == (98 - 90, 620)
    start = F.clip_window_start(cfg)
    np.testing.assert_allclose(all_windows[start], F.compute(speechlike, cfg).numpy(), atol=1e-6)


def test_stride_three_window_spans_most_of_the_clip() -> None:
    cfg = F.FeatureConfig(num_bins=20, left_context=20, right_context=10, stack_stride=3)
    assert F.seconds_per_stack(cfg) == pytest.approx(0.925)
    assert F.seconds_per_stack(F.FeatureConfig(left_context=20, right_context=10)) < 0.35


def test_config_round_trips_through_dict() -> None:
    cfg = F.FeatureConfig(kind="mfcc", num_bins=40, window_ms=30, hop_ms=20, left_context=2)
    d = cfg.to_dict()
    assert d["fft_length"] == 512 and d["upper_hz"] == 4000.0 and d["power"] == 1.0
    assert F.FeatureConfig.from_dict(d) == cfg


def test_config_rejects_bad_values() -> None:
    with pytest.raises(KwsqError, match="unknown feature kind"):
        F.FeatureConfig(kind="pcen")
    with pytest.raises(KwsqError, match=r"unknown key 'bins' in \[features\]"):
        F.FeatureConfig.from_dict({"kind": "lfbe", "bins": 3})
    with pytest.raises(KwsqError, match=r"\[features\]: num_bins must be an integer"):
        F.FeatureConfig.from_dict({"kind": "lfbe", "num_bins": "40"})
    with pytest.raises(KwsqError, match="does not fit"):
        F.input_shape(F.FeatureConfig(left_context=40, right_context=20, stack_stride=2))


# ----------------------------------------------------------------------------- PCEN

def _pcen_cfg(**kw) -> F.FeatureConfig:
    return F.FeatureConfig(**{"kind": "mfcc", "num_bins": 40, "window_ms": 30, "hop_ms": 20,
                              "compression": "pcen", **kw})


@pytest.mark.parametrize("frames", [49, 1100])  # the matrix form and the scan form
def test_pcen_matches_librosa(frames: int) -> None:
    librosa = pytest.importorskip("librosa")
    cfg = _pcen_cfg(pcen_time_constant=0.3, pcen_alpha=0.9, pcen_delta=1.5, pcen_r=0.4)
    rng = np.random.default_rng(0)
    # energies over six decades with a slow level swing, like speech over a silence floor
    swing = np.exp(3.0 * np.sin(np.arange(frames) / 7.0))[:, None]
    energies = (rng.lognormal(0.0, 2.0, (2, frames, 40)) * swing).astype(np.float32)
    got = F.pcen(energies, cfg).numpy()
    spec = np.swapaxes(energies.astype(np.float64), -1, -2)  # librosa: time last
    b = F.pcen_smoothing(cfg)
    # kwsq starts the smoother at the first frame (level-independent); librosa's default
    # starts it at a unit input, so its filter state is given explicitly
    zi = scipy_signal.lfilter_zi([b], [1, b - 1])[0] * spec[..., :1]
    ref = librosa.pcen(spec, sr=cfg.sample_rate, hop_length=cfg.hop_samples, gain=0.9,
                       bias=1.5, power=0.4, time_constant=0.3, eps=cfg.pcen_eps, zi=zi)
    np.testing.assert_allclose(got, np.swapaxes(ref, -1, -2), rtol=2e-4, atol=2e-5)


def test_pcen_matches_the_recursion_of_the_paper() -> None:
    """M[t] = (1 - s) M[t-1] + s E[t] (M[-1] = E[0]); (E / (eps + M)^a + d)^r - d^r."""
    cfg = _pcen_cfg()
    s = F.pcen_smoothing(cfg)
    t = cfg.pcen_time_constant * cfg.sample_rate / cfg.hop_samples
    assert s == pytest.approx((math.sqrt(1 + 4 * t * t) - 1) / (2 * t * t))
    e = np.random.default_rng(1).lognormal(0.0, 1.5, (30, 5))
    m, ref = e[0].copy(), np.zeros_like(e)
    for i in range(len(e)):
        m = (1 - s) * m + s * e[i]
        ref[i] = (e[i] / (1e-6 + m) ** 0.98 + 2.0) ** 0.5 - 2.0 ** 0.5
    np.testing.assert_allclose(F.pcen(e.astype(np.float32), cfg).numpy(), ref, rtol=1e-4)


def test_pcen_features_hardly_change_with_the_level(speechlike) -> None:
    """A 20 dB louder clip shifts every log-mel value by ln 10, so MFCC c0 by
    ln 10 x sqrt(2 x 40) (DCT-II as tf.signal scales it); PCEN keeps only the residual gain
    1 - alpha: the ratio E / M^alpha grows by 10^0.02."""
    cfg = _pcen_cfg()
    quiet = F.compute(speechlike * 0.05, cfg).numpy()
    loud = F.compute(speechlike * 0.5, cfg).numpy()
    assert np.max(np.abs(quiet - loud)) < 0.05 * np.max(np.abs(loud))
    log_cfg = F.mlperf_tiny_mfcc()
    lq = F.compute(speechlike * 0.05, log_cfg).numpy()
    ll = F.compute(speechlike * 0.5, log_cfg).numpy()
    np.testing.assert_allclose((ll - lq)[..., 0].mean(), math.log(10) * math.sqrt(80),
                               rtol=0.05)  # DCT-II c0 of a constant log shift


def test_pcen_config_is_recorded_only_when_used() -> None:
    assert "compression" not in F.mlperf_tiny_mfcc().to_dict()
    assert not any(k.startswith("pcen") for k in F.mlperf_tiny_mfcc().to_dict())
    d = _pcen_cfg().to_dict()
    assert d["compression"] == "pcen" and d["pcen_alpha"] == 0.98
    assert d["norm_offset"] == 0.0 and d["norm_scale"] == 1.0
    assert F.FeatureConfig.from_dict(d) == _pcen_cfg()
    assert _pcen_cfg(kind="lfbe", num_bins=40).norm_scale == 1.0  # not the log-scale 6.0
    with pytest.raises(KwsqError, match="compression"):
        F.FeatureConfig(compression="cubic")
    with pytest.raises(KwsqError, match='compression = "pcen"'):
        F.FeatureConfig(normalize="pcen")
    with pytest.raises(KwsqError, match="pcen_alpha"):
        _pcen_cfg(pcen_alpha=1.5)
