"""Feature front-end: log-mel filterbank energies (LFBE), MFCC and frame stacking.

Every model input in kwsq comes from here, so a run's ``config.toml`` can record the
whole front-end (``FeatureConfig.to_dict``) and the C runtime / streaming evaluator can
reproduce it. Only ``tf.signal`` is used (tensorflow-io has no build for TF 2.21).

Choices, all recorded in the config:

* Frames: ``window_ms``/``hop_ms`` with no end padding, a periodic Hann window and an FFT
  length of the next power of two. A 1 s clip at 25/10 ms gives 98 frames; MLPerf Tiny's
  MFCC front-end (30/20 ms, 40 mel bins over 20-4000 Hz, ``log(mel + 1e-6)``, first 10
  DCT-II coefficients) gives its 49x10 input: use :func:`mlperf_tiny_mfcc`.
* LFBE are *energies*: mel filters over ``|STFT|^2`` (``power=2``); MFCC follow MLPerf Tiny
  and use the magnitude (``power=1``).
* Normalization: fixed constants ``(x - norm_offset) / norm_scale`` rather than dataset
  statistics, so nothing besides the config has to ship with a model. The LFBE defaults map
  the log energies of speech at ordinary levels to roughly [-1, 1] (silence near -1.5,
  loud vowels near +1.5), a good range for sigmoid DNNs; MFCC are left raw (offset 0,
  scale 1) like MLPerf Tiny.
* Stacking (``left_context``/``right_context`` > 0): one window of ``L + R + 1`` frames taken
  every ``stack_stride`` frames, flattened to ``(L + R + 1) * bins`` values. For a 1 s clip the
  window is centred on the clip: with the low-bit QAT paper's L=20, R=10, a stride of 1
  covers only 0.31 s (part of a word), while stride 3 spans 91 of the 98 frames (0.93 s),
  i.e. the whole word wherever it sits in the clip. A streaming evaluator slides the same
  window frame by frame over long audio (:func:`stack_frames`).
* Compression (``compression``): ``log`` (the default) or ``pcen``, per-channel energy
  normalization (Wang et al., "Trainable frontend for robust and far-field keyword
  spotting", 2017): each mel channel divided by a causal IIR-smoothed copy of itself raised
  to ``pcen_alpha``, then root-compressed: ``(E / (eps + M)^alpha + delta)^r - delta^r``.
  It removes the level and a slow channel colouring *causally* (a streaming device can run
  it frame by frame, unlike a mean over the clip). It is written here in ``tf`` because the
  augmented training pipeline computes features in the ``tf.data`` graph; the smoother
  follows librosa's ``pcen`` (time constant in seconds), which the tests use as the
  reference, except that its state starts at the first frame's steady state (librosa's
  default starts at a unit input, which depends on the audio's scale).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from pipeline import console
from pipeline.config import load_section
from pipeline.errors import KwsqError

KINDS = ("lfbe", "mfcc")
# Per-clip normalization after the fixed constants: "fixed" (none), "utterance" (subtract
# the clip's mean over all frames and coefficients: level invariance), "channel" (subtract
# each coefficient's mean over the clip's frames: cepstral/log-mel mean normalization,
# which removes a fixed microphone or channel colouring), "channel_var" (that, then each
# coefficient divided by its standard deviation over the clip's frames: cepstral mean and
# variance normalization, which also equalizes how strongly each coefficient moves).
NORMALIZE = ("fixed", "utterance", "channel", "channel_var")
# floor of the per-coefficient standard deviation of "channel_var" (a constant coefficient,
# e.g. a silent clip, is left near 0 instead of blown up)
CHANNEL_VAR_FLOOR = 1e-2
COMPRESSIONS = ("log", "pcen")
# Fields that only mean something with compression "pcen": left out of to_dict otherwise.
_PCEN_FIELDS = ("pcen_time_constant", "pcen_alpha", "pcen_delta", "pcen_r", "pcen_eps")

# kind -> defaults for the fields left as None (resolved in __post_init__ and recorded).
_KIND_DEFAULTS: dict[str, dict[str, float]] = {
    "lfbe": {"lower_hz": 20.0, "upper_hz": 7600.0, "power": 2.0, "log_floor": 1e-6,
             "norm_offset": -3.0, "norm_scale": 6.0},
    "mfcc": {"lower_hz": 20.0, "upper_hz": 4000.0, "power": 1.0, "log_floor": 1e-6,
             "norm_offset": 0.0, "norm_scale": 1.0},
}


@dataclass(frozen=True)
class FeatureConfig:
    """The whole feature front-end; ``to_dict`` is what a run records."""

    kind: str = "lfbe"
    num_bins: int = 40
    window_ms: float = 25.0
    hop_ms: float = 10.0
    sample_rate: int = 16000
    num_mfcc: int = 10
    left_context: int = 0
    right_context: int = 0
    stack_stride: int = 1
    fft_length: int | None = None  # None: next power of two >= window
    lower_hz: float | None = None
    upper_hz: float | None = None
    power: float | None = None  # 2: energies (LFBE), 1: magnitudes (MLPerf Tiny MFCC)
    log_floor: float | None = None  # log(mel + log_floor)
    norm_offset: float | None = None
    norm_scale: float | None = None
    normalize: str = "fixed"
    compression: str = "log"  # "log": log(mel + log_floor); "pcen": see the module doc
    pcen_time_constant: float = 0.4  # seconds, of the smoother (librosa's default)
    pcen_alpha: float = 0.98  # gain normalization strength
    pcen_delta: float = 2.0  # bias
    pcen_r: float = 0.5  # root compression
    pcen_eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise KwsqError(
                f"unknown feature kind '{self.kind}'; expected one of {', '.join(KINDS)}"
            )
        if self.normalize not in NORMALIZE:
            hint = " (PCEN is compression = \"pcen\")" if self.normalize == "pcen" else ""
            raise KwsqError(f"unknown feature normalization '{self.normalize}'; expected one "
                            f"of {', '.join(NORMALIZE)}{hint}")
        if self.compression not in COMPRESSIONS:
            raise KwsqError(f"unknown feature compression '{self.compression}'; expected one "
                            f"of {', '.join(COMPRESSIONS)}")
        if self.compression == "pcen":
            if self.pcen_time_constant <= 0 or self.pcen_eps <= 0 or self.pcen_r <= 0:
                raise KwsqError("pcen_time_constant, pcen_eps and pcen_r must be > 0")
            if self.pcen_delta < 0 or not 0 <= self.pcen_alpha <= 1:
                raise KwsqError("PCEN needs pcen_delta >= 0 and pcen_alpha in [0, 1]")
            # PCEN output is already about 0..2 whatever the level: no fixed rescaling
            for name in ("norm_offset", "norm_scale"):
                if getattr(self, name) is None:
                    object.__setattr__(self, name, 0.0 if name == "norm_offset" else 1.0)
        for name, value in _KIND_DEFAULTS[self.kind].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, float(value))
        if self.fft_length is None:
            object.__setattr__(self, "fft_length", 1 << (self.window_samples - 1).bit_length())
        if self.num_bins < 1 or self.window_samples < 2 or self.hop_samples < 1:
            raise KwsqError("feature config needs num_bins >= 1 and a window/hop of >= 1 sample")
        if self.fft_length < self.window_samples:
            raise KwsqError(f"fft_length {self.fft_length} is shorter than the window "
                            f"({self.window_samples} samples)")
        if not 0 <= self.lower_hz < self.upper_hz <= self.sample_rate / 2:
            raise KwsqError(f"mel range {self.lower_hz}-{self.upper_hz} Hz is not inside "
                            f"0-{self.sample_rate / 2} Hz")
        if self.kind == "mfcc" and not 1 <= self.num_mfcc <= self.num_bins:
            raise KwsqError(f"num_mfcc must be in 1..num_bins ({self.num_bins})")
        if self.left_context < 0 or self.right_context < 0 or self.stack_stride < 1:
            raise KwsqError("left/right context must be >= 0 and stack_stride >= 1")
        if self.norm_scale == 0:
            raise KwsqError("norm_scale must not be 0")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_ms * self.sample_rate / 1000))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def coefficients(self) -> int:
        """Values per frame: mel bins (LFBE) or cepstral coefficients (MFCC)."""
        return self.num_mfcc if self.kind == "mfcc" else self.num_bins

    @property
    def stacked(self) -> bool:
        return self.left_context > 0 or self.right_context > 0

    @property
    def stack_span(self) -> int:
        """Frames covered by one stacked window (first to last frame, inclusive)."""
        return (self.left_context + self.right_context) * self.stack_stride + 1

    def num_frames(self, samples: int) -> int:
        if samples < self.window_samples:
            return 0
        return 1 + (samples - self.window_samples) // self.hop_samples

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["normalize"] == "fixed":  # left out when off: configs and caches made before
            del d["normalize"]        # these options keep their keys
        if d["compression"] == "log":
            for name in ("compression", *_PCEN_FIELDS):
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], section: str = "[features]") -> FeatureConfig:
        """Built by :func:`pipeline.config.load_section`: unknown keys and wrong types are
        one-line errors naming ``section``."""
        return load_section(cls, d, section)


def mlperf_tiny_mfcc() -> FeatureConfig:
    """MLPerf Tiny KWS front-end: 49 frames x 10 MFCC from 30 ms windows every 20 ms."""
    return FeatureConfig(kind="mfcc", num_bins=40, window_ms=30.0, hop_ms=20.0, num_mfcc=10)


def mel_matrix(cfg: FeatureConfig) -> tf.Tensor:
    """[fft_length // 2 + 1, num_bins] HTK-mel triangular filters (tf.signal's definition)."""
    return tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=cfg.num_bins,
        num_spectrogram_bins=cfg.fft_length // 2 + 1,
        sample_rate=cfg.sample_rate,
        lower_edge_hertz=cfg.lower_hz,
        upper_edge_hertz=cfg.upper_hz,
        dtype=tf.float32,
    )


def _hz_to_mel(hz: tf.Tensor) -> tf.Tensor:
    return 1127.0 * tf.math.log1p(hz / 700.0)  # HTK, as tf.signal


def vtlp_warp(hz: Any, alpha: Any, boundary_hz: float, nyquist_hz: float) -> tf.Tensor:
    """Vocal-tract-length warp of frequencies (Jaitly and Hinton, "Vocal Tract Length
    Perturbation (VTLP) improves speech recognition", 2013): ``f -> alpha f`` up to
    ``boundary_hz x min(alpha, 1) / alpha``, then a straight line to the Nyquist frequency,
    so the warped axis keeps 0 and Nyquist in place. ``hz`` ``[n]``, ``alpha`` ``[b]``
    -> ``[b, n]``."""
    hz = tf.convert_to_tensor(hz, tf.float32)[None, :]
    alpha = tf.convert_to_tensor(alpha, tf.float32)[:, None]
    knee = boundary_hz * tf.minimum(alpha, 1.0) / alpha
    upper = nyquist_hz - (nyquist_hz - boundary_hz * tf.minimum(alpha, 1.0)) / (
        nyquist_hz - knee) * (nyquist_hz - hz)
    return tf.where(hz <= knee, hz * alpha, upper)


def warped_mel_matrix(cfg: FeatureConfig, alpha: Any, boundary_hz: float = 4800.0
                      ) -> tf.Tensor:
    """``[b, fft_length // 2 + 1, num_bins]``: :func:`mel_matrix` with each spectrogram
    bin's frequency warped by :func:`vtlp_warp` (one factor per example). A bin at ``f``
    feeds the mel filters as if it were at ``warp(f)``, so a spectrum peak at ``f`` lands
    in the filter of ``alpha f``: the formants of a vocal tract 1 / alpha as long. With
    ``alpha = 1`` it is :func:`mel_matrix` (tf.signal's triangles in the mel domain, no
    weight on the DC bin)."""
    nyquist = cfg.sample_rate / 2.0
    bins = cfg.fft_length // 2 + 1
    hz = tf.linspace(0.0, nyquist, bins)
    mel = _hz_to_mel(vtlp_warp(hz, alpha, boundary_hz, nyquist))[:, :, None]  # [b, k, 1]
    edges = tf.linspace(_hz_to_mel(tf.constant(cfg.lower_hz, tf.float32)),
                        _hz_to_mel(tf.constant(cfg.upper_hz, tf.float32)), cfg.num_bins + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (mel - lower) / (centre - lower)
    falling = (upper - mel) / (upper - centre)
    weights = tf.maximum(0.0, tf.minimum(rising, falling))
    return tf.concat([tf.zeros_like(weights[:, :1]), weights[:, 1:]], axis=1)


def log_mel(audio: Any, cfg: FeatureConfig, warp: Any = None, step: int | None = None
            ) -> tf.Tensor:
    """``[..., samples]`` audio in [-1, 1] -> ``[..., frames, num_bins]`` log mel (unnormalized)."""
    return tf.math.log(mel_energies(audio, cfg, warp, step) + cfg.log_floor)


def mel_energies(audio: Any, cfg: FeatureConfig, warp: Any = None, step: int | None = None
                 ) -> tf.Tensor:
    """``[..., samples]`` audio in [-1, 1] -> ``[..., frames, num_bins]`` mel energies of
    ``|STFT|^power`` (before any compression).

    ``warp``: ``None``, or for a batch ``[b, samples]`` one VTLP factor per clip ``[b]``
    (:func:`warped_mel_matrix`; training-time speaker augmentation). ``step``: frame step
    in samples (``None``: the config's hop), to compute every n-th frame only."""
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    stft = tf.signal.stft(
        audio,
        frame_length=cfg.window_samples,
        frame_step=step or cfg.hop_samples,
        fft_length=cfg.fft_length,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )
    spectrum = tf.abs(stft)
    if cfg.power != 1.0:
        spectrum = tf.pow(spectrum, cfg.power)
    if warp is None:
        return tf.tensordot(spectrum, mel_matrix(cfg), axes=1)
    return tf.einsum("btk,bkm->btm", spectrum, warped_mel_matrix(cfg, warp))


def pcen_smoothing(cfg: FeatureConfig) -> float:
    """The smoother's coefficient ``b`` (``M[t] = b E[t] + (1 - b) M[t-1]``) for the
    time constant and hop, as librosa computes it."""
    t = cfg.pcen_time_constant * cfg.sample_rate / cfg.hop_samples  # in frames
    return float((np.sqrt(1.0 + 4.0 * t * t) - 1.0) / (2.0 * t * t))


# Up to this many frames the smoother is one matrix product; longer inputs use a scan.
_PCEN_MATRIX_FRAMES = 1024


def _smooth(energies: tf.Tensor, b: float) -> tf.Tensor:
    """Causal one-pole smoothing over axis -2, state started at the first frame."""
    n = energies.shape[-2]
    if n is not None and n <= _PCEN_MATRIX_FRAMES:
        k = np.arange(n)
        lag = k[None, :] - k[:, None]  # [source frame, output frame]
        w = np.where(lag >= 0, b * (1.0 - b) ** np.maximum(lag, 0), 0.0)
        w[0, :] += (1.0 - b) ** (k + 1)  # the initial state M[-1] = E[0]
        return tf.einsum("...sc,st->...tc", energies, tf.constant(w, tf.float32))
    moved = tf.experimental.numpy.moveaxis(energies, -2, 0)  # [frames, ..., bins]
    out = tf.scan(lambda m, e: b * e + (1.0 - b) * m, moved, initializer=moved[0])
    return tf.experimental.numpy.moveaxis(out, 0, -2)


def pcen(energies: Any, cfg: FeatureConfig) -> tf.Tensor:
    """Per-channel energy normalization of ``[..., frames, bins]`` mel energies."""
    e = tf.convert_to_tensor(energies, dtype=tf.float32)
    m = _smooth(e, pcen_smoothing(cfg))
    gain = tf.exp(-cfg.pcen_alpha * tf.math.log(cfg.pcen_eps + m))
    return tf.pow(e * gain + cfg.pcen_delta, cfg.pcen_r) - cfg.pcen_delta ** cfg.pcen_r


def compressed_mel(audio: Any, cfg: FeatureConfig, warp: Any = None, step: int | None = None
                   ) -> tf.Tensor:
    """Log mel (``compression`` "log") or PCEN mel (``"pcen"``), before any DCT."""
    if cfg.compression == "pcen":
        if step is not None:
            raise KwsqError("PCEN smooths over consecutive frames: it needs every frame")
        return pcen(mel_energies(audio, cfg, warp), cfg)
    return log_mel(audio, cfg, warp, step)


def frames(audio: Any, cfg: FeatureConfig, warp: Any = None, step: int | None = None
           ) -> tf.Tensor:
    """``[..., samples]`` -> normalized per-frame features ``[..., frames, coefficients]``
    (``warp``: per-clip VTLP factors, see :func:`mel_energies`; ``step``: frame step in
    samples, ``None`` for the config's hop)."""
    feats = compressed_mel(audio, cfg, warp, step)
    if cfg.kind == "mfcc":
        feats = tf.signal.mfccs_from_log_mel_spectrograms(feats)[..., : cfg.num_mfcc]
    return (feats - cfg.norm_offset) / cfg.norm_scale


def stack_frames(feats: Any, cfg: FeatureConfig) -> tf.Tensor:
    """Every stacked window of a ``[..., frames, coeffs]`` sequence (streaming use).

    Output ``[..., windows, (L + R + 1) * coeffs]``; window ``t`` is anchored at frame
    ``t + L * stride`` and holds frames ``t, t + stride, ..., t + (L + R) * stride``.
    """
    feats = tf.convert_to_tensor(feats, dtype=tf.float32)
    n = tf.shape(feats)[-2]
    windows = n - (cfg.stack_span - 1)
    offsets = tf.range(cfg.left_context + cfg.right_context + 1) * cfg.stack_stride
    index = tf.range(tf.maximum(windows, 0))[:, None] + offsets[None, :]
    stacked = tf.gather(feats, index, axis=-2)  # [..., windows, L+R+1, coeffs]
    shape = tf.concat([tf.shape(stacked)[:-2], [-1]], axis=0)
    return tf.reshape(stacked, shape)


def normalize_clip(feats: tf.Tensor, cfg: FeatureConfig) -> tf.Tensor:
    """Per-clip mean normalization of ``[..., frames, coeffs]`` (``cfg.normalize``)."""
    if cfg.normalize == "utterance":
        return feats - tf.reduce_mean(feats, axis=[-2, -1], keepdims=True)
    if cfg.normalize in ("channel", "channel_var"):
        feats = feats - tf.reduce_mean(feats, axis=-2, keepdims=True)
    if cfg.normalize == "channel_var":
        sd = tf.sqrt(tf.reduce_mean(tf.square(feats), axis=-2, keepdims=True))
        feats = feats / tf.maximum(sd, CHANNEL_VAR_FLOOR)
    return feats


def clip_window_start(cfg: FeatureConfig, clip_samples: int = 16000) -> int:
    """First frame of the stacked window used for a clip: the window is centred in the clip."""
    n = cfg.num_frames(clip_samples)
    if cfg.stack_span > n:
        raise KwsqError(
            f"a stacked window of {cfg.stack_span} frames (context {cfg.left_context}+"
            f"{cfg.right_context}, stride {cfg.stack_stride}) does not fit the {n} frames "
            f"of a {clip_samples}-sample clip"
        )
    return (n - cfg.stack_span) // 2


def compute(audio: Any, cfg: FeatureConfig, warp: Any = None) -> tf.Tensor:
    """Model input for ``[..., samples]`` clips.

    Without context: ``[..., frames, coefficients]``. With context: the one stacked window
    centred in the clip, flattened to ``[..., (L + R + 1) * coefficients]``. ``warp``:
    ``None`` or per-clip VTLP factors ``[b]`` for a batch (training augmentation).
    """
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    if not cfg.stacked:
        return normalize_clip(frames(audio, cfg, warp), cfg)
    samples = audio.shape[-1]
    if samples is None:
        raise KwsqError("stacked features need a static clip length")
    start = clip_window_start(cfg, int(samples))
    if cfg.normalize == "fixed" and cfg.compression == "log":
        # each frame's features depend on that frame's samples only: compute just the
        # frames the window takes (a third of them at stride 3)
        first = start * cfg.hop_samples
        span = (cfg.stack_span - 1) * cfg.hop_samples + cfg.window_samples
        picked = frames(audio[..., first : first + span], cfg, warp,
                        step=cfg.hop_samples * cfg.stack_stride)
    else:  # per-clip normalization and PCEN need every frame
        feats = normalize_clip(frames(audio, cfg, warp), cfg)
        picked = feats[..., start : start + cfg.stack_span : cfg.stack_stride, :]
    shape = tf.concat([tf.shape(picked)[:-2], [-1]], axis=0)
    return tf.reshape(picked, shape)


def input_shape(cfg: FeatureConfig, clip_samples: int = 16000) -> tuple[int, ...]:
    """Shape of :func:`compute`'s output for one clip (no batch dimension)."""
    if cfg.stacked:
        clip_window_start(cfg, clip_samples)  # raises if the window does not fit
        return ((cfg.left_context + cfg.right_context + 1) * cfg.coefficients,)
    return (cfg.num_frames(clip_samples), cfg.coefficients)


def compute_numpy(audio: np.ndarray, cfg: FeatureConfig, batch: int = 512) -> np.ndarray:
    """:func:`compute` over a large ``[n, samples]`` array in batches, as float32 numpy."""
    audio = np.asarray(audio, dtype=np.float32)
    out = np.zeros((audio.shape[0],) + input_shape(cfg, audio.shape[-1]), np.float32)
    fn = _compiled(cfg)
    for i in console.progress(range(0, audio.shape[0], batch), desc="data: features",
                              unit="batch"):
        part = audio[i : i + batch]
        padded = np.zeros((batch, audio.shape[-1]), np.float32)  # one shape: one trace
        padded[: part.shape[0]] = part
        out[i : i + batch] = fn(tf.constant(padded)).numpy()[: part.shape[0]]
    return out


@functools.lru_cache(maxsize=16)
def _compiled(cfg: FeatureConfig) -> Any:
    return tf.function(lambda a: compute(a, cfg))


def seconds_per_stack(cfg: FeatureConfig) -> float:
    """Audio duration one stacked window (or clip frame set) spans, for documentation."""
    return ((cfg.stack_span - 1) * cfg.hop_samples + cfg.window_samples) / cfg.sample_rate


__all__ = [
    "FeatureConfig", "NORMALIZE", "COMPRESSIONS", "normalize_clip", "mlperf_tiny_mfcc",
    "log_mel", "mel_energies", "pcen", "pcen_smoothing", "compressed_mel", "frames",
    "stack_frames", "compute", "vtlp_warp", "warped_mel_matrix",
    "compute_numpy", "input_shape", "mel_matrix", "clip_window_start", "seconds_per_stack",
]
